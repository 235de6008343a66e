"""Adapter ``facebook-dyi``: Facebook's "Download your information" JSON files.

Reads a posts file (a JSON array, e.g. ``your_posts_1.json``) or a comments file
(``{"comments_v2": [...]}``). Every string is repaired from Facebook's mojibake
(UTF-8 bytes escaped one by one) before use; the raw payload is kept as it came.
The export holds the account's own posts and comments: direction ``out``. It
carries no item ids, so an item's identity is a digest of its time and text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import IO, Any

from ..events import Adapter, Kind, ParseContext, ParsedItem, Skipped, SocialEvent, Unparsable
from ..hookspecs import hookimpl
from ._common import ITEM_ERRORS, excerpt, fix_mojibake, from_unix, load_json, unreadable

NAME = "facebook-dyi"
PLATFORM = "facebook"


def _identity(kind: str, timestamp: Any, text: str | None) -> str:
    digest = hashlib.sha256(f"{kind}\x1f{timestamp}\x1f{text or ''}".encode()).hexdigest()[:24]
    return f"dyi-{digest}"


def _post(position: str, raw: dict[str, Any], context: ParseContext) -> ParsedItem:
    item = fix_mojibake(raw)
    texts = [d["post"] for d in item.get("data") or [] if isinstance(d, dict) and d.get("post")]
    text = "\n".join(texts) or None
    if text is None:
        descriptions = [
            a.get("media", {}).get("description")
            for block in item.get("attachments") or [] for a in block.get("data") or [] if isinstance(a, dict)
        ]
        text = next((d for d in descriptions if d), None)
    if text is None and not item.get("attachments"):
        return Skipped(position, Kind.POST, "an activity line without text or attachment (e.g. a profile update)")
    external_id = _identity("post", item.get("timestamp"), text)
    return SocialEvent(
        platform=PLATFORM, external_id=external_id, kind=Kind.POST, channel=context.channel, author_id=None,
        author_name=None, text=text or item.get("title"), created_at=from_unix(item["timestamp"]),
        direction="out", raw=raw, identity=f"{PLATFORM}:{external_id}",
    )


def _comment(position: str, raw: dict[str, Any], context: ParseContext) -> ParsedItem:
    item = fix_mojibake(raw)
    inner = next((d["comment"] for d in item.get("data") or [] if isinstance(d, dict) and "comment" in d), None)
    if not isinstance(inner, dict) or not inner.get("comment"):
        return Skipped(position, Kind.COMMENT, "a comment entry without text (sticker or photo only)")
    timestamp = inner.get("timestamp") or item.get("timestamp")
    external_id = _identity("comment", timestamp, inner["comment"])
    return SocialEvent(
        platform=PLATFORM, external_id=external_id, kind=Kind.COMMENT, channel=context.channel, author_id=None,
        author_name=inner.get("author"), text=inner["comment"], created_at=from_unix(timestamp),
        direction="out", raw=raw, identity=f"{PLATFORM}:{external_id}",
    )


def parse(stream: IO[bytes], context: ParseContext) -> Iterator[ParsedItem]:
    """Yield one item per post or comment in the file."""
    data = stream.read()
    try:
        document, _duplicates = load_json(data)
    except ValueError as exc:
        yield Unparsable("document", excerpt(data), f"not JSON: {exc}")
        return
    comments = (document.get("comments_v2") or document.get("comments")) if isinstance(document, dict) else None
    if isinstance(document, list):
        entries, build, where = document, _post, "posts"
    elif isinstance(comments, list):
        entries, build, where = comments, _comment, "comments"
    else:
        yield Unparsable("document", excerpt(json.dumps(document)[:500]),
                         "neither a posts array nor a comments_v2 object: not a Download-your-information file")
        return
    for index, raw in enumerate(entries):
        position = f"{where}[{index}]"
        if not isinstance(raw, dict) or "timestamp" not in raw and build is _post:
            yield Unparsable(position, excerpt(json.dumps(raw, ensure_ascii=False)), "an entry without a timestamp")
            continue
        try:
            yield build(position, raw, context)
        except ITEM_ERRORS as exc:
            yield Unparsable(position, excerpt(json.dumps(raw, ensure_ascii=False)), unreadable(exc))


def recognise(head: bytes) -> bool:
    """A comments file (``comments_v2``) or a posts array of entries with a timestamp and data."""
    text = head.lstrip()
    if text.startswith(b"{"):
        return b'"comments_v2"' in head
    return text.startswith(b"[") and b'"timestamp"' in head and b'"data"' in head and b'"platform"' not in head


@hookimpl
def smcase_parse_adapters() -> list[Adapter]:
    """Declare the ``facebook-dyi`` format."""
    return [Adapter(NAME, "Facebook 'Download your information' posts or comments JSON (mojibake repaired)", parse,
                    recognise)]
