"""``smcase serve`` for real: a child process on a free loopback port, driven over HTTP (issue 16).

Handshake, signed deliveries stored before they are acknowledged and then
processed through the ingest pipeline, forged and oversized ones refused with
nothing stored, retries stored once, out-of-order edits attached, a page that
no channel captures kept and flagged, health and metrics, and (``slow``) the
service killed with SIGKILL under load: every acknowledged delivery is in the
register exactly once after the restart.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli
from tests.serving import PAGE, REPO, VERIFY_TOKEN, Served, comment, delivery, sign, spooled, torsby_channel


def torsby_with_a_captured_page(cli: Cli, tmp_path: Path) -> None:
    """Torsby's register with its Facebook page active, its page id given in the plan, and a capture user."""
    plan = (REPO / "fixtures" / "plans" / "torsby-facebook.toml").read_text(encoding="utf-8")
    planned = tmp_path / "plan.toml"
    planned.write_text(plan.replace("[channel]\n", f'[channel]\nplatform_id = "{PAGE}"\n', 1), encoding="utf-8")
    torsby_channel(cli, planned)


@pytest.fixture
def served(cli: Cli, tmp_path: Path) -> Iterator[Served]:
    """The service on Torsby's register, acting as the capture user."""
    torsby_with_a_captured_page(cli, tmp_path)
    service = Served(cli.db_url, cli.files_dir, tmp_path / "spool.sqlite3",
                     extra=("--max-body", "4096", "--body-timeout", "1")).start()
    yield service
    service.stop()


def events(cli: Cli) -> list[dict[str, Any]]:
    result = cli("inbox", "list", "--json")
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def test_the_subscription_handshake_echoes_the_challenge_for_the_right_token_only(served: Served) -> None:
    ok = served.get(f"/webhooks/facebook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444")
    assert ok == (200, "1158201444")
    for query in ("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
                  f"hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1",
                  f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}",
                  "hub.mode=subscribe&hub.verify_token=%C3%A5%00&hub.challenge=1", ""):
        status, body = served.get(f"/webhooks/facebook?{query}")
        assert status == 403 and VERIFY_TOKEN not in body, query
    assert VERIFY_TOKEN not in served.output()  # the access log is off: the token is in the query string


def test_a_signed_delivery_is_stored_then_processed_into_the_register(served: Served, cli: Cli) -> None:
    body = delivery(comment(9901, "Vägen är fortfarande inte plogad, när kommer plogbilen?"))
    assert served.post(body) == (200, "ok\n")
    assert spooled(served.spool) == 1
    report = served.drained()
    assert report["ok"] and report["worker"] == "alive" and report["database"] == "ok"
    (event,) = events(cli)
    assert event["kind"] == "comment" and event["external_id"] == "1221_9901"
    assert event["channel"] == "https://www.facebook.com/torsbykommun"  # matched on the page id from the plan
    assert "complaint" in event["labels"]  # classified, as file ingest would
    assert served.metric("smcase_deliveries_stored_total", platform="facebook") == 1
    assert served.metric("smcase_deliveries_processed_total", platform="facebook") == 1
    duties = cli("duties", "--json")
    assert not [d for d in json.loads(duties.stdout) if d["kind"] == "capture_stalled"]


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64, "sha256=åäö\u2603",
                                       "wrong-secret"])
def test_a_forged_or_unsigned_delivery_is_refused_and_nothing_is_stored(served: Served, cli: Cli,
                                                                        signature: str | None) -> None:
    body = delivery(comment(9902, "forged"))
    if signature == "wrong-secret":
        signature = sign(body, "not-the-secret")
    status, _text = served.post(body, signature=signature)
    assert status == 403
    assert spooled(served.spool) == 0 and events(cli) == []
    refused = sum(served.metric("smcase_deliveries_refused_total", platform="facebook", reason=r)
                  for r in ("missing_signature", "bad_signature"))
    assert refused == 1
    # the signature covers the bytes as sent: the same JSON re-serialised does not pass either
    status, _text = served.post(json.dumps(json.loads(body)).encode(), signature=sign(body))
    assert status == 403 and spooled(served.spool) == 0


def test_a_retried_delivery_is_acknowledged_again_and_stored_once(served: Served, cli: Cli) -> None:
    body = delivery(comment(9903, "Varför är vägen inte plogad?"))
    for _ in range(3):
        assert served.post(body)[0] == 200
    served.drained()
    assert spooled(served.spool) == 1
    assert served.metric("smcase_deliveries_duplicate_total", platform="facebook") == 2
    assert len(events(cli)) == 1
    assert served.post(body)[0] == 200  # after processing, too: the digest is kept
    served.drained()
    assert len(events(cli)) == 1


