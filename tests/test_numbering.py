"""Diary numbers: formats, and allocation that never repeats and never skips.

Covers "Across all five": diary numbers never repeat and never skip.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from smcase import audit, diary
from smcase.db import make_engine
from smcase.diary import DiaryFormat
from smcase.errors import InvalidInput, PolicyError
from smcase.model import Case, Record
from smcase.register import CaseSpec, RecordSpec, RegisterService

from .conftest import FakeClock

SE = DiaryFormat("{prefix} {year}/{seq:04d}", "{case}-{record}", prefix="KS")
NO = DiaryFormat("{year}/{seq}", "{case}-{record}", journal=True)


def test_swedish_and_norwegian_formats() -> None:
    assert SE.case_number(2026, 42) == "KS 2026/0042"
    assert SE.record_number("KS 2026/0042", 3) == "KS 2026/0042-3"
    assert NO.case_number(2026, 42) == "2026/42"
    assert NO.record_number("2026/42", 3) == "2026/42-3"


@pytest.mark.parametrize(
    ("fmt", "typed", "expected"),
    [
        (SE, "KS 2026/0042", (2026, 42, None)),
        (SE, "ks 2026/42", (2026, 42, None)),
        (SE, "KS2026/0042-3", (2026, 42, 3)),
        (SE, "  KS  2026 / 0042 - 3 ", (2026, 42, 3)),
        (NO, "2026/42", (2026, 42, None)),
        (NO, "2026/42-3", (2026, 42, 3)),
    ],
)
def test_numbers_are_read_back_forgiving_case_spacing_and_zeros(fmt: DiaryFormat, typed: str, expected: tuple) -> None:
    parsed = fmt.parse(typed)
    assert (parsed.year, parsed.seq, parsed.record) == expected


@pytest.mark.parametrize("typed", ["", "KS", "BUN 2026/0042", "2026-42", "KS 26/42", "KS 2026/"])
def test_foreign_numbers_are_refused_with_an_example(typed: str) -> None:
    with pytest.raises(InvalidInput, match="not a diary number of this register.*KS 2026/0042"):
        SE.parse(typed)


@given(year=st.integers(1900, 2999), seq=st.integers(1, 10**7), record=st.integers(1, 10**5),
       prefix=st.from_regex(r"[A-ZÅÄÖ][A-ZÅÄÖ0-9]{0,5}", fullmatch=True))
def test_every_number_reads_back_to_itself(year: int, seq: int, record: int, prefix: str) -> None:
    fmt = DiaryFormat("{prefix} {year}/{seq:04d}", "{case}-{record}", prefix=prefix)
    case = fmt.case_number(year, seq)
    assert fmt.parse(case) == diary.ParsedNumber(year, seq)
    assert fmt.parse(fmt.record_number(case, record)) == diary.ParsedNumber(year, seq, record)


@pytest.mark.parametrize(
    ("case_format", "record_format", "reason"),
    [
        ("{prefix} {seq}", "{case}-{record}", "lacks {year}"),
        ("{year}/{seq}/{unit}", "{case}-{record}", "unknown field {unit}"),
        ("{year}/{seq}", "{case}{record}", "cannot be read back"),
        ("{year}/{seq:x}", "{case}-{record}", "cannot be read back"),
        ("{year}/{seq", "{case}-{record}", "bad format string"),
        ("{year}/{seq:Z}", "{case}-{record}", "cannot format"),
        ("{year}/{seq}", "{case}", "lacks {record}"),
    ],
)
def test_bad_format_strings_are_refused_with_the_reason(case_format: str, record_format: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        DiaryFormat(case_format, record_format, prefix="KS")


def _open_cases(url: str, files: str, worker: int, count: int) -> None:
    engine = make_engine(url)
    try:
        service = RegisterService.open(engine, user="anna")
        for i in range(count):
            service.open_case(CaseSpec(title=f"worker {worker} case {i}"))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_four_processes_get_1000_distinct_numbers_with_no_gap(se: RegisterService, db_url: str, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    se.engine.dispose()  # children open their own connections
    workers = [ctx.Process(target=_open_cases, args=(db_url, str(tmp_path), w, 250)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=300)
        assert p.exitcode == 0, f"worker exited with {p.exitcode}"
    with se.engine.connect() as conn:
        seqs = sorted(conn.execute(select(Case.seq)).scalars())
        numbers = set(conn.execute(select(Case.diary_number)).scalars())
    assert seqs == list(range(1, 1001))
    assert len(numbers) == 1000
    assert audit.verify(se.engine).ok


def test_a_failed_transaction_burns_no_number(se: RegisterService, monkeypatch: pytest.MonkeyPatch) -> None:
    first = se.open_case(CaseSpec(title="first"))
    assert first.diary_number == "KS 2026/0001"

    def broken_append(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full while writing the audit entry")

    monkeypatch.setattr(audit, "append", broken_append)
    with pytest.raises(RuntimeError):
        se.open_case(CaseSpec(title="lost"))  # number 2 was allocated, then rolled back
    with pytest.raises(RuntimeError):
        se.add_record(first.diary_number, RecordSpec("in", "lost record"))
    monkeypatch.undo()

    assert se.open_case(CaseSpec(title="second")).diary_number == "KS 2026/0002"
    assert se.add_record(first.diary_number, RecordSpec("in", "kept")).number == "KS 2026/0001-1"
    assert audit.verify(se.engine).ok


def test_sequences_restart_at_midnight_on_31_december_in_the_registers_zone(se: RegisterService, clock: FakeClock) -> None:
    # Europe/Stockholm is UTC+1 in winter: 22:59:59 UTC is 23:59:59 local on 31 December.
    clock.now = datetime(2026, 12, 31, 22, 59, 58, 500000, tzinfo=UTC)
    clock.step = datetime(2026, 1, 1, 0, 0, 0, 1000) - datetime(2026, 1, 1)
    last_of_2026 = se.open_case(CaseSpec(title="New Year's Eve"))
    clock.now = datetime(2026, 12, 31, 22, 59, 59, 999999, tzinfo=UTC)
    first_of_2027 = se.open_case(CaseSpec(title="New Year's Day"))  # clock reads 23:00:00.000999 UTC
    second_of_2027 = se.open_case(CaseSpec(title="Next"))
    assert last_of_2026.diary_number == "KS 2026/0001"
    assert first_of_2027.diary_number == "KS 2027/0001"
    assert second_of_2027.diary_number == "KS 2027/0002"


def test_noark_journal_sequence_runs_across_cases_and_restarts_each_year(no: RegisterService, clock: FakeClock) -> None:
    a = no.open_case(CaseSpec(title="a"))
    b = no.open_case(CaseSpec(title="b"))
    r1 = no.add_record(a.diary_number, RecordSpec("in", "1"))
    r2 = no.add_record(b.diary_number, RecordSpec("in", "2"))
    r3 = no.add_record(a.diary_number, RecordSpec("out", "3"))
    assert (a.diary_number, b.diary_number) == ("2026/1", "2026/2")
    assert [r.number for r in (r1, r2, r3)] == ["2026/1-1", "2026/2-1", "2026/1-2"]
    assert [(r.journal_year, r.journal_seq) for r in (r1, r2, r3)] == [(2026, 1), (2026, 2), (2026, 3)]
    clock.now = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    r4 = no.add_record(a.diary_number, RecordSpec("in", "4"))
    assert (r4.number, r4.journal_year, r4.journal_seq) == ("2026/1-3", 2027, 1)


def test_block_allocation_gives_consecutive_numbers_and_continues_the_sequence(se: RegisterService) -> None:
    se.open_case(CaseSpec(title="single"))
    opened = se.open_cases([CaseSpec(title=f"bulk {i}") for i in range(50)])
    assert [c.seq for c in opened] == list(range(2, 52))
    assert opened[0].diary_number == "KS 2026/0002"
    assert se.open_case(CaseSpec(title="after")).diary_number == "KS 2026/0052"
    assert audit.verify(se.engine).ok


def test_records_number_from_one_in_each_case(se: RegisterService, engine: Engine) -> None:
    a = se.open_case(CaseSpec(title="a"))
    b = se.open_case(CaseSpec(title="b"))
    for title in ("x", "y"):
        se.add_record(a.diary_number, RecordSpec("in", title))
    se.add_record(b.diary_number, RecordSpec("in", "z"))
    with engine.connect() as conn:
        rows = conn.execute(select(Case.diary_number, Record.number).join(Record).order_by(Record.id)).all()
    assert [tuple(r) for r in rows] == [("KS 2026/0001", 1), ("KS 2026/0001", 2), ("KS 2026/0002", 1)]
