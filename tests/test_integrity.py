"""Integrity (issue 13): the audit chain covers every registered row, and a checkpoint anchors it outside the
database. Each edit made behind smcase's back is caught and named; legitimate work (ingest, channels, markings,
rescans, disposal, the migration of an older register) still verifies."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, delete, insert, select, text, update

from smcase import attest, audit
from smcase.audit import entry_hash
from smcase.db import _alembic_config, connect, make_engine
from smcase.model import (
    Attestation,
    AuditEntry,
    AuditHead,
    AuditPayload,
    Case,
    Classification,
    Correspondent,
    EventRow,
    Record,
    Register,
    table_of,
)

from .conftest import REPO, Cli


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


@pytest.fixture
def busy(cli: Cli, tmp_path: Path) -> Cli:
    """Torsby's register after a day's work: users, ingest, a typed case with a record, a marking, a closed and a
    reopened case, a channel proposed, a rescan."""
    ok(cli("init", "--name", "Torsby kommun", "--policy", str(REPO / "fixtures" / "policies" / "torsby.toml")))
    ok(cli("users", "add", "erik", "--role", "officer", "--full-name", "Erik Lund"))
    ok(cli("ingest", str(REPO / "fixtures" / "events" / "torsby-facebook.jsonl"), "--format", "jsonl"))
    number = ok(cli("case", "open", "--title", "Synpunkt på snöröjningen")).strip()
    letter = tmp_path / "brev.txt"
    letter.write_text("Hej kommunen\n", encoding="utf-8")
    ok(cli("record", "add", number, "--direction", "in", "--description", "Brev", "--from", "Kalle",
           "--file", str(letter)))
    ok(cli("case", "mark", number, "--ground", "osl-21-3", user="erik"))
    ok(cli("case", "close", number))
    ok(cli("case", "reopen", number, "--reason", "Medborgaren återkom"))
    ok(cli("users", "grant", "erik", "--clearance"))
    ok(cli("channel", "propose", "--plan", str(REPO / "fixtures" / "plans" / "torsby-facebook.toml")))
    ok(cli("rescan"))
    return cli


def tamper(cli: Cli, statement: Any) -> None:
    engine = make_engine(cli.db_url)
    with engine.begin() as conn:
        conn.execute(statement)
    engine.dispose()


def test_a_day_of_work_verifies_row_by_row(busy: Cli) -> None:
    shown = ok(busy("audit", "verify"))
    assert "audit log OK" in shown
    report = json.loads(ok(busy("audit", "verify", "--json")))
    assert report["ok"] and report["rows_checked"] > 20 and report["row_problems"] == []


def _first(model: Any) -> Any:
    return select(table_of(model).c.id).order_by(table_of(model).c.id).limit(1).scalar_subquery()


def _typed_record() -> Any:
    records = table_of(Record)
    return select(records.c.id).where(records.c.source_platform.is_(None)).order_by(records.c.id.desc()).limit(1) \
        .scalar_subquery()


TAMPERING: dict[str, tuple[Callable[[], Any], str, str]] = {
    "a case title edited": (lambda: update(table_of(Case)).where(table_of(Case).c.id == _first(Case))
                            .values(title="Något annat"), "cases row", "differs from its last audited state"),
    "a marking removed": (lambda: update(table_of(Case)).where(table_of(Case).c.confidentiality_ground.is_not(None))
                          .values(confidentiality_ground=None, withheld_fields=None), "cases row", "differs"),
    "a status changed": (lambda: update(table_of(Case)).where(table_of(Case).c.status == "open")
                         .values(status="closed"), "cases row", "differs"),
    "a record's title edited": (lambda: update(table_of(Record)).where(table_of(Record).c.id == _typed_record())
                                .values(title="Ändrad"), "records row", "differs"),
    "a record's registered_by changed": (lambda: update(table_of(Record)).where(
        table_of(Record).c.id == _typed_record()).values(registered_by_id=2), "records row", "differs"),
    "a counterpart renamed": (lambda: update(table_of(Correspondent)).values(name="Någon annan"), "records row",
                              "differs"),
    "the stored policy edited": (lambda: update(table_of(Register)).values(
        policy={"journal": {"show_citizen_names": True}}), "register row", "differs"),
    "an event's raw payload edited": (lambda: update(table_of(EventRow)).where(
        table_of(EventRow).c.id == _first(EventRow)).values(raw='{"text": "något annat"}'), "events row", "differs"),
    "a class added": (lambda: insert(table_of(Classification)).values(
        uuid=__import__("uuid").uuid4(), code="9.9", title="Smyg", created_at=__import__("datetime").datetime.now(
            __import__("datetime").UTC)), "classes row", "no audit entry accounts for it"),
}


@pytest.mark.parametrize("change", sorted(TAMPERING))
def test_an_edit_behind_smcases_back_is_caught_and_named(busy: Cli, change: str) -> None:
    statement, where, reason = TAMPERING[change]
    tamper(busy, statement())
    result = busy("audit", "verify")
    assert result.exit_code == 1
    assert where in result.stderr and reason in result.stderr, result.stderr
    assert "last attested by entry" in result.stderr or "no audit entry" in result.stderr


def test_a_deleted_record_is_caught(busy: Cli) -> None:
    records = table_of(Record)
    engine = make_engine(busy.db_url)
    with engine.begin() as conn:
        victim = conn.execute(select(records.c.id).where(records.c.source_platform.is_(None))
                              .order_by(records.c.id.desc()).limit(1)).scalar_one()
        conn.execute(text("DELETE FROM documents WHERE record_id = :r"), {"r": victim})
        conn.execute(delete(table_of(Correspondent)).where(table_of(Correspondent).c.record_id == victim))
        conn.execute(delete(records).where(records.c.id == victim))
    engine.dispose()
    result = busy("audit", "verify")
    assert result.exit_code == 1 and f"records row {victim}: is gone" in result.stderr, result.stderr


def test_verifying_in_worker_processes_finds_what_one_process_finds(busy: Cli,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The parallel path (stretches of the chain and of each table, checked in worker processes) reports the
    same rows and the same first broken entry as the single-process walk, on the same tampered register."""
    monkeypatch.setattr(audit, "_SMALLEST_STRETCH", 3)  # many stretches, so links cross their edges
    engine = make_engine(busy.db_url)

    def both() -> tuple[audit.Verification, audit.Verification]:
        return (audit.verify(engine, workers=1),
                audit.verify(engine, workers=2, parallel_from=0))

    serial, parallel = both()
    assert serial.ok and parallel.ok and parallel.rows_checked == serial.rows_checked > 20
    tamper(busy, update(table_of(Case)).where(table_of(Case).c.id == _first(Case)).values(title="Något annat"))
    tamper(busy, update(table_of(Correspondent)).values(name="Någon annan"))
    serial, parallel = both()
    named = [(p.table, p.row_id, p.reason) for p in serial.row_problems]
    assert len(named) >= 2 and {"cases", "records"} <= {table for table, _id, _reason in named}
    assert [(p.table, p.row_id, p.reason) for p in parallel.row_problems] == named
    tamper(busy, update(table_of(AuditEntry)).where(table_of(AuditEntry).c.seq == 3).values(actor="mallory"))
    serial, parallel = both()
    assert serial.problem is not None and serial.problem == parallel.problem and serial.problem.seq == 3
    assert parallel.checked == serial.checked == 2
    engine.dispose()


