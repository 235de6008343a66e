"""Adapter ``mastodon``: a Mastodon account archive's ``outbox.json`` (or the archive zip).

Traps handled (research/social-media.md §3.1): duplicate keys (the last value
wins, as Mastodon meant), a ``totalItems`` that is the account's status counter
and not the item count (never trusted), ``Announce`` boosts whose object is a
URI (skipped: nothing to keep), ``Tombstone`` objects (deletions), and direct
messages (visible only in ``to``/``cc``: kept as confidential-by-default
messages that were never published, so they carry no unpublish duty).
Everything in an outbox is the account's own: direction ``out``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import IO, Any

from ..events import Adapter, Kind, ParseContext, ParsedItem, Skipped, SocialEvent, Unparsable
from ..hookspecs import hookimpl
from ._common import ITEM_ERRORS, excerpt, from_iso, html_text, load_json, unreadable

NAME = "mastodon"
OUTBOX_LIMIT = 2 << 30  # the most an outbox.json in an export zip may unpack to
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _outbox_bytes(stream: IO[bytes]) -> bytes:
    data = stream.read()
    if data[:2] != b"PK":
        return data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        found = [i for i in archive.infolist() if i.filename.replace("\\", "/").rsplit("/", 1)[-1] == "outbox.json"]
        if not found:
            raise ValueError("the zip archive holds no outbox.json")
        # The nearest to the root; a member that climbs out or is absolute is refused, as in any package smcase reads.
        info = min(found, key=lambda i: i.filename.count("/"))
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise ValueError(f"its member {info.filename!r} climbs out of the archive: refused")
        # The declared size bounds what is read; a bomb is refused before it is unpacked.
        if info.file_size > OUTBOX_LIMIT or (info.file_size > 1 << 20 and info.file_size > 1000 * info.compress_size):
            raise ValueError(f"its outbox.json would unpack to {info.file_size:,} bytes from {info.compress_size:,}: "
                             "refused as a compression bomb")
        return archive.read(info)


def _audience(activity: dict[str, Any], note: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for holder in (activity, note):
        for key in ("to", "cc"):
            value = holder.get(key) or []
            found.update([value] if isinstance(value, str) else value)
    return found


def _event(index: int, activity: dict[str, Any], context: ParseContext) -> ParsedItem:
    position = f"orderedItems[{index}]"
    kind = activity.get("type")
    obj = activity.get("object")
    if kind == "Announce":
        return Skipped(position, "boost", "a boost (Announce) shares someone else's post; nothing of ours to keep")
    if not isinstance(obj, dict):
        return Skipped(position, str(kind), f"activity {kind} carries no embedded object")
    actor = activity.get("actor") if isinstance(activity.get("actor"), str) else obj.get("attributedTo")
    channel = context.channel or actor
    if obj.get("type") == "Tombstone" or kind == "Delete":
        return SocialEvent(
            platform=NAME, external_id=str(obj.get("id")), kind=Kind.DELETE, channel=channel, author_id=actor,
            author_name=None, text=None, created_at=from_iso(activity.get("published") or obj["deleted"]),
            direction="out", raw=activity, identity=f"{NAME}:{obj.get('id')}:delete",
        )
    if kind not in ("Create", "Update") or obj.get("type") not in ("Note", "Question", "Article"):
        return Skipped(position, str(kind), f"activity {kind} of {obj.get('type')} is not a post")
    audience = _audience(activity, obj)
    followers = str(actor or "") + "/followers"
    public = PUBLIC in audience or "as:Public" in audience or "Public" in audience
    direct = not public and followers not in audience
    text = html_text(obj.get("content"))
    warning = obj.get("summary")
    if warning:
        text = f"[{warning}]\n{text or ''}".strip()
    revision = 2 if obj.get("updated") else 1
    return SocialEvent(
        platform=NAME,
        external_id=str(obj["id"]),
        kind=Kind.MESSAGE if direct else (Kind.COMMENT if obj.get("inReplyTo") else Kind.POST),
        channel=channel,
        author_id=actor,
        author_name=None,
        text=text,
        created_at=from_iso(obj.get("updated") or obj.get("published") or activity["published"]),
        url=obj.get("url") if isinstance(obj.get("url"), str) else None,
        in_reply_to=obj.get("inReplyTo"),
        revision=revision,
        direction="out",
        raw=activity,
        public=public,
    )


def parse(stream: IO[bytes], context: ParseContext) -> Iterator[ParsedItem]:
    """Yield one item per entry of ``orderedItems``."""
    try:
        data = _outbox_bytes(stream)
    except (ValueError, zipfile.BadZipFile, EOFError, OSError) as exc:
        yield Unparsable("document", "", f"not a Mastodon export zip: {exc}")
        return
    try:
        document, _duplicates = load_json(data)
    except ValueError as exc:
        yield Unparsable("document", excerpt(data), f"not a Mastodon outbox: {exc}")
        return
    items = document.get("orderedItems") if isinstance(document, dict) else None
    if not isinstance(items, list):
        yield Unparsable("document", excerpt(str(document)[:500]), "no orderedItems list: not a Mastodon outbox")
        return
    for index, activity in enumerate(items):
        if not isinstance(activity, dict):
            yield Unparsable(f"orderedItems[{index}]", excerpt(str(activity)), "an item that is not an object")
            continue
        try:
            yield _event(index, activity, context)
        except ITEM_ERRORS as exc:
            yield Unparsable(f"orderedItems[{index}]", excerpt(str(activity)), unreadable(exc))


def recognise(head: bytes) -> bool:
    """An export zip, or an ActivityStreams ``OrderedCollection`` (the outbox)."""
    if head.startswith(b"PK\x03\x04"):
        return True
    return head.lstrip().startswith(b"{") and b"activitystreams" in head and b'"OrderedCollection"' in head


@hookimpl
def smcase_parse_adapters() -> list[Adapter]:
    """Declare the ``mastodon`` format."""
    return [Adapter(NAME, "Mastodon account archive: outbox.json or the export zip", parse, recognise)]