def test_a_delivery_over_the_limit_is_refused_with_413(served: Served, cli: Cli) -> None:
    body = delivery(comment(9904, "x" * 5000))
    assert served.post(body)[0] == 413
    # without a Content-Length (chunked), the limit holds as the body arrives
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    conn.putrequest("POST", "/webhooks/facebook")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("X-Hub-Signature-256", sign(body))
    conn.endheaders()
    for start in range(0, len(body), 1000):
        part = body[start:start + 1000]
        conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    conn.send(b"0\r\n\r\n")
    assert conn.getresponse().status == 413
    conn.close()
    assert spooled(served.spool) == 0 and events(cli) == []
    assert served.metric("smcase_deliveries_refused_total", platform="facebook", reason="too_large") == 2


@pytest.mark.rules("TOR-5")
@pytest.mark.policy("torsby")
def test_tor5_an_edit_delivered_before_its_original_is_attached_when_the_original_comes(served: Served,
                                                                                        cli: Cli) -> None:
    assert served.post(delivery(comment(9905, "Björkvägen är fortfarande inte plogad!", verb="edited",
                                        at=1767600400)))[0] == 200
    served.drained()
    assert served.post(delivery(comment(9905, "Vägen är fortfarande inte plogad, när kommer plogbilen?"),
                                comment(9906, "Plogbilen är på väg.", author=PAGE, parent="1221_9905",
                                        at=1767600600)))[0] == 200
    served.drained()
    listed = events(cli)
    assert sorted(e["kind"] for e in listed) == ["comment", "comment", "edit"]
    assert len({e["case"] for e in listed}) == 1 and listed[0]["case"] is not None


@pytest.mark.rules("TOR-5")
@pytest.mark.policy("torsby")
def test_tor5_a_removal_delivered_before_its_original_is_attached_when_the_original_comes(served: Served,
                                                                                          cli: Cli) -> None:
    assert served.post(delivery(comment(9908, "", verb="remove", at=1767600900)))[0] == 200
    served.drained()
    assert served.post(delivery(comment(9908, "Varför är gatlyktan vid skolan släckt?"),
                                comment(9909, "Vi byter lampan i morgon.", author=PAGE, parent="1221_9908",
                                        at=1767600600)))[0] == 200
    served.drained()
    listed = events(cli)
    assert sorted(e["kind"] for e in listed) == ["comment", "comment", "delete"]
    assert len({e["case"] for e in listed}) == 1 and listed[0]["case"] is not None


def test_a_delivery_for_a_page_no_channel_captures_is_stored_and_flagged(served: Served, cli: Cli) -> None:
    assert served.post(delivery(comment(9907, "Hej! Vem svarar här?"), page="999000111"))[0] == 200
    served.drained()
    (event,) = events(cli)
    assert event["channel"] == "facebook:page:999000111"
    flagged = cli("inbox", "list", "--unmatched", "--json")
    assert [e["external_id"] for e in json.loads(flagged.stdout)] == ["1221_9907"]
    assert served.metric("smcase_deliveries_unmatched_page_total") == 1
    assert "page 999000111" in served.output()
    assert served.post(delivery(comment(9912, "Och den här då?"), page="inte-en-sida"))[0] == 200
    served.drained()
    assert "an entry whose id is no page id: kept" in served.output() and "inte-en-sida" not in served.output()


def test_a_body_that_is_not_json_but_signed_is_kept_in_quarantine(served: Served, cli: Cli) -> None:
    body = b"not json at all\n{\"object\": "
    assert served.post(body)[0] == 200
    served.drained()
    quarantined = json.loads(cli("inbox", "list", "--quarantined", "--json").stdout)
    assert len(quarantined) == 1 and "not json at all" in quarantined[0]["raw"]


def test_other_paths_and_methods_are_refused(served: Served) -> None:
    assert served.get("/")[0] == 404
    assert served.request("PUT", "/webhooks/facebook", b"{}")[0] == 405
    assert served.request("POST", "/webhooks/facebook", b"{}", {"Content-Length": "zz"})[0] == 400