def test_rewriting_the_attestations_is_caught_by_the_chain(busy: Cli) -> None:
    tamper(busy, update(table_of(Case)).values(title="Ny titel"))
    # ...and the attestations "fixed" to match: the entry that covers them no longer matches its hash.
    engine = make_engine(busy.db_url)
    with engine.begin() as conn:
        for case_id, digest in attest._states(conn, attest.BY_NAME["cases"], None):
            conn.execute(update(table_of(Attestation)).where(
                table_of(Attestation).c.tbl == "cases", table_of(Attestation).c.row_id == case_id).values(digest=digest))
    engine.dispose()
    result = busy("audit", "verify")
    assert result.exit_code == 1 and "the rows it attested were changed" in result.stderr, result.stderr


def test_a_checkpoint_catches_a_truncated_and_rewound_chain(busy: Cli, tmp_path: Path) -> None:
    mark = tmp_path / "checkpoint.json"
    assert "checkpoint at entry" in ok(busy("audit", "checkpoint", "--out", str(mark)))
    assert json.loads(mark.read_text(encoding="utf-8"))["seq"] > 1
    ok(busy("case", "open", "--title", "En ny sak efter kontrollpunkten"))  # legitimate: still verifies
    assert "checkpoint at entry" in ok(busy("audit", "verify", "--checkpoint", str(mark)))
    # Someone drops the last five entries and rewinds the head: the chain alone still verifies.
    engine = make_engine(busy.db_url)
    _truncate(engine, 5)
    engine.dispose()
    chain = busy("audit", "verify", "--json")
    assert json.loads(chain.stdout)["ok"], chain.stdout
    result = busy("audit", "verify", "--checkpoint", str(mark))
    assert result.exit_code == 1 and "no longer holds entry" in result.stderr, result.stderr


