"""Disposal under the policy's rules (RAT-7, VIM-6d, NOR-5, TOR-8, 'Across all five'): nothing vanishes unrecorded."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import create_engine, select

from smcase.model import AuditEntry, AuditPayload, EventRow

from .conftest import REPO, Cli


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def with_receipt_rule(tmp_path: Path, municipality: str, rule_id: str, description: str) -> Path:
    """The municipality's policy plus a rule that disposes of receipts when their case is closed."""
    policy = tmp_path / "policy.toml"
    policy.write_text((REPO / "fixtures" / "policies" / f"{municipality}.toml").read_text(encoding="utf-8") + f'''
[[disposal.rules]]
id = "{rule_id}"
action = "dispose"
after_years = 0
record_kinds = ["receipt"]
description = "{description}"
''', encoding="utf-8")
    return policy


@pytest.fixture
def register(cli: Cli, tmp_path: Path) -> tuple[Cli, list[str]]:
    """Torsby's policy plus a rule that disposes of receipts when their case closes; ingested trivial comments;
    three cases with receipts: one closed, one closed but on legal hold, one open."""
    policy = with_receipt_rule(tmp_path, "torsby", "receipts", "Mottagningskvitton gallras när ärendet avslutats")
    ok(cli("init", "--name", "Torsby kommun", "--policy", str(policy)))
    ok(cli("ingest", str(REPO / "fixtures" / "events" / "torsby-facebook.jsonl"), "--format", "jsonl"))
    for n, title in enumerate(("Kvitto", "Kvitto under utredning", "Kvitto i öppet ärende"), start=1):
        receipt, decision = tmp_path / f"kvitto-{n}.txt", tmp_path / f"beslut-{n}.txt"
        receipt.write_text(f"Mottagningskvitto nummer {n}\n", encoding="utf-8")
        decision.write_text(f"Beslut nummer {n}\n", encoding="utf-8")
        ok(cli("case", "open", "--title", title))
        number = json.loads(ok(cli("case", "list", "--json")))[-1]["diary_number"]
        ok(cli("record", "add", number, "--direction", "out", "--description", "Kvitto", "--kind", "receipt",
               "--file", str(receipt)))
        ok(cli("record", "add", number, "--direction", "out", "--description", "Beslut", "--file", str(decision)))
    cases = [c["diary_number"] for c in json.loads(ok(cli("case", "list", "--json")))][-3:]
    ok(cli("case", "close", cases[0]))
    ok(cli("case", "close", cases[1]))
    ok(cli("case", "hold", cases[1]))
    return cli, cases


