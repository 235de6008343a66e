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

import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from hashlib import sha256
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Engine, String, Table, bindparam, func, select, text, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from . import attest, numbering
from .attest import Touched
from .db import bulk_insert, connect, make_engine, read_only
from .model import AuditEntry, AuditHead, AuditPayload, DisposalEntry, EventRow, Record, table_of
from .policy import canonical_json
from .progress import Progress

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
    return _hash(str(seq), _instant(at), actor, action, entity, str(entity_uuid or ""), ref, payload_sha256, prev_hash,
                 rows_sha256)


def _hash(seq: str, at: str, actor: str, action: str, entity: str, entity_uuid: str, ref: str | None,
          payload_sha256: str, prev_hash: str, rows_sha256: str | None) -> str:
    fields = [seq, at, actor, action, entity, entity_uuid, ref or "", payload_sha256, prev_hash]
    if rows_sha256 is not None:  # entries written before rows were attested keep their hash
        fields.append(rows_sha256)
    return sha256("\x1f".join(fields).encode()).hexdigest()


# SQLite keeps a UTC instant as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format, always with microseconds).
_STORED_INSTANT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


def _stored_instant(value: Any) -> str:
    """``_instant`` of an instant as the driver returned it: a datetime (PostgreSQL) or SQLite's text. Read as
    text because parsing a million of them into datetimes and writing them back out is a third of the walk."""
    if isinstance(value, str):
        if _STORED_INSTANT.fullmatch(value):
            return value.replace(" ", "T", 1) + "+00:00"
        value = datetime.fromisoformat(value)
    return _instant(value if value.tzinfo else value.replace(tzinfo=UTC))


def _stored_uuid(value: Any) -> str:
    """``str(uuid)`` of a uuid as the driver returned it: a UUID (PostgreSQL), SQLite's 32 hex digits, or None."""
    if value is None:
        return ""
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(uuid.UUID(str(value)))


_HEAD = table_of(AuditHead)
_ENTRIES = table_of(AuditEntry)
_PAYLOADS = table_of(AuditPayload)
# Built once: this runs inside every writer's locked section, so it must be cheap.
_BUMP_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + bindparam("n"))
    .returning(_HEAD.c.seq, _HEAD.c.entry_hash)
)
_SET_HEAD_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(entry_hash=bindparam("h"))


def _unnested(dialect: Dialect, table: Table, columns: Sequence[str], prefix: str) -> str:
    """PostgreSQL: an INSERT of rows given as one array per column (parameters ``prefix_column``), so that any
    number of rows is one statement of the same text."""
    arrays = []
    for name in columns:
        kind = table.c[name].type
        # Strings travel as text[]: a cast to varchar(n)[] would cut a value that is too long, not refuse it.
        element = "TEXT" if isinstance(kind, String) else kind.compile(dialect=dialect)
        arrays.append(f"CAST(:{prefix}_{name} AS {element}[])")
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(arrays)})"


_ENTRY_COLUMNS = tuple(c.name for c in _ENTRIES.columns)
_PAYLOAD_COLUMNS = ("seq", "payload")
_ATTESTATION_COLUMNS = ("seq", "tbl", "row_id", "digest")


@cache
def _write_all(dialect: Dialect) -> TextClause:
    """PostgreSQL: the entries, their payloads, the attestations and the head's new hash in one statement (one
    round trip while the head is locked instead of four). The payloads' foreign key is checked at the
    statement's end, when the entries are in."""
    return text(
        f"WITH entries AS ({_unnested(dialect, _ENTRIES, _ENTRY_COLUMNS, 'e')}), "
        f"payloads AS ({_unnested(dialect, _PAYLOADS, _PAYLOAD_COLUMNS, 'p')}), "
        f"attested AS ({_unnested(dialect, attest.ATTESTATIONS, _ATTESTATION_COLUMNS, 'a')}) "
        "UPDATE audit_head SET entry_hash = :h WHERE id = 1"
    )