def test_serve_needs_a_capture_user_and_readable_secrets_and_says_so_in_one_line(cli: Cli, tmp_path: Path) -> None:
    torsby_with_a_captured_page(cli, tmp_path)
    assert cli("users", "add", "reader", "--role", "archivist").exit_code == 0
    refused = cli("serve", "--port", "1", user="reader")
    assert refused.exit_code == 1 and "may not ingest" in refused.output
    from click.testing import CliRunner

    from smcase.cli import create_cli

    def serve(*args: str, user: str = "capture", **env: str) -> Any:
        base = {"SMCASE_FILES": str(cli.files_dir), "SMCASE_FACEBOOK_APP_SECRET": "s", "SMCASE_FACEBOOK_APP_SECRET_FILE": "",
                "SMCASE_FACEBOOK_VERIFY_TOKEN": "t"}
        result = CliRunner().invoke(create_cli(), ["--db", cli.db_url, "--user", user, "serve", *args],
                                    env={**base, **env})
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
        return result

    # anna may ingest, but a network service runs as the capture user, with nothing more
    assert "with the capture role" in serve(user="anna").output
    missing = serve(SMCASE_FACEBOOK_APP_SECRET="", SMCASE_FACEBOOK_APP_SECRET_FILE=str(tmp_path / "missing"))
    assert missing.exit_code == 1 and "cannot read the file in SMCASE_FACEBOOK_APP_SECRET_FILE" in missing.output
    endless = serve(SMCASE_FACEBOOK_APP_SECRET="", SMCASE_FACEBOOK_APP_SECRET_FILE="/dev/zero")
    assert endless.exit_code == 1 and "more than one short line" in endless.output
    both = serve(SMCASE_FACEBOOK_APP_SECRET_FILE=str(tmp_path / "missing"))
    assert both.exit_code == 1 and "both SMCASE_FACEBOOK_APP_SECRET and" in both.output
    nowhere = serve("--spool", str(tmp_path / "no" / "such" / "spool.sqlite3"))
    assert nowhere.exit_code == 1 and "no such folder" in nowhere.output
    assert not (tmp_path / "no").exists()
    if cli.db_url.startswith("sqlite:///"):
        itself = serve("--spool", cli.db_url.removeprefix("sqlite:///"))
        assert itself.exit_code == 1 and "is the register itself" in itself.output
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = serve("--port", str(taken.getsockname()[1]))
    assert busy.exit_code == 1 and "cannot listen on 127.0.0.1" in busy.output


@pytest.mark.slow
def test_killed_with_sigkill_under_load_every_acknowledged_delivery_is_registered_exactly_once(
        cli: Cli, tmp_path: Path) -> None:
    """The fault test: clients send signed deliveries; the service is killed mid-stream; after a restart and the
    clients' retries of what was not acknowledged, each delivery's comment is in the register exactly once."""
    torsby_with_a_captured_page(cli, tmp_path)
    service = Served(cli.db_url, cli.files_dir, tmp_path / "spool.sqlite3").start()
    total, clients = 400, 4
    bodies = [delivery(comment(20000 + n, f"Synpunkt nummer {n} om vägen", at=1767600000 + n)) for n in range(total)]
    acknowledged: set[int] = set()
    lock = threading.Lock()

    def client(k: int) -> None:
        for n in range(k, total, clients):
            try:
                status, _text = service.post(bodies[n])
            except (OSError, http.client.HTTPException):
                continue  # the service died under us: this one was not acknowledged
            if status == 200:
                with lock:
                    acknowledged.add(n)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < total // 3:
        time.sleep(0.01)
    service.kill()
    for thread in threads:
        thread.join()
    assert 0 < len(acknowledged) < total, "the kill came too late to test anything"
    restarted = Served(cli.db_url, cli.files_dir, tmp_path / "spool.sqlite3").start()
    try:
        for n in range(total):  # the platform retries what was not acknowledged (and, at-least-once, some that were)
            if n not in acknowledged or n % 10 == 0:
                assert restarted.post(bodies[n])[0] == 200
        restarted.drained()
        ids = [e["external_id"] for e in events(cli)]
        assert len(ids) == len(set(ids)) == total
        assert cli("audit", "verify").exit_code == 0
    finally:
        restarted.stop()


