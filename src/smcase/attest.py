"""Row attestations: the audit chain covers the register's rows, not only its own entries.

Every write that the register service audits also *attests* the rows it
created or changed: for each audited row, the SHA-256 of its audited state (its
columns, with what belongs to it folded in: a record's correspondents and
documents, a user's roles, a channel's approvals and mandates) goes into the
``attestations`` table with the number of the audit entry that covers it, and
that entry's hash covers the digests (``rows_sha256``). Editing a row behind
smcase's back, deleting one, or adding one that no entry accounts for is then
visible: ``verify_rows`` streams the current rows and the last attested digest
of each, both in (table, id) order, and merges them with flat memory.

Bookkeeping columns that change without meaning a change of the record
(``cases.next_record_number``, ``cases.updated_at``) are left out of the digest;
the number counters are checked against the numbers given instead
(``counter_problems``): a counter moved on behind smcase's back would leave a
gap in the diary.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import String, Table, bindparam, cast, func, insert, literal, select, text
from sqlalchemy.engine import Connection

from .model import (
    Attestation,
    Case,
    Channel,
    ChannelApproval,
    Classification,
    Correspondent,
    DisposalEntry,
    Document,
    EventRow,
    Mandate,
    QuarantineRow,
    Record,
    Register,
    User,
    UserRole,
    table_of,
)

#: The digest of a row that a write removed on purpose.
GONE = "-"


@dataclass(frozen=True)
class Part:
    """Rows that belong to an audited row (``fk`` names it) and are folded into its digest."""

    table: Table
    fk: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Audited:
    """An audited table: the columns of its state, and the parts folded in."""

    name: str
    table: Table
    columns: tuple[str, ...]
    parts: tuple[Part, ...] = ()


def _all_but(model: Any, *left_out: str) -> tuple[str, ...]:
    return tuple(c.name for c in table_of(model).columns if c.name not in ("id", *left_out))


AUDITED: tuple[Audited, ...] = (
    Audited("register", table_of(Register), _all_but(Register)),  # its policy too: it decides what is published
    Audited("users", table_of(User), _all_but(User), (Part(table_of(UserRole), "user_id", ("role",)),)),
    Audited("classes", table_of(Classification), _all_but(Classification)),
    Audited("channels", table_of(Channel), _all_but(Channel), (
        Part(table_of(ChannelApproval), "channel_id", _all_but(ChannelApproval, "channel_id")),
        Part(table_of(Mandate), "channel_id", _all_but(Mandate, "channel_id")))),
    Audited("cases", table_of(Case), _all_but(Case, "next_record_number", "updated_at")),
    Audited("records", table_of(Record), _all_but(Record), (
        Part(table_of(Correspondent), "record_id", _all_but(Correspondent, "record_id")),
        Part(table_of(Document), "record_id", _all_but(Document, "record_id")))),
    Audited("events", table_of(EventRow), ("uuid", "key", "platform", "external_id", "revision", "kind", "channel",
                                           "author_id", "author_name", "text", "created_at", "url", "in_reply_to",
                                           "direction", "public", "raw", "raw_sha256", "status", "action",
                                           "findings",
                                           "held_by", "case_id", "record_id", "resolution", "resolved_at",
                                           "resolved_by")),
    Audited("disposals", table_of(DisposalEntry), _all_but(DisposalEntry)),
    # Input kept because it could not be read: accepted, so it may not vanish or change unseen either.
    Audited("quarantine", table_of(QuarantineRow), _all_but(QuarantineRow)),
)
BY_NAME = {a.name: a for a in AUDITED}
BY_TABLE = {a.table.name: a for a in AUDITED}
ATTESTATIONS = table_of(Attestation)

#: Rows touched by a write, by audited table name: ``{"cases": {3, 4}, "records": {9}}``.
Touched = Mapping[str, Iterable[int]]


_PLAIN = frozenset((str, int, float, type(None)))
_SETTLED = _PLAIN | {tuple}  # a row's state: plain values and its parts (tuples of normalised rows)
# canonical_json's settings, as one encoder (called per row: json.dumps would build one each time)
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode


def _value(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is bool:
        return int(value)
    if kind is datetime:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat(
            timespec="microseconds")
    if kind is uuid.UUID:
        return value.hex
    if kind in (dict, list):  # a JSON column the driver parsed (PostgreSQL)
        return _ENCODE(value)
    if kind is tuple:  # a part's rows, normalised already
        return value
    return str(value)


def _states(conn: Connection, audited: Audited, ids: list[int] | None, batch: int = 2000,
            span: tuple[int, int] | None = None) -> Iterator[tuple[int, str]]:
    """(id, digest) of the table's rows (all, those of ``span`` (first, last id), or ``ids``), in id order.

    A row's digest is the SHA-256 of ``repr`` of its values and its parts' values, in
    order, normalised to str, int, float or None (parts to tuples of them): exact,
    unambiguous (a string is quoted, None is not), and done in C, which matters when
    a million rows are verified. Rows come in partitions of ``batch``; each
    partition's parts are read with one range query per part (served by the part's
    index on its parent key) and looked up by parent id, so the per-row work is a
    dictionary lookup and one digest.
    """
    table = audited.table
    sha, settled, normalise = hashlib.sha256, _SETTLED, _value
    plain = _plain_driver(conn)
    where, bounds = ("id BETWEEN :low AND :high", {"low": span[0], "high": span[1]}) if span else ("", {})
    for rows in _raw(conn, table, ("id", *audited.columns), "id", ids, batch, ("id",), where, **bounds):
        # all rows: one range per partition; chosen rows (attesting a write) may be far apart: exactly those
        keys = None if ids is None else [row[0] for row in rows]
        parts = _all_parts(conn, audited.parts, rows[0][0], rows[-1][0], keys)
        none = ((),) * len(audited.parts)
        for row in rows:  # once per row of the register: kept lean
            key = row[0]
            state = row[1:] + parts.get(key, none)
            if not plain and not settled.issuperset(map(type, state)):
                state = tuple(v if type(v) in settled else normalise(v) for v in state)
            yield key, sha(repr(state).encode("utf-8", "surrogatepass")).hexdigest()


def _plain_driver(conn: Connection) -> bool:
    """Does the driver return only str, int, float and None? (SQLite's does: nothing to normalise.)"""
    return conn.dialect.name == "sqlite"


def _all_parts(conn: Connection, parts: tuple[Part, ...], low: int, high: int,
               keys: list[int] | None) -> dict[int, tuple[tuple[Any, ...], ...]]:
    """Every part of the parents in range, by parent: {parent id: (part 1's rows, part 2's rows, ...)}."""
    if not parts:
        return {}
    found = [_parts(conn, part, low, high, keys) for part in parts]
    if len(found) == 1:
        return {key: (rows,) for key, rows in found[0].items()}
    return {key: tuple([rows.get(key, ()) for rows in found]) for key in set().union(*found)}


def _raw(conn: Connection, table: Table, columns: tuple[str, ...], key: str, ids: list[int] | None, batch: int,
         order: tuple[str, ...], where: str = "", **params: Any) -> Iterator[Sequence[Any]]:
    """Partitions of the columns' values as the database driver returns them, in ``order``: no type conversion.

    The digest of a row is always computed this way on the same database, at
    attestation and at verification, so the driver's own representation is
    stable; what varies with the session (a time zone) is normalised by ``_value``.
    """
    conditions = ([f"{key} IN :ids"] if ids is not None else []) + ([where] if where else [])
    sql = (f"SELECT {', '.join(columns)} FROM {table.name}"
           + (f" WHERE {' AND '.join(conditions)}" if conditions else "") + f" ORDER BY {', '.join(order)}")
    statement = text(sql)
    if ids is not None:
        statement = statement.bindparams(bindparam("ids", value=ids, expanding=True))
    # Streamed (a server-side cursor on PostgreSQL) when reading a whole table; chosen rows (attesting a write, at
    # most ``batch`` of them) in one go: a server-side cursor would cost three more round trips inside the writer's
    # locked section (DECLARE, FETCH, CLOSE). The values are the same either way.
    options = {"yield_per": batch} if ids is None else {}  # per statement: it'd stick
    result = conn.execute(statement, params, execution_options=options)
    yield from result.partitions(batch)  # the size, always: without it each partition is one row


def _parts(conn: Connection, part: Part, low: int, high: int, keys: list[int] | None) -> dict[int, tuple[Any, ...]]:
    """The part's rows of the parents ``keys`` (or all of ``low``..``high``), normalised and grouped by parent:
    {parent id: ((values), ...)}."""
    grouped: dict[int, tuple[Any, ...]] = {}
    order = (part.fk, *(c.name for c in part.table.primary_key.columns))
    stream = chain.from_iterable(_raw(conn, part.table, (part.fk, *part.columns), part.fk, keys, 5000, order,
                                      f"{part.fk} BETWEEN :low AND :high", low=low, high=high))
    if _plain_driver(conn):
        for key, rows in groupby(stream, itemgetter(0)):
            grouped[key] = tuple([row[1:] for row in rows])
        return grouped
    for key, rows in groupby(stream, itemgetter(0)):
        grouped[key] = tuple([tuple(v if type(v) in _PLAIN else _value(v) for v in row[1:]) for row in rows])
    return grouped


def returned_columns(name: str) -> tuple[str, ...]:
    """What an INSERT into audited table ``name`` returns (RETURNING, as the driver gives it, untyped) so that
    ``returned_states`` can attest the new rows without reading them back. Only for tables without parts."""
    audited = BY_NAME[name]
    assert not audited.parts, f"{name}: a row's digest covers its parts, which an INSERT does not return"
    return ("id", *audited.columns)


def returned_states(conn: Connection, rows: Iterable[Sequence[Any]]) -> dict[int, str]:
    """{id: digest} of rows an INSERT returned with ``returned_columns``: the digest ``_states`` gives them when
    it reads them back (the same values, in the same driver representation)."""
    sha, settled, normalise = hashlib.sha256, _SETTLED, _value
    plain = _plain_driver(conn)
    found: dict[int, str] = {}
    for row in rows:  # as in _states' loop
        state = tuple(row[1:])
        if not plain and not settled.issuperset(map(type, state)):
            state = tuple(v if type(v) in settled else normalise(v) for v in state)
        found[row[0]] = sha(repr(state).encode("utf-8", "surrogatepass")).hexdigest()
    return found


def attestations(conn: Connection, touched: Touched, seq: int,
                 known: Mapping[str, Mapping[int, str]] | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The attestations of the touched rows as covered by entry ``seq``, and the digest of them all (for the
    entry; None when there are none). ``known`` gives digests already taken (``returned_states``): those rows
    are not read again.

    A touched row that no longer exists is attested as gone (a deletion the entry accounts for).
    """
    lines: list[str] = []
    rows: list[dict[str, Any]] = []
    for name in sorted(touched):
        ids = sorted(set(touched[name]))
        if not ids:
            continue
        audited = BY_NAME[name]
        found: dict[int, str] = dict((known or {}).get(name, {}))
        unknown = [row_id for row_id in ids if row_id not in found]
        for start in range(0, len(unknown), 2000):
            found.update(_states(conn, audited, unknown[start:start + 2000]))
        for row_id in ids:
            value = found.get(row_id, GONE)
            rows.append({"seq": seq, "tbl": name, "row_id": row_id, "digest": value})
            lines.append(f"{name}\x1f{row_id}\x1f{value}")
    return rows, (rows_digest(lines) if rows else None)


def attest(conn: Connection, touched: Touched, seq: int) -> str | None:
    """Write the digests of the touched rows as covered by entry ``seq``; the digest of them all (for the entry).

    A touched row that no longer exists is attested as gone (a deletion the entry accounts for).
    """
    rows, digest = attestations(conn, touched, seq)
    if rows:
        conn.execute(insert(ATTESTATIONS), rows)
    return digest


def rows_digest(lines: Iterable[str]) -> str:
    """The digest an audit entry carries of the attestations it covers (lines 'table, id, digest' in order)."""
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def everything(conn: Connection) -> dict[str, list[int]]:
    """Every row of every audited table (for a baseline attestation of a register that had none)."""
    return {a.name: list(conn.execute(select(a.table.c.id).order_by(a.table.c.id)).scalars()) for a in AUDITED}


@dataclass(frozen=True)
class RowProblem:
    """A row whose state the chain does not account for."""

    table: str
    row_id: int
    seq: int | None  # the entry that attested it last (None: none ever did)
    reason: str

    def __str__(self) -> str:
        entry = f" (last attested by entry {self.seq})" if self.seq is not None else ""
        return f"{self.table} row {self.row_id}: {self.reason}{entry}"


def _latest(conn: Connection, name: str, batch: int, span: tuple[int, int] | None = None
            ) -> Iterator[tuple[int, str, int]]:
    """(row id, digest, seq) of the last attestation of each row of ``name`` (in ``span``), in row order.

    An index-only scan of ``ix_attestations_row`` (tbl, row_id, seq, digest): no
    sort; of each row's attestations the last one read is the latest.
    """
    a = ATTESTATIONS
    query = select(a.c.row_id, a.c.digest, a.c.seq).where(a.c.tbl == name)
    if span:
        query = query.where(a.c.row_id.between(*span))
    query = query.order_by(a.c.row_id, a.c.seq, a.c.digest).execution_options(yield_per=batch)
    last: tuple[int, str, int] | None = None
    for rows in conn.execute(query).partitions(batch):
        for row_id, value, seq in rows:
            if last is not None and last[0] != row_id:
                yield last
            last = (row_id, value, seq)
    if last is not None:
        yield last


#: A stretch of one audited table's ids, first and last included: a unit of row verification.
Span = tuple[str, int, int]


def table_spans(conn: Connection) -> list[Span]:
    """One span per audited table, from its first to its last id among both the current rows and the attested
    ones (a row that is gone is still in it)."""
    a = ATTESTATIONS
    found: list[Span] = []
    for audited in AUDITED:
        ids = audited.table.c.id
        low, high = conn.execute(select(func.min(ids), func.max(ids))).one()
        attested_low, attested_high = conn.execute(
            select(func.min(a.c.row_id), func.max(a.c.row_id)).where(a.c.tbl == audited.name)).one()
        lows = [v for v in (low, attested_low) if v is not None]
        if lows:
            found.append((audited.name, min(lows), max(v for v in (high, attested_high) if v is not None)))
    return found


def split(span: Span, size: int) -> list[Span]:
    """``span`` cut into stretches of ``size`` ids (the last one shorter)."""
    name, first, last = span
    return [(name, start, min(start + size - 1, last)) for start in range(first, last + 1, size)]


def verify_rows(conn: Connection, limit: int = 100, batch: int = 5000,
                only: Iterable[Span] | None = None) -> tuple[int, list[RowProblem]]:
    """Compare every audited row (or those of the spans ``only``) with its last attestation, by a sorted merge
    of the two streams: (rows checked, problems, at most ``limit``)."""
    problems: list[RowProblem] = []
    checked = 0
    units: list[tuple[str, tuple[int, int] | None]] = (
        [(a.name, None) for a in AUDITED] if only is None else [(name, (low, high)) for name, low, high in only])
    for name, span in units:
        audited = BY_NAME[name]
        current = _states(conn, audited, None, batch, span)
        attested = _latest(conn, audited.name, batch, span)
        row, last = next(current, None), next(attested, None)
        while row is not None or last is not None:
            if len(problems) >= limit:
                return checked, problems
            if last is None or (row is not None and row[0] < last[0]):
                assert row is not None
                problems.append(RowProblem(audited.name, row[0], None, "no audit entry accounts for it"))
                row = next(current, None)
                checked += 1
            elif row is None or last[0] < row[0]:
                if last[1] != GONE:
                    problems.append(RowProblem(audited.name, last[0], last[2], "is gone"))
                last = next(attested, None)
            else:
                checked += 1
                if row[1] != last[1]:
                    reason = "was deleted by an entry but exists" if last[1] == GONE else \
                        "differs from its last audited state"
                    problems.append(RowProblem(audited.name, row[0], last[2], reason))
                row, last = next(current, None), next(attested, None)
    return checked, problems


def head_of(conn: Connection) -> tuple[int, str]:
    """The chain head (last entry number, its hash) as this transaction sees it; (0, '') without one."""
    row = conn.execute(text("SELECT seq, entry_hash FROM audit_head WHERE id = 1")).first()
    return (row[0], row[1]) if row else (0, "")


def entry_rows(conn: Connection, batch: int = 5000, seqs: tuple[int, int] | None = None) -> Iterator[tuple[int, str]]:
    """(seq, rows digest) of every entry (of the range ``seqs``) that attested rows, in seq order, from the
    attestations table: an index-only scan of ``ix_attestations_seq`` (seq, tbl, row_id, digest).
    """
    a = ATTESTATIONS
    # Each line 'table, id, digest' is put together by the database (cheaper than in Python, a million times).
    line = (a.c.tbl + literal("\x1f") + cast(a.c.row_id, String) + literal("\x1f") + a.c.digest).label("line")
    query = select(a.c.seq, line)
    if seqs:
        query = query.where(a.c.seq.between(*seqs))
    query = query.order_by(a.c.seq, a.c.tbl, a.c.row_id, a.c.digest).execution_options(yield_per=batch)
    stream = chain.from_iterable(conn.execute(query).partitions(batch))
    for seq, rows in groupby(stream, itemgetter(0)):
        yield seq, rows_digest([row[1] for row in rows])


def counter_problems(conn: Connection) -> list[RowProblem]:
    """Counters that do not stand at the last number given: the diary's numbers run without gaps, so a case
    counter is the highest case number of its year, and a journal counter the highest journal number."""
    given = {
            "case": {year: top for year, top in conn.execute(text("SELECT year, max(seq) FROM cases GROUP BY year"))},
            "journal": {year: top for year, top in conn.execute(text(
                "SELECT journal_year, max(journal_seq) FROM records WHERE journal_year IS NOT NULL "
                "GROUP BY journal_year"))},
    }
    found = []
    for scope, year, value in conn.execute(text("SELECT scope, year, value FROM counters ORDER BY scope, year")):
        top = given.get(scope, {}).get(year, 0)
        if scope in given and value != top:  # named by its year: a counter's key is (scope, year)
            found.append(RowProblem("counters", year, None, f"the {scope} counter of {year} stands at {value}, "
                                                           f"the last number given is {top}"))
    return found
