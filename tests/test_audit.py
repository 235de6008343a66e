"""The audit log: append-only, hash-chained, and proof against tampering.

Covers "Across all five": nothing registered is silently changed or deleted.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from smcase import audit
from smcase.model import AuditEntry, AuditPayload
from smcase.register import CaseSpec, RecordSpec, RegisterService

from .conftest import Cli


@pytest.fixture
def busy(se: RegisterService) -> RegisterService:
    """A register with a dozen audited changes."""
    for i in range(3):
        case = se.open_case(CaseSpec(title=f"case {i}"))
        se.add_record(case.diary_number, RecordSpec("in", f"record {i}"))
        se.close_case(case.diary_number)
    return se


def _tamper(service: RegisterService, statement: object) -> None:
    with service.engine.begin() as conn:
        conn.execute(statement)


def test_an_untouched_chain_verifies(busy: RegisterService) -> None:
    result = audit.verify(busy.engine)
    assert result.ok
    assert result.checked == 5 + 9  # register, user and 3 classes at init, then 3 x (open, record, close)


def test_editing_one_entry_is_reported_at_that_entry(busy: RegisterService) -> None:
    _tamper(busy, update(AuditEntry).where(AuditEntry.seq == 7).values(actor="mallory"))
    result = audit.verify(busy.engine)
    assert not result.ok and result.problem is not None
    assert result.problem.seq == 7
    assert "changed after it was written" in result.problem.reason
    assert result.checked == 6


def test_rewriting_an_entrys_hash_breaks_the_link_to_the_next(busy: RegisterService) -> None:
    _tamper(busy, update(AuditEntry).where(AuditEntry.seq == 5).values(entry_hash="f" * 64))
    problem = audit.verify(busy.engine).problem
    assert problem is not None and problem.seq == 5


def test_dropping_an_entry_is_reported(busy: RegisterService) -> None:
    _tamper(busy, delete(AuditPayload).where(AuditPayload.seq == 4))
    _tamper(busy, delete(AuditEntry).where(AuditEntry.seq == 4))
    problem = audit.verify(busy.engine).problem
    assert problem is not None and problem.seq == 4 and "missing" in problem.reason


def test_dropping_the_last_entry_is_caught_by_the_head(busy: RegisterService) -> None:
    with busy.engine.connect() as conn:
        last = conn.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1)).scalar_one()
    _tamper(busy, delete(AuditPayload).where(AuditPayload.seq == last))
    _tamper(busy, delete(AuditEntry).where(AuditEntry.seq == last))
    problem = audit.verify(busy.engine).problem
    assert problem is not None and f"head says {last} entries" in problem.reason


def test_changing_a_payload_is_reported(busy: RegisterService) -> None:
    _tamper(busy, update(AuditPayload).where(AuditPayload.seq == 9).values(payload='{"after":{"title":"forged"}}'))
    problem = audit.verify(busy.engine).problem
    assert problem is not None and problem.seq == 9 and "payload" in problem.reason


def test_erasing_payloads_that_no_disposal_accounts_for_is_caught(busy: RegisterService) -> None:
    # Lawful disposal erases before/after values and the chain still verifies (test_disposal); payloads
    # erased behind smcase's back, of entries about nothing disposed of, are named.
    _tamper(busy, delete(AuditPayload).where(AuditPayload.seq.in_([4, 5, 6])))
    problem = audit.verify(busy.engine).problem
    assert problem is not None and problem.seq == 4 and "no disposal accounts for it" in problem.reason


def test_audit_verify_command_names_the_broken_entry(cli: Cli) -> None:
    assert cli("init", "--name", "Testkommun", "--country", "SE").exit_code == 0
    for title in ("a", "b", "c"):
        assert cli("case", "open", "--title", title).exit_code == 0
    ok = cli("audit", "verify")
    assert ok.exit_code == 0 and "audit log OK" in ok.stdout
    from smcase.db import make_engine

    engine = make_engine(cli.db_url)
    with engine.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == 6).values(action="case.close"))
    engine.dispose()
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN at entry 6" in broken.stderr
    as_json = cli("audit", "verify", "--json")
    assert as_json.exit_code == 1 and '"seq": 6' in as_json.stdout
