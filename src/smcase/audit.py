"""The audit log: append-only, numbered without gaps, and hash-chained.

Each entry records who, when, what (action, entity, public reference) and the
SHA-256 of the change's payload. ``entry_hash`` covers those fields and the
previous entry's hash, so editing, dropping or reordering an entry breaks the
chain from that entry on. The payload (before and after values) is kept in a
separate table: lawful disposal may erase it, and the chain still verifies
because it covers only the payload's digest.

Appending takes the chain head's row lock (PostgreSQL) inside the writer's
transaction (SQLite holds its write lock already), so entries are appended in
commit order by exactly one writer at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from . import attest
from .attest import Touched
from .db import connect, read_only
from .model import AuditEntry, AuditHead, AuditPayload, table_of
from .policy import canonical_json

GENESIS = "0" * 64


@dataclass(frozen=True)
class Change:
    """One change to append: what happened to which entity, with before/after values."""

    action: str
    entity: str
    entity_uuid: uuid.UUID | None
    ref: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Problem:
    """The first entry at which the chain does not verify, and why."""

    seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    """Result of ``verify``: the entries checked and the first problem of the chain, if any; the rows checked
    against their attestations and the rows the chain does not account for."""

    checked: int
    problem: Problem | None
    rows_checked: int = 0
    row_problems: tuple[attest.RowProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every entry and every row verified."""
        return self.problem is None and not self.row_problems


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_uuid: uuid.UUID | None,
    ref: str | None,
    payload_sha256: str,
    prev_hash: str,
    rows_sha256: str | None = None,
) -> str:
    """The hash that chains an entry to its predecessor (and, when it attests rows, to their digests)."""
    fields = [str(seq), _instant(at), actor, action, entity, str(entity_uuid or ""), ref or "", payload_sha256, prev_hash]
    if rows_sha256 is not None:  # entries written before rows were attested keep their hash
        fields.append(rows_sha256)
    return sha256("\x1f".join(fields).encode()).hexdigest()


_HEAD = table_of(AuditHead)
_ENTRIES = table_of(AuditEntry)
_PAYLOADS = table_of(AuditPayload)
# Built once: this runs inside every writer's locked section, so it must be cheap.
_BUMP_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + bindparam("n"))
    .returning(_HEAD.c.seq, _HEAD.c.entry_hash)
)
_SET_HEAD_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(entry_hash=bindparam("h"))
_INSERT_ENTRIES = insert(_ENTRIES)
_INSERT_PAYLOADS = insert(_PAYLOADS)


def append(conn: Connection | Session, changes: Sequence[Change], *, actor: str, at: datetime,
           touched: Touched | None = None) -> list[int]:
    """Append ``changes`` to the chain in the caller's transaction; returns their entry numbers.

    ``touched`` names the rows (by audited table) the transaction created or
    changed: their audited state is attested, covered by the last new entry.
    """
    if not changes:
        return []
    if isinstance(conn, Session):
        conn = conn.connection()
    # Digests first: only the chaining itself needs the head's lock.
    bodies = [canonical_json(change.payload) for change in changes]
    digests = [sha256(body.encode()).hexdigest() for body in bodies]
    # Bumping the head takes its row lock until commit. RETURNING gives the new last
    # number and the (not yet updated) hash of the entry before ours.
    last, prev = conn.execute(_BUMP_HEAD, {"n": len(changes)}).one()
    seq = last - len(changes)
    entries: list[dict[str, Any]] = []
    payloads: list[dict[str, Any]] = []
    rows = attest.attest(conn, touched, last) if touched else None
    for n, (change, body, digest) in enumerate(zip(changes, bodies, digests, strict=True), start=1):
        seq += 1
        fields = dict(
            seq=seq, at=at, actor=actor, action=change.action, entity=change.entity,
            entity_uuid=change.entity_uuid, ref=change.ref, payload_sha256=digest, prev_hash=prev,
            rows_sha256=rows if n == len(changes) else None,
        )
        prev = entry_hash(**fields)
        entries.append({**fields, "entry_hash": prev})
        payloads.append({"seq": seq, "payload": body})
    conn.execute(_INSERT_ENTRIES, entries)
    conn.execute(_INSERT_PAYLOADS, payloads)
    conn.execute(_SET_HEAD_HASH, {"h": prev})
    return [e["seq"] for e in entries]


def start_chain(session: Session) -> None:
    """Create the chain head of a new register."""
    session.add(AuditHead(id=1, seq=0, entry_hash=GENESIS))


