"""What every package validator shares: per-rule results, checksums, streaming schema checks, an ID store.

The Noark 5 and the FGS validators report the same way (a rule ID, what it
checks, the errors with file and line or element path) and keep memory flat the
same way: XML is read with ``iterparse`` and finished subtrees are dropped; IDs
that must be unique are kept as 16-byte keys on disk.
"""

from __future__ import annotations

import hashlib
import operator
import os
import re
import shutil
import sqlite3
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from .. import xmlsafe
from ..errors import ConfigError, InvalidInput

_MAX_ERRORS = 100  # per rule, as Arkade groups them
_FIRST = operator.itemgetter(0)


@dataclass
class RuleResult:
    """One rule: its ID, what it checks, and the errors found (empty: OK)."""

    id: str
    name: str
    errors: list[str] = field(default_factory=list)
    more: int = 0
    warnings: list[str] = field(default_factory=list)  # findings that do not fail the rule

    @property
    def ok(self) -> bool:
        """True when the rule found no error (warnings do not count)."""
        return not self.errors

    def warn(self, message: str) -> None:
        """Record a warning (the first hundred are kept)."""
        if len(self.warnings) < _MAX_ERRORS:
            self.warnings.append(message)

    def add(self, message: str) -> None:
        """Record an error (the first hundred are kept, the rest counted)."""
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(message)
        else:
            self.more += 1

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"id": self.id, "name": self.name, "ok": self.ok, "errors": self.errors, "more": self.more,
                "warnings": self.warnings}


@dataclass
class Report:
    """The result of validating one package."""

    path: Path
    kind: str
    rules: list[RuleResult]

    @property
    def ok(self) -> bool:
        """True when every rule passed."""
        return all(rule.ok for rule in self.rules)

    def failed(self) -> list[str]:
        """IDs of the rules that found errors."""
        return [rule.id for rule in self.rules if not rule.ok]

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase validate --json``)."""
        return {"path": str(self.path), "kind": self.kind, "ok": self.ok, "rules": [r.to_json() for r in self.rules]}


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in chunks into one buffer (a fresh megabyte a read is mapped and unmapped
    each time: a gigabyte file paid for it in page faults)."""
    digest = hashlib.sha256()
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as stream:
        while size := stream.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest()


class HashingReader:
    """A file read through ``read`` (as lxml's parser reads a file object) whose SHA-256 is computed on the way,
    so a file that is parsed anyway is not read a second time for its checksum."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream = path.open("rb")
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        """Read and hash up to ``size`` bytes."""
        data = self.stream.read(size)
        self.digest.update(data)
        return data

    def sha256(self) -> str:
        """The hex SHA-256 of the whole file: whatever the parser left unread is read now."""
        while self.read(1 << 20):
            pass
        return self.digest.hexdigest()

    def __enter__(self) -> HashingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stream.close()


def local_name(tag: Any) -> str:
    """The tag without its namespace (empty for comments and processing instructions)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def uuid_key(value: str) -> bytes:
    """16 bytes for an ID: the UUID itself (any case, with or without hyphens), or a hash of any other string."""
    try:
        key = bytes.fromhex(value.replace("-", ""))  # a tenth of uuid.UUID's cost, on millions of IDs
    except ValueError:
        key = b""
    return key if len(key) == 16 else hashlib.blake2b(value.encode(), digest_size=16).digest()


