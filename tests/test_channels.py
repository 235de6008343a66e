"""Channels and duties: one scenario per municipality through the CLI, then the rules one by one."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from smcase.duties import add_months, next_fixed_date, next_weekday, quarter_end
from smcase.policy import load_file

from .conftest import REPO, Cli

POLICIES = REPO / "fixtures" / "policies"
PLANS = REPO / "fixtures" / "plans"
PLAN_OF = {"rattvik": "rattvik-facebook", "vimmerby": "vimmerby-instagram", "norsjo": "norsjo-facebook",
           "rennebu": "rennebu-facebook", "torsby": "torsby-facebook"}


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def setup(cli: Cli, municipality: str) -> dict[str, str]:
    """A register under the municipality's policy, with one user per approval role and a writer."""
    policy = load_file(POLICIES / f"{municipality}.toml")
    ok(cli("init", "--name", f"{municipality} kommun", "--policy", str(POLICIES / f"{municipality}.toml")))
    users: dict[str, str] = {}
    for step in policy.channels.approval_steps:
        name = f"u_{step.role}"
        if step.role not in users:
            ok(cli("users", "add", name, "--role", step.role, "--role", "officer"))
            users[step.role] = name
    ok(cli("users", "add", "writer", "--role", "officer", "--full-name", "Wilma Writer", "--title", "Kommunikatör"))
    return users


def walk(cli: Cli, municipality: str, snapshot: Path) -> dict[str, Any]:
    """Propose, approve in order, start, designate, snapshot: returns the channel as JSON."""
    policy = load_file(POLICIES / f"{municipality}.toml")
    users = setup(cli, municipality)
    proposed = ok(cli("channel", "propose", "--plan", str(PLANS / f"{PLAN_OF[municipality]}.toml")))
    assert "channel 1 proposed" in proposed
    steps = policy.channels.approval_steps
    if len(steps) > 1:  # out of order is refused
        wrong = cli("channel", "approve", "1", "--step", steps[-1].step, user=users[steps[-1].role])
        assert wrong.exit_code == 1 and f"comes after {steps[0].step!r}" in wrong.stderr
    early = cli("channel", "start", "1")
    assert early.exit_code == 1 and "cannot start: steps not done" in early.stderr
    for step in steps:
        ok(cli("channel", "approve", "1", "--step", step.step, user=users[step.role]))
    assert ok(cli("channel", "list", "--public", "--json")) == "[]\n"  # approved is not yet public
    ok(cli("channel", "start", "1"))
    granter = users.get(policy.channels.mandate_roles[0], "anna")
    ok(cli("channel", "designate", "1", "writer", "--granted-by", granter))
    ok(cli("snapshot", "add", "1", str(snapshot)))
    return json.loads(ok(cli("channel", "show", "1", "--json")))


def today(tz: str = "Europe/Stockholm") -> date:
    return datetime.now(ZoneInfo(tz)).date()


def duties_at(cli: Cli, day: date) -> list[dict[str, Any]]:
    return json.loads(ok(cli("duties", "--at", day.isoformat(), "--json")))


def finish(cli: Cli, channel: dict[str, Any]) -> list[dict[str, Any]]:
    """Stop the channel and return the records of its case."""
    public = json.loads(ok(cli("channel", "list", "--public", "--json")))
    assert [(c["id"], c["state"]) for c in public] == [(1, "active")]
    assert set(public[0]) == {"id", "platform", "url", "name", "state", "owner", "contact", "purpose"}
    ok(cli("channel", "stop", "1", "--reason", "Kanalen läggs ned"))
    assert json.loads(ok(cli("channel", "list", "--public", "--json"))) == []
    return json.loads(ok(cli("case", "show", channel["case"], "--json")))["records"]


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n screenshot")
    return path