def _truncate(engine: Engine, n: int) -> None:
    """Drop the last ``n`` entries, rewind the head, and forge attestations so that the rows verify too."""
    entries, head = table_of(AuditEntry), table_of(AuditHead)
    with connect(engine) as conn, conn.begin():
        keep = conn.execute(select(head.c.seq)).scalar_one() - n
        conn.execute(delete(table_of(Attestation)).where(table_of(Attestation).c.seq > keep))
        conn.execute(delete(table_of(AuditPayload)).where(table_of(AuditPayload).c.seq > keep))
        conn.execute(delete(entries).where(entries.c.seq > keep))
        attest.attest(conn, attest.everything(conn), keep)  # the rows as they stand, "attested" by the last entry
        digest = dict(attest.entry_rows(conn))[keep]
        record = conn.execute(select(entries).where(entries.c.seq == keep)).mappings().one()
        fields = {k: record[k] for k in ("seq", "at", "actor", "action", "entity", "entity_uuid", "ref",
                                         "payload_sha256", "prev_hash")}
        forged = entry_hash(**fields, rows_sha256=digest)
        conn.execute(update(entries).where(entries.c.seq == keep).values(rows_sha256=digest, entry_hash=forged))
        conn.execute(update(head).values(seq=keep, entry_hash=forged))