class RepeatFinder:
    """IDs met more than once in one pass, in flat memory: a one-hash Bloom filter of the keys seen, each key on
    disk.

    ``IdStore`` can be asked about any ID later, at a B-tree insert per ID (3.7 s for
    a million-record ERMS file); a pass that only needs the repeats pays one bit test.
    An ID whose bit is set already is a suspect, noted with where it was; with 32 MB of
    bits about one ID in 200 is a false alarm at a million IDs (a second bit would
    cost more Python per ID than judging the alarms). The suspects are judged exactly
    (``flush``): one read of the keys on disk finds each suspect key's first
    occurrence, and only an earlier one makes it a repeat.
    """

    BITS = 28  # 2**28 bits
    SUSPECTS = 10_000  # judged in a batch of this many, so a file of repeats keeps memory flat too

    def __init__(self) -> None:
        self.bits = bytearray(1 << (self.BITS - 3))
        self.keys = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close(), as IdStore closes its database
        self.buffer = bytearray(1 << 16)  # keys not yet written, the first self.fill bytes: filled in place
        self.fill = 0
        self.count = 0  # keys seen
        self.suspects: list[tuple[int, bytes, str, object]] = []  # (index, key, value, where)
        self.duplicates: list[tuple[str, object]] = []  # (value, where) of each repeat, the first hundred

    def add(self, values: Sequence[str | None], where: Callable[[int], object]) -> None:
        """Record IDs in their order (empty ones are skipped); ``where(n)``, where ``values[n]`` was, is called
        and kept only for an ID that may be a repeat. A batch a call: the loop is the hot path of a large file."""
        mask, bits, buffer, suspects = (1 << self.BITS) - 1, self.bits, self.buffer, self.suspects
        count, fill, open_slots = self.count, self.fill, len(self.duplicates) < _MAX_ERRORS
        fromhex = bytes.fromhex
        for n, value in enumerate(values):
            if not value:
                continue
            try:  # uuid_key's common case, inline
                key = fromhex(value.replace("-", ""))
            except ValueError:
                key = b""
            if len(key) != 16:
                key = uuid_key(value)
            h = hash(key) & mask  # SipHash: well spread whatever the IDs look like (time-based UUIDs share bytes)
            byte, bit = h >> 3, 1 << (h & 7)
            seen = bits[byte]
            if seen & bit and open_slots:
                suspects.append((count, key, value, where(n)))
            bits[byte] = seen | bit
            buffer[fill:fill + 16] = key  # every key is 16 bytes
            fill += 16
            if fill == len(buffer):
                self.keys.write(buffer)
                fill = 0
            count += 1
        self.count, self.fill = count, fill
        if len(suspects) >= self.SUSPECTS:
            self.flush()

    def flush(self) -> None:
        """Judge the suspects: those whose key occurs earlier are repeats (``duplicates``, in document order)."""
        if not self.suspects:
            return
        self.keys.write(memoryview(self.buffer)[:self.fill])
        self.fill = 0
        wanted = {key for _index, key, _value, _where in self.suspects}
        first: dict[bytes, int] = {}
        self.keys.seek(0)
        base = 0
        while chunk := self.keys.read(1 << 20):  # a multiple of 16: every key is whole
            keys = tuple(map(_FIRST, struct.iter_unpack("16s", chunk)))  # split in C
            if not wanted.isdisjoint(keys):
                for offset, key in enumerate(keys):
                    if key in wanted and key not in first:
                        first[key] = base + offset
            base += len(keys)
        self.keys.seek(0, os.SEEK_END)
        for index, key, value, where in self.suspects:
            if first.get(key, index) < index and len(self.duplicates) < _MAX_ERRORS:
                self.duplicates.append((value, where))
        self.suspects.clear()

    def close(self) -> None:
        """Drop the keys."""
        self.keys.close()


class IdStore:
    """System IDs seen so far, kept on disk (16 bytes each in a temporary SQLite table), checked in batches.

    A million-post extraction has a few million IDs; held as Python objects they
    would cost hundreds of megabytes. Only the current batch is in memory. A batch
    goes to disk in one statement; only when that finds an ID stored already (a
    duplicate, which Arkade reports) is the batch undone and checked ID by ID.
    """

    BATCH = 20_000

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="smcase-ids-"))
        self.db = sqlite3.connect(str(self.folder / "ids.db"), isolation_level=None)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -32768")  # 32 MB of pages: the B-tree's upper levels stay in memory
        self.db.execute("CREATE TABLE ids (id BLOB PRIMARY KEY) WITHOUT ROWID")
        self.pending: dict[bytes, tuple[str, object]] = {}  # key: (value, where)
        self.duplicates: list[tuple[str, object]] = []  # (value, where), the first hundred

    def add(self, value: str, where: object) -> None:
        """Record a systemID; a duplicate is remembered with where it was found (``where``'s text, made only
        then: a line number is enough to keep)."""
        key = uuid_key(value)
        if key in self.pending:
            self._duplicate(value, where)
        else:
            self.pending[key] = (value, where)
            if len(self.pending) >= self.BATCH:
                self.flush()

    def _duplicate(self, value: str, where: object) -> None:
        if len(self.duplicates) < _MAX_ERRORS:
            self.duplicates.append((value, where))

    def flush(self) -> None:
        """Move the pending IDs to disk, noting those already there."""
        if not self.pending:
            return
        self.db.execute("BEGIN")
        before = self.db.total_changes
        self.db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((k,) for k in self.pending))
        if self.db.total_changes - before == len(self.pending):
            self.db.execute("COMMIT")
        else:  # some were there already: find which, then store the rest
            self.db.execute("ROLLBACK")
            for seen in self.present(list(self.pending)):
                self._duplicate(*self.pending.pop(seen))
            self.db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((k,) for k in self.pending))
        self.pending.clear()

    def present(self, keys: list[bytes]) -> set[bytes]:
        """Which of ``keys`` are stored."""
        found: set[bytes] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(row[0] for row in self.db.execute(f"SELECT id FROM ids WHERE id IN ({marks})", chunk))
        return found

    def reset(self) -> None:
        """Forget every ID (a pass over the document starts again)."""
        self.db.execute("DELETE FROM ids")
        self.pending.clear()
        self.duplicates.clear()

    def close(self) -> None:
        """Drop the temporary store."""
        self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def package_path(base: str, href: str) -> str | None:
    """The package path of ``href`` relative to the folder ``base`` ('' for the package's root), as
    PurePosixPath would spell it; None when it is absolute or leaves the package. Plain string work: it runs for
    every file a METS document lists."""
    if not href or href.startswith("/") or _SCHEME.match(href):
        return None
    parts = base.split("/") if base else []
    for part in href.split("/"):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/".join(parts) if parts else None


