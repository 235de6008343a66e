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
(``cases.next_record_number``, ``cases.updated_at``) are left out of the digest.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text
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
    Audited("register", table_of(Register), _all_but(Register, "policy")),
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
                                           "direction", "public", "raw_sha256", "status", "action", "findings",
                                           "held_by", "case_id", "record_id", "resolution", "resolved_at",
                                           "resolved_by")),
    Audited("disposals", table_of(DisposalEntry), _all_but(DisposalEntry)),
)
BY_NAME = {a.name: a for a in AUDITED}
BY_TABLE = {a.table.name: a for a in AUDITED}
_ATTESTATIONS = table_of(Attestation)

#: Rows touched by a write, by audited table name: ``{"cases": {3, 4}, "records": {9}}``.
Touched = Mapping[str, Iterable[int]]


_PLAIN = frozenset((str, int, float, type(None)))
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


def digest(state: Iterable[Any]) -> str:
    """The SHA-256 of a row's audited state (its values and its parts' values, in order).

    Values are normalised to str, int, float or None (parts to tuples of them) and
    written with ``repr``: exact, unambiguous (a string is quoted, None is not), and
    done in C, which matters when a million rows are verified.
    """
    plain = _PLAIN
    values = tuple(v if type(v) in plain else _value(v) for v in state)
    return hashlib.sha256(repr(values).encode("utf-8", "surrogatepass")).hexdigest()


def _states(conn: Connection, audited: Audited, ids: list[int] | None, batch: int = 2000) -> Iterator[tuple[int, str]]:
    """(id, digest) of the table's rows (all, or ``ids``), in id order, parts merged in by streaming."""
    table = audited.table
    part_streams = [_grouped(_raw(conn, part.table, (part.fk, *part.columns), part.fk, ids, batch,
                                  (part.fk, *(c.name for c in part.table.primary_key.columns))))
                    for part in audited.parts]
    pending: list[tuple[int, tuple[Any, ...]] | None] = [next(s, None) for s in part_streams]
    for row in _raw(conn, table, ("id", *audited.columns), "id", ids, batch, ("id",)):
        state: list[Any] = list(row[1:])  # parts are appended as tuples of normalised rows
        for k, stream in enumerate(part_streams):
            while pending[k] is not None and pending[k][0] < row[0]:  # type: ignore[index]
                pending[k] = next(stream, None)  # parts of rows that are gone: the parent is reported
            current = pending[k]
            if current is not None and current[0] == row[0]:
                state.append(current[1])
                pending[k] = next(stream, None)
            else:
                state.append(())
        yield row[0], digest(state)


def _raw(conn: Connection, table: Table, columns: tuple[str, ...], key: str, ids: list[int] | None, batch: int,
         order: tuple[str, ...]) -> Iterator[Any]:
    """The columns' values as the database driver returns them, in ``order``: no type conversion per value.

    The digest of a row is always computed this way on the same database, at
    attestation and at verification, so the driver's own representation is
    stable; what varies with the session (a time zone) is normalised by ``_value``.
    """
    sql = (f"SELECT {', '.join(columns)} FROM {table.name}"
           + (f" WHERE {key} IN :ids" if ids is not None else "") + f" ORDER BY {', '.join(order)}")
    statement = text(sql)
    if ids is not None:
        statement = statement.bindparams(bindparam("ids", value=ids, expanding=True))
    result = conn.execute(statement, execution_options={"yield_per": batch})  # not conn.execution_options: it sticks
    for rows in result.partitions():
        yield from rows


def _grouped(rows: Iterable[Any]) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """Consecutive part rows of one parent as (parent id, ((values), ...))."""
    key: int | None = None
    values: list[Any] = []
    for row in rows:
        if row[0] != key:
            if key is not None:
                yield key, tuple(values)
            key, values = row[0], []
        values.append(tuple(v if type(v) in _PLAIN else _value(v) for v in row[1:]))
    if key is not None:
        yield key, tuple(values)


def attest(conn: Connection, touched: Touched, seq: int) -> str | None:
    """Write the digests of the touched rows as covered by entry ``seq``; the digest of them all (for the entry).

    A touched row that no longer exists is attested as gone (a deletion the entry accounts for).
    """
    lines: list[str] = []
    rows: list[dict[str, Any]] = []
    for name in sorted(touched):
        ids = sorted(set(touched[name]))
        if not ids:
            continue
        audited = BY_NAME[name]
        found: dict[int, str] = {}
        for start in range(0, len(ids), 2000):
            found.update(_states(conn, audited, ids[start:start + 2000]))
        for row_id in ids:
            value = found.get(row_id, GONE)
            rows.append({"seq": seq, "tbl": name, "row_id": row_id, "digest": value})
            lines.append(f"{name}\x1f{row_id}\x1f{value}")
    if not rows:
        return None
    conn.execute(insert(_ATTESTATIONS), rows)
    return rows_digest(lines)


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


def _latest(conn: Connection, name: str, batch: int) -> Iterator[tuple[int, str, int]]:
    """(row id, digest, seq) of the last attestation of each row of ``name``, in row order.

    Served by the index on (tbl, row_id, seq): a window over each row's attestations.
    """
    a = _ATTESTATIONS
    ranked = select(a.c.row_id, a.c.digest, a.c.seq, func.row_number().over(
        partition_by=a.c.row_id, order_by=(a.c.seq.desc(), a.c.id.desc())).label("n")).where(a.c.tbl == name).subquery()
    query = select(ranked.c.row_id, ranked.c.digest, ranked.c.seq).where(ranked.c.n == 1).order_by(ranked.c.row_id)
    for row in conn.execute(query.execution_options(yield_per=batch)):
        yield row[0], row[1], row[2]


def verify_rows(conn: Connection, limit: int = 100, batch: int = 5000) -> tuple[int, list[RowProblem]]:
    """Compare every audited row with its last attestation (a sorted merge per table): (rows checked, problems)."""
    problems: list[RowProblem] = []
    checked = 0
    for audited in AUDITED:
        current = _states(conn, audited, None, batch)
        attested = _latest(conn, audited.name, batch)
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


def entry_rows(conn: Connection, batch: int = 5000) -> Iterator[tuple[int, str]]:
    """(seq, rows digest) of every entry that attested rows, in seq order, from the attestations table."""
    a = _ATTESTATIONS
    query = select(a.c.seq, a.c.tbl, a.c.row_id, a.c.digest).order_by(a.c.seq, a.c.tbl, a.c.row_id, a.c.id)
    seq: int | None = None
    lines: list[str] = []
    for row in conn.execute(query.execution_options(yield_per=batch)):
        if row[0] != seq:
            if seq is not None:
                yield seq, rows_digest(lines)
            seq, lines = row[0], []
        lines.append(f"{row[1]}\x1f{row[2]}\x1f{row[3]}")
    if seq is not None:
        yield seq, rows_digest(lines)
