"""Helpers the built-in adapters share: tolerant JSON, HTML to text, mojibake, times."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import IO, Any

from ..events import Unparsable

_BLOCK_TAGS = {"p", "br", "div", "li", "blockquote"}


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "span" and "invisible" in classes:
            self._hidden += 1  # Mastodon hides URL scheme and tail in such spans
        elif self._hidden:
            self._hidden += tag == "span"
        if tag in _BLOCK_TAGS and self.parts:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._hidden and tag == "span":
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(html: str | None) -> str | None:
    """The readable text of an HTML fragment (Mastodon ``content``)."""
    if not html:
        return None
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = "".join(collector.parts)
    return "\n".join(line.strip() for line in text.splitlines()).strip() or None


#: What a hostile item can raise while an adapter reads it (a string where an object belongs, a time out of range):
#: each adapter turns these into a quarantine entry for that item and reads on.
ITEM_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError)


def load_json(data: bytes | str) -> tuple[Any, list[str]]:
    """Parse JSON, keeping the last of duplicate keys (as real exports need) and naming them."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    return parse_json(data, object_pairs_hook=pairs), duplicates


def json_lines(stream: IO[bytes]) -> Iterator[tuple[str, bytes, Any]]:
    """Each non-blank line of a JSON Lines stream: its position (``line N``), its bytes, and its value, or an
    ``Unparsable`` saying why it is not JSON (for the adapter to yield as it stands)."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        position = f"line {number}"
        try:
            yield position, line, parse_json(line)
        except ValueError as exc:
            yield position, line, Unparsable(position, excerpt(line), f"not JSON: {exc}")


def parse_json(data: bytes | str, **options: Any) -> Any:
    """``json.loads`` whose every failure is a ValueError with a reason a person can read.

    Input nested deeper than Python's recursion limit (``[`` a hundred thousand
    times) and bytes that are not UTF-8 text are reasons like any other.
    """
    try:
        return json.loads(data, **options)
    except RecursionError:
        raise ValueError("nested too deeply to read (arrays or objects inside each other thousands of levels "
                         "down)") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at position {exc.start} "
                         "cannot be decoded") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{_plain(exc.msg)} at line {exc.lineno}, column {exc.colno}") from None


#: The JSON parser's messages in words a registrar reads (the parser's own words where none fits).
_JSON_WORDS = (
    ("Expecting value", "a value (text in double quotes, a number, true, false, null, [ or {) is missing"),
    ("Expecting property name enclosed in double quotes", "a key in double quotes is missing (or a comma is one too "
                                                          "many)"),
    ("Expecting ',' delimiter", "a comma is missing between two values"),
    ("Expecting ':' delimiter", "a colon is missing after a key"),
    ("Unterminated string", "a text is not closed with a double quote"),
    ("Extra data", "there is more after the end of the JSON value (two values without a comma, or a stray character)"),
    ("Invalid control character", "a text holds a raw control character (a line break or tab must be written \\n "
                                  "or \\t)"),
    ("Invalid \\escape", "a backslash starts no valid escape (write \\\\ for a backslash)"),
    ("Invalid \\uXXXX escape", "a \\u escape is not followed by four hexadecimal digits"),
)


def _plain(message: str) -> str:
    return next((words for start, words in _JSON_WORDS if message.startswith(start)), message)


_MOJIBAKE_RUN = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]{1,3}")


def _repair_run(match: re.Match[str]) -> str:
    try:
        return match.group().encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return match.group()


def fix_mojibake(value: Any) -> Any:
    """Undo Facebook's export bug: UTF-8 bytes written as one \\u00XX escape each.

    A string is re-read only when every character fits in one byte and the bytes
    are valid UTF-8; anything else was not mojibake and is kept as it is.
    """
    if isinstance(value, str):
        if not any("\x80" <= ch <= "\xff" for ch in value):
            return value
        if any(ord(ch) > 0xFF for ch in value):
            # Mixed with characters the bug cannot produce: repair each run that decodes as UTF-8, keep the rest.
            return _MOJIBAKE_RUN.sub(_repair_run, value)
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, list):
        return [fix_mojibake(v) for v in value]
    if isinstance(value, dict):
        return {fix_mojibake(k): fix_mojibake(v) for k, v in value.items()}
    return value


def from_unix(seconds: Any) -> datetime:
    """A UTC instant from unix seconds (int or numeric string)."""
    return datetime.fromtimestamp(int(seconds), UTC)


def from_iso(text: str) -> datetime:
    """An instant from ISO 8601 that carries a zone ('Z' or an offset); a naive time is refused."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value


def excerpt(raw: bytes | str, limit: int = 1_000_000) -> str:
    """Raw input as text for quarantine (decoded leniently, cut to ``limit`` characters).

    The limit is generous: ``inbox retry`` parses the kept text again after a fix.
    """
    # Bytes that do not decode stay distinguishable (\\xe5, not a replacement character): distinct bad input
    # is never taken for a duplicate of other bad input.
    text = raw.decode("utf-8", errors="backslashreplace") if isinstance(raw, bytes) else raw
    return text if len(text) <= limit else text[:limit] + "…"


def unreadable(exc: BaseException) -> str:
    """Why an entry could not be read, as one line a registrar understands (never a Python repr)."""
    if isinstance(exc, UnicodeError):
        return "unreadable entry: text that is not valid Unicode"
    if isinstance(exc, KeyError):
        return f"unreadable entry: the field {str(exc.args[0])[:80]!r} is missing"
    if isinstance(exc, (AttributeError, TypeError)):
        return "unreadable entry: a value has the wrong type (a text where an object or list belongs, or the reverse)"
    if isinstance(exc, OverflowError):
        return "unreadable entry: a number or time is out of range"
    detail = " ".join(str(exc).split())[:200]
    return f"unreadable entry: {detail}" if detail else f"unreadable entry ({type(exc).__name__})"