@pytest.mark.rules("TOR-1", "TOR-3", "TOR-8", "TOR-13")
@pytest.mark.policy("torsby")
def test_torsby_tor1_tor2_tor3_tor7_tor8_tor13(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "torsby", snapshot)
    assert channel["case"] == "KS 2026/0001" and channel["state"] == "active"
    assert [a["step"] for a in channel["approvals"]] == ["unit_manager", "head_of_administration",
                                                         "strategy_consultation"]  # TOR-3: three steps
    now = today()
    kinds = {d["kind"]: d for d in duties_at(cli, now)}
    assert kinds["monitoring"]["due"] == (now + timedelta(days=3)).isoformat()  # TOR-4: twice a week
    assert kinds["snapshot"]["due"] == next_fixed_date(now, ("06-30", "12-31")).isoformat()  # TOR-8
    q3 = quarter_end(now.year if now <= date(now.year, 6, 30) else now.year + 1, 3)
    assert kinds["annual_report"]["due"] == q3.isoformat()  # TOR-7
    assert kinds["policy_review"]["due"] == "2026-11-15"  # TOR-13: reviewed 2025-11-15, yearly
    late = duties_at(cli, date(now.year + 1, 12, 31))
    assert {d["kind"] for d in late if d["overdue"]} >= {"monitoring", "snapshot", "annual_report", "policy_review"}
    records = finish(cli, channel)
    kinds_of = [r["kind"] for r in records]
    assert kinds_of == ["channel_plan", "channel_approval", "channel_approval", "channel_consultation",
                        "channel_start", "mandate", "snapshot", "channel_stop"]  # TOR-1: the end is a record
    assert records[6]["documents"][0]["format"] == "png"
    assert "Kanalen läggs ned" in records[-1]["title"]


@pytest.mark.rules("RAT-4", "RAT-8")
@pytest.mark.policy("rattvik")
def test_rattvik_rat1_rat2_rat4_rat8_rat10(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "rattvik", snapshot)
    assert [a["step"] for a in channel["approvals"]] == ["mandate"]  # RAT-1: the head of administration
    assert channel["custody_location"] == "Kommunledningsförvaltningen, kanslienhetens kassaskåp"  # RAT-4
    assert channel["writers"] == ["writer"]  # RAT-3, RAT-4: designations are records
    now = today()
    kinds = {d["kind"]: d for d in duties_at(cli, now)}
    assert kinds["monitoring"]["due"] == (now + timedelta(days=1)).isoformat()  # RAT-10: every day
    assert kinds["snapshot"]["due"] == add_months(now, 6).isoformat()  # RAT-8: every six months
    ok(cli("channel", "change", "1", "--description", "Ny layout av sidan"))
    assert {d["kind"]: d for d in duties_at(cli, now)}["snapshot"]["due"] == now.isoformat()  # RAT-8: big change
    records = finish(cli, channel)
    assert [r["kind"] for r in records][-3:] == ["snapshot", "major_change", "channel_stop"]
    mandate = next(r for r in records if r["kind"] == "mandate")  # RAT-4: the designation is a record
    assert "writer" in mandate["title"] and "u_head_of_administration" in mandate["title"]


@pytest.mark.rules("VIM-2")
@pytest.mark.policy("vimmerby")
def test_vimmerby_vim1_vim2_vim8(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "vimmerby", snapshot)
    assert [a["step"] for a in channel["approvals"]] == ["dialogue", "activation"]  # VIM-2: dialogue, then approval
    now = today()
    kinds = {d["kind"]: d for d in duties_at(cli, now)}
    assert kinds["monitoring"]["due"] == next_weekday(now).isoformat()  # VIM-1: five days a week
    assert "snapshot" not in kinds and "annual_report" not in kinds
    records = finish(cli, channel)
    assert records[1]["title"].startswith("Samråd: Dialog med kommunikationsstrategen")


@pytest.mark.rules("NOR-3", "NOR-6")
@pytest.mark.policy("norsjo")
def test_norsjo_nor1_nor2_nor3_nor6(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "norsjo", snapshot)
    assert [a["step"] for a in channel["approvals"]] == ["mandate"]  # NOR-1: the manager's mandate
    assert channel["writers"] == ["writer"]  # NOR-2
    kinds = {d["kind"]: d for d in duties_at(cli, today())}
    assert kinds["snapshot"]["due"] == add_months(today(), 12).isoformat()  # NOR-6: yearly
    assert kinds["monitoring"]["due"] == next_weekday(today()).isoformat()  # NOR-8: removed quickly
    finish(cli, channel)  # NOR-3: the list changes on start and stop


def test_rennebu_ren3_noark_numbers(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "rennebu", snapshot)
    assert channel["case"] == f"{today('Europe/Oslo').year}/1"  # Noark 5 saksnummer
    assert channel["writers"] == ["writer"]  # REN-3: only appointed administrators write
    records = finish(cli, channel)
    assert records[0]["journal"]["seq"] == 1 and records[-1]["title"].startswith("Kanalen Rennebu kommune avsluttet")


