"""The worker: deliveries from the spool through the ``facebook-webhook`` adapter and the ingest pipeline.

It runs in a thread of its own and is the service's only writer to the
register, acting as the service user (``--user``). A pass takes the waiting
deliveries oldest first, ingests them as one input (one transaction per batch,
as file ingest does), and only then marks them processed in the spool. A crash
in between processes them again at the next start, and ingest's idempotence
(events keyed by item id, verb and time) adds nothing the second time.
A pass that fails (the database is down) is retried with a growing pause;
nothing is marked processed that was not committed to the register.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import threading
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..builtin._common import parse_json
from ..errors import SmcaseError
from ..events import ParseContext, Unparsable
from ..identity import scrub
from ..ingest import Ingest, Summary
from ..plugins import Plugins
from ..register import RegisterService
from .metrics import Metrics
from .spool import Delivery, Spool

log = logging.getLogger("smcase.serve")
ADAPTER = "facebook-webhook"
_PAGE_ID = re.compile(r"\d{1,30}")
PLATFORM = "facebook"


def failure_words(exc: BaseException) -> str:
    """What went wrong, for a log line: the error's kind (and a driver's connection message), never values.

    A database error's text can quote the parameters of the statement, which hold what citizens wrote.
    """
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        first = str(orig).strip().splitlines()[0][:200] if exc.connection_invalidated or "connect" in str(orig) \
            else ""
        inner = type(orig).__name__
        kind = type(exc).__name__ + (f" ({inner})" if inner not in ("Exception", type(exc).__name__) else "")
        return f"{kind}{': ' + first if first else ''}"
    if isinstance(exc, SmcaseError):  # smcase's own messages name what is wrong; masked all the same
        first = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}: {(scrub(first) or '')[:300]}"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or 'I/O error'}"
    return type(exc).__name__


def _unreachable(exc: BaseException) -> bool:
    """Is this the register (or the disk) being unreachable, rather than something wrong with what was sent?"""
    return isinstance(exc, OperationalError | InterfaceError | OSError | sqlite3.Error) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def as_line(body: bytes) -> tuple[bytes, set[str]]:
    """A delivery as one JSON line for the adapter, and the page ids its entries name (an entry whose id is no
    page id counts as the id ``?``).

    A body that is not JSON is kept as one line anyway (line breaks made spaces): the adapter quarantines it with
    its text, so a signed delivery we cannot read is never lost.
    """
    line = body.strip()
    try:
        document = parse_json(line)
    except ValueError:
        return line.replace(b"\r", b" ").replace(b"\n", b" "), set()
    if b"\n" in line or b"\r" in line:  # pretty-printed: one line again (most deliveries are one already)
        line = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    pages = set()
    entries = document.get("entry") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        page = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(page, str | int) and not isinstance(page, bool) and _PAGE_ID.fullmatch(str(page)):
            pages.add(str(page))
        elif isinstance(entry, dict):
            pages.add("?")  # not a page id: never matched, and not to be repeated in a log
    return line, pages


class Worker(threading.Thread):
    """Processes stored deliveries until stopped; ``beat`` tells ``/healthz`` it is alive."""

    def __init__(self, spool: Spool, service: RegisterService, plugins: Plugins, metrics: Metrics, *,
                 batch: int = 500) -> None:
        super().__init__(name="smcase-worker", daemon=True)
        self.spool = spool
        self.service = service
        self.plugins = plugins
        self.metrics = metrics
        self.batch = batch
        self.stopping = threading.Event()
        self.beat = time.monotonic()
        self.failures = 0

    def stop(self, timeout: float = 30) -> None:
        """Finish the pass under way, then stop."""
        self.stopping.set()
        self.spool.arrived.set()
        self.join(timeout)

    def run(self) -> None:
        """Process until stopped.

        A pass that fails is retried with a growing pause. After a failed pass the deliveries are taken one at a
        time, so that one delivery the register refuses (a poison delivery) cannot hold up the others: when the
        same single delivery fails twice for a reason that is not the register being unreachable, it is kept in
        the register's quarantine with the reason (``inbox list --quarantined``) instead of blocking the queue.
        """
        single = False
        tries: dict[int, int] = {}
        while not self.stopping.is_set():
            self.beat = time.monotonic()
            self.spool.arrived.clear()
            deliveries: list[Delivery] = []
            try:
                deliveries = self.spool.pending(1 if single else self.batch)
                if deliveries:
                    self.process(deliveries)
                    self.failures, single = 0, False
                    tries.clear()
                    continue
            except Exception as exc:  # the pass is retried: nothing was marked processed
                self.failures += 1
                self.metrics.worker_errors.inc()
                if len(deliveries) == 1 and not _unreachable(exc):
                    tries[deliveries[0].id] = tries.get(deliveries[0].id, 0) + 1
                    if tries[deliveries[0].id] >= 2 and self._quarantine(deliveries[0], exc):
                        self.failures, single = 0, False  # the queue moves again: no pause for the next one
                        continue
                single = True
                pause = min(60.0, 0.5 * 2 ** self.failures)
                log.error("processing deliveries failed (%s); retrying in %.0f s", failure_words(exc), pause)
                self.stopping.wait(pause)
                continue
            self.spool.arrived.wait(1.0)

    def _quarantine(self, delivery: Delivery, exc: Exception) -> bool:
        """Keep a delivery the register refuses in its quarantine, whole, with the reason; True when it was."""
        position = f"delivery #{delivery.id}"
        reason = f"the register refused this delivery ({failure_words(exc)}); fix and retry it with 'smcase inbox " \
                 "retry'"
        item = Unparsable(position, delivery.body.decode("utf-8", "replace"), reason)
        try:
            Ingest(self.service, self.plugins).process([(position, item)], ADAPTER,
                                                       ParseContext(source_name=f"facebook webhook {position}"))
            self.spool.done([delivery.id], "quarantined")
        except Exception as again:  # the register cannot take it either: it stays in the spool, retried
            log.error("keeping %s in quarantine failed too (%s)", position, failure_words(again))
            return False
        log.error("%s kept in quarantine: %s", position, reason)
        return True

    def process(self, deliveries: list[Delivery]) -> Summary:
        """Ingest ``deliveries`` as one input, then mark them processed; the ingest summary."""
        lines, pages = [], set()
        for delivery in deliveries:
            line, named = as_line(delivery.body)
            lines.append(line)
            pages |= named
        first, last = deliveries[0].id, deliveries[-1].id
        source = f"facebook webhook deliveries #{first}" + (f"-#{last}" if last != first else "")
        summary = Ingest(self.service, self.plugins, batch_size=1000).run(
            io.BytesIO(b"\n".join(lines)), ADAPTER, ParseContext(source_name=source))
        self.spool.done([d.id for d in deliveries], "processed")
        self.metrics.processed.labels(PLATFORM).inc(len(deliveries))
        self.metrics.events_stored.inc(summary.stored)
        known = {c.platform_id for c in self.service.captures(PLATFORM)}
        unknown = pages - known
        if unknown:
            self.metrics.unmatched.inc(len(unknown))
            if "?" in unknown:
                log.warning("deliveries with an entry whose id is no page id: kept, see 'smcase inbox list "
                            "--unmatched' and '--quarantined'")
            if unknown - {"?"}:
                # Masked all the same: a page id is digits, and so is an identity number someone could send as one.
                pages_named = scrub(", ".join(f"page {p}" for p in sorted(unknown - {"?"})[:5]))
                log.warning("deliveries for %s no channel captures: stored, see them with 'smcase inbox list "
                            "--unmatched'; configure the channel with 'smcase channel change CHANNEL --platform-id "
                            "ID'", pages_named)
        self.service.note_deliveries(PLATFORM, pages & known)
        return summary
