"""Gap-free allocation of diary and journal numbers.

Allocation increments a counter row in the caller's transaction with one
``UPDATE … RETURNING``: the row lock (PostgreSQL) or the immediate write lock
(SQLite) serialises writers, and a rollback un-does the increment, so numbers
never repeat and never skip. How numbers are written and read is ``diary.py``.
"""

from __future__ import annotations

import importlib

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .model import Counter, table_of

CASE_SCOPE = "case"
JOURNAL_SCOPE = "journal"


_COUNTERS = table_of(Counter)
# Built once: allocation runs inside every writer's locked section.
_TAKE = (
    update(_COUNTERS)
    .where(_COUNTERS.c.scope == bindparam("s"), _COUNTERS.c.year == bindparam("y"))
    .values(value=_COUNTERS.c.value + bindparam("n"))
    .returning(_COUNTERS.c.value)
)


def allocate(conn: Connection | Session, scope: str, year: int, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers of ``scope`` in ``year``; returns the first.

    Runs in the caller's transaction: the numbers are only taken if it commits.
    The first number of a year is 1.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if isinstance(conn, Session):
        conn = conn.connection()
    params = {"s": scope, "y": year, "n": count}
    last = conn.execute(_TAKE, params).scalar_one_or_none()
    if last is None:
        _insert_counter(conn, scope, year)
        last = conn.execute(_TAKE, params).scalar_one()
    return int(last) - count + 1


def _insert_counter(conn: Connection, scope: str, year: int) -> None:
    # Two first writers of a new year may race here; the loser's insert does nothing.
    # The dialect's own insert (ON CONFLICT), imported here: the PostgreSQL dialect costs every command ~20 ms.
    dialect = importlib.import_module(f"sqlalchemy.dialects.{conn.dialect.name}")
    conn.execute(dialect.insert(_COUNTERS).values(scope=scope, year=year, value=0)
                 .on_conflict_do_nothing(index_elements=["scope", "year"]))