def _write(conn: Connection, entries: list[dict[str, Any]], payloads: list[dict[str, Any]],
           attestations: list[dict[str, Any]], head_hash: str) -> None:
    """Insert the entries, payloads and attestations and set the head's hash."""
    if conn.dialect.name == "postgresql":
        params: dict[str, Any] = {"h": head_hash}
        for prefix, rows, columns in (("e", entries, _ENTRY_COLUMNS), ("p", payloads, _PAYLOAD_COLUMNS),
                                      ("a", attestations, _ATTESTATION_COLUMNS)):
            params.update({f"{prefix}_{name}": [row[name] for row in rows] for name in columns})
        conn.execute(_write_all(conn.dialect), params)
        return
    # Prepared tuples, one executemany each: a batch's attestations are one per row it wrote (an ingest's events).
    bulk_insert(conn, attest.ATTESTATIONS, attestations)
    bulk_insert(conn, _ENTRIES, entries)
    bulk_insert(conn, _PAYLOADS, payloads)
    conn.execute(_SET_HEAD_HASH, {"h": head_hash})


@dataclass(frozen=True)
class Reserved:
    """Places on the chain taken ahead of ``append`` (the head is locked until commit)."""

    count: int
    last: int  # the head's number with them
    prev: str  # the hash of the entry before them


# PostgreSQL: numbers and places on the chain in one round trip. The head is updated FROM the counter's
# RETURNING, so the counter's row lock is always taken first, as every other writer takes them.
_TAKE_AND_RESERVE = text(
    "WITH taken AS (UPDATE counters SET value = value + :n WHERE scope = :s AND year = :y RETURNING value) "
    "UPDATE audit_head SET seq = audit_head.seq + :k FROM taken WHERE audit_head.id = 1 "
    "RETURNING taken.value, audit_head.seq, audit_head.entry_hash"
)


def allocate_and_reserve(conn: Connection, scope: str, year: int, count: int, entries: int) -> tuple[int, Reserved]:
    """PostgreSQL: ``numbering.allocate(conn, scope, year, count)`` and ``entries`` places on the chain for
    ``append``, in one statement: (the first number, the places)."""
    params = {"s": scope, "y": year, "n": count, "k": entries}
    found = conn.execute(_TAKE_AND_RESERVE, params).one_or_none()
    if found is None:  # the year's first number: its counter is created by allocate
        first = numbering.allocate(conn, scope, year, count)
        last, prev = conn.execute(_BUMP_HEAD, {"n": entries}).one()
        return first, Reserved(entries, last, prev)
    value, last, prev = found
    return int(value) - count + 1, Reserved(entries, last, prev)


