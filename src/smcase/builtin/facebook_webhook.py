"""Adapter ``facebook-webhook``: Graph API Page webhook deliveries (field ``feed``).

Input is one delivery (a JSON object) or many, one per line. Traps handled
(research/social-media.md §3.3b): several entries and changes per delivery,
at-least-once and unordered delivery (items are identified by item id, verb
and time, and yielded in time order), ``remove`` without text, ``edited`` and
``edit`` both meaning an edit, ``hide``/``unhide`` moderation, reactions
(skipped, counted), and unknown verbs (quarantined with the verb named).
Changes from the Page itself are the municipality's own: direction ``out``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

from ..events import Adapter, Kind, ParseContext, ParsedItem, Skipped, SocialEvent, Unparsable, platform_channel
from ..hookspecs import hookimpl
from ._common import ITEM_ERRORS, excerpt, from_unix, parse_json, unreadable

NAME = "facebook-webhook"
PLATFORM = "facebook"
_CONTENT_ITEMS = {"comment": Kind.COMMENT, "status": Kind.POST, "post": Kind.POST, "photo": Kind.POST,
                  "video": Kind.POST, "share": Kind.POST, "link": Kind.POST}
_VERBS = {"add": None, "edited": Kind.EDIT, "edit": Kind.EDIT, "remove": Kind.DELETE, "hide": Kind.DELETE,
          "unhide": Kind.EDIT}


def _deliveries(data: bytes) -> Iterator[tuple[str, Any]]:
    try:
        whole = parse_json(data)
    except ValueError:
        pass  # not one delivery: perhaps one per line
    else:
        yield "delivery 1", whole
        return
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            try:
                yield f"line {number}", parse_json(line)
            except ValueError as exc:
                yield f"line {number}", Unparsable(f"line {number}", excerpt(line), f"not JSON: {exc}")


def _change(position: str, page_id: str, value: dict[str, Any], context: ParseContext) -> ParsedItem:
    item, verb = value.get("item"), value.get("verb")
    if item in ("reaction", "like"):
        return Skipped(position, Kind.REACTION, f"a {item} carries no content to keep")
    if item not in _CONTENT_ITEMS:
        return Skipped(position, str(item), f"feed item {item!r} carries no post or comment")
    if verb not in _VERBS:
        return Unparsable(position, excerpt(json.dumps(value, ensure_ascii=False)), f"unknown verb {verb!r}")
    # A comment is its comment_id, never its post's id: falling back would give it the post's key.
    id_key = "comment_id" if item == "comment" else "post_id"
    item_id = value.get(id_key)
    if isinstance(item_id, bool) or not isinstance(item_id, str | int) or not str(item_id).strip():
        return Unparsable(position, excerpt(json.dumps(value, ensure_ascii=False)),
                          f"a {item} change without its {id_key} (an id: text or a number)")
    if "created_time" not in value:
        return Unparsable(position, excerpt(json.dumps(value, ensure_ascii=False)), "change without created_time")
    sender = value.get("from") or {}
    parent = value.get("parent_id")
    embedded = value.get("post")
    post: dict[str, Any] = embedded if isinstance(embedded, dict) else {}
    return SocialEvent(
        platform=PLATFORM,
        external_id=str(item_id),
        kind=_VERBS[verb] or _CONTENT_ITEMS[item],
        channel=context.channel or platform_channel(PLATFORM, page_id),
        author_id=sender.get("id"),
        author_name=sender.get("name"),
        text=value.get("message"),
        created_at=from_unix(value["created_time"]),
        url=post.get("permalink_url"),
        in_reply_to=str(parent) if parent and parent != item_id else None,
        direction="out" if sender.get("id") == page_id else "in",
        raw=value,
        identity=f"{PLATFORM}:{item_id}:{verb}:{value['created_time']}",
    )


def parse(stream: IO[bytes], context: ParseContext) -> Iterator[ParsedItem]:
    """Yield every change of every delivery, oldest first."""
    items: list[tuple[float, int, ParsedItem]] = []
    order = 0
    for where, delivery in _deliveries(stream.read()):
        if isinstance(delivery, Unparsable):
            yield delivery
            continue
        if not isinstance(delivery, dict) or delivery.get("object") != "page":
            yield Unparsable(where, excerpt(json.dumps(delivery, ensure_ascii=False)), "not a Page webhook delivery")
            continue
        for e, entry in enumerate(delivery.get("entry") or []):
            if not isinstance(entry, dict) or not isinstance(entry.get("changes") or [], list):
                yield Unparsable(f"{where} entry {e + 1}", excerpt(json.dumps(entry, ensure_ascii=False)),
                                 "an entry that is not an object with a list of changes")
                continue
            for c, change in enumerate(entry.get("changes") or []):
                position = f"{where} entry {e + 1} change {c + 1}"
                field = change.get("field") if isinstance(change, dict) else None
                value = change.get("value") if isinstance(change, dict) else None
                if field != "feed" or not isinstance(value, dict):
                    yield Skipped(position, str(field), "not a feed change")
                    continue
                try:
                    parsed = _change(position, str(entry.get("id")), value, context)
                    when = float(value.get("created_time") or 0) if isinstance(parsed, SocialEvent) else 0.0
                except ITEM_ERRORS as exc:
                    parsed = Unparsable(position, excerpt(json.dumps(value, ensure_ascii=False)), unreadable(exc))
                    when = 0.0
                items.append((when, order, parsed))
                order += 1
    for _when, _order, parsed in sorted(items, key=lambda t: (t[0], t[1])):
        yield parsed


_OBJECT = re.compile(rb'"object"\s*:\s*"page"')


def recognise(head: bytes) -> bool:
    """A delivery (or one per line) for a Page: ``"object": "page"`` and its ``entry`` list."""
    return head.lstrip().startswith(b"{") and _OBJECT.search(head) is not None and b'"entry"' in head


@hookimpl
def smcase_parse_adapters() -> list[Adapter]:
    """Declare the ``facebook-webhook`` format."""
    return [Adapter(NAME, "Facebook Page webhook deliveries (field feed), one JSON object or one per line", parse,
                    recognise)]
