"""Progress of long operations (ingest, export, validate, dispose, audit verify), as the core reports it.

A long operation takes ``progress: Progress | None`` and calls it now and then with
the stage it is in, how much of it is done and, when known, the total. How that
is shown (a bar on a terminal, plain lines in a log, nothing) is the caller's
business: the command line's is ``cli.output.ProgressReporter``.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, "int | None"], None]
"""``progress(stage, done, total)``: e.g. ``("writing records", 12_000, 100_000)``; ``total`` None when unknown."""
