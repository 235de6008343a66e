"""What the archive exporters share: closed-case periods, archival file formats, hashing writers, atomic output.

Both exports (Noark 5 for Norway, FGS for Sweden) take closed cases only, select
them by closing day in the register's time zone, stream rows in batches, write
into a temporary folder beside the target and move it into place only once it
validates. Those steps live here once.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import tempfile
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from itertools import compress
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import func, select

from ..errors import InvalidInput
from ..model import Case, Correspondent, Document, Record, table_of
from ..register import RegisterService
from ..validate.common import sha256_file

#: Formats the archives accept as archival (Noark: riksarkivarens forskrift § 5-17; FGS: the same family), by extension.
ARCHIVAL = {"txt", "xml", "pdf", "png", "jpg", "jpeg", "tif", "tiff"}
#: UTF-8 text kept under another extension (a plan in TOML, a report in JSON) goes in as text.
TEXT_AS_TXT = {"toml", "json", "csv", "md", "html", "htm", "log", "text"}
#: A case's records, each with its correspondents and documents (rows).
Bundle = list[tuple[Any, list[Any], list[Any]]]
#: MIME types of the archival formats, for METS.
MEDIA_TYPES = {"txt": "text/plain", "xml": "application/xml", "pdf": "application/pdf", "png": "image/png",
               "jpg": "image/jpeg", "jpeg": "image/jpeg", "tif": "image/tiff", "tiff": "image/tiff",
               "xsd": "application/xml", "sch": "application/xml"}


@dataclass
class Counts:
    """What went into an export, and the open cases left out (each export adds its own counts)."""

    cases: int = 0
    records: int = 0
    documents: int = 0
    disposal_decisions: int = 0
    open_cases: int = 0
    guard_caught: int = 0  # identity numbers the final guard masked in what the export marks public (0 normally)

    def to_json(self) -> dict[str, Any]:
        """JSON form (``--json`` summaries, the audit entry of the export)."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items()}


class HashingFile:
    """A binary file that computes its SHA-256 and size while it is written, so nothing is read back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        """Write and hash ``data``."""
        self.digest.update(data)
        self.size += len(data)
        return self.stream.write(data)

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of what was written."""
        return self.digest.hexdigest()

    def __enter__(self) -> HashingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


#: A unit's shape for ``Prototype``: its tag, then its children, each a leaf's name or a (name, children) pair.
Shape = tuple[str, tuple[Any, ...]]


class Prototype:
    """A unit's subtree, built once and copied for every row: lxml copies a tree in C, several times faster
    than building it element by element, which is where an export of a million posts spends its time.

    ``fill`` takes one value per leaf of ``shape``, in document order; a leaf whose value is None,
    empty or only whitespace is left out (Noark krav 6.4.5: no empty elements). Variable parts (parties,
    documents, screening) are inserted by the caller before a *required* leaf (one that is never left
    out), found with ``index``.
    """

    def __init__(self, ns: str, shape: Shape, attrib: dict[str, str] | None = None,
                 nsmap: dict[str | None, str] | None = None) -> None:
        def build(parent: Any, children: tuple[Any, ...]) -> None:
            for child in children:
                if isinstance(child, str):
                    self.names.append(child)
                    etree.SubElement(parent, f"{{{ns}}}{child}")
                else:
                    build(etree.SubElement(parent, f"{{{ns}}}{child[0]}"), child[1])

        self.names: list[str] = []
        self.root = etree.Element(f"{{{ns}}}{shape[0]}", attrib or {}, nsmap=nsmap or {None: ns})
        build(self.root, shape[1])
        self.mask = [len(element) == 0 for element in self.root.iter()]  # which elements are the leaves
        self.mask[0] = False

    def index(self, name: str) -> int:
        """The position of the first leaf called ``name`` in ``fill``'s values and in the leaves it returns."""
        return self.names.index(name)

    def fill(self, values: tuple[str | None, ...] | list[str | None]) -> tuple[Any, list[Any]]:
        """A copy with ``values`` as the leaves' text (empty ones left out), and its leaves in document order."""
        unit = self.root.__copy__()  # lxml copies the whole subtree (copy.deepcopy only adds a memo)
        leaves = list(compress(unit.iter(), self.mask))
        for leaf, value in zip(leaves, values, strict=True):
            if value and not value.isspace():
                leaf.text = value
            else:
                leaf.getparent().remove(leaf)
        return unit, leaves


