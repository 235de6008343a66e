"""``smcase capture mastodon`` through the CLI against a local Mastodon-compatible server, and the
"capture stalled" duty (issue 16).

Each pass is a separate command, as from cron or a shell: only the register
carries the position from one to the next.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smcase import duties
from smcase.db import make_engine
from smcase.register import RegisterService
from tests.conftest import Cli
from tests.mastodon_fake import TOKEN, FakeMastodon
from tests.serving import Served, torsby_channel
from tests.test_serve import torsby_with_a_captured_page

REPO = Path(__file__).resolve().parent.parent


def torsby_on_mastodon(cli: Cli, tmp_path: Path, fake: FakeMastodon) -> None:
    """Torsby's register with its Mastodon account active, captured from ``fake``, and a capture user."""
    torsby_channel(cli, REPO / "fixtures" / "plans" / "torsby-mastodon.toml")
    configured = cli("channel", "change", "1", "--platform-id", "kommunen", "--instance", fake.url)
    assert configured.exit_code == 0, configured.output


def stored(cli: Cli) -> list[dict[str, Any]]:
    return list(json.loads(cli("inbox", "list", "--json").stdout))


def test_two_passes_capture_statuses_replies_an_edit_and_a_deletion_without_duplicates(
        cli: Cli, tmp_path: Path, fake_mastodon: FakeMastodon, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_mastodon
    fake.now = datetime.now(UTC) - timedelta(hours=2)  # within the policy's recheck window
    monkeypatch.setenv("SMCASE_MASTODON_TOKEN", TOKEN)
    torsby_on_mastodon(cli, tmp_path, fake)
    post = fake.add_status("Snöröjningen börjar i natt.")
    reply = fake.reply(post, "Inte på Björkvägen igen, hoppas jag!")
    fake.mention("När öppnar badhuset efter renoveringen?")

    first = cli("capture", "mastodon", "--channel", "https://social.example/@kommunen", "--instance", fake.url,
                "--account", "kommunen", user="capture")
    assert first.exit_code == 0, first.output
    assert "3 received, 3 stored" in first.output
    events = stored(cli)
    assert {e["channel"] for e in events} == {"https://social.example/@kommunen"}
    assert sorted(e["direction"] for e in events) == ["in", "in", "out"]

    fake.requests.clear()
    fake.edit(post, "Snöröjningen börjar i natt klockan 02.")
    fake.delete(reply)
    fake.reply(post, "Tack för beskedet!", author="granne", notify=False)  # seen only in the thread
    second = cli("capture", "mastodon", "--channel", "1", user="capture")
    assert second.exit_code == 0, second.output
    assert "3 received, 3 stored, 0 duplicates" in second.output
    events = stored(cli)
    assert len(events) == 6 and len({(e["external_id"], e["kind"], e.get("revision")) for e in events}) == 6
    kinds = sorted(e["kind"] for e in events)
    assert kinds.count("delete") == 1 and kinds.count("comment") == 2
    # the second command resumed from the position the first saved in the register
    asked = [query for path, query in fake.requests if path.endswith("/statuses") and "min_id" in query]
    assert asked, fake.requests

    third = cli("capture", "mastodon", "--channel", "1", user="capture")
    assert third.exit_code == 0 and "0 received, 0 stored" in third.output
    assert len(stored(cli)) == 6


def test_a_refused_token_is_one_line_that_never_shows_it_and_the_failure_is_noted(
        cli: Cli, tmp_path: Path, fake_mastodon: FakeMastodon, monkeypatch: pytest.MonkeyPatch) -> None:
    torsby_on_mastodon(cli, tmp_path, fake_mastodon)
    monkeypatch.setenv("SMCASE_MASTODON_TOKEN", "wrong-token-d41d8")
    failed = cli("capture", "mastodon", "--channel", "1", user="capture")
    assert failed.exit_code == 1 and len(failed.output.strip().splitlines()) == 1, failed.output
    assert "wrong-token-d41d8" not in failed.output and "Traceback" not in failed.output
    report = duties.compute(RegisterService.open(make_engine(cli.db_url), user="anna"), at=date.today()
                            + timedelta(days=2))
    (stalled,) = [d for d in report if d.kind == "capture_stalled"]
    assert stalled.overdue and "never succeeded" in stalled.detail and "last error" in stalled.detail
    assert "wrong-token-d41d8" not in stalled.detail
    monkeypatch.delenv("SMCASE_MASTODON_TOKEN")
    missing = cli("capture", "mastodon", "--channel", "1", user="capture")
    assert missing.exit_code == 1 and "SMCASE_MASTODON_TOKEN" in missing.output


def test_capture_is_refused_for_an_unconfigured_channel_or_a_mismatched_account(
        cli: Cli, tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    torsby_on_mastodon(cli, tmp_path, fake_mastodon)
    assert cli("capture", "mastodon", "--channel", "7", user="capture").exit_code == 1
    wrong = cli("capture", "mastodon", "--channel", "1", "--account", "someone@else.example", user="capture")
    assert wrong.exit_code == 1 and "is not the channel's (kommunen)" in wrong.output
    for bad in ("ftp://x.example", "http://192.0.2.1", "https://user:pw@x.example"):
        refused = cli("channel", "change", "1", "--platform-id", "kommunen", "--instance", bad)
        assert refused.exit_code == 1 and "instance" in refused.output, bad


@pytest.mark.policy("torsby")
def test_a_channel_whose_capture_has_not_succeeded_for_the_policys_limit_is_a_stalled_duty(
        cli: Cli, tmp_path: Path) -> None:
    torsby_with_a_captured_page(cli, tmp_path)
    service = RegisterService.open(make_engine(cli.db_url), user="capture")
    today = datetime.now(UTC).date()
    assert not [d for d in duties.compute(service, at=today) if d.kind == "capture_stalled"]
    later = today + timedelta(days=2)  # past Torsby's 24 hours
    (stalled,) = [d for d in duties.compute(service, at=later) if d.kind == "capture_stalled"]
    assert stalled.overdue and stalled.channel == "https://www.facebook.com/torsbykommun"
    assert "facebook 104857600000001" in stalled.detail
    service.note_deliveries("facebook", {"104857600000001"})
    assert not [d for d in duties.compute(service, at=today) if d.kind == "capture_stalled"]


def test_serve_polls_every_active_mastodon_channel_and_reports_it_in_healthz(
        cli: Cli, tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    fake = fake_mastodon
    fake.now = datetime.now(UTC) - timedelta(hours=2)
    torsby_on_mastodon(cli, tmp_path, fake)
    post = fake.add_status("Biblioteket har nya öppettider från måndag.")
    fake.reply(post, "Äntligen öppet på kvällarna!")
    served = Served(cli.db_url, cli.files_dir, tmp_path / "spool.sqlite3", poll=True,
                    env={"SMCASE_MASTODON_TOKEN": TOKEN}).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not served.health().get("polls"):
            time.sleep(0.2)
        report = served.health()
        assert report["pollers"] == "alive", report
        assert report["polls"]["https://social.example/@kommunen"].startswith("ok"), report
        assert served.metric("smcase_polls_total", platform="mastodon", outcome="ok") == 1
    finally:
        served.stop()
    assert sorted(e["direction"] for e in stored(cli)) == ["in", "out"]
    assert TOKEN not in served.output()


@pytest.mark.rules("TOR-5")
@pytest.mark.policy("torsby")
def test_tor5_an_edit_of_a_registered_mastodon_comment_is_added_to_its_case(
        cli: Cli, tmp_path: Path, fake_mastodon: FakeMastodon, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_mastodon
    fake.now = datetime.now(UTC) - timedelta(hours=2)
    monkeypatch.setenv("SMCASE_MASTODON_TOKEN", TOKEN)
    torsby_on_mastodon(cli, tmp_path, fake)
    post = fake.add_status("Snöröjningen börjar i natt.")
    question = fake.reply(post, "Varför plogas inte Björkvägen?")
    fake.reply(question, "Vi skickar en plogbil i morgon bitti.", author="kommunen", notify=False)
    assert cli("capture", "mastodon", "--channel", "1", user="capture").exit_code == 0
    (registered,) = [e for e in stored(cli) if e["direction"] == "in"]
    assert registered["case"] is not None  # answered by the municipality: a case (VIM-6b, REN-1)
    fake.edit(question, "Varför plogas inte Björkvägen? Det är tredje gången i år.")
    assert cli("capture", "mastodon", "--channel", "1", user="capture").exit_code == 0
    (edit,) = [e for e in stored(cli) if e["kind"] == "edit"]
    assert edit["case"] == registered["case"] and edit["status"] == "registered"
    shown = cli("case", "show", registered["case"], "--json")
    titles = [r["title"] for r in json.loads(shown.stdout)["records"]]
    assert len(titles) == 3 and any(t.startswith("Ändrad version") for t in titles), titles


def test_only_an_admin_configures_capture_and_a_token_is_never_sent_from_the_services_secrets(
        cli: Cli, tmp_path: Path, fake_mastodon: FakeMastodon, monkeypatch: pytest.MonkeyPatch) -> None:
    """An officer could otherwise point a channel at their own server with the app secret as its token file."""
    torsby_on_mastodon(cli, tmp_path, fake_mastodon)
    assert cli("users", "add", "erik", "--role", "officer").exit_code == 0
    secret = tmp_path / "facebook-app-secret"
    secret.write_text("app-secret-from-meta\n")
    secret.chmod(0o600)
    refused = cli("channel", "change", "1", "--platform-id", "kommunen", "--instance", fake_mastodon.url,
                  "--token-file", str(secret), user="erik")
    assert refused.exit_code == 1 and "may not capture.configure" in refused.output
    # which accounts are followed, from where and with which token file is no officer's to read either
    assert cli("capture", "list", user="erik").exit_code == 1
    listed = json.loads(cli("capture", "list", "--json").stdout)
    assert [(c["platform"], c["platform_id"], c["instance"]) for c in listed] == [
        ("mastodon", "kommunen", fake_mastodon.url)]
    assert cli("channel", "change", "1", "--platform-id", "kommunen", "--instance", fake_mastodon.url,
               "--token-file", str(secret)).exit_code == 0  # an admin's mistake is still caught at poll time
    monkeypatch.setenv("SMCASE_FACEBOOK_APP_SECRET_FILE", str(secret))
    sent = cli("capture", "mastodon", "--channel", "1", user="capture")
    assert sent.exit_code == 1 and "one of the service's Facebook secrets" in sent.output
    assert not fake_mastodon.requests  # nothing was sent anywhere


@pytest.mark.parametrize("instance", ["https://2852039166", "https://0x7f.1", "https://169.254.169.254",
                                      "https://[fe80::1]", "https://mastodon.example/../admin",
                                      "https://mastodon.example\r\nX: y", "https://" + "a" * 300 + ".example",
                                      "http://mastodon.example", "mastodon.example"])
def test_an_instance_that_is_no_plain_server_address_is_refused(cli: Cli, tmp_path: Path,
                                                                 fake_mastodon: FakeMastodon, instance: str) -> None:
    torsby_on_mastodon(cli, tmp_path, fake_mastodon)
    refused = cli("channel", "change", "1", "--platform-id", "kommunen", "--instance", instance)
    assert refused.exit_code == 1 and "instance" in refused.output and "Traceback" not in refused.output
