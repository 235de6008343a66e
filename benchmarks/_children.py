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


def peak_mb() -> float:
    """This process's peak resident set size in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_process(target: Any, *args: Any) -> tuple[Any, ...]:
    """Run ``target(*args, results)`` in a fresh (spawned) process and return what it put on ``results``."""
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, results))
    proc.start()
    return tuple(wait_for(proc, results))