def test_a_checkpoint_of_another_register_or_a_bad_file_is_refused(busy: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    result = busy("audit", "verify", "--checkpoint", str(bad))
    assert result.exit_code == 1 and "is not an smcase audit checkpoint" in result.stderr


def test_an_older_register_is_attested_once_by_the_migration(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # A register written by a version that attested no rows...
    monkeypatch.setattr(attest, "attestations", lambda conn, touched, seq, known=None: ([], None))
    ok(cli("init", "--name", "Torsby kommun", "--country", "SE"))
    ok(cli("case", "open", "--title", "Gammal sak"))
    monkeypatch.undo()
    engine = make_engine(cli.db_url)
    with connect(engine) as conn, conn.begin():
        command.downgrade(_alembic_config(conn), "0004")
    engine.dispose()
    # ...is upgraded: one baseline entry attests every row, and from then on every write.
    assert "upgraded from 0004" in ok(cli("db", "upgrade"))
    ok(cli("case", "open", "--title", "Ny sak"))
    report = json.loads(ok(cli("audit", "verify", "--json")))
    assert report["ok"] and report["rows_checked"] >= 4
    log = json.loads(ok(cli("audit", "log", "--action", "audit.baseline", "--json")))
    assert len(log) == 1


def test_a_checkpoint_falls_due_by_the_policy_and_the_annual_report_prints_it(cli: Cli, tmp_path: Path) -> None:
    policy = (REPO / "fixtures" / "policies" / "default-se.toml").read_text(encoding="utf-8")
    assert "[duties]" not in policy
    (tmp_path / "p.toml").write_text(policy + "\n[duties]\ncheckpoint_every_days = 7\n", encoding="utf-8")
    ok(cli("init", "--name", "Kommunen", "--policy", str(tmp_path / "p.toml")))
    later = "2099-01-01"
    due = json.loads(ok(cli("duties", "--at", later, "--json")))
    assert [d for d in due if d["kind"] == "audit_checkpoint" and d["overdue"]]
    ok(cli("audit", "checkpoint", "--out", str(tmp_path / "c.json")))
    shown = ok(cli("duties", "--json"))
    assert all(not (d["kind"] == "audit_checkpoint" and d["overdue"]) for d in json.loads(shown))
    assert "Audit checkpoint (publish it with the report): entry" in ok(cli("report", "annual", "--year", "2026"))


def test_a_counter_moved_on_behind_smcases_back_is_caught(busy: Cli) -> None:
    """A counter set forward would leave a gap in the diary: it must stand at the last number given."""
    tamper(busy, text("UPDATE counters SET value = value + 5 WHERE scope = 'case'"))
    result = busy("audit", "verify")
    assert result.exit_code == 1 and "counters row" in result.stderr and "the case counter of" in result.stderr


def test_a_deleted_audit_payload_that_no_disposal_accounts_for_is_caught(busy: Cli) -> None:
    tamper(busy, delete(AuditPayload).where(AuditPayload.seq == 8))
    result = busy("audit", "verify")
    assert result.exit_code == 1 and "entry 8" in result.stderr and "payload is gone" in result.stderr


@pytest.mark.parametrize("statement", [
    "INSERT INTO attestations (seq, tbl, row_id, digest) VALUES (5, 'cases', 'abc', 'x')",
    "UPDATE audit_entries SET at = 'notadate' WHERE seq = 3",
    "UPDATE attestations SET seq = 'x' WHERE id = 1",
], ids=["a row id that is text", "a time that is not one", "an entry number that is text"])
def test_values_of_the_wrong_type_written_behind_smcases_back_are_named_not_a_traceback(
        statement: str, tmp_path: Path) -> None:
    # On SQLite only: PostgreSQL refuses a value of another type itself.
    cli = Cli(f"sqlite:///{tmp_path / 'typed.db'}", tmp_path / "files")
    ok(cli("init", "--name", "Torsby kommun", "--policy", str(REPO / "fixtures" / "policies" / "torsby.toml")))
    for title in ("Ett", "Två", "Tre"):
        ok(cli("case", "open", "--title", title))
    tamper(cli, text(statement))
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3
    assert "audit log BROKEN" in result.stderr or "not accounted for" in result.stderr, result.stderr


@pytest.mark.parametrize("content", ['[1, 2]', '{"format": "smcase-audit-checkpoint/1", "register": "x", '
                                     '"seq": 1e30, "hash": "00", "at": "2026-01-01"}', "\udcff", "null"])
def test_a_bad_checkpoint_file_is_refused_in_one_line(busy: Cli, tmp_path: Path, content: str) -> None:
    path = tmp_path / "cp.json"
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    result = busy("audit", "verify", "--checkpoint", str(path))
    assert result.exit_code == 1 and "is not an smcase audit checkpoint" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_document_file_changed_or_deleted_in_the_store_is_caught_with_files(busy: Cli) -> None:
    """The chain attests the document rows; --files proves the files still hold what was registered."""
    from smcase.model import Document
    from smcase.store import FileStore

    assert "document files as registered" in ok(busy("audit", "verify", "--files"))
    engine = make_engine(busy.db_url)
    with engine.connect() as conn:
        digests = sorted(set(conn.execute(select(table_of(Document).c.sha256)).scalars()))
    engine.dispose()
    store = FileStore(busy.files_dir)
    changed, gone = store.path(digests[0]), store.path(digests[-1])
    assert changed != gone
    changed.chmod(0o644)
    changed.write_bytes(b"tampered\n")
    gone.unlink()
    plain = busy("audit", "verify")
    assert plain.exit_code == 0  # the rows are as attested: only the files changed
    checked = busy("audit", "verify", "--files")
    assert checked.exit_code == 1
    problems = [line for line in checked.stderr.splitlines() if line.startswith("document file not as registered")]
    assert any("its file's content has changed" in line for line in problems)
    assert any("its file is missing from the file store" in line for line in problems)
    assert all(" record KS 2026/" in line for line in problems)


@pytest.mark.parametrize("change", ["delete", "rewrite", "status"])
def test_quarantined_input_changed_behind_smcases_back_is_caught(busy: Cli, change: str) -> None:
    """Input kept because it could not be read was accepted: it may not vanish or change unseen."""
    from smcase.model import QuarantineRow

    quarantine = table_of(QuarantineRow)
    first = min(q["id"] for q in json.loads(ok(busy("inbox", "list", "--quarantined", "--json"))))
    tamper(busy, {"delete": delete(quarantine).where(quarantine.c.id == first),
                  "rewrite": update(quarantine).where(quarantine.c.id == first).values(raw="x", reason="y"),
                  "status": update(quarantine).values(status="resolved")}[change])
    result = busy("audit", "verify")
    assert result.exit_code == 1 and "register row not accounted for: quarantine row" in result.stderr


def test_a_register_whose_quarantine_was_never_attested_is_attested_by_the_migration(
        cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A register written before 0008: its quarantine rows were never attested...
    original = attest.attestations
    monkeypatch.setattr(attest, "attestations", lambda conn, touched, seq, known=None: original(
        conn, {k: v for k, v in touched.items() if k != "quarantine"}, seq, known))
    ok(cli("init", "--name", "Torsby kommun", "--country", "SE"))
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    assert cli("ingest", str(broken), "--format", "jsonl").exit_code == 1  # nothing parsed; the line is kept
    monkeypatch.undo()
    engine = make_engine(cli.db_url)
    with connect(engine) as conn, conn.begin():
        command.downgrade(_alembic_config(conn), "0007")
    engine.dispose()
    # ...until the upgrade's baseline entry attests them; from then on every write does.
    assert "upgraded from 0007" in ok(cli("db", "upgrade"))
    report = json.loads(ok(cli("audit", "verify", "--json")))
    assert report["ok"], report
    log = json.loads(ok(cli("audit", "log", "--action", "audit.baseline", "--json")))
    assert [entry["ref"] for entry in log] == ["quarantine attested at upgrade"]
