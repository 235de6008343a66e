"""The ERMS document of an FGS package (or a bare ERMS file), checked in one streaming pass.

The schema sees every element; only cases, records, control and the root reach
Python. On each case and record, as it ends, the version's Schematron rules
(``ERMS-SCH``, each local to one element; the rules are XPath 1.0, lxml refuses
the files' ``xslt2`` binding), run only where a sieve over the bytes says one could
apply; a hundred units at a time, the requirements the schema leaves to the
specification (``ERMS-REQ``), one XPath over the batch picking the units to look at.
Checked units are freed and system identifiers kept outside Python objects, so
memory stays flat at any size.
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from lxml import etree

from .. import xmlsafe
from ..errors import ConfigError
from ..fgs import ERMS, ErmsVersion
from ..standards import Standards
from .common import RepeatFinder, RuleResult, package_path, xml_error

SCH = "{http://purl.oclc.org/dsdl/schematron}"
E = f"{{{ERMS}}}"
UNIT_NAMES = frozenset({"aggregation", "record", "control"})
UNITS = frozenset(f"{E}{name}" for name in UNIT_NAMES)
_REQUIRED = {f"{E}aggregation": "aggregation", f"{E}record": "record"}  # the units ERMS-REQ applies to
_SYSTEM_ID = operator.methodcaller("get", "systemIdentifier")  # mapped over a batch in C
_OBJECT_ID, _TITLE, _DESCRIPTION, _DATES, _DATE, _INFO, _APPENDIX = (
    f"{E}{n}" for n in ("objectId", "title", "description", "dates", "date", "additionalInformation", "appendix"))


@dataclass(frozen=True)
class _Rule:
    """One Schematron rule: does its context match an element, and its asserts (XPath 1.0, with messages)."""

    context: str
    matches: etree.XPath
    asserts: tuple[tuple[etree.XPath, str], ...]


class Schematron:
    """The rules of an ISO Schematron file, applied to each case and record as the document streams by.

    The contexts of a pattern's rules become one XPath that libxml2 evaluates over
    the unit (in C): only the elements some rule applies to reach Python, and those
    are rare. Nested units were checked when they ended and are skipped. Within a pattern
    the first rule whose context matches an element fires, as in Schematron.
    """

    def __init__(self, path: Path) -> None:
        tree = etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))
        ns = {n.get("prefix"): n.get("uri") for n in tree.iter(f"{SCH}ns")}
        self.patterns: list[tuple[etree.XPath, list[_Rule]]] = []
        for pattern in tree.iter(f"{SCH}pattern"):
            rules, finds = [], []
            for element in pattern.iter(f"{SCH}rule"):
                context = element.get("context", "")
                if "/" in context:
                    raise ConfigError(f"{path}: the Schematron rule {context!r} is not local to one element; "
                                      "smcase runs the rules while streaming")
                asserts = tuple(
                    (etree.XPath(f"boolean({test.get('test')})" if test.tag == f"{SCH}assert"
                                 else f"not({test.get('test')})", namespaces=ns),
                     " ".join("".join(test.itertext()).split()))
                    for test in element if test.tag in (f"{SCH}assert", f"{SCH}report"))
                parts = [part.strip() for part in context.split("|")]
                finds += [f"descendant-or-self::{part}" for part in parts]
                rules.append(_Rule(context, etree.XPath(" or ".join(f"boolean(self::{part})" for part in parts),
                                                        namespaces=ns), asserts))
            if rules:
                self.patterns.append((etree.XPath(" | ".join(finds), namespaces=ns), rules))
        contexts = [part.strip() for rule in tree.iter(f"{SCH}rule") for part in rule.get("context", "").split("|")]
        found = [_literals(context) for context in contexts]
        #: Bytes one of which the text of any element some rule applies to must hold (None: no such set).
        self.literals: tuple[bytes, ...] | None = (
            _shortest({b for f in found if f is not None for b in f}) if None not in found else None)

    def check(self, unit: Any) -> Iterator[tuple[Any, str]]:
        """(element, message) for every assert failed in ``unit`` (its nested units excluded)."""
        for find, rules in self.patterns:
            for element in find(unit):
                if element is not unit and _inside_unit(element, unit):
                    continue
                rule = next(rule for rule in rules if rule.matches(element))  # the first one fires
                for test, message in rule.asserts:
                    if not test(element):
                        yield element, message


_CONTEXT = re.compile(r"""^(?:\*|(?:[\w.-]+:)?([\w.-]+))(?:\[\s*@[\w.:-]+\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\])?$""")
_PLAIN = re.compile(r"^[\x21-\x7e]+$")


def _literals(context: str) -> tuple[bytes, ...] | None:
    """What the file's bytes must hold for an element to match ``context``: the quoted value of ``X[@a = 'V']``
    (either quote), the name of ``X``; None for any other form (the rule is then evaluated on every unit)."""
    found = _CONTEXT.match(context)
    if found is None:
        return None
    value = found[2] if found[2] is not None else found[3]
    if value is not None:  # kept only when an XML writer can spell it no other way than literally (or with '&')
        if not _PLAIN.match(value) or set(value) & set("&<\"'"):
            return None
        return f'"{value}'.encode(), f"'{value}".encode()  # the closing quote left off: "other covers "other_date"
    return (found[1].encode(),) if found[1] else None


def _shortest(literals: set[bytes]) -> tuple[bytes, ...]:
    """The literals that hold no other one: finding ``"other`` finds ``"other_date`` too (one scan fewer)."""
    return tuple(sorted(b for b in literals if not any(a != b and a in b for a in literals)))


#: Encodings in which an ASCII literal is written as its ASCII bytes.
_ASCII_SAFE = re.compile(r"^(utf-?8|us-ascii|ascii|iso-8859-\d+|iso8859-\d+|latin-?\d|windows-125\d|cp125\d)$", re.I)


class Sieve:
    """The file as lxml's parser reads it, noting the last line on which any of ``literals`` (or an ``&``, which
    could spell one) occurs: a unit that starts after that line holds nothing any Schematron rule applies to.

    A literal cut in two by a read is found in the next one (the end of each read is kept). A file whose
    encoding could spell ASCII otherwise (UTF-16, EBCDIC, an unknown one) is not sieved: every unit is checked.
    Each scan of a read costs (a gigabyte at a million records), so a long quoted value is looked for once
    without its quote and the byte before it checked (both quotes in one scan), and lines are counted only
    where a literal is found, the bytes since the last count read again from the file.
    """

    LONG = 12  # a quoted value at least this long is rare enough bare to be looked for once

    def __init__(self, path: Path, literals: tuple[bytes, ...] | None) -> None:
        self.path = path
        self.stream = path.open("rb")
        found = (*literals, b"&") if literals is not None and self._ascii_safe() else ()
        quotes: dict[bytes, set[bytes] | None] = {}  # what to look for: the bytes one of which must precede it
        for literal in found:
            if literal[:1] in (b'"', b"'") and len(literal) > self.LONG:
                before = quotes.setdefault(literal[1:], set())
                if before is not None:
                    before.add(literal[:1])
            else:
                quotes[literal] = None
        self.searches = [(core, frozenset(before or ())) for core, before in quotes.items()]
        self.hit = 0 if found else 1 << 62  # the last line a literal was seen on
        self.keep = max(map(len, found)) - 1 if found else 0
        self.tail = b""
        self.end = 0  # bytes read so far
        self.counted = 0  # bytes whose newlines are counted in self.lines
        self.lines = 0

    def _ascii_safe(self) -> bool:
        head = self.stream.read(512)
        self.stream.seek(0)
        if head.startswith((b"\xfe\xff", b"\xff\xfe")) or b"\0" in head[:4]:
            return False
        declared = re.match(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", head.lstrip(b"\xef\xbb\xbf"))
        return declared is None or _ASCII_SAFE.match(declared[1].decode("ascii")) is not None

    def read(self, size: int = -1) -> bytes:
        """Read for the parser and look for the literals in what was read (and across its start)."""
        data = self.stream.read(size)
        if not self.searches or not data:
            return data
        # Searched in place: a copy joining the last read's end to the whole read would be 32 KiB more to
        # allocate and free a read, which with libxml2's many small blocks makes malloc consolidate its heap.
        start, joint = self.end, self.tail + data[:self.keep]
        self.end += len(data)
        last = self._last(data)
        if last >= 0:
            self.hit = max(self.hit, self._line(start + last, data, start))
        elif (last := self._last(joint)) >= 0:  # a literal cut by the read's start
            self.hit = max(self.hit, self._line(start - len(self.tail) + last, data, start))
        self.tail = data[len(data) - self.keep:] if len(data) >= self.keep else (self.tail + data)[-self.keep:]
        return data

    def _last(self, window: bytes) -> int:
        """Where the last literal whole in ``window`` starts; -1 for none."""
        last = -1
        for core, before in self.searches:
            at = window.rfind(core)
            if before:
                while at > 0 and window[at - 1:at] not in before:
                    at = window.rfind(core, 0, at + len(core) - 1)
                at -= 1  # the literal starts at its quote; at 0 the quote is not in the window
            last = max(last, at)
        return last

    def _line(self, offset: int, data: bytes, start: int) -> int:
        """The line of the byte at ``offset``, ``data`` being the read that starts at ``start``: newlines are
        counted from the last count on, the bytes before ``data`` read again. Hits only move forward; were one
        to come earlier, its line would be taken too late, which only means more units checked."""
        fd = self.stream.fileno()
        while self.counted < min(offset, start):
            chunk = os.pread(fd, min(1 << 20, min(offset, start) - self.counted), self.counted)
            if not chunk:
                break
            self.lines += chunk.count(b"\n")
            self.counted += len(chunk)
        if offset > self.counted:
            self.lines += data.count(b"\n", self.counted - start, offset - start)
            self.counted = offset
        return self.lines + 1

    def close(self) -> None:
        """Close the file."""
        self.stream.close()


def _inside_unit(element: Any, unit: Any) -> bool:
    """Is ``element`` inside a case or record nested in ``unit`` (checked when that one ended)?"""
    node = element.getparent()
    while node is not None and node is not unit:
        if node.tag in UNITS:
            return True
        node = node.getparent()
    return False


#: Units checked together: one XPath call over a batch picks out those that could break a requirement. Larger
#: batches cost more (libxml2 sorts the result in document order), smaller ones more calls.
BATCH = 100


def _suspects(version: ErmsVersion) -> etree.XPath:
    """The cases and records of ``$units`` that could break a requirement (the rest pass them all): no title or
    description, no created date (where the version asks for one), or an appendix to look for."""
    tests = ["not(e:title or e:description)", "e:additionalInformation/e:appendix"]
    if version.created_date_required:
        tests.append("not(e:dates/e:date[@dateType = 'created'][1])")  # [1]: libxml2 stops at the first
    return etree.XPath(f"$units[{' or '.join(tests)}]", namespaces={"e": ERMS})


def check_erms(standards: Standards, path: Path, name: str, version: ErmsVersion, r: dict[str, RuleResult],
               files: Container[str] | None, root: Path | None) -> None:
    """Check one ERMS document in a single streaming pass: the schema (ERMS), the Schematron rules (ERMS-SCH) and
    the requirements beyond them (ERMS-REQ); ``files`` (the paths METS lists) and ``root`` (the package folder)
    are None for a bare ERMS file."""
    schema = standards.schema(version.schema)
    rules = Schematron(standards.path(version.schematron))
    suspects = _suspects(version)
    ids = RepeatFinder()
    line = 0
    sieve = Sieve(path, rules.literals)
    ended: list[Any] = []  # units ended since the last batch, in the order they ended
    required: list[Any] = []  # those of them ERMS-REQ applies to

    def check_batch() -> None:
        # The units' IDs, and the requirements of the units the XPath picked, in the order the units ended (as
        # messages were always given); then each unit is freed with the shell of the unit before it. Where an
        # ID was is worked out only for a suspected repeat.
        ids.add(list(map(_SYSTEM_ID, required)),
                lambda n: (required[n].sourceline, _REQUIRED[required[n].tag], _object_id(required[n])))
        picked = suspects(ended[-1], units=required) if required else None
        if picked:
            chosen = set(picked)
            for unit in required:
                if unit in chosen:
                    _requirements(unit, _REQUIRED[unit.tag], unit.sourceline, name, r, files, root, version)
        for unit in ended:
            unit.clear()
            previous = unit.getprevious()
            if previous is not None and previous.tag in UNITS:  # each unit removes the last: one at most
                previous.getparent().remove(previous)
        ended.clear()
        required.clear()

    try:
        # Only cases, records, control and the root reach Python; the schema still sees every element.
        # The Schematron rules run on a unit only when the sieve saw one of their literals since it began.
        for _event, element in xmlsafe.iterparse(sieve, path=path, schema=schema, events=("end",),
                                               huge_tree=True, no_network=True, tag=[*UNITS, f"{E}erms"]):
            at = element.sourceline
            line = at or line
            if (at or 0) <= sieve.hit:
                for item, message in rules.check(element):
                    r["ERMS-SCH"].add(f"{name} line {item.sourceline} ({item.tag.rsplit('}', 1)[-1]}): "
                                      f"{message}")
            if element.tag in _REQUIRED:
                required.append(element)
            ended.append(element)
            if len(ended) >= BATCH:
                check_batch()
    except etree.XMLSyntaxError as exc:
        r["ERMS"].add(f"{name} {xml_error(exc, line, path)}")
    finally:
        sieve.close()
        if ended:
            check_batch()  # the units that ended before the end of the file, or before a syntax error
        ids.flush()
        for value, where in ids.duplicates:
            at, kind, object_id = cast(tuple[int, str, str | None], where)
            r["ERMS-REQ"].add(f"systemIdentifier {value} is used more than once "
                              f"({name} line {at}, {kind} {object_id or value})")
        ids.close()


def _object_id(unit: Any) -> str | None:
    """The text of a unit's first objectId that has one."""
    return next((child.text for child in unit.iterchildren(_OBJECT_ID) if child.text is not None), None)


