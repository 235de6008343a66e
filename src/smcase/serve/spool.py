"""The delivery spool: what a platform sent us, committed before we acknowledge it.

Deliveries are kept in a SQLite file of their own (mode 0600, WAL journal,
``synchronous=FULL``: a commit is on disk when it returns), so that an
acknowledgement never waits behind processing or behind the register's own
writers, on SQLite and on PostgreSQL alike. One committer thread writes: it
takes every delivery waiting at that moment and commits them together (a group
commit), then answers each waiting request. Under load a commit serves many
requests; alone, a request waits for one commit.

A delivery is identified by the SHA-256 of its body: a platform's retry of the
same delivery is acknowledged again and stored once. Once processed, a
delivery's body is dropped (the register holds what it carried) and its digest
is kept for a while, so that a late retry is still recognised.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    received_at REAL NOT NULL,
    processed_at REAL,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (id) WHERE processed_at IS NULL;
CREATE INDEX IF NOT EXISTS deliveries_processed ON deliveries (processed_at) WHERE processed_at IS NOT NULL;
"""
#: The most deliveries one group commit takes.
GROUP_LIMIT = 1000
#: How long a processed delivery's digest is kept to recognise a platform's late retry (Facebook retries for hours).
KEEP_DIGESTS_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Delivery:
    """A stored delivery waiting to be processed."""

    id: int
    source: str
    body: bytes
    received_at: float


class SpoolError(Exception):
    """The spool cannot be opened or written (its message names the file, never a delivery's content)."""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")  # a processed body's bytes are overwritten, not left in free pages
    return conn


class Spool:
    """Deliveries in a SQLite file: ``submit`` from the web side, ``pending``/``done`` from the worker."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise SpoolError(f"no such folder for the delivery spool: {self.path.parent}")
        try:
            # Readable by the service alone: bodies wait here with whatever citizens wrote. SQLite gives its WAL
            # and shared-memory files the same mode as the database file.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            with _connect(self.path) as conn:
                conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open the delivery spool {self.path}: {exc}") from None
        self._queue: queue.SimpleQueue[tuple[str, str, bytes, Future[bool]] | None] = queue.SimpleQueue()
        self._committer: threading.Thread | None = None
        self._reader = _connect(self.path)
        self._reader_lock = threading.Lock()
        self.arrived = threading.Event()  # set after each commit that stored something: the worker wakes

    # -- the web side --------------------------------------------------------------

    def start(self) -> None:
        """Start the committer thread."""
        self._committer = threading.Thread(target=self._commit_loop, name="smcase-spool", daemon=True)
        self._committer.start()

    def submit(self, source: str, body: bytes) -> Future[bool]:
        """Store ``body`` durably; the future resolves after the commit: True if new, False if a retry of one kept.

        The future fails with SpoolError when the commit fails (then nothing was acknowledged).
        """
        future: Future[bool] = Future()
        if self._committer is None or not self._committer.is_alive():
            future.set_exception(SpoolError("the delivery spool is not running"))
            return future
        self._queue.put((source, hashlib.sha256(body).hexdigest(), body, future))
        return future

    def stop(self) -> None:
        """Commit what is queued, then stop the committer (nothing more is accepted)."""
        if self._committer is not None and self._committer.is_alive():
            self._queue.put(None)
            self._committer.join(timeout=30)

    def close(self) -> None:
        """Stop the committer and close the file (after the worker has stopped)."""
        self.stop()
        with self._reader_lock:
            self._reader.close()

    def _commit_loop(self) -> None:
        conn = _connect(self.path)
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                group = [first]
                stop = False
                while len(group) < GROUP_LIMIT:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    group.append(item)
                self._commit(conn, group)
                if stop:
                    return
        finally:
            conn.close()

    def _commit(self, conn: sqlite3.Connection, group: list[tuple[str, str, bytes, Future[bool]]]) -> None:
        now = time.time()
        try:
            conn.execute("BEGIN IMMEDIATE")
            new = []
            for source, digest, body, _future in group:
                cursor = conn.execute("INSERT OR IGNORE INTO deliveries (source, digest, body, received_at) "
                                      "VALUES (?, ?, ?, ?)", (source, digest, body, now))
                new.append(cursor.rowcount == 1)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = SpoolError(f"cannot store a delivery in {self.path}: {exc}")
            for *_rest, future in group:
                future.set_exception(error)
            return
        for (*_rest, future), stored in zip(group, new, strict=True):
            future.set_result(stored)
        if any(new):
            self.arrived.set()

    # -- the worker's side ---------------------------------------------------------

    def pending(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` stored deliveries not yet processed, oldest first."""
        with self._reader_lock:
            rows = self._reader.execute("SELECT id, source, body, received_at FROM deliveries "
                                        "WHERE processed_at IS NULL ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [Delivery(*row) for row in rows]

    def done(self, ids: Iterable[int], outcome: str) -> None:
        """Mark deliveries processed: their bodies are dropped (the register holds them now), digests kept."""
        now = time.time()
        with self._reader_lock:
            try:
                self._reader.execute("BEGIN IMMEDIATE")
                self._reader.executemany("UPDATE deliveries SET processed_at = ?, outcome = ?, body = X'' "
                                         "WHERE id = ?", [(now, outcome, i) for i in ids])
                self._reader.execute("DELETE FROM deliveries WHERE processed_at < ?", (now - KEEP_DIGESTS_SECONDS,))
                self._reader.execute("COMMIT")
                # The WAL still holds the bodies' old pages: fold it back and cut it (best effort, readers permitting).
                self._reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                if self._reader.in_transaction:
                    self._reader.execute("ROLLBACK")
                raise

    def backlog(self) -> tuple[int, float | None]:
        """How many deliveries wait to be processed, and when the oldest of them arrived (None: none waits)."""
        with self._reader_lock:
            count, oldest = self._reader.execute(
                "SELECT count(*), min(received_at) FROM deliveries WHERE processed_at IS NULL").fetchone()
        return int(count), oldest
