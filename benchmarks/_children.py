"""Running a measurement in a fresh process, so that its peak RSS is its own."""

from __future__ import annotations

import multiprocessing as mp
import queue
import resource
from typing import Any


def wait_for(proc: Any, results: mp.Queue) -> Any:
    """The result ``proc`` puts on ``results``; a child that dies without one stops the benchmark."""
    while True:
        try:
            value = results.get(timeout=1)
            break
        except queue.Empty:
            if not proc.is_alive():
                raise SystemExit(f"the benchmark process failed with exit code {proc.exitcode}") from None
    proc.join()
    return value


def peak_mb(with_children: bool = False) -> float:
    """This process's peak resident set size in MB; ``with_children`` adds the largest of its finished
    children (a validator's worker process), as if both peaks had come at once."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if with_children:
        peak += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 1024


def cpu_seconds() -> float:
    """User and system CPU time of this process and its finished children."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def in_process(target: Any, *args: Any) -> tuple[Any, ...]:
    """Run ``target(*args, results)`` in a fresh (spawned) process and return what it put on ``results``."""
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, results))
    proc.start()
    return tuple(wait_for(proc, results))


def print_table(rows: list[dict[str, Any]], count: str, main_file: str, main_mb: str) -> None:
    """The export/validation table both archive benchmarks print, then the sizes and the memory trend.

    Each row has ``count`` (posts or records), build, export, floor, validation and
    xmllint seconds, package and main-file sizes, peak RSS and the failed rules.
    """
    print(f"{count:>9}{'build s':>9}{'export s':>10}{'MB/s':>7}{'RSS MB':>8}{'floor s':>9}{'ratio':>7}"
          f"{'valid. s':>10}{'MB/s':>7}{'RSS MB':>8}{'xmllint s':>11}{'ratio':>7}  rules")
    for r in rows:
        print(f"{r[count]:>9}{r['built']:>9.1f}{r['export_s']:>10.1f}{r['size_mb'] / r['export_s']:>7.1f}"
              f"{r['export_mb']:>8.0f}{r['floor_s']:>9.1f}{r['export_s'] / r['floor_s']:>7.2f}{r['validate_s']:>10.1f}"
              f"{r['size_mb'] / r['validate_s']:>7.1f}{r['validate_mb']:>8.0f}{r['xmllint_s']:>11.1f}"
              f"{r['validate_s'] / r['xmllint_s']:>7.2f}  {'all pass' if not r['failed'] else r['failed']}")
    big, small = rows[-1], rows[0]
    print(f"\n{main_file} at {big[count]} {count}: {big[main_mb]:.0f} MB; package {big['size_mb']:.0f} MB; "
          f"xmllint {'valid' if big['xmllint_ok'] else 'INVALID'}")
    print(f"export RSS {small['export_mb']:.0f} → {big['export_mb']:.0f} MB, validation RSS "
          f"{small['validate_mb']:.0f} → {big['validate_mb']:.0f} MB from {small[count]} to {big[count]} {count}")


def print_targets(checks: dict[str, bool]) -> None:
    """One line per target: met or NOT met."""
    for name, met in checks.items():
        print(f"Target {name}: {'met' if met else 'NOT met'}")