def test_dispose_destroys_nothing_without_a_yes(register: tuple[Cli, list[str]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Disposal destroys for good: not on a terminal it needs --yes; on one it lists what is due and asks."""
    register, _cases = register  # type: ignore[assignment]
    assert ok(register("dispose", "log")).strip() == "Nothing has been disposed of."
    planned = json.loads(ok(register("dispose", "--dry-run", "--json")))
    refused = register("dispose")
    assert refused.exit_code == 2 and "give --yes" in refused.stderr
    monkeypatch.setattr("smcase.cli.dispose._on_terminal", lambda: True)
    declined = register("dispose", input="n\n")
    assert declined.exit_code == 1 and "Destroy the content of 4 items? This cannot be undone" in declined.stderr
    assert json.loads(ok(register("dispose", "--dry-run", "--json"))) == planned  # nothing was destroyed
    accepted = register("dispose", input="y\n")
    assert accepted.exit_code == 0 and accepted.stdout.strip().endswith("4 items disposed of")
    assert ok(register("dispose", "--yes")).strip() == "Nothing is due for disposal."
    assert len(json.loads(ok(register("dispose", "log", "--json")))) == 4


def test_rat7_tor8_dry_run_and_run_agree_and_the_log_keeps_each_item(register: tuple[Cli, list[str]]) -> None:
    register, (closed, held, _open) = register  # type: ignore[assignment]
    planned = json.loads(ok(register("dispose", "--dry-run", "--json")))
    assert sorted((i["entity"], i["rule"]) for i in planned) == [
        ("event", "trivial-social")] * 3 + [("record", "receipts")]
    assert [i["ref"] for i in planned if i["entity"] == "record"] == [f"{closed}-1"]  # not the held, not the open
    done = json.loads(ok(register("dispose", "--yes", "--json")))
    assert done == planned
    assert json.loads(ok(register("dispose", "--yes", "--json"))) == []  # a second run disposes nothing more
    logged = json.loads(ok(register("dispose", "log", "--json")))
    assert [(e["ref"], e["rule"], e["actor"]) for e in logged] == [(i["ref"], i["rule"], "anna") for i in planned]
    assert all("Mottagningskvitto" not in e["what"] for e in logged)
    assert "audit log OK" in ok(register("audit", "verify"))  # the digest chain stays whole
    # the content is gone: the receipt's document; the decision keeps its own
    shown = json.loads(ok(register("case", "show", closed, "--json")))
    assert [len(r["documents"]) for r in shown["records"]] == [0, 1]
    held_case = json.loads(ok(register("case", "show", held, "--json")))
    assert held_case["legal_hold"] and [len(r["documents"]) for r in held_case["records"]] == [1, 1]


def test_disposal_destroys_event_text_raw_payload_and_audit_payloads(register: tuple[Cli, list[str]]) -> None:
    register, _cases = register  # type: ignore[assignment]
    done = json.loads(ok(register("dispose", "--yes", "--json")))
    engine = create_engine(register.db_url)
    with engine.connect() as conn:
        events = conn.execute(select(EventRow.status, EventRow.text, EventRow.raw, EventRow.author_name)
                              .where(EventRow.key.in_([i["ref"] for i in done if i["entity"] == "event"]))).all()
        assert events and all(e == ("disposed", None, None, None) for e in events)
        receipt = next(i for i in done if i["entity"] == "record")
        payloads = conn.execute(select(AuditEntry.action, AuditPayload.payload)
                                .outerjoin(AuditPayload, AuditPayload.seq == AuditEntry.seq)
                                .where(AuditEntry.entity_uuid == uuid.UUID(receipt["uuid"]))).all()
        assert payloads and {a: p is None for a, p in payloads} == {"record.add": True, "record.dispose": False}
        assert conn.execute(select(AuditPayload.seq)).first() is not None
    engine.dispose()
    inbox = ok(register("inbox", "list", "--json"))
    assert "Ring mig gärna" not in inbox  # c4 was trivial and is gone


def test_the_file_store_loses_files_nothing_refers_to(register: tuple[Cli, list[str]], tmp_path: Path) -> None:
    register, (closed, _held, open_) = register  # type: ignore[assignment]
    receipt = json.loads(ok(register("case", "show", closed, "--json")))["records"][0]["documents"][0]["sha256"]
    before = {p.name for p in register.files_dir.rglob("*") if p.is_file()}
    ok(register("dispose", "--yes"))
    after = {p.name for p in register.files_dir.rglob("*") if p.is_file()}
    assert before - after == {receipt}  # the other receipts, the decisions and the captured posts stay


def test_a_file_still_referred_to_stays(register: tuple[Cli, list[str]], tmp_path: Path) -> None:
    register, (closed, _held, open_) = register  # type: ignore[assignment]
    copy = tmp_path / "kopia.txt"
    copy.write_text("Mottagningskvitto nummer 1\n", encoding="utf-8")  # the same content as the disposed receipt
    ok(register("record", "add", open_, "--direction", "internal", "--description", "Kopia", "--file", str(copy)))
    receipt = json.loads(ok(register("case", "show", closed, "--json")))["records"][0]["documents"][0]["sha256"]
    ok(register("dispose", "--yes"))
    assert receipt in {p.name for p in register.files_dir.rglob("*") if p.is_file()}


def test_only_archivists_and_admins_dispose(register: tuple[Cli, list[str]]) -> None:
    register, _cases = register  # type: ignore[assignment]
    ok(register("users", "add", "erik", "--role", "officer", "--role", "registrar"))
    refused = register("dispose", "--yes", user="erik")
    assert refused.exit_code == 1 and "may not archive.dispose" in refused.stderr
    assert json.loads(ok(register("dispose", "--dry-run", "--json", user="erik")))  # listing is allowed


@pytest.mark.parametrize("municipality, days", [
    pytest.param("rattvik", 0, marks=[pytest.mark.rules("RAT-7"), pytest.mark.policy("rattvik")]),
    pytest.param("vimmerby", 30, marks=[pytest.mark.rules("VIM-6d"), pytest.mark.policy("vimmerby")]),
    pytest.param("norsjo", 0, marks=[pytest.mark.rules("NOR-5"), pytest.mark.policy("norsjo")]),
])
def test_rat7_vim6d_nor5_trivial_comments_go_when_no_longer_current(cli: Cli, municipality: str, days: int) -> None:
    """RAT-7, NOR-5: replies and comments may be disposed of continuously; VIM-6d: when no longer current."""
    ok(cli("init", "--name", f"{municipality} kommun", "--policy",
           str(REPO / "fixtures" / "policies" / f"{municipality}.toml")))
    now = datetime.now(UTC)
    feed = [{"platform": "facebook", "id": f"c{n}", "kind": "comment", "direction": "in", "text": "Bra jobbat!",
             "created_at": (now - timedelta(days=age)).isoformat()} for n, age in enumerate((0, 10, 45))]
    ok(cli("ingest", "-", "--format", "jsonl", input="".join(json.dumps(e) + "\n" for e in feed)))
    due = json.loads(ok(cli("dispose", "--dry-run", "--json")))
    expected = [f"facebook:c{n}:1" for n, age in enumerate((0, 10, 45)) if age >= days]
    assert [i["ref"] for i in due] == expected and {i["rule"] for i in due} <= {"trivial-social"}
    assert [i["ref"] for i in json.loads(ok(cli("dispose", "--yes", "--json")))] == expected
    assert len(json.loads(ok(cli("dispose", "log", "--json")))) == len(expected)


def test_performed_disposal_reaches_the_fgs_package(register: tuple[Cli, list[str]], standards_dir: Path,
                                                    tmp_path: Path) -> None:
    register, (closed, _held, _open) = register  # type: ignore[assignment]
    ok(register("dispose", "--yes"))
    out = tmp_path / "paket"
    ok(register("export", "fgs", str(out), "--standards", str(standards_dir)))
    tree = etree.parse(str(out / "representations/rep1/data/erms.xml"))
    e = "{https://DILCIS.eu/XML/ERMS}"
    applied = {r.findtext(f"{e}objectId"): [d.get("dateType") for d in r.iter(f"{e}disposalDate")]
               for r in tree.iter(f"{e}record")}
    assert applied[f"{closed}-1"] == ["retention_period_end", "applied"]  # the receipt, disposed of
    assert applied[f"{closed}-2"] == ["retention_period_start"]  # the decision, preserved


def test_performed_disposal_reaches_the_noark_extraction(cli: Cli, standards_dir: Path, tmp_path: Path) -> None:
    """Arkade N5.45: the flag omfatterDokumenterSomErKassert agrees with utfoertKassasjon in arkivstruktur.xml."""
    policy = with_receipt_rule(tmp_path, "rennebu", "kvitteringer", "Mottakskvitteringer kasseres når saken er avsluttet")
    ok(cli("init", "--name", "Rennebu kommune", "--org-number", "964903123", "--policy", str(policy)))
    receipt = tmp_path / "kvittering.txt"
    receipt.write_text("Mottakskvittering\n", encoding="utf-8")
    ok(cli("case", "open", "--title", "Søknad"))
    ok(cli("record", "add", "2026/1", "--direction", "out", "--description", "Kvittering", "--kind", "receipt",
           "--file", str(receipt)))
    ok(cli("record", "add", "2026/1", "--direction", "out", "--description", "Vedtak", "--to", "Per Hansen"))
    ok(cli("case", "close", "2026/1"))
    assert [i["ref"] for i in json.loads(ok(cli("dispose", "--yes", "--json")))] == ["2026/1-1"]
    out = tmp_path / "uttrekk"
    ok(cli("export", "noark5", str(out), "--standards", str(standards_dir)))
    n = "{http://www.arkivverket.no/standarder/noark5/arkivstruktur}"
    done = etree.parse(str(out / "arkivstruktur.xml")).find(f".//{n}arkivdel/{n}utfoertKassasjon")
    assert done is not None and done.findtext(f"{n}kassertAv") == "anna"
    assert ">true<" in (out / "arkivuttrekk.xml").read_text(encoding="utf-8").split("omfatterDokumenterSomErKassert")[1][:200]