def archival_extension(fmt: str, original_name: str, record_uuid: Any) -> str:
    """The extension a registered file goes into the archive with; InvalidInput when it is no archival format."""
    extension = fmt.lower()
    if extension in TEXT_AS_TXT:
        extension = "txt"
    if extension not in ARCHIVAL:
        raise InvalidInput(f"document {original_name!r} of record {record_uuid} is {fmt}, not an archival format "
                           f"({', '.join(sorted(ARCHIVAL))}): convert it before the extraction")
    return extension


def closed_period(service: RegisterService, start: date | None, end: date | None,
                  include_open: bool = False) -> tuple[date, date]:
    """The closing days to export: the ones given, else from the first to the last case closed.

    With ``include_open`` (open cases go in as they stand), a register without a
    closed case exports from its first case's opening day to today.
    """
    with service.reading() as conn:
        earliest, latest = conn.execute(select(func.min(Case.closed_at), func.max(Case.closed_at))
                                        .where(Case.status == "closed")).one()
        if (earliest is None or latest is None) and include_open:
            earliest = conn.execute(select(func.min(Case.created_at))).scalar_one()
            latest = service.clock()
    if earliest is None or latest is None:
        raise InvalidInput("nothing to extract: the register has no closed case (only closed cases go in)")
    first = start or earliest.astimezone(service.tz).date()
    last = end or latest.astimezone(service.tz).date()
    if last < first:
        raise InvalidInput(f"the period ends ({last}) before it starts ({first})")
    return first, last


def day_bounds(tz: tzinfo, start: date, end: date) -> tuple[datetime, datetime]:
    """The instants from the start of ``start`` to the start of the day after ``end``, in ``tz``."""
    return (datetime.combine(start, time(), tz), datetime.combine(date.fromordinal(end.toordinal() + 1), time(), tz))


def plain_rows(result: Any) -> Callable[[Any], Any]:
    """A converter from ``result``'s rows to named tuples with the same fields.

    An attribute of SQLAlchemy's Row costs a failed lookup before the column is
    found; an export reads some thirty per record, so each row is converted once
    and read as a tuple (a tenth of the cost, and the same attribute names).
    """
    row: Any = namedtuple("Row", list(result.keys()))  # type: ignore[misc]  # the fields are the query's columns
    make: Callable[[Any], Any] = row._make
    return make


def children(conn: Any, model: Any, key: Any, ids: list[int], order: Any) -> dict[int, list[Any]]:
    """Rows of ``model``'s table for the records ``ids``, grouped by record, in ``order`` (one query per batch).

    Plain rows, not ORM objects: the exporters only read columns, and building
    entities would cost a third of the export's time.
    """
    found: dict[int, list[Any]] = {}
    if ids:
        result = conn.execute(select(*table_of(model).c).where(key.in_(ids)).order_by(key, order))
        plain = plain_rows(result)
        for row in result:
            row = plain(row)
            found.setdefault(row.record_id, []).append(row)
    return found


def case_bundles(conn: Any, cases: Any, record_columns: Any, batch: int) -> Iterator[tuple[Any, Bundle]]:
    """Each case the ``cases`` query selects (in its order), with its records, their parties and documents.

    Cases stream in batches of ``batch``; per batch one query each fetches the
    records, parties and documents. Rows, not ORM entities (see ``children``).
    """
    result = conn.execute(cases.execution_options(yield_per=batch))
    plain_case = plain_rows(result)
    for partition in result.partitions():
        partition = list(map(plain_case, partition))
        records: dict[int, list[Any]] = {}
        found = conn.execute(select(*record_columns).where(Record.case_id.in_([c.id for c in partition])).order_by(
            Record.case_id, Record.number))
        plain_record = plain_rows(found)
        for row in found:
            row = plain_record(row)
            records.setdefault(row.case_id, []).append(row)
        ids = [r.id for rows in records.values() for r in rows]
        parties = children(conn, Correspondent, Correspondent.record_id, ids, Correspondent.id)
        documents = children(conn, Document, Document.record_id, ids, Document.number)
        for case in partition:
            yield case, [(r, parties.get(r.id, []), documents.get(r.id, [])) for r in records.get(case.id, [])]