def test_a_delivery_the_register_refuses_is_kept_in_quarantine_and_does_not_hold_up_the_others(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poison delivery (here: one the database refuses) is retried alone, then kept whole in the register's
    quarantine with the reason; the deliveries around it are processed."""
    from sqlalchemy.exc import DataError

    from smcase.db import make_engine
    from smcase.ingest import Ingest
    from smcase.plugins import create_plugins
    from smcase.register import RegisterService
    from smcase.serve.metrics import Metrics
    from smcase.serve.spool import Spool
    from smcase.serve.worker import Worker

    torsby_with_a_captured_page(cli, tmp_path)
    run = Ingest.run

    def refusing(self: Ingest, stream: Any, fmt: Any, context: Any) -> Any:
        data = stream.read()
        if b"POISON" in data:
            raise DataError("INSERT ...", {}, Exception("value too long for type character varying(200)"))
        return run(self, io.BytesIO(data), fmt, context)

    monkeypatch.setattr(Ingest, "run", refusing)
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.start()
    for n, text in enumerate(["Fin gata!", "POISON", "Tack för snöröjningen."]):
        assert spool.submit("facebook-webhook", delivery(comment(9950 + n, text))).result(10)
    spool.stop()
    service = RegisterService.open(make_engine(cli.db_url), user="capture")
    worker = Worker(spool, service, create_plugins(), Metrics())
    worker.start()
    deadline = time.monotonic() + 60
    while spool.backlog()[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.stop()
    assert spool.backlog()[0] == 0
    assert sorted(e["external_id"] for e in events(cli)) == ["1221_9950", "1221_9952"]
    (kept,) = json.loads(cli("inbox", "list", "--quarantined", "--json").stdout)
    assert "POISON" in kept["raw"] and "the register refused this delivery (DataError" in kept["reason"]
    assert "value too long" not in kept["reason"]  # a database's message may quote what was sent


def test_a_signed_delivery_with_values_longer_than_the_register_keeps_is_quarantined_not_stuck(
        served: Served, cli: Cli) -> None:
    """PostgreSQL refuses a value longer than its column: such an item is quarantined with the field named, and
    the deliveries after it are processed."""
    long = comment(9960, "hej")
    long["from"] = {"id": "7" * 250, "name": "N" * 400}
    assert served.post(delivery(long))[0] == 200
    assert served.post(delivery(comment(9961, "Vem ansvarar för gatlyktorna?")))[0] == 200
    served.drained()
    assert [e["external_id"] for e in events(cli)] == ["1221_9961"]
    (kept,) = json.loads(cli("inbox", "list", "--quarantined", "--json").stdout)
    assert "author id: 250 characters, more than the 200 a register keeps" in kept["reason"]


def test_a_trickled_body_an_empty_one_and_two_signatures_are_refused_and_answers_are_not_sniffed(
        served: Served, cli: Cli) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as slow:
        slow.sendall(b"POST /webhooks/facebook HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
        answer = slow.recv(200)  # the service gives up after --body-timeout, not the client
    assert answer.startswith(b"HTTP/1.1 408")
    assert served.post(b"  \n", signature=sign(b"  \n"))[0] == 400
    body = delivery(comment(9970, "Två signaturer"))
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    conn.putrequest("POST", "/webhooks/facebook")
    conn.putheader("Content-Length", str(len(body)))
    conn.putheader("X-Hub-Signature-256", sign(body))
    conn.putheader("X-Hub-Signature-256", "sha256=" + "0" * 64)
    conn.endheaders(body)
    response = conn.getresponse()
    assert response.status == 403 and response.getheader("X-Content-Type-Options") == "nosniff"
    conn.close()
    assert spooled(served.spool) == 0 and events(cli) == []


def test_nul_characters_are_stored_alike_on_both_databases_and_an_identity_number_as_page_id_stays_out_of_the_log(
        served: Served, cli: Cli) -> None:
    import stat

    assert served.post(delivery(comment(9971, "Hej\u0000då")))[0] == 200
    assert served.post(delivery(comment(9972, "Vem äger sidan?"), page="8112189876"))[0] == 200
    served.drained()
    texts = {e["external_id"]: e["text"] for e in events(cli)}
    assert texts["1221_9971"] == "Hej\ufffddå"  # PostgreSQL refuses NUL; both registers keep the same text
    assert "8112189876" not in served.output()  # an identity number sent as a page id
    assert stat.S_IMODE(served.spool.stat().st_mode) == 0o600  # the spool is the service's alone


def test_sigterm_stops_the_service_cleanly(cli: Cli, tmp_path: Path) -> None:
    torsby_with_a_captured_page(cli, tmp_path)
    service = Served(cli.db_url, cli.files_dir, tmp_path / "spool.sqlite3").start()
    assert service.post(delivery(comment(9980, "Sista kommentaren före stoppet")))[0] == 200
    assert service.stop() == 0
    assert "smcase serve: stopped" in service.output() and "Traceback" not in service.output()
    assert [e["external_id"] for e in events(cli)] == ["1221_9980"]  # processed, or processed at the next start
