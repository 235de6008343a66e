"""The register service: the one writer, its checks, and what it lets out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from smcase import audit
from smcase.errors import InvalidInput, InvalidState, NotFound, PermissionDenied
from smcase.model import AuditEntry, AuditPayload
from smcase.register import CaseSpec, Party, RecordSpec, RegisterService, Source
from smcase.store import FileStore

from .conftest import FakeClock


def _actions(engine: Engine) -> list[tuple[str, str | None, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(AuditEntry.action, AuditEntry.ref, AuditEntry.actor).order_by(AuditEntry.seq))]


def test_a_new_case_gets_defaults_from_the_policy_and_the_acting_user(se: RegisterService) -> None:
    case = se.open_case(CaseSpec(title="Synpunkt på snöröjningen"))
    assert case.diary_number == "KS 2026/0001"
    assert case.status == "open"
    assert case.class_code == "1.4.3"  # the policy's default class
    assert case.officer == "anna"
    assert case.public_title == "Synpunkt på snöröjningen"
    assert case.confidentiality is None
    assert case.disposal_rule == "preserve"
    assert case.opened_at.utcoffset() is not None
    assert case.records == ()


def test_a_confidential_case_never_shows_its_title_as_public_title(se: RegisterService) -> None:
    case = se.open_case(CaseSpec(title="Anna Andersson 19121212-1212 har hemtjänst", confidential="osl-26-1"))
    assert case.confidentiality == "OSL 26 kap. 1 §"
    assert case.marking is not None and "title" in case.marking.withheld
    assert case.marking.marked_by == "anna"
    assert case.public_title == "Sekretessmarkerat ärende"
    by_citation = se.open_case(CaseSpec(title="x", confidential="osl 26 kap. 1 §"))
    assert by_citation.confidentiality == "OSL 26 kap. 1 §"


def test_an_unknown_ground_is_refused_listing_the_known_ones(se: RegisterService) -> None:
    with pytest.raises(InvalidInput, match=r"unknown confidentiality ground 'OSL 99'.*osl-26-1 \(OSL 26 kap. 1 §\)"):
        se.open_case(CaseSpec(title="x", confidential="OSL 99"))


def test_marking_later_replaces_a_public_title_that_would_leak(se: RegisterService) -> None:
    case = se.open_case(CaseSpec(title="Kalle Svensson, 19121212-1212"))
    marked = se.mark(case.diary_number, "osl-21-3")
    assert marked.public_title == "Sekretessmarkerat ärende"
    # A record whose title holds an identity number is marked when it is written, under the ingest ground.
    record = se.add_record(case.diary_number, RecordSpec("in", "Inlägg med personnummer 19121212-1212"))
    shown = se.get_record(record.number)
    assert shown.confidentiality is not None and shown.public_title == "Sekretessmarkerad handling"
    lifted = se.mark(case.diary_number, None, reason="Beslut om utlämnande")
    assert lifted.confidentiality is None
    assert [a for a, _, _ in _actions(se.engine) if not a.endswith(".read")][-3:] == [
        "case.mark", "record.add", "case.mark"]


def test_unknown_class_and_officer_are_named(se: RegisterService) -> None:
    with pytest.raises(NotFound, match="no class '9.9'"):
        se.open_case(CaseSpec(title="x", class_code="9.9"))
    with pytest.raises(NotFound, match="no active user 'nobody'"):
        se.open_case(CaseSpec(title="x", officer="nobody"))
    with pytest.raises(InvalidInput, match="title may not be empty"):
        se.open_case(CaseSpec(title="   "))


def test_every_change_is_audited_with_before_and_after(se: RegisterService) -> None:
    se.add_class("2.1", "Bygglov")
    case = se.open_case(CaseSpec(title="Old title"))
    se.update_case(case.diary_number, title="New title", class_code="2.1", status="in_progress")
    with Session(se.engine) as session:
        entry, payload = session.execute(
            select(AuditEntry, AuditPayload.payload).join(AuditPayload, AuditPayload.seq == AuditEntry.seq)
            .where(AuditEntry.action == "case.update")).one()
    assert entry.ref == "KS 2026/0001" and entry.actor == "anna"
    assert '"before":{"class_code":' in payload and '"title":"Old title"' in payload
    assert '"after":{' in payload and '"title":"New title"' in payload and '"status":"in_progress"' in payload
    shown = se.get_case(case.diary_number)
    assert (shown.title, shown.class_code, shown.status) == ("New title", "2.1", "in_progress")


def test_status_moves_open_in_progress_closed_and_reopen_is_logged(se: RegisterService, clock: FakeClock) -> None:
    case = se.open_case(CaseSpec(title="x"))
    se.update_case(case.diary_number, status="in_progress")
    with pytest.raises(InvalidInput, match="back to open only by closing and reopening"):
        se.update_case(case.diary_number, status="open")
    closed = se.close_case(case.diary_number)
    assert closed.status == "closed" and closed.closed_at is not None
    with pytest.raises(InvalidState, match="already closed"):
        se.close_case(case.diary_number)
    with pytest.raises(InvalidState, match="is closed; reopen it first"):
        se.update_case(case.diary_number, title="y")
    with pytest.raises(InvalidInput, match="reason for reopening may not be empty"):
        se.reopen_case(case.diary_number, " ")
    reopened = se.reopen_case(case.diary_number, "The citizen wrote again")
    assert reopened.status == "open" and reopened.closed_at is None
    with se.engine.connect() as conn:
        payload = conn.execute(select(AuditPayload.payload).join(AuditEntry, AuditEntry.seq == AuditPayload.seq)
                               .where(AuditEntry.action == "case.reopen")).scalar_one()
    assert '"reason":"The citizen wrote again"' in payload


def test_records_are_refused_in_a_closed_case(se: RegisterService) -> None:
    case = se.open_case(CaseSpec(title="x"))
    se.close_case(case.diary_number)
    with pytest.raises(InvalidState, match="KS 2026/0001 is closed; reopen it before adding records"):
        se.add_record(case.diary_number, RecordSpec("in", "late"))


def test_a_record_keeps_direction_parties_source_and_documents(se: RegisterService, tmp_path: Path,
                                                                files: FileStore) -> None:
    case = se.open_case(CaseSpec(title="Klagomål"))
    photo = tmp_path / "Snow.PNG"
    photo.write_bytes(b"\x89PNG fake image")
    record = se.add_record(case.diary_number, RecordSpec(
        direction="in", title="Kommentar på Facebook", kind="social_post",
        parties=[Party("sender", "Kalle", "Storgatan 1")],
        source=Source("facebook", "123_456", "https://facebook.example/p/123_456", "Kalle", "fb-9"),
        files=[photo], attachments=[("post-123.txt", "Gångbanan är inte sandad".encode())],
        document_date=date(2026, 3, 1),
    ))
    assert record.number == "KS 2026/0001-1" and record.direction == "incoming"
    assert [(p.role, p.name, p.address) for p in record.correspondents] == [("sender", "Kalle", "Storgatan 1")]
    assert record.source is not None and record.source.external_id == "123_456"
    assert [(d.number, d.original_name, d.format, d.media_type) for d in record.documents] == [
        (1, "Snow.PNG", "png", "image/png"), (2, "post-123.txt", "txt", "text/plain")]
    for doc in record.documents:
        files.verify(doc.sha256)
        assert files.path(doc.sha256).stat().st_size == doc.size


def test_the_same_file_twice_is_stored_once(se: RegisterService, tmp_path: Path, files: FileStore) -> None:
    case = se.open_case(CaseSpec(title="x"))
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("same content")
        se.add_record(case.diary_number, RecordSpec("in", name, files=[tmp_path / name]))
    stored = [p for p in files.root.rglob("*") if p.is_file()]
    assert len(stored) == 1


@pytest.mark.parametrize(("given", "problem"), [
    (dict(direction="sideways"), "unknown direction 'sideways'"),
    (dict(title=""), "description may not be empty"),
    (dict(parties=[Party("witness", "X")]), "unknown correspondent role 'witness'"),
    (dict(files=[Path("/nonexistent/file.pdf")]), "no such file: /nonexistent/file.pdf"),
])
def test_bad_records_are_refused_and_burn_no_number(se: RegisterService, given: dict, problem: str) -> None:
    case = se.open_case(CaseSpec(title="x"))
    spec = {"direction": "in", "title": "ok", **given}
    with pytest.raises(InvalidInput, match=problem):
        se.add_record(case.diary_number, RecordSpec(**spec))
    assert se.add_record(case.diary_number, RecordSpec("in", "ok")).running_number == 1


def test_unknown_users_are_refused(se: RegisterService) -> None:
    with pytest.raises(PermissionDenied, match="unknown user 'mallory'"):
        RegisterService.open(se.engine, user="mallory")


def test_roles_from_the_policy_decide_who_may_do_what(se: RegisterService, files: FileStore) -> None:
    # covers TOR-11: every action is attributed to one individual user
    se.add_user("sara", ["communications"], full_name="Sara Holm", job_title="Kommunikatör")
    se.add_user("erik", ["officer"])
    sara = RegisterService.open(se.engine, user="sara", files=files)
    erik = RegisterService.open(se.engine, user="erik", files=files)
    with pytest.raises(PermissionDenied, match="'sara' may not case.open: it needs one of the roles registrar"):
        sara.open_case(CaseSpec(title="x"))
    with pytest.raises(PermissionDenied, match="'erik' may not user.manage"):
        erik.add_user("eve", ["admin"])
    case = erik.open_case(CaseSpec(title="Erik's case"))
    assert case.officer == "erik"
    assert ("case.open", "KS 2026/0001", "erik") in _actions(se.engine)
    with pytest.raises(InvalidInput, match="unknown role 'boss'"):
        se.add_user("bob", ["boss"])
    with pytest.raises(InvalidState, match="user 'erik' already exists"):
        se.add_user("erik", ["officer"])


def test_lookup_forgives_spelling_and_names_what_is_missing(se: RegisterService) -> None:
    se.open_case(CaseSpec(title="x"))
    assert se.get_case("ks 2026/1").diary_number == "KS 2026/0001"
    with pytest.raises(NotFound, match="no case 'KS 2026/0002'"):
        se.get_case("KS 2026/0002")
    with pytest.raises(InvalidInput, match="is a record number"):
        se.get_case("KS 2026/0001-1")


def test_search_by_text_status_and_opening_day(se: RegisterService, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 23:30 on 1 March in Stockholm
    se.open_case(CaseSpec(title="Snöröjning Storgatan"))
    clock.now = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 March in Stockholm
    b = se.open_case(CaseSpec(title="Öppettider bibliotek"))
    se.close_case(b.diary_number)
    assert [c.title for c in se.iter_cases(text="storgatan")] == ["Snöröjning Storgatan"]
    assert [c.diary_number for c in se.iter_cases(text="2026/0002")] == ["KS 2026/0002"]
    assert [c.title for c in se.iter_cases(status="closed")] == ["Öppettider bibliotek"]
    assert [c.title for c in se.iter_cases(opened_from=date(2026, 3, 2))] == ["Öppettider bibliotek"]
    assert [c.title for c in se.iter_cases(opened_to=date(2026, 3, 1))] == ["Snöröjning Storgatan"]
    assert len(list(se.iter_cases(limit=1))) == 1


def test_bulk_open_is_one_transaction_with_one_audit_entry_per_case(se: RegisterService, engine: Engine) -> None:
    before = audit.verify(engine).checked
    opened = se.open_cases([CaseSpec(title=f"event {i}", class_code="1.4.4") for i in range(200)])
    assert len({c.uuid for c in opened}) == 200
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.open"))
        assert count.scalar_one() == 200
    assert audit.verify(engine).checked == before + 200
    with pytest.raises(NotFound):
        se.open_cases([CaseSpec(title="fine"), CaseSpec(title="bad", class_code="nope")])
    assert se.open_case(CaseSpec(title="next")).diary_number == "KS 2026/0201"


@pytest.mark.parametrize("spec", [
    CaseSpec(title="Plain"),
    CaseSpec(title="Secret 19121212-1212", confidential="osl-26-1", class_code="1.4.4", owner_unit="Kultur"),
], ids=["public", "confidential"])
def test_the_view_open_case_returns_is_the_view_read_back(se: RegisterService, spec: CaseSpec) -> None:
    # open_case builds its view from the row it wrote, without a second query: it must not drift.
    opened = se.open_case(spec)
    assert opened == se.get_case(opened.diary_number)
    assert opened.to_json() == se.get_case(opened.diary_number).to_json()


def test_rat6_a_link_decision_is_registered_as_a_record(se: RegisterService) -> None:
    case = se.open_case(CaseSpec(title="Länk till kommunalrådets blogg"))
    record = se.add_record(case.diary_number, RecordSpec(
        "internal", "Beslut: länk till bloggen; åsikterna är politikerns egna", kind="link_decision"))
    assert (record.kind, record.number) == ("link_decision", "KS 2026/0001-1")