def test_rat3_only_designated_writers_post_for_the_channel(cli: Cli, tmp_path: Path, snapshot: Path) -> None:
    channel = walk(cli, "torsby", snapshot)
    refused = cli("record", "add", channel["case"], "--direction", "out", "--description", "Inlägg")
    assert refused.exit_code == 1 and "'anna' has no mandate to write for the channel" in refused.stderr
    assert ok(cli("record", "add", channel["case"], "--direction", "out", "--description", "Inlägg",
                  user="writer")).strip().endswith("-8")
    # an ingested outgoing post carries the page, not a person, and is accepted
    line = json.dumps({"platform": "facebook", "id": "p9", "kind": "post", "direction": "out",
                       "channel": channel["url"], "text": "Min granne 19121212-1212", "created_at":
                       "2026-01-01T10:00:00+01:00"})
    result = ok(cli("ingest", "-", "--format", "jsonl", "--json", input=line + "\n"))
    assert json.loads(result)["cases_opened"] == 1


def test_tor2_vim1_a_refused_proposal_says_why(cli: Cli, tmp_path: Path) -> None:
    setup(cli, "torsby")
    text = (PLANS / "torsby-facebook.toml").read_text(encoding="utf-8")
    bad = tmp_path / "plan.toml"
    bad.write_text(text.replace('owner = "Kommunikationsenheten"', 'owner = "Per Ek"'), encoding="utf-8")
    refused = cli("channel", "propose", "--plan", str(bad))
    assert refused.exit_code == 1
    assert "the plan is refused: the owner 'Per Ek' is a person" in refused.stderr
    assert json.loads(ok(cli("case", "list", "--json"))) == []  # nothing registered, no number burned


def test_approvals_need_the_steps_role(cli: Cli) -> None:
    setup(cli, "torsby")
    ok(cli("channel", "propose", "--plan", str(PLANS / "torsby-facebook.toml")))
    wrong = cli("channel", "approve", "1", "--step", "unit_manager", user="writer")
    assert wrong.exit_code == 1 and "done by the role 'unit_manager', which 'writer' does not hold" in wrong.stderr
    unknown = cli("channel", "approve", "1", "--step", "mayor", user="u_unit_manager")
    assert unknown.exit_code == 1 and "unknown step 'mayor'" in unknown.stderr
    again = cli("channel", "propose", "--plan", str(PLANS / "torsby-facebook.toml"))
    assert again.exit_code == 1 and "already registered" in again.stderr


def test_rat5_tor1_the_public_html_list_is_valid_and_shows_no_personal_data(cli: Cli, snapshot: Path) -> None:
    walk(cli, "torsby", snapshot)
    page = ok(cli("channel", "list", "--public", "--format", "html"))
    tree = etree.fromstring(page.replace("<!DOCTYPE html>", "").encode(), etree.XMLParser())
    assert tree.get("lang") == "sv" and tree.find(".//title") is not None
    assert [th.get("scope") for th in tree.iter("th")] == ["col"] * 4
    assert tree.find(".//caption") is not None and tree.find(".//a").get("href") == "https://www.facebook.com/torsbykommun"
    for personal in ("Karin Dahl", "karin.dahl@", "0560-160 01", "Per Ek"):
        assert personal not in page
    everything = ok(cli("channel", "list", "--json"))
    assert "writer" in everything  # registrars see who writes; the public does not


def test_vim5_tor6_the_profile_text(cli: Cli, snapshot: Path) -> None:
    walk(cli, "torsby", snapshot)
    text = ok(cli("channel", "profile", "1"))
    for part in ("officiellt konto för torsby kommun", "Kommunikationsenheten", "allmänna handlingar",
                 "Vardagar 08.00-16.30", "Hot och uppmaningar till brott", "Personliga ärenden"):
        assert part in text
    assert "Alt som skrives her" in ok(cli("channel", "profile", "1", "--lang", "nb"))


