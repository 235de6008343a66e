"""Benchmark: ``smcase audit verify`` (chain and every audited row) against plain SELECTs of the same rows.

Builds the benchmarks' register (``_register.py``: closed cases with five records each, a party per record,
a document every 50th record, attested the way the register service attests a batch), then, each in a fresh
process so peak RSS is its own:

* verify: ``audit.verify`` — the chain entry by entry, the attestations against the entries, and a sorted merge
  of every audited row's current digest with its last attestation, cut into stretches that run in one worker
  process per CPU (``--workers``; RSS is the largest process's);
* floor: the same rows read with plain SELECTs (audit entries with payloads, attestations, cases, records,
  correspondents, documents), nothing computed.

Run:  python benchmarks/audit_verify.py [--records 1000000]
Target (issue 13): within 2x of the floor, memory flat.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from _children import wait_for
from _register import POSTS_PER_CASE, build


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_verify(url: str, out: mp.Queue, workers: int | None = None) -> None:
    from smcase import audit
    from smcase.db import make_engine

    engine = make_engine(url)
    start = time.perf_counter()
    result = audit.verify(engine, workers=workers)
    seconds = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out.put((seconds, (result.ok, result.checked, result.rows_checked), max(peak_rss_mb(), children)))


def run_floor(url: str, out: mp.Queue, _workers: int | None = None) -> None:
    from sqlalchemy import text

    from smcase.db import make_engine

    engine = make_engine(url)
    start = time.perf_counter()
    rows = 0
    with engine.connect() as conn:
        for statement in ("SELECT e.*, p.payload FROM audit_entries e LEFT JOIN audit_payloads p ON p.seq = e.seq "
                          "ORDER BY e.seq", "SELECT * FROM attestations ORDER BY seq, tbl, row_id",
                          "SELECT * FROM cases ORDER BY id", "SELECT * FROM records ORDER BY id",
                          "SELECT * FROM correspondents ORDER BY record_id, id",
                          "SELECT * FROM documents ORDER BY record_id, id"):
            for _row in conn.execution_options(yield_per=5000).execute(text(statement)):
                rows += 1
    out.put((time.perf_counter() - start, rows, peak_rss_mb()))


def measure(target: object, url: str, workers: int | None = None) -> tuple[float, object, float]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(url, out, workers))
    proc.start()
    return wait_for(proc, out)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records in the largest register")
    parser.add_argument("--workers", type=int, default=None, help="verify's processes (default: one per CPU)")
    args = parser.parse_args()
    sizes = sorted({max(5000, args.records // 10), args.records})
    print(f"CPUs: {os.cpu_count()}; workers: {args.workers or 'default'}")
    print(f"{'records':>9}{'build s':>9}{'verify s':>10}{'rows/s':>10}{'RSS MB':>8}{'floor s':>9}{'ratio':>7}  result")
    for size in sizes:
        folder = Path(tempfile.mkdtemp(prefix="smcase-bench-verify-"))
        try:
            url = f"sqlite:///{folder / 'smcase.db'}"
            begun = time.perf_counter()
            build(url, folder / "files", size // POSTS_PER_CASE, "SE")
            built = time.perf_counter() - begun
            seconds, result, rss = measure(run_verify, url, args.workers)
            floor, _rows, _floor_rss = measure(run_floor, url)
            ok, entries, rows = result  # type: ignore[misc]
            print(f"{size:>9}{built:>9.1f}{seconds:>10.2f}{rows / seconds:>10.0f}{rss:>8.0f}{floor:>9.2f}"
                  f"{seconds / floor:>7.2f}  {'OK' if ok else 'BROKEN'}: {entries} entries, {rows} rows")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
