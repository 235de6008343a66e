"""The file store against the register: every registered document's file is there, with the content registered.

The audit chain attests the document rows (their SHA-256 among them), not the files: a file overwritten or
deleted in the store would otherwise go unnoticed until an export. ``smcase audit verify --files`` re-hashes
each distinct file once, streaming, in flat memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from .db import read_only
from .model import Case, Document, Record
from .progress import Progress
from .store import FileStore


@dataclass(frozen=True)
class FileProblem:
    """A registered document whose file is missing or changed: where it is registered, and what is wrong."""

    record: str  # the record's number, e.g. KS 2026/0001-2
    document: int
    reason: str

    def __str__(self) -> str:
        return f"record {self.record}, document {self.document}: {self.reason}"


def problem(store: FileStore, sha256: str) -> str | None:
    """Why the file kept for ``sha256`` is not the one registered; None when it is."""
    path = store.path(sha256)
    if not path.is_file():
        return "its file is missing from the file store"
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return None if digest.hexdigest() == sha256 else "its file's content has changed (the SHA-256 differs)"


def verify_files(engine: Engine, store: FileStore, record_number: Callable[[str, int], str],
                 progress: Progress | None = None) -> tuple[int, list[FileProblem]]:
    """(distinct files checked, problems): each file once, each problem for every document that registers it.

    ``record_number(diary_number, running_number)`` spells a record's number as the register does.
    """
    checked = 0
    problems: list[FileProblem] = []
    verdicts: dict[str, str | None] = {}
    for sha256, diary_number, running, number in _documents(engine):
        if sha256 not in verdicts:
            verdicts[sha256] = problem(store, sha256)
            checked += 1
            if progress and checked % 1000 == 0:
                progress("checking files", checked, None)
        reason = verdicts[sha256]
        if reason is not None:
            problems.append(FileProblem(record_number(diary_number, running), number, reason))
    if progress:
        progress("checking files", checked, None)
    return checked, problems


def _documents(engine: Engine) -> Iterator[tuple[str, str, int, int]]:
    query = (select(Document.sha256, Case.diary_number, Record.number, Document.number)
             .join(Record, Record.id == Document.record_id).join(Case, Case.id == Record.case_id)
             .order_by(Document.sha256, Case.id, Record.number, Document.number))
    with read_only(engine).connect() as conn:
        for row in conn.execute(query).yield_per(5000):
            yield row[0], row[1], row[2], row[3]