def append(conn: Connection | Session, changes: Sequence[Change], *, actor: str, at: datetime,
           touched: Touched | None = None, known: Mapping[str, Mapping[int, str]] | None = None,
           reserved: Reserved | None = None) -> list[int]:
    """Append ``changes`` to the chain in the caller's transaction; returns their entry numbers.

    ``touched`` names the rows (by audited table) the transaction created or
    changed: their audited state is attested, covered by the last new entry.
    ``known`` gives the digests of touched rows already taken (``attest.returned_states``);
    ``reserved`` the places taken for them (``allocate_and_reserve``).
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
    if reserved is None:
        last, prev = conn.execute(_BUMP_HEAD, {"n": len(changes)}).one()
    elif reserved.count != len(changes):
        raise ValueError(f"{reserved.count} places were reserved on the chain for {len(changes)} entries")
    else:
        last, prev = reserved.last, reserved.prev
    seq = last - len(changes)
    entries: list[dict[str, Any]] = []
    payloads: list[dict[str, Any]] = []
    attestations, rows = attest.attestations(conn, touched, last, known) if touched else ([], None)
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
    _write(conn, entries, payloads, attestations, prev)
    return [e["seq"] for e in entries]


def start_chain(session: Session) -> None:
    """Create the chain head of a new register."""
    session.add(AuditHead(id=1, seq=0, entry_hash=GENESIS))


#: Below this much work (entries plus audited rows), everything is verified in this process:
#: starting worker processes would cost more than it saves.
PARALLEL_FROM = 200_000
_ROW_PROBLEMS = 100  # reported at most: a tampered register is named by its first rows, not listed whole
_CHAIN = "chain"
_SMALLEST_STRETCH = 10_000  # entries or ids: smaller tasks cost more in queries than they spread
_ENTRY_COST = 3  # checking an entry costs about as much as checking three rows

#: A unit of verification: ("chain", first seq, last seq) or (audited table, first id, last id).
Task = tuple[str, int, int]
#: What a task found: for the chain, the entries checked and the first problem; for rows, the rows checked
#: and their problems.
Found = tuple[int, Problem | None, list[attest.RowProblem]]


def verify(engine: Engine, batch: int = 5000, rows: bool = True, workers: int | None = None,
           parallel_from: int = PARALLEL_FROM, progress: Progress | None = None) -> Verification:
    """Verify the chain (every entry, its link, its payload and the rows it attested) and, with ``rows``, every
    audited row against its last attestation. Flat memory at any size: everything is streamed in order.

    The work is cut into tasks (stretches of the chain, stretches of each table's
    ids) that are independent: each chain stretch starts from the stored hash of
    the entry before it, so the whole chain verifies when every stretch does and
    the head matches the last entry. Digesting is CPU-bound, so when there is at
    least ``parallel_from`` work the tasks run in ``workers`` processes (default:
    one per CPU, at most four). Each worker reads in its own transaction and its
    result is used only if it saw the same chain head as this one (every write
    moves the head); otherwise, or if it failed, the task is done again here.
    ``progress`` hears of the entries and rows verified, as each task ends.
    """
    try:
        return _verify(engine, batch, rows, workers, parallel_from, progress)
    except (TypeError, ValueError, OverflowError) as exc:
        # smcase writes every value with its type (SQLite would take any): one of another type came from outside.
        return Verification(0, Problem(0, f"the audit tables hold a value of the wrong type, written outside "
                                          f"smcase ({type(exc).__name__})"))


def _verify(engine: Engine, batch: int, rows: bool, workers: int | None, parallel_from: int,
            progress: Progress | None) -> Verification:
    e = _ENTRIES
    with connect(read_only(engine)) as conn, conn.begin(), ExitStack() as stack:
        head = attest.head_of(conn)
        top = conn.execute(select(func.max(e.c.seq))).scalar() or 0
        tasks = _tasks(conn, top, rows, workers, parallel_from)
        results: dict[Task, Found] = {}
        work = sum(high - low + 1 for _name, low, high in tasks)
        done = 0

        def finished(task: Task) -> None:
            nonlocal done
            done += task[2] - task[1] + 1
            if progress is not None:
                progress("verifying entries and rows", done, work)

        plan = _pool_plan(engine, workers, work, parallel_from)
        if plan:
            url, count = plan
            pool = stack.enter_context(ProcessPoolExecutor(count, mp_context=get_context("spawn")))
            stack.callback(pool.shutdown, cancel_futures=True)
            futures = [(task, pool.submit(_run_tasks, url, [task], batch)) for task in tasks]
            for task, future in futures:
                try:
                    seen, found = future.result()
                except Exception:  # noqa: BLE001 - a worker that died (killed, out of memory): done again here
                    continue
                if seen == head:  # else a write came in between: this transaction's own view decides
                    results[task] = found[0]
                    finished(task)
        for task in tasks:
            if task not in results:
                results[task] = _run_task(conn, task, batch)
                finished(task)
        hash_of_top = conn.execute(select(e.c.entry_hash).where(e.c.seq == top)).scalar() if top else GENESIS
        counters = attest.counter_problems(conn) if rows else []
        attested_top = conn.execute(select(func.max(attest.ATTESTATIONS.c.seq))).scalar() or 0
    broken = [found[1] for found in results.values() if found[1] is not None]
    if broken:
        problem = min(broken, key=lambda p: p.seq)
        return Verification(max(problem.seq - 1, 0), problem)
    if head == (0, ""):
        return Verification(top, Problem(0, "the chain head is missing"))
    if head != (top, hash_of_top):
        return Verification(top, Problem(head[0], f"the chain head says {head[0]} entries, the log holds {top}"))
    if attested_top > top:
        return Verification(top, Problem(attested_top, "attestations name an entry the chain does not hold"))
    if not rows:
        return Verification(top, None)
    order = {a.name: n for n, a in enumerate(attest.AUDITED)}
    checked = sum(found[0] for task, found in results.items() if task[0] != _CHAIN)
    problems = sorted((p for task, found in results.items() if task[0] != _CHAIN for p in found[2]),
                      key=lambda p: (order.get(p.table, len(order)), p.row_id)) + counters
    return Verification(top, None, checked, tuple(problems[:_ROW_PROBLEMS]))


def _tasks(conn: Connection, top: int, rows: bool, workers: int | None, parallel_from: int) -> list[Task]:
    """The chain and (with ``rows``) every audited table, cut into stretches; whole when the work is small."""
    count = _workers(workers)
    whole = [(_CHAIN, 1, top)] if top else []
    row_spans = attest.table_spans(conn) if rows else []
    total = top + sum(high - low + 1 for _name, low, high in row_spans)
    if count < 2 or total < parallel_from:
        return whole + row_spans
    # About twenty tasks per process, the heaviest first, so that the processes finish together. An entry costs
    # about three rows (its hash, its payload's, and the lines of the rows it attested), so chain stretches
    # are a third as long.
    size = max(total // (count * 20), _SMALLEST_STRETCH)
    step = max(size // _ENTRY_COST, _SMALLEST_STRETCH)
    tasks = attest.split((_CHAIN, 1, top), step) + [part for span in row_spans for part in attest.split(span, size)]
    return sorted(tasks, key=lambda task: -(task[2] - task[1] + 1) * (_ENTRY_COST if task[0] == _CHAIN else 1))


def _workers(workers: int | None) -> int:
    return min(os.cpu_count() or 1, 4) if workers is None else workers


def _pool_plan(engine: Engine, workers: int | None, work: int, parallel_from: int) -> tuple[str, int] | None:
    """(database URL, processes) when the work is worth spreading over processes; else None."""
    count = _workers(workers)
    url = engine.url
    if count < 2 or work < parallel_from or (url.get_backend_name() == "sqlite"
                                             and url.database in (None, "", ":memory:")):
        return None
    return url.render_as_string(hide_password=False), count


def _run_tasks(url: str, tasks: list[Task], batch: int) -> tuple[tuple[int, str], list[Found]]:
    """Tasks in a worker process: the chain head its transaction saw, and what each task found."""
    engine = make_engine(url)
    try:
        with connect(read_only(engine)) as conn, conn.begin():
            return attest.head_of(conn), [_run_task(conn, task, batch) for task in tasks]
    finally:
        engine.dispose()


def _run_task(conn: Connection, task: Task, batch: int) -> Found:
    name, first, last = task
    try:
        if name == _CHAIN:
            checked, problem = _verify_chain(conn, first, last, batch)
            return checked, problem, []
        checked, problems = attest.verify_rows(conn, limit=_ROW_PROBLEMS, batch=batch, only=[task])
        return checked, None, problems
    except (TypeError, ValueError, OverflowError, KeyError, AttributeError) as exc:
        # smcase writes every value with its type; one of another type was written behind its back.
        what = f"entries {first} to {last}" if name == _CHAIN else f"{name} rows {first} to {last}"
        return 0, Problem(first, f"{what} hold a value of the wrong type, written outside smcase "
                                 f"({type(exc).__name__})"), []


def _verify_chain(conn: Connection, first: int, last: int, batch: int) -> tuple[int, Problem | None]:
    """Entries ``first``..``last``: numbering, links, hashes, payloads, attested rows. (entries checked, the
    first problem). The first entry links to the stored hash of the one before it, which the stretch before
    this one has verified."""
    e = _ENTRIES
    prev = GENESIS if first == 1 else conn.execute(select(e.c.entry_hash).where(e.c.seq == first - 1)).scalar()
    # As the driver returns them (no type conversion per value): _check reads the instant and uuid as stored.
    query = text("SELECT e.seq, e.at, e.actor, e.action, e.entity, e.entity_uuid, e.ref, e.payload_sha256, "
                 "e.prev_hash, e.entry_hash, e.rows_sha256, p.payload FROM audit_entries e "
                 "LEFT JOIN audit_payloads p ON p.seq = e.seq WHERE e.seq BETWEEN :first AND :last ORDER BY e.seq"
                 ).bindparams(first=first, last=last).execution_options(yield_per=batch)
    expected = first
    attested = attest.entry_rows(conn, batch, (first, last))
    pending = next(attested, None)
    for rows in conn.execute(query).partitions(batch):  # plain rows, not ORM objects: a million are read here
        for row in rows:
            entry = tuple(row)  # the columns of the query above, in its order
            problem = _check(entry, entry[11], expected, prev)
            if problem is None and entry[11] is None and not _disposed(conn, entry[5]):
                problem = Problem(entry[0], "its payload is gone, and no disposal accounts for it")
            if problem is None:
                problem, pending = _check_rows(entry[0], entry[10], pending, attested)
            if problem:
                return expected - first, problem
            prev = entry[9]
            expected += 1
    if expected <= last:
        return expected - first, Problem(expected, f"entry {expected} is missing")
    if pending is not None:
        return expected - first, Problem(pending[0], "attestations name an entry the chain does not hold")
    return expected - first, None


def _disposed(conn: Connection, entity_uuid: Any) -> bool:
    """Was the entity an entry is about disposed of (which lawfully erases the entries' payloads)?"""
    if entity_uuid is None:
        return False
    found = uuid.UUID(_stored_uuid(entity_uuid))
    return conn.execute(select(text("1")).select_from(table_of(DisposalEntry)).where(
        table_of(DisposalEntry).c.entity_uuid == found).union_all(
        select(text("1")).select_from(table_of(EventRow)).where(table_of(EventRow).c.uuid == found,
                                                                table_of(EventRow).c.status == "disposed"),
        select(text("1")).select_from(table_of(Record)).where(table_of(Record).c.uuid == found,
                                                              table_of(Record).c.disposed_at.is_not(None)),
    ).limit(1)).first() is not None


def _check_rows(seq: int, rows_sha256: str | None, pending: tuple[int, str] | None,
                attested: Iterator[tuple[int, str]]) -> tuple[Problem | None, tuple[int, str] | None]:
    """Does entry ``seq``'s rows digest match the attestations filed under it? (the problem, the next one)"""
    if pending is not None and pending[0] < seq:
        return Problem(pending[0], "attestations were filed under an entry that attests no rows"), pending
    if pending is not None and pending[0] == seq:
        if rows_sha256 != pending[1]:
            return Problem(seq, "the rows it attested were changed after it was written"), pending
        return None, next(attested, None)
    if rows_sha256 is not None:
        return Problem(seq, "the rows it attested are missing"), pending
    return None, pending


def _check(entry: Any, payload: str | None, expected: int, prev: str | None) -> Problem | None:
    # Unpacked once: a row's attributes are looked up by name each time, and this runs once per entry.
    (seq, at, actor, action, entity, entity_uuid, ref, payload_sha256, prev_hash, stored_hash, rows_sha256,
     *_payload) = entry
    if seq != expected:
        return Problem(expected, f"entry {expected} is missing (next is {seq})")
    if prev is not None and prev_hash != prev:  # None: the entry before is missing (reported there)
        return Problem(seq, "does not link to the entry before it")
    try:
        recomputed = _hash(str(seq), _stored_instant(at), actor, action, entity, _stored_uuid(entity_uuid), ref,
                           payload_sha256, prev_hash, rows_sha256)
    except (TypeError, ValueError, AttributeError):
        return Problem(seq, "its fields were changed after it was written (a value is not of its type)")
    if recomputed != stored_hash:
        return Problem(seq, "its fields were changed after it was written")
    if payload is not None and sha256(payload.encode()).hexdigest() != payload_sha256:
        return Problem(seq, "its payload was changed after it was written")
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
