"""Mandates and contacts (issue 14): a mandate to write for the municipality is granted and withdrawn only by the
roles the policy names, each with a record in the channel's case, and the register follows it at once;
administrators' contact details are kept current, a record each time, without making a snapshot due. Each
scenario runs under the municipality's own policy file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cli
from .test_channels import ok, walk


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n screenshot")
    return path


def records(cli: Cli, number: str) -> list[dict[str, Any]]:
    return list(json.loads(ok(cli("case", "show", number, "--json")))["records"])


def post(cli: Cli, number: str, user: str) -> Any:
    return cli("record", "add", number, "--direction", "out", "--description", "Inlägg", user=user)


@pytest.mark.rules("RAT-1", "RAT-3")
@pytest.mark.policy("rattvik")
def test_rat1_rat3_a_withdrawn_mandate_stops_the_writer_at_once(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "rattvik", snapshot)
    assert channel["writers"] == ["writer"]
    ok(post(cli, channel["case"], "writer"))

    # anna registers, but only the head of administration withdraws a mandate (RAT-1)
    refused = cli("channel", "revoke", "1", "writer", "--reason", "Slutar på kommunikationsenheten")
    assert refused.exit_code != 0 and "cannot withdraw a mandate" in refused.stderr
    assert "head_of_administration" in refused.stderr
    blank = cli("channel", "revoke", "1", "writer", "--reason", "  ", "--revoked-by", "u_head_of_administration")
    assert blank.exit_code != 0 and "reason" in blank.stderr
    ok(cli("channel", "revoke", "1", "writer", "--reason", "Slutar på kommunikationsenheten",
           "--revoked-by", "u_head_of_administration"))

    shown = json.loads(ok(cli("channel", "show", "1", "--json")))
    assert shown["writers"] == []
    last = records(cli, channel["case"])[-1]
    assert last["kind"] == "mandate_revoked" and "återkallat: writer" in last["title"]
    assert "Slutar på kommunikationsenheten" in last["title"]
    refused = post(cli, channel["case"], "writer")  # RAT-3: nobody else may write
    assert refused.exit_code == 1 and "'writer' has no mandate to write for the channel" in refused.stderr
    again = cli("channel", "revoke", "1", "writer", "--reason", "x", "--revoked-by", "u_head_of_administration")
    assert again.exit_code == 1 and "has no mandate" in again.stderr

    # a new mandate, granted again by the head of administration, lets the writer back in
    ok(cli("channel", "designate", "1", "writer", "--granted-by", "u_head_of_administration"))
    ok(post(cli, channel["case"], "writer"))
    assert "audit log OK" in ok(cli("audit", "verify"))


@pytest.mark.rules("NOR-1", "NOR-2")
@pytest.mark.policy("norsjo")
def test_nor1_nor2_only_the_manager_grants_and_withdraws_a_mandate(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "norsjo", snapshot)  # the mandate was granted by the unit manager (mandate_roles)
    ok(cli("users", "add", "other", "--role", "officer"))
    refused = cli("channel", "designate", "1", "other", "--granted-by", "writer")
    assert refused.exit_code != 0 and "'writer' cannot grant a mandate" in refused.stderr
    assert "unit_manager" in refused.stderr
    assert json.loads(ok(cli("channel", "show", "1", "--json")))["writers"] == ["writer"]
    refused = cli("channel", "revoke", "1", "writer", "--reason", "Ny tjänst", "--revoked-by", "other")
    assert refused.exit_code != 0 and "'other' cannot withdraw a mandate" in refused.stderr
    ok(cli("channel", "revoke", "1", "writer", "--reason", "Ny tjänst", "--revoked-by", "u_unit_manager"))
    assert post(cli, channel["case"], "writer").exit_code == 1


@pytest.mark.rules("REN-3")
@pytest.mark.policy("rennebu")
def test_ren3_a_withdrawn_appointment_is_journalled_in_norwegian(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "rennebu", snapshot)
    ok(cli("channel", "revoke", "1", "writer", "--reason", "Ny stilling", "--revoked-by",
           "u_head_of_administration"))
    last = records(cli, channel["case"])[-1]
    assert "trukket tilbake: writer. Grunn: Ny stilling" in last["title"]
    assert post(cli, channel["case"], "writer").exit_code == 1


@pytest.mark.rules("RAT-2")
@pytest.mark.policy("rattvik")
def test_rat2_administrators_contact_details_are_kept_current(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "rattvik", snapshot)
    before = json.loads(ok(cli("channel", "show", "1", "--json")))
    admins = before["administrators"]
    first = admins[0]["name"]
    due = ok(cli("duties", "--json"))

    number = ok(cli("channel", "change", "1", "--admin", first, "--phone", "0248-700 99")).strip()
    after = json.loads(ok(cli("channel", "show", "1", "--json")))
    changed = next(a for a in after["administrators"] if a["name"] == first)
    assert changed["phone"] == "0248-700 99" and changed["email"] == admins[0]["email"]
    assert "0248-700 99" in ok(cli("channel", "show", "1"))
    record = records(cli, channel["case"])[-1]
    assert record["number"] == number and record["kind"] == "contact_update"
    assert f"nya kontaktuppgifter för {first}" in record["title"]
    assert ok(cli("duties", "--json")) == due  # a contact update is not a major change: no snapshot falls due

    half = cli("channel", "change", "1", "--admin", "Nils Ny", "--email", "nils@rattvik.example")
    assert half.exit_code != 0 and "give both --email and --phone" in half.stderr
    ok(cli("channel", "change", "1", "--admin", "Nils Ny", "--email", "nils@rattvik.example", "--phone", "0248-1"))
    names = [a["name"] for a in json.loads(ok(cli("channel", "show", "1", "--json")))["administrators"]]
    assert names[-1] == "Nils Ny" and len(names) == len(admins) + 1
    ok(cli("channel", "change", "1", "--remove-admin", "nils ny"))  # by name, any case
    missing = cli("channel", "change", "1", "--remove-admin", "Nobody")
    assert missing.exit_code != 0 and "no administrator 'Nobody'" in missing.stderr
    both = cli("channel", "change", "1", "--description", "Ny profilbild", "--admin", first)
    assert both.exit_code == 2


@pytest.mark.rules("RAT-2", "TOR-2")
@pytest.mark.policy("torsby")
def test_tor2_an_administrator_is_not_removed_below_the_policys_minimum(cli: Cli, snapshot: Path) -> None:
    walk(cli, "torsby", snapshot)
    admins = json.loads(ok(cli("channel", "show", "1", "--json")))["administrators"]
    refused = cli("channel", "change", "1", "--remove-admin", admins[0]["name"])
    assert refused.exit_code != 0 and "the policy needs at least 2" in refused.stderr, refused.stderr


@pytest.mark.parametrize("args", [
    ("--admin", "Zara", "--email", "notanemail", "--phone", "0248-700 99"),
    ("--admin", "Zara", "--email", "eva@rattvik.example", "--phone", "abc"),
    ("--admin", "", "--email", "a@b.se", "--phone", "0492-100"),
    ("--admin", "Zara\x1b[31m\nX", "--email", "a@b.se", "--phone", "0492-100"),
    ("--admin", "E" * 5000, "--email", "a@b.se", "--phone", "0492-100"),
])
def test_contact_details_are_checked_as_a_plan_checks_them(cli: Cli, snapshot: Path, args: tuple[str, ...]) -> None:
    walk(cli, "rattvik", snapshot)
    refused = cli("channel", "change", "1", *args)
    assert refused.exit_code == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "Zara" not in ok(cli("channel", "show", "1"))


def test_followers_are_a_plausible_count_on_a_day_the_channel_ran(cli: Cli, snapshot: Path) -> None:
    walk(cli, "rattvik", snapshot)
    for args in (("99999999999999999999999",), ("10", "--on", "2099-01-01"), ("10", "--on", "1990-01-01")):
        refused = cli("channel", "followers", "1", *args)
        assert refused.exit_code == 1 and "Traceback" not in refused.stderr, refused.stderr