_SCHEME = re.compile(r"^[a-zA-Z][\w+.-]*:")


#: The most an archive may unpack to (bytes), and the largest compression ratio a member may have.
UNPACK_LIMIT = 256 << 30  # bytes an archive may unpack to, unless SMCASE_UNPACK_LIMIT says otherwise


def unpack_limit() -> int:
    """``SMCASE_UNPACK_LIMIT`` (bytes), read when an archive is opened: a bad value is a one-line error."""
    configured = os.environ.get("SMCASE_UNPACK_LIMIT", "").strip()
    if not configured:
        return UNPACK_LIMIT
    if not configured.isdigit() or int(configured) < 1:
        raise ConfigError(f"SMCASE_UNPACK_LIMIT must be a number of bytes (e.g. {UNPACK_LIMIT}), not {configured!r}")
    return int(configured)
BOMB_RATIO = 1000
ARCHIVE_BOMB_RATIO = 200  # the same for a whole archive (a compressed tar)


@contextmanager
def unpacked(path: Path, marker: str) -> Iterator[Path]:
    """The folder holding ``marker`` (arkivuttrekk.xml, METS.xml): ``path`` itself, or inside a tar or zip.

    An archive is checked member by member before anything is written (``check_members``),
    unpacked into a temporary folder readable by the owner only, and removed afterwards;
    the shallowest folder holding the marker is the package.
    """
    path = Path(path)
    if path.is_dir():
        sweep(path)
        yield path
        return
    is_tar = path.is_file() and tarfile.is_tarfile(path)
    if not (is_tar or (path.is_file() and zipfile.is_zipfile(path))):
        raise InvalidInput(f"{path} is neither a folder nor a tar or zip file")
    work = Path(tempfile.mkdtemp(prefix="smcase-validate-"))
    try:
        try:
            if is_tar:
                with tarfile.open(path) as archive:
                    check_members(path, work, [(m.name, _tar_kind(m), m.size, m.size) for m in archive])
                    archive.extractall(work, filter="data")
            else:
                with zipfile.ZipFile(path) as archive:
                    check_members(path, work, [(i.filename, _zip_kind(i), i.file_size, i.compress_size)
                                               for i in archive.infolist()])
                    archive.extractall(work)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise InvalidInput(f"{path.name}: refused: the archive is damaged ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
        found = sorted((p.parent for p in work.rglob(marker)), key=lambda p: (len(p.parts), str(p)))
        if not found:
            raise InvalidInput(f"{path} holds no {marker}")
        sweep(found[0])
        yield found[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.isdev() or member.isfifo():
        return "a device or pipe"
    return "file" if member.isfile() else "folder" if member.isdir() else "an unknown kind of member"


def _zip_kind(info: zipfile.ZipInfo) -> str:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
        return "a device or pipe"
    return "folder" if info.is_dir() else "file"


def check_members(archive: Path, work: Path, members: list[tuple[str, str, int, int]]) -> None:
    """Refuse an archive with a member that climbs out of its folder, is absolute, a link or a device, or that
    unpacks to more than ``UNPACK_LIMIT`` bytes (or the free disk), or whose compression ratio is a bomb's.

    ``members`` are (name, kind, unpacked size, packed size). One line, naming the archive and the member.
    """
    total = 0
    for name, kind, size, packed in members:
        shown = name.encode("unicode_escape").decode("ascii")[:200]
        parts = Path(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            raise InvalidInput(f"{archive.name}: refused: member '{shown}' has an absolute path")
        if ".." in parts:
            raise InvalidInput(f"{archive.name}: refused: member '{shown}' climbs out of the package ('..')")
        if kind not in ("file", "folder"):
            raise InvalidInput(f"{archive.name}: refused: member '{shown}' is {kind}")
        if size > (1 << 20) and packed and size / packed > BOMB_RATIO:
            raise InvalidInput(f"{archive.name}: refused: member '{shown}' unpacks {size / packed:.0f} times its "
                               "packed size (a compression bomb)")
        total += size
    # A compressed tar gives no packed size per member: the whole archive's ratio stands for them all. Deflate
    # cannot pass 1032:1, so the bound for a whole archive is lower; real packages of XML and documents compress
    # some 5 to 30 times.
    packed_file = archive.stat().st_size if archive.is_file() else 0
    if total > (1 << 20) and packed_file and total / packed_file > ARCHIVE_BOMB_RATIO:
        raise InvalidInput(f"{archive.name}: refused: it unpacks {total / packed_file:.0f} times its packed size "
                           "(a compression bomb)")
    room = shutil.disk_usage(work).free
    limit = unpack_limit()
    if total > min(limit, room):
        raise InvalidInput(f"{archive.name}: refused: it unpacks to {total:,} bytes, more than "
                           + (f"the limit of {limit:,} (SMCASE_UNPACK_LIMIT)" if room > limit else
                              f"the {room:,} bytes free on the disk"))


def sweep(folder: Path) -> None:
    """Refuse a package any of whose XML files declares entities or an external DTD, before anything is parsed."""
    for xml in sorted(folder.rglob("*.xml")):
        if xml.is_file():
            xmlsafe.check(xml, str(xml.relative_to(folder)))


def drop_behind(element: Any, units: frozenset[str] | None = None) -> None:
    """Free a finished element and its earlier siblings, so a streaming parse keeps nothing behind the cursor.

    With ``units`` (local names), only earlier siblings that are such units go: the
    parent's own fields stay until the parent ends and its rules have read them.
    """
    element.clear()
    previous = element.getprevious()
    while previous is not None and (units is None or local_name(previous.tag) in units):
        element.getparent().remove(previous)
        previous = element.getprevious()


def stream_validate(path: Path, schema: etree.XMLSchema, unit: str | None = None) -> str | None:
    """Validate ``path`` against ``schema`` in one streaming pass; None when valid, else the error and where.

    With ``unit`` (a Clark tag such as ``{ns}endring``), only those elements reach
    Python, each freed when it ends: the schema still sees every element, and the
    pass runs at the parser's speed. The streaming validator reports no line of its
    own, so the message names the line of the last element the parse had delivered
    (the error is at or after it; the message names the element and the value).
    """
    line = 0
    try:
        for _event, element in xmlsafe.iterparse(str(path), schema=schema, events=("end",), tag=unit,
                                               huge_tree=True):
            line = element.sourceline or line
            if element.getparent() is not None:
                drop_behind(element)
    except etree.XMLSyntaxError as exc:
        return xml_error(exc, line, path)
    return None


def xml_error(exc: etree.XMLSyntaxError, last_line: int, path: Path) -> str:
    """Where and what went wrong parsing ``path`` with a schema attached.

    lxml's validating reader passes neither line nor a useful message for a file
    that is not well-formed, so on that (rare) path the file is read once more
    without the schema to find its syntax error. A schema error is then placed
    after the line of the last element read.
    """
    message = re.sub(r" \((?:[^()]*, )?line \d+\)$", "", str(exc))  # lxml's "(source, line N)" or "(line N)"
    if exc.lineno:  # a syntax error; with a schema attached lxml words it "line N: b'...'"
        message = re.sub(r"^line \d+: ", "", message)
        message = re.sub(r"^b(['\"])(.*)\1$", r"\2", message)
        return f"not well-formed, line {exc.lineno}: {message}"
    try:
        for _event, element in xmlsafe.iterparse(str(path), events=("end",), huge_tree=True, no_network=True,
                                               resolve_entities=False):
            if element.getparent() is not None:
                drop_behind(element)
    except etree.XMLSyntaxError as syntax:
        return f"not well-formed, line {syntax.lineno}: " + re.sub(r" \([^()]*, line \d+\)$", "", str(syntax))
    return f"after line {last_line}: {message}"
