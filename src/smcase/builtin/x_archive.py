"""Adapter ``x-archive``: ``data/tweets.js`` from an X (Twitter) account archive.

The file is JavaScript (``window.YTD.tweets.part0 = [...]``): the assignment is
stripped and the rest parsed as JSON, never evaluated. Entries may or may not be
wrapped in ``{"tweet": ...}``. Ids stay strings. ``created_at`` is read with a
fixed English format, independent of the process locale. Edited posts are
versions of the first post of their edit chain; retweets are skipped (boosts).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import IO, Any

from ..events import Adapter, Kind, ParseContext, ParsedItem, Skipped, SocialEvent, Unparsable
from ..hookspecs import hookimpl
from ._common import ITEM_ERRORS, excerpt, load_json, unreadable

NAME = "x-archive"
PLATFORM = "x"
_PREFIX = re.compile(rb"^\s*window\.YTD\.[A-Za-z0-9_]+\.part\d+\s*=\s*")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}
_CREATED = re.compile(r"^\w{3} (\w{3}) (\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})$")


def created_at(text: str) -> datetime:
    """Parse X's ``Tue Mar 04 08:15:00 +0000 2025`` without the locale."""
    match = _CREATED.match(text)
    if not match or match[1] not in _MONTHS:
        raise ValueError(f"unreadable created_at {text!r}")
    month, day, hh, mm, ss, sign, oh, om, year = match.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
    return datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))


def _event(position: str, entry: dict[str, Any], context: ParseContext) -> ParsedItem:
    tweet = entry.get("tweet", entry)
    tweet_id = str(tweet["id_str"] if "id_str" in tweet else tweet["id"])
    text = tweet.get("full_text") or tweet.get("text")
    if (text or "").startswith("RT @") or tweet.get("retweeted_status"):
        return Skipped(position, "boost", "a retweet shares someone else's post; nothing of ours to keep")
    chain = [str(i) for i in ((tweet.get("edit_info") or {}).get("initial") or {}).get("editTweetIds") or []]
    edit = (tweet.get("edit_info") or {}).get("edit") or {}
    chain = chain or [str(i) for i in (edit.get("initialTweetId"),) if i] + [tweet_id]
    first = chain[0] if chain else tweet_id
    revision = chain.index(tweet_id) + 1 if tweet_id in chain else 1
    url_entities = (tweet.get("entities") or {}).get("urls") or []
    for link in url_entities:  # t.co links become the real address
        if link.get("url") and link.get("expanded_url") and text:
            text = text.replace(link["url"], link["expanded_url"])
    return SocialEvent(
        platform=PLATFORM,
        external_id=first,
        kind=Kind.EDIT if revision > 1 else (Kind.COMMENT if tweet.get("in_reply_to_status_id_str") else Kind.POST),
        channel=context.channel,
        author_id=tweet.get("user_id_str"),
        author_name=None,
        text=text,
        created_at=created_at(tweet["created_at"]),
        url=f"https://x.com/i/web/status/{tweet_id}",
        in_reply_to=tweet.get("in_reply_to_status_id_str"),
        revision=revision,
        direction="out",
        raw=entry,
    )


def parse(stream: IO[bytes], context: ParseContext) -> Iterator[ParsedItem]:
    """Yield one item per entry of the archive file."""
    data = stream.read()
    body = _PREFIX.sub(b"", data, count=1).rstrip().rstrip(b";")
    try:
        entries, _duplicates = load_json(body)
    except ValueError as exc:
        yield Unparsable("document", excerpt(data), f"not an X archive data file: {exc}")
        return
    if not isinstance(entries, list):
        yield Unparsable("document", excerpt(data[:500]), "the archive file does not hold a list")
        return
    for index, entry in enumerate(entries):
        position = f"entry {index + 1}"
        try:
            yield _event(position, entry, context)
        except ITEM_ERRORS as exc:
            yield Unparsable(position, excerpt(str(entry)), unreadable(exc))


def recognise(head: bytes) -> bool:
    """The archive's data file: ``window.YTD.tweets.part0 = [``."""
    return _PREFIX.match(head) is not None


@hookimpl
def smcase_parse_adapters() -> list[Adapter]:
    """Declare the ``x-archive`` format."""
    return [Adapter(NAME, "X (Twitter) archive data/tweets.js (never evaluated as code)", parse,
                    recognise)]
