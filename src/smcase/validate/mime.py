"""Does a file's declared media type (METS ``file/@MIMETYPE``, CSIP68/CSIP69) fit the file?

Two checks, no network:

* the value is a syntactically valid ``type/subtype`` (optional parameters) with
  a top-level type registered with IANA;
* the content agrees with it, as far as a well-kept sniffing library (puremagic)
  can tell from the file's first bytes. Binary formats have signatures: a file
  declared as one whose bytes are not that format, or whose bytes are a binary
  format other than the declared one, is an **error**. Text formats have none: a
  file declared as text whose bytes are a recognised binary format is a
  **warning** (it may still be text that happens to start so).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import puremagic
import puremagic.main

#: IANA's registered top-level media types.
TOP_LEVEL = {"application", "audio", "example", "font", "haptics", "image", "message", "model", "multipart", "text",
             "video"}
_SYNTAX = re.compile(r"^([a-z0-9][a-z0-9!#$&^_.+-]{0,126})/([a-z0-9][a-z0-9!#$&^_.+-]{0,126})\s*(;.*)?$", re.I)
_TEXTUAL_APPLICATION = {"application/xml", "application/json", "application/javascript", "application/xhtml+xml",
                        "application/ld+json", "application/x-ndjson", "application/csv"}
#: Binary types whose signature the sniffer knows: declared so, the bytes must show it.
_SIGNED = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/tiff", "image/webp", "image/bmp",
           "application/zip", "application/gzip", "audio/mpeg", "video/mp4",
           "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "application/vnd.openxmlformats-officedocument.presentationml.presentation",
           "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet"}
_ZIP_BASED = {t for t in _SIGNED if "openxmlformats" in t or "opendocument" in t} | {"application/zip"}
SNIFF = 64 * 1024  #: bytes read from a file's start to sniff it
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "application/x-pdf": "application/pdf",
            "application/x-zip-compressed": "application/zip", "image/x-png": "image/png"}


def textual(media_type: str) -> bool:
    """True for a text format: ``text/*``, XML and JSON types."""
    return (media_type.startswith("text/") or media_type in _TEXTUAL_APPLICATION
            or media_type.endswith(("+xml", "+json")))


def _index(rows: list[Any]) -> dict[tuple[int, int], dict[bytes, list[Any]]]:
    """Signatures grouped by (offset, length), then by their bytes: one slice and one lookup per group."""
    index: dict[tuple[int, int], dict[bytes, list[Any]]] = {}
    for row in rows:
        index.setdefault((row.offset, len(row.byte_match)), {}).setdefault(row.byte_match, []).append(row)
    return index


def _by_first_byte(index: dict[tuple[int, int], dict[bytes, list[Any]]]) -> dict[int, dict[int, dict[int, Any]]]:
    """Header signatures by offset, then by their first byte, then by length: a file's byte at each offset
    leaves the few signatures that could match there (most files: none)."""
    nested: dict[int, dict[int, dict[int, dict[bytes, list[Any]]]]] = {}
    for (offset, length), rows in index.items():
        for signature, matching in rows.items():
            nested.setdefault(offset, {}).setdefault(signature[0], {}).setdefault(length, {})[signature] = matching
    return nested


#: puremagic's own signature tables, indexed. ``magic_string`` tries all 1,437 header rows in Python for every
#: file (0.6 ms a document, 12 s for a million-record package); the index asks the same questions in a few
#: dozen lookups and gives the same answers (tests/test_validate_common.py compares the two).
_HEADERS = _index(puremagic.magic_header_array)
_FOOTERS = _index(puremagic.magic_footer_array)
_MAX_HEAD, _MAX_FOOT = puremagic.main.max_head, puremagic.main.max_foot
_SIMPLE = all(offset >= 0 and length > 0 for offset, length in _HEADERS)  # what _by_first_byte needs
_HEADS = _by_first_byte(_HEADERS) if _SIMPLE else {}


def _header_matches(data: bytes) -> list[Any]:
    if not _SIMPLE:  # a puremagic with other kinds of header rows: the plain way
        return _matches(_HEADERS, data, False)
    found: list[Any] = []
    size = len(data)
    for offset, firsts in _HEADS.items():
        if offset < size and (lengths := firsts.get(data[offset])):
            for length, signatures in lengths.items():
                if offset + length <= size:
                    found += signatures.get(data[offset:offset + length], ())
    return found


def _matches(index: dict[tuple[int, int], dict[bytes, list[Any]]], data: bytes, footer: bool) -> list[Any]:
    found: list[Any] = []
    for (offset, length), rows in index.items():
        end = offset + length
        if footer:
            area = data[offset:end] if end != 0 else data[offset:]
        elif end > len(data):
            continue
        else:
            area = data[offset:end]
        found += rows.get(area, ())
    return found


def sniff(head: bytes) -> set[str]:
    """The media types puremagic's ``magic_string(head)`` finds by signature (matched bytes, with a media type):
    header and footer signatures, then the multi-part ones that follow a match, as puremagic reads them."""
    if not head:
        return set()
    header, footer = head[:_MAX_HEAD], head[-_MAX_FOOT:]
    matches = _header_matches(header) + _matches(_FOOTERS, footer, True)
    types = {m.mime_type for m in matches if m.byte_match and m.mime_type}
    for matched in matches:
        for row in puremagic.multi_part_dict.get(matched.byte_match, ()):
            start, end = row.offset, row.offset + len(row.byte_match)
            if row.offset < 0:
                area = footer[start:end] if end != 0 else footer[start:]
                if area == row.byte_match and row.mime_type:
                    types.add(row.mime_type)  # its byte_match is matched + row: never empty
            elif (end <= len(header) and header[start:end] == row.byte_match and header[matched.offset:end]
                  and row.mime_type):
                types.add(row.mime_type)
    return {_ALIASES.get(t, t) for t in types}


def _sniffed(head: bytes) -> set[str]:
    """The media types a file's first bytes show (by signature only, never by its name)."""
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"):
        # An XML declaration is XML: puremagic's signatures for XML-based formats (a QuickTime media link
        # starts "<?xml" too) would otherwise flag every schema and METS file of a valid package.
        return {"application/xml"}
    return sniff(head)


def check(declared: str | None, path: Path, head: bytes | None = None) -> tuple[str | None, str | None]:
    """(error, warning) for a file declared as ``declared``; both None when they agree. ``head``: the file's
    first ``SNIFF`` bytes, when the caller has read them already."""
    if not declared:
        return None, None  # a missing MIMETYPE is CSIP68's own error
    found = _SYNTAX.match(declared.strip())
    if found is None:
        return f"MIMETYPE {declared!r} is not a media type (type/subtype)", None
    if found[1].lower() not in TOP_LEVEL:
        return f"MIMETYPE {declared!r} has no registered top-level type ({', '.join(sorted(TOP_LEVEL))})", None
    media_type = _ALIASES.get(f"{found[1]}/{found[2]}".lower(), f"{found[1]}/{found[2]}".lower())
    if head is None:
        if not path.is_file():
            return None, None  # a missing file is the file list's error
        with path.open("rb") as stream:
            head = stream.read(SNIFF)
    sniffed = _sniffed(head)
    binary = {t for t in sniffed if not textual(t)}
    if textual(media_type):
        if binary:
            return None, f"declared {media_type} but its bytes look like {', '.join(sorted(binary))}"
        return None, None
    if media_type in sniffed or (media_type in _ZIP_BASED and sniffed & _ZIP_BASED):
        return None, None
    if media_type in _SIGNED:
        shown = ", ".join(sorted(sniffed)) or "no format with a signature (text?)"
        return f"declared {media_type} but its bytes are {shown}", None
    if binary:
        return f"declared {media_type} but its bytes are {', '.join(sorted(binary))}", None
    return None, None
