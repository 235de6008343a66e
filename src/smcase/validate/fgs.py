"""Validate a Swedish FGS 2.0 package (E-ARK CSIP/SIP 2.1 METS with CITS ERMS), or a bare ERMS file.

Rule families, each reported OK or with its errors (file and line):

* ``METS``: every METS document against METS 1.12 compiled together with the CSIP
  and SIP extension schemas (so ``csip:``/``sip:`` attribute values are checked too),
  offline through the standards' catalogue;
* ``CSIP``: the E-ARK CSIP 2.1 and SIP 2.1 requirements a program can check
  (identifiers, profile, content category and content information type, package
  type, agents, file attributes, the structMap's shape); each error names its
  requirement ID;
* ``FILES``: every file in the package is listed in a METS document, and every
  listed file is present with the listed size and SHA-256;
* ``ERMS``: the ERMS document against the schema of the version METS declares;
* ``ERMS-SCH``: the version's Schematron rules. Each is local to one element, so
  they run during the same streaming pass as the schema, on every case and record
  as it ends (lxml refuses the files' ``xslt2`` binding; the rules are XPath 1.0);
* ``ERMS-REQ``: requirements the schema leaves to the specification: a created date
  on every case and record (ERMS135, ERMS204; ERMS 3.0 only), a description where there is no
  title (ERMS139, ERMS211), unique system identifiers, appendix files present
  and listed in METS.

``erms.xml`` is read in one streaming pass (``erms.check_erms``); finished records are
freed and system identifiers kept outside Python objects, so memory stays flat at any size.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import sqlite3
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree

from .. import xmlsafe
from ..errors import InvalidInput
from ..fgs import CSIP, ERMS, METS, SIP_PROFILE, XLINK, ErmsVersion, erms_version
from ..standards import Standards
from . import mime
from .common import Report, RuleResult, package_path, sha256_file, unpacked, xml_error
from .erms import check_erms

RULES: tuple[tuple[str, str], ...] = (
    ("METS", "METS documents are valid against METS 1.12 with the CSIP and SIP extensions"),
    ("CSIP", "E-ARK CSIP 2.1 and SIP 2.1 requirements (identifiers, profile, agents, files, structMap)"),
    ("FILES", "every file is listed in METS; every listed file is present with its size and SHA-256"),
    ("ERMS", "the ERMS document is valid against the CITS ERMS schema of its version"),
    ("ERMS-SCH", "the CITS ERMS Schematron rules hold"),
    ("ERMS-REQ", "ERMS requirements beyond the schema: created dates, titles, unique IDs, appendix files"),
)
ERMS_RULES = ("ERMS", "ERMS-SCH", "ERMS-REQ")
CSIP_PROFILE = "https://earkcsip.dilcis.eu/profile/E-ARK-CSIP.xml"
M = f"{{{METS}}}"
E = f"{{{ERMS}}}"
HREF = f"{{{XLINK}}}href"


@dataclass
class _Mets:
    """A METS document as the checks need it: the tree without its file entries, and what those entries said."""

    root: Any
    files_in: dict[Any, int] = field(default_factory=dict)  # file entries per fileGrp (the element: lines may repeat)
    erms: list[str] = field(default_factory=list)  # listed data files whose root element is erms
    line: int = 0  # of the last file entry read: a schema error is placed after it


class FileList:
    """The files the METS documents list (package path, where listed, size, SHA-256), kept on disk.

    A package may list a million documents; a temporary SQLite table keeps memory
    flat. ``check`` then walks the package once: every file must be listed, and every
    listed file present with its size and checksum.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="smcase-files-"))
        self.db = sqlite3.connect(str(self.folder / "files.db"), isolation_level=None)
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("CREATE TABLE files (path TEXT PRIMARY KEY, listed_at TEXT, size TEXT, sha256 TEXT, "
                        "actual TEXT, seen INTEGER NOT NULL DEFAULT 0)")
        self.db.execute("BEGIN")  # one transaction for all: the list is thrown away, never committed

    def add(self, path: str, where: str, size: str | None, sha256: str | None, actual: str | None = None) -> bool:
        """Note a listed file (``actual``: its SHA-256 when it was read whole already); False when it was listed
        already."""
        return self.db.execute("INSERT OR IGNORE INTO files (path, listed_at, size, sha256, actual) "
                               "VALUES (?, ?, ?, ?, ?)", (path, where, size, sha256, actual)).rowcount == 1

    def mark(self) -> int:
        """A mark to ``undo`` what is added after it (rows only ever append: no journal to roll back with)."""
        return int(self.db.execute("SELECT coalesce(max(rowid), 0) FROM files").fetchone()[0])

    def undo(self, mark: int) -> None:
        """Forget the files added since ``mark``."""
        self.db.execute("DELETE FROM files WHERE rowid > ?", (mark,))

    def __contains__(self, path: object) -> bool:
        return self.db.execute("SELECT 1 FROM files WHERE path = ?", (str(path),)).fetchone() is not None

    def check(self, root: Path, r: dict[str, RuleResult]) -> None:
        """Compare the package's files with the list, both ways, with sizes and SHA-256."""
        for folder, _dirs, names in os.walk(root):
            prefix = os.path.relpath(folder, root).replace(os.sep, "/")
            prefix = "" if prefix == "." else f"{prefix}/"
            for start in range(0, len(names), 500):  # one query for many files: a folder may hold a million
                chunk = names[start:start + 500]
                paths = [prefix + file_name for file_name in chunk]
                rows = {row[0]: row[1:] for row in self.db.execute(
                    f"SELECT path, listed_at, size, sha256, actual FROM files WHERE path IN ({','.join('?' * len(paths))})",
                    paths)}
                self.db.executemany("UPDATE files SET seen = 1 WHERE path = ?", ((path,) for path in rows))
                for file_name, path in zip(chunk, paths, strict=True):
                    if path not in rows:
                        r["FILES"].add(f"{path} is in the package but no METS document lists it (CSIP66)")
                        continue
                    where, size, checksum, digest = rows[path]
                    full = os.path.join(folder, file_name)
                    length = os.stat(full).st_size
                    if size is not None and size != str(length):
                        r["FILES"].add(f"{path}: size {length}, METS says {size} ({where})")
                    if checksum is not None and (digest or sha256_file(Path(full))) != checksum.lower():
                        r["FILES"].add(f"{path}: the SHA-256 does not match METS ({where})")
        for path, where in self.db.execute("SELECT path, listed_at FROM files WHERE seen = 0 ORDER BY path"):
            r["FILES"].add(f"{path} is listed ({where}) but missing")

    def close(self) -> None:
        """Drop the temporary list."""
        self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class FgsValidator:
    """Checks FGS 2.0 packages and ERMS documents against the official schemas and rules."""

    def __init__(self, standards: Standards) -> None:
        self.standards = standards

    def validate(self, path: Path, version: ErmsVersion | None = None) -> Report:
        """Check the package (folder or zip) or, with ``version``, the bare ERMS file at ``path``."""
        path = Path(path)
        if path.is_file() and not zipfile.is_zipfile(path):
            if version is None:
                raise InvalidInput(f"{path} is a single file: say which ERMS version it claims with --erms-version")
            rules = {rule_id: RuleResult(rule_id, name) for rule_id, name in RULES if rule_id in ERMS_RULES}
            check_erms(self.standards, path, path.name, version, rules, files=None, root=None)
            return Report(path, f"erms-{version.name}", list(rules.values()))
        rules = {rule_id: RuleResult(rule_id, name) for rule_id, name in RULES}
        with unpacked(path, "METS.xml") as root:
            kind = self._package(root, rules)
        return Report(path, kind, list(rules.values()))

    # -- the package --------------------------------------------------------------------

    def _package(self, root: Path, r: dict[str, RuleResult]) -> str:
        files = FileList()
        try:
            return self._check_package(root, files, r)
        finally:
            files.close()

    def _check_package(self, root: Path, files: FileList, r: dict[str, RuleResult]) -> str:
        files.add("METS.xml", "", None, None)  # the package METS lists the others, not itself
        mets = self._mets(root, "METS.xml", files, r)
        if mets is None:
            r["FILES"].add("the package has no readable METS.xml at its root")
            return "fgs"
        self._csip(mets, "METS.xml", r, package=True)
        declared = mets.root.get(f"{{{CSIP}}}CONTENTINFORMATIONTYPE")
        erms_files: list[str] = []
        for pointer in mets.root.iter(f"{M}mptr"):
            href = pointer.get(HREF, "")
            where = package_path("", href)
            if where is None or not (root / where).is_file():
                r["CSIP"].add(f"METS.xml line {pointer.sourceline}: the representation METS {href!r} is missing (CSIP109)")
                continue
            rep = self._mets(root, where, files, r)
            if rep is None:
                continue
            self._csip(rep, where, r, package=False)
            rep_type = rep.root.get(f"{{{CSIP}}}CONTENTINFORMATIONTYPE")
            if declared and rep_type and rep_type != declared:
                r["CSIP"].add(f"{where}: content information type {rep_type} differs from the package's {declared}")
            erms_files += rep.erms
        files.check(root, r)
        version = None
        try:
            version = erms_version(declared) if declared else None
        except InvalidInput:
            r["CSIP"].add(f"METS.xml: content information type {declared!r} is not CITS ERMS "
                          "(citserms_v3_0 or citserms_v2_1)")
        if version is None:
            for rule_id in ERMS_RULES:
                r[rule_id].add("no ERMS version: METS declares no CITS ERMS content information type")
            return "fgs"
        if not erms_files:
            r["ERMS"].add("the package holds no ERMS document (an <erms> XML file listed in a representation METS)")
        for name in erms_files:
            check_erms(self.standards, root / name, name, version, r, files=files, root=root)
        return f"fgs-erms-{version.name}"

    def _mets(self, root: Path, where: str, files: FileList, r: dict[str, RuleResult]) -> _Mets | None:
        """Read one METS document in one streaming pass: the schema, and the content as it passes.

        File entries are checked and noted in ``files`` as they pass, then dropped, so
        a representation listing any number of documents is read in flat memory; what
        remains (header, file groups, structMap) is small. A document the schema stops
        is read again without it from the start, what the first pass noted undone, so
        the content is checked in full as before.
        """
        path, name = root / where, where
        if not path.is_file():
            return None
        marks = {rule_id: (len(rule.errors), rule.more, len(rule.warnings)) for rule_id, rule in r.items()}
        mark = files.mark()
        mets = _Mets(None)
        try:
            self._read_mets(mets, root, where, files, r, self.standards.mets_with_extensions())
            return mets
        except etree.XMLSyntaxError as exc:
            error = xml_error(exc, mets.line, path)
        files.undo(mark)
        for rule_id, (errors, more, warnings) in marks.items():
            rule = r[rule_id]
            del rule.errors[errors:], rule.warnings[warnings:]
            rule.more = more
        r["METS"].add(f"{name} {error}")
        mets = _Mets(None)
        try:
            self._read_mets(mets, root, where, files, r, None)
        except etree.XMLSyntaxError:
            return None  # not well-formed: the METS error says where
        return mets

    def _read_mets(self, mets: _Mets, root: Path, where: str, files: FileList, r: dict[str, RuleResult],
                   schema: Any) -> None:
        """Fill ``mets`` from the METS document at ``where``, read with ``schema`` (or none)."""
        options = {"schema": schema} if schema is not None else {"no_network": True, "resolve_entities": False}
        # Only file entries reach Python; the schema still sees every element.
        context = xmlsafe.iterparse(str(root / where), events=("end",), tag=f"{M}file", huge_tree=True, **options)
        for _event, element in context:
            mets.line = element.sourceline or mets.line
            self._file(element, where, posixpath.dirname(where), files, mets, r, root)
            element.getparent().remove(element)
        mets.root = context.root

    @staticmethod
    def _file(entry: Any, name: str, base: str, files: FileList, mets: _Mets, r: dict[str, RuleResult],
              root: Path) -> None:
        """One ``file`` entry: its CSIP attributes (CSIP67-79), and its place in the list of files."""
        def need(ok: Any, requirement: str, what: str, element: Any) -> None:
            if not ok:
                r["CSIP"].add(f"{name} line {element.sourceline}: {what} ({requirement})")

        group = entry.getparent()
        mets.files_in[group] = mets.files_in.get(group, 0) + 1
        for attribute, requirement in (("ID", "CSIP67"), ("MIMETYPE", "CSIP68"), ("SIZE", "CSIP69"),
                                       ("CREATED", "CSIP70"), ("CHECKSUM", "CSIP71"), ("CHECKSUMTYPE", "CSIP72")):
            need(entry.get(attribute), requirement, f"file/@{attribute} is missing", entry)
        kind = entry.get("CHECKSUMTYPE")
        if kind not in (None, "SHA-256"):
            r["FILES"].add(f"{name} line {entry.sourceline}: checksum type {kind} cannot be checked "
                           "(smcase checks SHA-256)")
        locations = list(entry.iterchildren(f"{M}FLocat"))
        need(len(locations) == 1, "CSIP76", "a file needs exactly one FLocat", entry)
        for location in locations:
            need(location.get("LOCTYPE") == "URL", "CSIP77", "FLocat/@LOCTYPE is not URL", location)
            need(location.get(f"{{{XLINK}}}type") == "simple", "CSIP78", "FLocat/@xlink:type is not simple", location)
            need(location.get(HREF), "CSIP79", "FLocat/@xlink:href is missing", location)
            href = location.get(HREF, "")
            path = package_path(base, href)
            if path is None:
                r["FILES"].add(f"{name} line {location.sourceline}: {href!r} is not a path inside the package")
                continue
            full = root / path
            head = _head(full)  # read once: the media type's check and, for a small file, its SHA-256
            whole = head is not None and len(head) < mime.SNIFF
            if not files.add(path, f"{name} line {location.sourceline}", entry.get("SIZE"),
                             entry.get("CHECKSUM") if kind == "SHA-256" else None,
                             hashlib.sha256(head).hexdigest() if whole and head is not None else None):
                r["FILES"].add(f"{name} line {location.sourceline}: {path} is listed twice")
            error, warning = mime.check(entry.get("MIMETYPE"), full, head)
            if error:
                r["CSIP"].add(f"{name} line {entry.sourceline}: {path}: {error} (CSIP68)")
            if warning:
                r["CSIP"].warn(f"{name} line {entry.sourceline}: {path}: {warning} (CSIP68)")
            if posixpath.splitext(path)[1] == ".xml" and _root_tag(full) == f"{E}erms":
                mets.erms.append(path)

    def _csip(self, document: _Mets, name: str, r: dict[str, RuleResult], package: bool) -> None:
        """The CSIP/SIP requirements of one METS document; each error names the requirement (files: see _file)."""
        def need(ok: Any, requirement: str, what: str, element: Any = None) -> None:
            if not ok:
                line = f" line {element.sourceline}" if element is not None else ""
                r["CSIP"].add(f"{name}{line}: {what} ({requirement})")

        mets = document.root
        need(mets.tag == f"{M}mets", "CSIP1", "the root element is not mets")
        need((mets.get("OBJID") or "").strip(), "CSIP1", "mets/@OBJID is missing", mets)
        category = mets.get("TYPE")
        need(category, "CSIP2", "mets/@TYPE (content category) is missing", mets)
        if category:
            terms = self._categories
            need(category in terms or category == "OTHER", "CSIP2",
                 f"mets/@TYPE {category!r} is not in the content category vocabulary", mets)
            need(category != "OTHER" or mets.get(f"{{{CSIP}}}OTHERTYPE"), "CSIP3",
                 "mets/@TYPE is OTHER but csip:OTHERTYPE is missing", mets)
        content_type = mets.get(f"{{{CSIP}}}CONTENTINFORMATIONTYPE")
        need(package or content_type, "CSIP4", "a representation METS must declare csip:CONTENTINFORMATIONTYPE", mets)
        profile = mets.get("PROFILE")
        need(profile == SIP_PROFILE or (not package and profile == CSIP_PROFILE), "SIP2",
             f"mets/@PROFILE is {profile!r}, not the E-ARK SIP profile {SIP_PROFILE}", mets)
        header = mets.find(f"{M}metsHdr")
        need(header is not None, "CSIP117", "mets/metsHdr is missing", mets)
        if header is not None:
            need(header.get("CREATEDATE"), "CSIP7", "metsHdr/@CREATEDATE is missing", header)
            need(header.get(f"{{{CSIP}}}OAISPACKAGETYPE") == "SIP", "SIP4",
                 "metsHdr/@csip:OAISPACKAGETYPE is not SIP", header)
            self._agents(header, package, need)
        file_sec = mets.find(f"{M}fileSec")
        groups = file_sec.findall(f"{M}fileGrp") if file_sec is not None else []
        if file_sec is not None:
            need(file_sec.get("ID"), "CSIP59", "fileSec/@ID is missing", file_sec)
        for group in groups:
            need(group.get("USE"), "CSIP64", "fileGrp/@USE is missing", group)
            need(group.get("ID"), "CSIP65", "fileGrp/@ID is missing", group)
            need(document.files_in.get(group), "CSIP66", "a fileGrp without files", group)
            need(not group.get("USE", "").startswith("Representations")
                 or group.get(f"{{{CSIP}}}CONTENTINFORMATIONTYPE"), "CSIP62",
                 "a Representations fileGrp must declare csip:CONTENTINFORMATIONTYPE", group)
        uses = {g.get("USE", ""): g for g in groups}
        if package:
            need("Schemas" in uses, "CSIP113", "no fileGrp with USE Schemas", file_sec)
            need(any(u.startswith("Representations") for u in uses), "CSIP114",
                 "no fileGrp with USE Representations/…", file_sec)
        maps = [s for s in mets.findall(f"{M}structMap") if s.get("LABEL") == "CSIP"]
        need(len(maps) == 1, "CSIP82", f"{len(maps)} structMaps labelled CSIP, not one", mets)
        for structure in maps:
            need(structure.get("TYPE") == "PHYSICAL", "CSIP81", "structMap/@TYPE is not PHYSICAL", structure)
            need(structure.get("ID"), "CSIP83", "structMap/@ID is missing", structure)
            tops = structure.findall(f"{M}div")
            need(len(tops) == 1, "CSIP84", "the CSIP structMap needs exactly one top division", structure)
            for top in tops[:1]:
                need(top.get("ID"), "CSIP85", "the top division has no ID", top)
                divisions = {d.get("LABEL", ""): d for d in top.findall(f"{M}div")}
                for division in divisions.values():
                    need(division.get("ID"), "CSIP106", f"division {division.get('LABEL')!r} has no ID", division)
                if package and "Schemas" in uses:
                    schemas = divisions.get("Schemas")
                    need(schemas is not None and any(f.get("FILEID") == uses["Schemas"].get("ID")
                                                     for f in schemas.findall(f"{M}fptr")),
                         "CSIP118", "the Schemas division does not point to the Schemas fileGrp", top)
                for use, group in uses.items():
                    if not (package and use.startswith("Representations")):
                        continue
                    division = divisions.get(use)
                    need(division is not None, "CSIP107", f"no division labelled {use}", top)
                    pointers = division.findall(f"{M}mptr") if division is not None else []
                    need(division is None or len(pointers) == 1, "CSIP109", f"division {use} needs one mptr", division)
                    for pointer in pointers:
                        need(pointer.get("LOCTYPE") == "URL", "CSIP112", "mptr/@LOCTYPE is not URL", pointer)
                        need(pointer.get(f"{{{XLINK}}}type") == "simple", "CSIP111", "mptr/@xlink:type is not simple",
                             pointer)
                        need(pointer.get(HREF), "CSIP110", "mptr/@xlink:href is missing", pointer)
                        need(pointer.get(f"{{{XLINK}}}title") == group.get("ID"), "CSIP108",
                             f"mptr/@xlink:title does not name the fileGrp of {use}", pointer)

    @staticmethod
    def _agents(header: Any, package: bool, need: Any) -> None:
        agents = header.findall(f"{M}agent")
        software = [a for a in agents if (a.get("ROLE"), a.get("TYPE"), a.get("OTHERTYPE")) ==
                    ("CREATOR", "OTHER", "SOFTWARE")]
        need(len(software) == 1, "CSIP10", "metsHdr needs one software agent (ROLE CREATOR, TYPE OTHER, "
                                           "OTHERTYPE SOFTWARE)", header)
        for agent in software:
            need((agent.findtext(f"{M}name") or "").strip(), "CSIP14", "the software agent has no name", agent)
            need(any(n.get(f"{{{CSIP}}}NOTETYPE") == "SOFTWARE VERSION" and (n.text or "").strip()
                     for n in agent.findall(f"{M}note")), "CSIP16",
                 "the software agent has no note typed SOFTWARE VERSION", agent)
        for agent in agents:
            role, kind = agent.get("ROLE"), agent.get("TYPE")
            if role == "ARCHIVIST" or (role, agent.get("OTHERROLE")) == ("OTHER", "SUBMITTER"):
                requirement = "SIP11" if role == "ARCHIVIST" else "SIP17"
                need(kind in ("ORGANIZATION", "INDIVIDUAL"), requirement,
                     f"the {role.lower()} agent's TYPE is {kind!r}", agent)
                need(all(n.get(f"{{{CSIP}}}NOTETYPE") == "IDENTIFICATIONCODE" for n in agent.findall(f"{M}note")),
                     "SIP14" if role == "ARCHIVIST" else "SIP20", "an agent note is not typed IDENTIFICATIONCODE",
                     agent)
            if role == "PRESERVATION":
                need(kind == "ORGANIZATION", "SIP28", "the preservation agent's TYPE is not ORGANIZATION", agent)
        if package:
            submitters = [a for a in agents if (a.get("ROLE"), a.get("OTHERROLE")) == ("OTHER", "SUBMITTER")]
            need(len(submitters) == 1, "SIP15", "the package METS needs one submitting agent "
                                                "(ROLE OTHER, OTHERROLE SUBMITTER)", header)

    @cached_property
    def _categories(self) -> set[str]:
        path = self.standards.path("csip/content-category")
        tree = etree.parse(str(path), self.standards.parser)
        return {" ".join((t.text or "").split()) for t in tree.iter() if isinstance(t.tag, str) and
                t.tag.rsplit("}", 1)[-1] == "Term"}

_BUFFER = bytearray(mime.SNIFF)


def _head(path: Path) -> bytes | None:
    """A file's first ``mime.SNIFF`` bytes (all of a smaller file); None when it is not a regular file.

    Read into one buffer (a fresh 64 KiB a file, mostly unused, is malloc's hardest size next to libxml2's
    small blocks); opened non-blocking so a pipe in a package cannot stall the check."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with open(fd, "rb", buffering=0, closefd=False) as stream:
            size = stream.readinto(_BUFFER)
        return bytes(memoryview(_BUFFER)[:size])
    except OSError:
        return None
    finally:
        os.close(fd)


def _root_tag(path: Path) -> str | None:
    """The tag of a file's root element, reading no further than its start."""
    try:
        for _event, element in xmlsafe.iterparse(str(path), events=("start",), no_network=True,
                                               resolve_entities=False):
            return str(element.tag)
    except etree.XMLSyntaxError:
        return None
    return None
