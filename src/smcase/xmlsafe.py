"""Reading XML that came from outside: one way to do it, with no entity expansion, no DTD, no network.

Archive packages, extractions, ERMS files and the official schemas are all read
through here. lxml is told never to resolve entities, load a DTD or reach the
network; and before a file from outside is parsed at all, its prolog is read
(up to the root element, with a bound) and a DOCTYPE that declares entities
(``<!ENTITY``: "billion laughs", external entities) or points at an external DTD
is refused with one line naming the file. Nothing an input holds can make the
parser expand, fetch or crash.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import etree

from .errors import InvalidInput

#: How much of a file may come before its root element (XML declaration, comments, DOCTYPE).
PROLOG_LIMIT = 1 << 20

_SAFE: dict[str, Any] = {"resolve_entities": False, "load_dtd": False, "no_network": True, "dtd_validation": False}
_ROOT = re.compile(rb"<[A-Za-z_:\x80-\xff]")


class HostileXML(InvalidInput):
    """An XML file that declares entities or an external DTD, or whose prolog never ends."""


def parser(**options: Any) -> etree.XMLParser:
    """An lxml parser that resolves no entity, loads no DTD and never reaches the network."""
    return etree.XMLParser(**{**_SAFE, **options})


def check(path: Path, name: str | None = None) -> None:
    """Refuse ``path`` when its DOCTYPE declares entities or names an external DTD (one line, naming the file)."""
    shown = name or Path(path).name
    with Path(path).open("rb") as stream:
        head = stream.read(4)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = (head + stream.read(PROLOG_LIMIT * 2)).decode("utf-16", "replace").encode("utf-8", "replace")
        else:
            text = head + stream.read(PROLOG_LIMIT)
    prolog = _prolog(text)
    if prolog is None:
        raise HostileXML(f"{shown}: refused: no root element within the first {PROLOG_LIMIT // 1024} KiB")
    doctype = prolog.find(b"<!DOCTYPE")
    if doctype < 0:
        return
    declared = prolog[doctype:]
    if b"<!ENTITY" in declared:
        raise HostileXML(f"{shown}: refused: its DOCTYPE declares entities (entity expansion is never done)")
    if re.search(rb"<!DOCTYPE\s+[^\s\[>]+\s+(SYSTEM|PUBLIC)\b", declared):
        raise HostileXML(f"{shown}: refused: its DOCTYPE names an external DTD (nothing is fetched)")


def _prolog(text: bytes) -> bytes | None:
    """The bytes before the root element (comments and processing instructions skipped), or None."""
    position = 0
    while True:
        start = text.find(b"<", position)
        if start < 0:
            return None
        if text.startswith(b"<!--", start):
            end = text.find(b"-->", start + 4)
            if end < 0:
                return None
            position = end + 3
        elif text.startswith(b"<?", start):
            end = text.find(b"?>", start + 2)
            if end < 0:
                return None
            position = end + 2
        elif text.startswith(b"<!", start):
            position = start + 2  # a DOCTYPE (and its internal subset): read on to the root
        elif _ROOT.match(text, start):
            return text[:start]
        else:
            position = start + 1


def iterparse(source: Any, *, path: Path | None = None, **options: Any) -> Any:
    """``etree.iterparse`` of a file from outside, checked (``check``) and parsed safely.

    ``source`` is a path or a binary stream; for a stream, ``path`` names the
    file it reads (to check its prolog first).
    """
    checked = path if path is not None else getattr(source, "path", source)
    if isinstance(checked, (str, Path)):
        check(Path(checked))
    safe = dict(_SAFE)
    if options.get("schema") is not None:
        # lxml quirk: with a schema attached, resolve_entities=False makes a file cut short pass without a
        # syntax error. The prolog check above has refused every entity declaration, so nothing is lost.
        del safe["resolve_entities"]
    return etree.iterparse(str(source) if isinstance(source, (str, Path)) else source, **{**safe, **options})


def parse(path: Path, xml_parser: etree.XMLParser | None = None, *, trusted: bool = False) -> Any:
    """Parse a whole (small) file: checked first unless ``trusted`` (the official schemas), then parsed safely."""
    if not trusted:
        check(path)
    return etree.parse(str(path), xml_parser if xml_parser is not None else parser())
