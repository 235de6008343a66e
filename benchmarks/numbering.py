"""Benchmark: diary-number allocation through the register service.

For SQLite (a file) and PostgreSQL, with 1, 2 and 4 writer processes:

* service: cases/s through ``RegisterService.open_case`` (the single-case path:
  number, case row and audit entry in one transaction, then the read-back the
  CLI prints), and afterwards a check that the numbers are exactly 1..N;
* floor: the same rows inserted with plain INSERTs through the driver, one
  transaction per row, same writer count, no numbering and no audit;
* ratio: service rate / floor rate.

Then block allocation (numbers/s when ``allocate`` takes blocks of 1,000) and
the bulk path ``open_cases`` (cases/s, 1,000 cases per transaction).

Run:  python benchmarks/numbering.py [--cases N]
PostgreSQL: set SMCASE_BENCH_PG_URL (or SMCASE_TEST_PG_URL); `bash .ci/postgres start` prints one.
Targets (issue 2): 4 writers on PostgreSQL >= 500 cases/s with zero gaps and
zero duplicates; block allocation >= 10,000 numbers/s.

Measured (--cases 2000, PostgreSQL 15 on localhost, 2 CPUs shared, load
average about 1), cases/s with 1, 2 and 4 writers, no gaps or duplicates:

* before (8 statements per case, 4 of them for the audit append, the rows
  read back through a server-side cursor): PostgreSQL 342, 319, 241;
  SQLite 1,084, 914, 1,013;
* after (3 statements per case on PostgreSQL: counter and audit head
  together, the case INSERT returning its row, the audit writes in one
  statement): PostgreSQL 556, 647, 515; SQLite 1,013, 1,037, 1,031.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, make_url, select
from sqlalchemy.orm import Session

from smcase.db import make_engine
from smcase.model import Case
from smcase.numbering import allocate
from smcase.policy import load_file
from smcase.register import CaseSpec, RegisterService, create_register
from smcase.resources import default_policy

WRITERS = (1, 2, 4)


@dataclass
class Row:
    backend: str
    writers: int
    service: float
    floor: float
    gaps: int
    duplicates: int


# -- databases ------------------------------------------------------------------

class Databases:
    """Fresh databases for each run: SQLite files in a temporary folder, PostgreSQL databases on a server."""

    def __init__(self, pg_url: str | None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="smcase-bench-"))
        self.pg_admin = make_url(pg_url).set(drivername="postgresql+psycopg") if pg_url else None
        self.created: list[str] = []

    def fresh(self, backend: str) -> str:
        name = f"smcase_bench_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.db')}"
        assert self.pg_admin is not None
        admin = create_engine(self.pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.created.append(name)
        return self.pg_admin.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.pg_admin is None:
            return
        admin = create_engine(self.pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def new_register(url: str) -> None:
    engine = make_engine(url)
    create_register(engine, name="Benchmark kommun", policy=load_file(default_policy("SE")), user="bench")
    engine.dispose()


# -- workers (module level, so that spawned processes can import them) ----------

def service_worker(url: str, count: int, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    engine = make_engine(url)
    service = RegisterService.open(engine, user="bench")
    barrier.wait()
    for i in range(count):
        service.open_case(CaseSpec(title=f"Benchmark case {i}", public_title=f"Case {i}"))
    out.put(time.perf_counter())
    engine.dispose()


FLOOR_SQL = ("INSERT INTO bench_floor (uuid, diary_number, title, public_title, status, created_at) "
             "VALUES ({p}, {p}, {p}, {p}, 'open', {p})")


def floor_worker(url: str, count: int, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    parsed = make_url(url)
    worker = uuid.uuid4().hex[:8]
    if parsed.get_backend_name() == "sqlite":
        conn: object = sqlite3.connect(parsed.database, isolation_level=None, timeout=60)
        conn.execute("PRAGMA journal_mode=WAL")  # type: ignore[attr-defined]
        conn.execute("PRAGMA synchronous=NORMAL")  # type: ignore[attr-defined]
        sql = FLOOR_SQL.format(p="?")

        def insert(i: int) -> None:
            conn.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
            conn.execute(sql, (str(uuid.uuid4()), f"{worker}-{i}", f"Benchmark case {i}", f"Case {i}",  # type: ignore[attr-defined]
                               time.time()))
            conn.execute("COMMIT")  # type: ignore[attr-defined]
    else:
        pg = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
        sql = FLOOR_SQL.format(p="%s")

        def insert(i: int) -> None:
            with pg.transaction():
                pg.execute(sql, (str(uuid.uuid4()), f"{worker}-{i}", f"Benchmark case {i}", f"Case {i}", time.time()))
    barrier.wait()
    for i in range(count):
        insert(i)
    out.put(time.perf_counter())


def run_parallel(target: Callable[..., None], url: str, writers: int, total: int) -> float:
    """Rows per second for ``writers`` processes sharing ``total`` rows, timed from a common start."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(writers + 1)
    out: mp.Queue = ctx.Queue()
    per = total // writers
    procs = [ctx.Process(target=target, args=(url, per, barrier, out)) for _ in range(writers)]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    ends = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a writer failed with exit code {p.exitcode}")
    return per * writers / (max(ends) - start)