@pytest.mark.rules("TOR-10")
@pytest.mark.policy("torsby")
def test_tor10_no_evidence_capture_where_the_municipality_is_not_controller(cli: Cli, tmp_path: Path) -> None:
    setup(cli, "torsby")
    plan = (PLANS / "torsby-facebook.toml").read_text(encoding="utf-8").replace(
        'platform = "facebook"', 'platform = "twitter"').replace(
        "https://www.facebook.com/torsbykommun", "https://twitter.com/torsbykommun").replace(
        "# TOR-2: Facebook logins", 'credential_custody = "Strategi- och näringslivsavdelningen"\n# TOR-2')
    path = tmp_path / "twitter.toml"
    path.write_text(plan, encoding="utf-8")
    ok(cli("channel", "propose", "--plan", str(path)))
    assert json.loads(ok(cli("channel", "show", "1", "--json")))["controller_of_visitor_content"] is False
    line = json.dumps({"platform": "twitter", "id": "t1", "kind": "comment", "channel": "https://twitter.com/torsbykommun",
                       "text": "Jag vet var du bor, akta dig.", "created_at": "2026-01-01T10:00:00+01:00"})
    summary = json.loads(ok(cli("ingest", "-", "--format", "jsonl", "--json", input=line + "\n")))
    assert summary["cases_opened"] == 0
    (event,) = json.loads(ok(cli("inbox", "list", "--json")))
    assert "TOR-10" in event["reason"] and event["status"] == "trivial"


def test_tor7_the_annual_report_is_computed_from_the_register(cli: Cli, snapshot: Path) -> None:
    walk(cli, "torsby", snapshot)
    year = today().year
    lines = [
        {"id": "q1", "kind": "comment", "direction": "in", "text": "När öppnar simhallen?",
         "created_at": f"{year}-03-01T10:00:00+01:00"},
        {"id": "a1", "kind": "comment", "direction": "out", "in_reply_to": "q1", "text": "På måndag!",
         "created_at": f"{year}-03-01T12:30:00+01:00"},
        {"id": "p1", "kind": "post", "direction": "out", "text": "Simhallen öppnar",
         "created_at": f"{year}-03-02T09:00:00+01:00"},
        {"id": "s1", "kind": "comment", "direction": "in", "text": "pnr 19121212-1212",
         "created_at": f"{year}-03-03T09:00:00+01:00"},
    ]
    feed = "".join(json.dumps({"platform": "facebook", "channel": "https://www.facebook.com/torsbykommun", **e}) + "\n"
                   for e in lines)
    ok(cli("ingest", "-", "--format", "jsonl", input=feed))
    (report,) = json.loads(ok(cli("report", "annual", "--year", str(year), "--json")))
    assert (report["questions_answered"], report["posts_out"], report["comments_in"], report["comments_out"],
            report["confidential_cases"], report["median_response_hours"]) == (1, 1, 2, 1, 1, 2.5)
    before = {d["kind"]: d for d in duties_at(cli, today())}["annual_report"]["due"]
    registered = cli("report", "annual", "--year", str(year + 1 if today() > date(year, 6, 30) else year),
                     "--register")
    assert registered.exit_code == 0 and "registered KS" in registered.stderr
    after = {d["kind"]: d for d in duties_at(cli, today())}["annual_report"]["due"]
    assert after > before  # the registered report satisfies that year's duty


def test_duty_dates() -> None:
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert next_fixed_date(date(2026, 6, 30), ("06-30", "12-31")) == date(2026, 12, 31)
    assert next_fixed_date(date(2026, 12, 31), ("06-30", "12-31")) == date(2027, 6, 30)
    assert next_weekday(date(2026, 11, 20)) == date(2026, 11, 23)  # Friday → Monday
    assert quarter_end(2027, 3) == date(2027, 9, 30)


def test_vim7_an_answer_carries_the_officers_name_and_title(cli: Cli, snapshot: Path) -> None:
    channel = walk(cli, "vimmerby", snapshot)
    ok(cli("record", "add", channel["case"], "--direction", "out", "--description", "Svar på fråga",
           "--to", "Anna Andersson", user="writer"))
    record = json.loads(ok(cli("case", "show", channel["case"], "--json")))["records"][-1]
    assert record["correspondents"] == [
        {"role": "sender", "name": "Wilma Writer, Kommunikatör", "address": None},
        {"role": "recipient", "name": "Anna Andersson", "address": None}]


def test_vim3_the_communications_strategist_sees_every_channel(cli: Cli, snapshot: Path) -> None:
    walk(cli, "vimmerby", snapshot)
    listed = json.loads(ok(cli("channel", "list", "--json", user="u_communications")))
    assert [(c["id"], c["state"], c["writers"]) for c in listed] == [(1, "active", ["writer"])]