def records_with_cases(conn: Any, records: Any, batch: int) -> Iterator[tuple[Any, Any, list[Any]]]:
    """Each record the ``records`` query selects (in its order), with its case and its correspondents (rows).

    The journals' pass: records stream in batches; per batch one query each fetches
    their cases and their correspondents.
    """
    result = conn.execute(records.execution_options(yield_per=batch))
    plain_record = plain_rows(result)
    for partition in result.partitions():
        partition = list(map(plain_record, partition))
        found = conn.execute(select(*table_of(Case).c).where(Case.id.in_({r.case_id for r in partition})))
        plain_case = plain_rows(found)
        cases = {c.id: c for c in map(plain_case, found)}
        parties = children(conn, Correspondent, Correspondent.record_id, [r.id for r in partition], Correspondent.id)
        for record in partition:
            yield record, cases[record.case_id], parties.get(record.id, [])


def check_target(out: Path) -> None:
    """The target must be new and its folder must exist: an export never overwrites anything."""
    if out.exists():
        raise InvalidInput(f"{out} exists already: give a new name for the export")
    if not out.parent.is_dir():
        raise InvalidInput(f"the folder {out.parent} does not exist")


#: The lock file beside an export's working folder (``<folder>.pid``): the pid of the process that works in it.
LOCK_SUFFIX = ".pid"


def publish(work: Path, out: Path, pack: Callable[[Path, Path], None] | None = None) -> str | None:
    """Put a finished, validated export in place: the folder moved to ``out``, or with ``pack`` an archive of it.

    The archive is written under a temporary name beside ``out`` (carrying this
    process's pid, so a leftover can be told from a live one) and renamed when
    complete (a failure leaves nothing); its SHA-256 is returned for the depot.
    """
    if pack is None:
        os.replace(work, out)
        return None
    partial = out.with_name(f".{out.name}.partial-pid{os.getpid()}")
    try:
        pack(work, partial)
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return sha256_file(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove working folders and partial archives that an export killed outright (kill -9) left in ``folder``.

    Only what no live process holds goes: a working folder names its process in
    its lock file, a partial archive in its name. A folder without a lock file
    (it was killed between creating the folder and writing the lock) goes once it
    is a minute old.
    """
    removed = []
    for path in folder.glob(".*.partial-*"):
        if path.is_dir():
            lock = path.with_name(path.name + LOCK_SUFFIX)
            try:
                pid: int | None = int(lock.read_text(encoding="ascii").strip())
            except (OSError, ValueError):
                pid = None
            stale = (not _alive(pid)) if pid is not None else datetime.now().timestamp() - path.stat().st_mtime > 60
            if stale and pid != os.getpid():
                shutil.rmtree(path, ignore_errors=True)
                lock.unlink(missing_ok=True)
                removed.append(path)
        elif path.name.endswith(LOCK_SUFFIX) and not path.with_name(path.name[:-len(LOCK_SUFFIX)]).exists():
            path.unlink(missing_ok=True)  # a lock whose folder is gone
        elif (found := re.search(r"\.partial-pid(\d+)$", path.name)) and not _alive(int(found[1])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def work_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` (same file system, so the final move is atomic), removed afterwards.

    It is readable by its owner only (it holds the register's confidential
    content), locked with this process's pid (``<folder>.pid`` beside it), and removed on any exception,
    Ctrl-C and SIGTERM (turned into an exit while the export runs). What an
    earlier export killed with SIGKILL left behind is removed first.
    """
    remove_leftovers(out.parent)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))  # mode 0700
    lock = work.with_name(work.name + LOCK_SUFFIX)
    lock.write_text(str(os.getpid()), encoding="ascii")
    previous = _exit_on_sigterm()
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        lock.unlink(missing_ok=True)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm() -> Any:
    """Make SIGTERM raise SystemExit (so ``finally`` blocks clean up); the previous handler, or None."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, stop)
