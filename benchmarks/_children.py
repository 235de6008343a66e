"""Running a measurement in a fresh process, so that its peak RSS is its own."""

from __future__ import annotations

import multiprocessing as mp
import queue
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
