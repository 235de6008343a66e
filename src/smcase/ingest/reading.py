"""Reading input: a pipe made rewindable and hashed, adapters guarded, surrogates cleaned."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import String

from ..events import SocialEvent, Unparsable
from ..model import EventRow, table_of
from ..policy import canonical_json
from ..schema_check import type_words


@contextmanager
def _rewindable(stream: IO[bytes]) -> Iterator[tuple[IO[bytes], str]]:
    """``stream`` ready to read from its start, and its SHA-256 (a pipe is spooled to a temporary file)."""
    digest = hashlib.sha256()
    if stream.seekable():
        start = stream.tell()
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
        stream.seek(start)
        yield stream, digest.hexdigest()
        return
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        yield spool, digest.hexdigest()


#: Characters no database column can hold: a lone surrogate (JSON allows "\ud800"; UTF-8 does not) and NUL
#: (PostgreSQL's text refuses it; SQLite would keep it, so the two registers would differ).
_SURROGATE = re.compile("[\x00\ud800-\udfff]")


def _clean(value: Any) -> Any:
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) and _SURROGATE.search(value) else value


def _without_surrogates(item: Any) -> Any:
    """An item whose strings hold no lone surrogate and no NUL (each made U+FFFD): what every database can keep."""
    if isinstance(item, (SocialEvent, Unparsable)):
        strings = {name: value for name in item.__dataclass_fields__
                   if isinstance(value := getattr(item, name), str)}
        structured = isinstance(item, SocialEvent) and item.raw is not None and not isinstance(item.raw, str)
        if not structured and not _SURROGATE.search("".join(strings.values())):
            return item  # the common case: one search over all the item's text
        changed = {k: _clean(v) for k, v in strings.items() if _SURROGATE.search(v)}
        if structured:
            text = canonical_json(item.raw)
            if _SURROGATE.search(text):
                changed["raw"] = _clean(text)
        return replace(item, **changed) if changed else item
    return item


#: An event's fields that hold text (or nothing), and what a registrar calls them.
_TEXT_FIELDS = (("platform", "platform"), ("external_id", "id"), ("kind", "kind"), ("channel", "channel"),
                ("author_id", "author id"), ("author_name", "author name"), ("text", "text"), ("url", "address"),
                ("in_reply_to", "reply-to id"), ("direction", "direction"), ("identity", "identity"))


#: The longest value each bounded event column holds (PostgreSQL refuses longer ones; SQLite would keep them).
_LIMITS = {column.name: column.type.length for column in table_of(EventRow).columns
           if isinstance(column.type, String) and column.type.length}


def unfit(event: SocialEvent) -> str | None:
    """Why an adapter's event cannot be stored as it is (a field of the wrong type, a time out of range), in
    plain words; None when it can. Adapters are plugins and their input is hostile: this is checked for all."""
    for name, words in _TEXT_FIELDS:
        value = getattr(event, name)
        if value is not None and not isinstance(value, str):
            return f"{words}: holds {type_words(value)}, not text"
    for name in ("platform", "external_id", "kind"):
        if not getattr(event, name):
            return f"{dict(_TEXT_FIELDS)[name]}: empty"
    for name, words in _TEXT_FIELDS:
        value, limit = getattr(event, name), _LIMITS.get("key" if name == "identity" else name)
        if value is not None and limit is not None and len(value) > limit:
            return f"{words}: {len(value):,} characters, more than the {limit:,} a register keeps"
    created = event.created_at
    if not isinstance(created, datetime) or created.tzinfo is None:
        return "created at: not a date and time with its time zone"
    try:
        year = created.astimezone(UTC).year
    except (OverflowError, ValueError):
        year = 0
    if not 1900 <= year <= 9998:
        return f"created at: {created.isoformat()} is out of range (years 1900 to 9998)"
    if isinstance(event.revision, bool) or not isinstance(event.revision, int) or not 0 <= event.revision < 2**31:
        return f"revision: {event.revision!r} is not a whole number from 0 to {2**31 - 1:,}"
    return None


def guarded(items: Iterator[Any], fmt: str) -> Iterator[Any]:
    """The adapter's items, an event that cannot be stored turned into an Unparsable with the reason (its payload
    kept); if the adapter itself fails, one Unparsable that names it and where it stopped."""
    n = 0
    try:
        for n, item in enumerate(items, start=1):  # noqa: B007 (n is read after the loop)
            problem = unfit(item) if isinstance(item, SocialEvent) else None
            if problem is not None:
                yield Unparsable(f"item {n}", _payload(item), problem)
                continue
            yield item
    except Exception as exc:  # an adapter is a plugin: contained, named, and its failure accounted for
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        yield Unparsable(f"after item {n}", "", f"the {fmt} adapter stopped reading: {type(exc).__name__}"
                         + (f": {first[:200]}" if first else "") + " (the rest of the input was not read)")


def _payload(event: SocialEvent) -> str:
    # The payload as received, for the quarantine (so that a retry after a fix reads it again).
    try:
        return event.raw if isinstance(event.raw, str) else canonical_json(event.raw)
    except (TypeError, ValueError, RecursionError):
        return ""