def _requirements(unit: Any, kind: str, at: int, name: str, r: dict[str, RuleResult], files: Container[str] | None,
                  root: Path | None, version: ErmsVersion) -> None:
    """The requirements of a case or record ``_suspects`` picked, from one walk over the children they concern."""
    object_id: str | None = None
    titled = created = False
    appendices: list[Any] = []
    for child in unit.iterchildren(_OBJECT_ID, _TITLE, _DESCRIPTION, _DATES, _INFO):
        tag = child.tag
        if tag == _OBJECT_ID:
            if object_id is None:
                object_id = child.text
        elif tag == _DATES:
            if not created:
                created = any(date.get("dateType") == "created" for date in child.iterchildren(_DATE))
        elif tag == _INFO:
            appendices += child.iterchildren(_APPENDIX)
        else:
            titled = True
    identifier = unit.get("systemIdentifier")
    if titled and (created or not version.created_date_required) and not appendices:
        return
    where = f"{name} line {at}, {kind} {object_id or identifier}"
    # The created-date requirement comes from the ERMS 3.0 tables; 2.1 has no such rule.
    if version.created_date_required and not created:
        r["ERMS-REQ"].add(f"{where}: no date of type created "
                          f"({'ERMS204' if kind == 'aggregation' else 'ERMS135'})")
    if not titled:
        r["ERMS-REQ"].add(f"{where}: neither title nor description ({'ERMS211' if kind == 'aggregation' else 'ERMS139'})")
    if files is None or root is None:
        return
    for appendix in appendices:
        target = package_path("", appendix.get("path", ""))
        if target is None or not os.path.isfile(os.path.join(root, target)):  # os.path: pathlib costs more than the stat
            r["ERMS-REQ"].add(f"{where}: appendix {appendix.get('path')!r} is not a file in the package")
        elif target not in files:
            r["ERMS-REQ"].add(f"{where}: appendix {target} is not listed in METS")