def make_floor_table(url: str) -> None:
    engine = make_engine(url)
    created = "DOUBLE PRECISION" if engine.dialect.name == "postgresql" else "REAL"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE bench_floor (id INTEGER PRIMARY KEY GENERATED ALWAYS AS IDENTITY, uuid VARCHAR(36) UNIQUE, "
            "diary_number VARCHAR(64) UNIQUE, title TEXT, public_title TEXT, status VARCHAR(16), created_at "
            f"{created})" if engine.dialect.name == "postgresql" else
            "CREATE TABLE bench_floor (id INTEGER PRIMARY KEY, uuid VARCHAR(36) UNIQUE, diary_number VARCHAR(64) "
            f"UNIQUE, title TEXT, public_title TEXT, status VARCHAR(16), created_at {created})")
    engine.dispose()


def check_numbers(url: str) -> tuple[int, int, int]:
    """(cases, gaps, duplicates) of the case sequence."""
    engine = make_engine(url)
    with engine.connect() as conn:
        seqs = list(conn.execute(select(Case.seq)).scalars())
    engine.dispose()
    distinct = set(seqs)
    gaps = (max(distinct) - len(distinct)) if distinct else 0
    return len(seqs), gaps, len(seqs) - len(distinct)


# -- block allocation ------------------------------------------------------------

def block_rate(url: str, blocks: int = 200, size: int = 1000) -> float:
    engine = make_engine(url)
    start = time.perf_counter()
    for _ in range(blocks):
        with Session(engine) as session, session.begin():
            allocate(session, "bench", 2026, size)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return blocks * size / elapsed


def bulk_rate(url: str, batches: int = 10, size: int = 1000) -> float:
    engine = make_engine(url)
    service = RegisterService.open(engine, user="bench")
    start = time.perf_counter()
    for b in range(batches):
        service.open_cases([CaseSpec(title=f"Bulk case {b}-{i}") for i in range(size)])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return batches * size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases per run (split across the writers)")
    args = parser.parse_args()
    pg_url = os.environ.get("SMCASE_BENCH_PG_URL") or os.environ.get("SMCASE_TEST_PG_URL")
    backends = ["sqlite"] + (["postgresql"] if pg_url else [])
    dbs = Databases(pg_url)
    rows: list[Row] = []
    extra: list[tuple[str, float, float]] = []
    try:
        for backend in backends:
            for writers in WRITERS:
                service_url = dbs.fresh(backend)
                new_register(service_url)
                service = run_parallel(service_worker, service_url, writers, args.cases)
                count, gaps, dups = check_numbers(service_url)
                assert count == args.cases // writers * writers
                floor_url = dbs.fresh(backend)
                make_floor_table(floor_url)
                floor = run_parallel(floor_worker, floor_url, writers, args.cases)
                rows.append(Row(backend, writers, service, floor, gaps, dups))
                print(f"  {backend:<10} {writers} writer(s): {service:8.0f} cases/s (floor {floor:8.0f}/s)", flush=True)
            url = dbs.fresh(backend)
            new_register(url)
            extra.append((backend, block_rate(url), bulk_rate(url)))
    finally:
        dbs.drop_all()

    print("\nSingle-case path through RegisterService.open_case (number + case + audit entry, one transaction)")
    print(f"{'database':<11}{'writers':>8}{'cases/s':>10}{'floor/s':>10}{'ratio':>8}{'gaps':>6}{'dups':>6}")
    for r in rows:
        print(f"{r.backend:<11}{r.writers:>8}{r.service:>10.0f}{r.floor:>10.0f}{r.service / r.floor:>8.2f}"
              f"{r.gaps:>6}{r.duplicates:>6}")
    print("\nBlock allocation and bulk path")
    print(f"{'database':<11}{'numbers/s (blocks of 1000)':>28}{'open_cases/s (1000 per call)':>30}")
    for backend, block, bulk in extra:
        print(f"{backend:<11}{block:>28.0f}{bulk:>30.0f}")
    if not pg_url:
        print("\nPostgreSQL: not measured (set SMCASE_BENCH_PG_URL; `bash .ci/postgres start` prints one)")
    pg4 = [r for r in rows if r.backend == "postgresql" and r.writers == 4]
    if pg4:
        ok = pg4[0].service >= 500 and pg4[0].gaps == 0 and pg4[0].duplicates == 0
        print(f"\nTarget 4 writers on PostgreSQL >= 500 cases/s, no gaps or duplicates: "
              f"{'met' if ok else 'NOT met'} ({pg4[0].service:.0f}/s)")
    blocks_ok = all(block >= 10_000 for _, block, _ in extra)
    print(f"Target block allocation >= 10,000 numbers/s: {'met' if blocks_ok else 'NOT met'}")


if __name__ == "__main__":
    main()
