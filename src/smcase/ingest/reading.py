"""Reading input: a pipe made rewindable and hashed, adapters guarded, surrogates cleaned."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import IO, Any

from ..events import SocialEvent, Unparsable
from ..policy import canonical_json


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


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any) -> Any:
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) and _SURROGATE.search(value) else value


def _without_surrogates(item: Any) -> Any:
    """An item whose strings hold no lone surrogate (JSON allows "\\ud800"; UTF-8 and the database do not)."""
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


def guarded(items: Iterator[Any], fmt: str) -> Iterator[Any]:
    """The adapter's items; if the adapter itself fails, one Unparsable that names it and where it stopped."""
    n = 0
    try:
        for n, item in enumerate(items, start=1):  # noqa: B007 (n is read after the loop)
            yield item
    except Exception as exc:  # an adapter is a plugin: contained, named, and its failure accounted for
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        yield Unparsable(f"after item {n}", "", f"the {fmt} adapter stopped reading: {type(exc).__name__}"
                         + (f": {first[:200]}" if first else "") + " (the rest of the input was not read)")