def verify(engine: Engine, batch: int = 5000, rows: bool = True) -> Verification:
    """Walk the whole chain and report the first entry that does not verify; then, with ``rows``, compare
    every audited row with its last attestation (both streamed in order: flat memory at any size)."""
    prev = GENESIS
    expected = 1
    # Plain rows, not ORM objects: a million entries are read here.
    query = (
        select(*_ENTRIES.c, _PAYLOADS.c.payload)
        .outerjoin(_PAYLOADS, _PAYLOADS.c.seq == _ENTRIES.c.seq)
        .order_by(_ENTRIES.c.seq)
        .execution_options(yield_per=batch)
    )
    with connect(read_only(engine)) as conn, conn.begin():
        session = Session(bind=conn)
        attested = attest.entry_rows(conn, batch)
        pending = next(attested, None)
        for entry in conn.execute(query):
            payload = entry.payload
            problem = _check(entry, payload, expected, prev)
            if problem is None:
                problem, pending = _check_rows(entry, pending, attested)
            if problem:
                return Verification(expected - 1, problem)
            prev = entry.entry_hash
            expected += 1
        head = session.get(AuditHead, 1)
        last = expected - 1
        if head is None:
            return Verification(last, Problem(0, "the chain head is missing"))
        if head.seq != last or head.entry_hash != prev:
            return Verification(last, Problem(head.seq, f"the chain head says {head.seq} entries, the log holds {last}"))
        if pending is not None:
            return Verification(last, Problem(pending[0], "attestations name an entry the chain does not hold"))
        if not rows:
            return Verification(last, None)
        checked, problems = attest.verify_rows(conn, batch=batch)
    return Verification(last, None, checked, tuple(problems))


def _check_rows(entry: Any, pending: tuple[int, str] | None,
                attested: Iterator[tuple[int, str]]) -> tuple[Problem | None, tuple[int, str] | None]:
    """Does the entry's rows digest match the attestations filed under it? (the problem, the next attestation)"""
    if pending is not None and pending[0] < entry.seq:
        return Problem(pending[0], "attestations were filed under an entry that attests no rows"), pending
    if pending is not None and pending[0] == entry.seq:
        if entry.rows_sha256 != pending[1]:
            return Problem(entry.seq, "the rows it attested were changed after it was written"), pending
        return None, next(attested, None)
    if entry.rows_sha256 is not None:
        return Problem(entry.seq, "the rows it attested are missing"), pending
    return None, pending


def _check(entry: Any, payload: str | None, expected: int, prev: str) -> Problem | None:
    if entry.seq != expected:
        return Problem(expected, f"entry {expected} is missing (next is {entry.seq})")
    if entry.prev_hash != prev:
        return Problem(entry.seq, "does not link to the entry before it")
    recomputed = entry_hash(
        seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action, entity=entry.entity,
        entity_uuid=entry.entity_uuid, ref=entry.ref, payload_sha256=entry.payload_sha256, prev_hash=entry.prev_hash,
        rows_sha256=entry.rows_sha256,
    )
    if recomputed != entry.entry_hash:
        return Problem(entry.seq, "its fields were changed after it was written")
    if payload is not None and sha256(payload.encode()).hexdigest() != entry.payload_sha256:
        return Problem(entry.seq, "its payload was changed after it was written")
    return None


@dataclass(frozen=True)
class Entry:
    """An audit entry without its payload: who, when, what, about which entity."""

    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_uuid: uuid.UUID | None
    ref: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase audit log --json``)."""
        return {"seq": self.seq, "at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "entity": self.entity, "entity_uuid": str(self.entity_uuid) if self.entity_uuid else None,
                "ref": self.ref}


def entries(engine: Engine, *, prefix: str | None = None, actor: str | None = None, limit: int = 50) -> list[Entry]:
    """The newest ``limit`` entries (oldest first), optionally by action prefix and actor; payloads stay out."""
    table = table_of(AuditEntry)
    query = select(table.c.seq, table.c.at, table.c.actor, table.c.action, table.c.entity, table.c.entity_uuid,
                   table.c.ref).order_by(table.c.seq.desc()).limit(limit)
    if prefix:
        query = query.where(table.c.action.startswith(prefix, autoescape=True))
    if actor:
        query = query.where(table.c.actor == actor)
    with connect(read_only(engine)) as conn, conn.begin():
        rows = conn.execute(query).all()
    return [Entry(*row) for row in reversed(rows)]
