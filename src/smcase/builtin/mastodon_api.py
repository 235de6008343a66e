"""Adapter ``mastodon-api``: live captures from the Mastodon REST API, one *capture envelope* per line.

The poller (``smcase.capture.mastodon``) writes these lines; every envelope names
the instance, the followed account (``account_id``, and ``account``: its acct)
and when it was observed, and holds one of:

* ``{"capture": "status", "status": {Status}}``: a status of the followed account
  (direction ``out``) or of someone else, a reply in its thread (direction ``in``);
* ``{"capture": "notification", "notification": {Notification}}``: a ``mention``
  (or ``status``/``update``) carries a status, taken like the one above; every
  other type (favourite, reblog, follow, poll...) is skipped with the reason;
* ``{"capture": "edit", "status": {Status}, "revision": N}``: an edited status,
  the same post or comment as its original with ``revision`` N (the number of
  versions in its history, at least 2) and the time of the edit;
* ``{"capture": "delete", "id": ..., "uri": ..., "own": bool}``: a status that is gone.

Keys agree with the ``mastodon`` (outbox) adapter, so an archive import and a
live capture of the same status are one item: platform ``mastodon``, the
ActivityPub ``uri`` as the id, revision 1 (2 or more once edited), a deletion's
identity ``mastodon:<uri>:delete``. A reply names its parent by the parent's
``uri`` as well: the API gives only the parent's id on this instance, so the
poller adds ``in_reply_to_uri`` when it knows the parent; without it the reply
names the parent's API address on the instance (stable, and the same for every
reply to that parent, but never equal to an ActivityPub uri, so such a reply
links to the other replies of that parent and not to an outbox item).
Visibility ``direct`` is a confidential message (never public); ``private``
(followers only) is not public either, as in the outbox adapter. Boosts are
skipped. Every line that is not a well-formed envelope goes to quarantine with
the reason, whatever its types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

from ..events import Adapter, Kind, ParseContext, ParsedItem, Skipped, SocialEvent, Unparsable
from ..hookspecs import hookimpl
from ._common import ITEM_ERRORS, excerpt, from_iso, html_text, json_lines, unreadable

NAME = "mastodon-api"
PLATFORM = "mastodon"  # the same platform as the outbox adapter: one status, one item
CAPTURES = ("status", "notification", "edit", "delete")
#: Notification types that carry a status worth keeping (someone's post that names or concerns the account).
CONTENT_NOTIFICATIONS = ("mention", "status", "update")
PUBLIC_VISIBILITIES = ("public", "unlisted")  # unlisted is public, only left out of the public timelines


class _Bad(ValueError):
    """An envelope that is JSON but not the shape a capture has: the reason is the message."""


def _text(holder: dict[str, Any], key: str, *, where: str) -> str:
    value = holder.get(key)
    if not isinstance(value, str) or not value:
        shown = "missing" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
        raise _Bad(f"{where}{key} is {shown}, expected text")
    return value


def _maybe_text(holder: dict[str, Any], key: str, *, where: str) -> str | None:
    value = holder.get(key)
    if value is not None and not isinstance(value, str):
        raise _Bad(f"{where}{key} is {type(value).__name__} {str(value)[:40]!r}, expected text or null")
    return value


def _object(holder: dict[str, Any], key: str, *, where: str) -> dict[str, Any]:
    value = holder.get(key)
    if not isinstance(value, dict):
        shown = "missing" if value is None else f"a {type(value).__name__}"
        raise _Bad(f"{where}{key} is {shown}, expected an object")
    return value


def _status_event(envelope: dict[str, Any], status: dict[str, Any], revision: int | None,
                  context: ParseContext, raw: str, position: str, where: str, edit: bool = False) -> ParsedItem:
    """The status as an event; ``edit``: a new version of a status captured before (Kind.EDIT, which the
    register adds to the original's case, TOR-5), else the status itself at the version seen."""
    if status.get("reblog") is not None:
        return Skipped(position, "boost", "a boost shares someone else's post; nothing of ours to keep")
    instance = _text(envelope, "instance", where="")
    uri = _text(status, "uri", where=where)
    account = _object(status, "account", where=where)
    author_local_id = _text(account, "id", where=f"{where}account.")
    visibility = _text(status, "visibility", where=where)
    reply_to = _maybe_text(status, "in_reply_to_id", where=where)
    edited_at = _maybe_text(status, "edited_at", where=where)
    if revision is None:
        revision = 2 if edited_at else 1  # as the outbox adapter: an edited status without its history is version 2
    elif not edited_at:
        raise _Bad(f"an edit whose {where}edited_at is missing")
    when = from_iso(edited_at if revision > 1 and edited_at else _text(status, "created_at", where=where))
    text = html_text(_maybe_text(status, "content", where=where))
    warning = _maybe_text(status, "spoiler_text", where=where)
    if warning:
        text = f"[{warning}]\n{text or ''}".strip()
    parent = envelope.get("in_reply_to_uri")
    if reply_to and not (isinstance(parent, str) and parent):
        parent = f"{instance}/api/v1/statuses/{reply_to}"  # the parent unseen by the poller: see the module doc
    author = (_maybe_text(account, "uri", where=where) or _maybe_text(account, "url", where=where)
              or _maybe_text(account, "acct", where=where))
    url = status.get("url")
    return SocialEvent(
        platform=PLATFORM,
        external_id=uri,
        kind=Kind.EDIT if edit else Kind.MESSAGE if visibility == "direct" else (
            Kind.COMMENT if reply_to else Kind.POST),
        channel=_channel(envelope, context),
        author_id=author,
        author_name=_maybe_text(account, "display_name", where=where) or None,
        text=text,
        created_at=when,
        url=url if isinstance(url, str) else None,
        in_reply_to=parent if reply_to else None,
        revision=revision,
        direction="out" if author_local_id == envelope["account_id"] else "in",
        raw=raw,
        public=visibility in PUBLIC_VISIBILITIES,
    )


def _channel(envelope: dict[str, Any], context: ParseContext) -> str | None:
    if context.channel:
        return context.channel
    instance = envelope["instance"]
    acct = envelope.get("account")
    return f"{instance}/@{acct}" if isinstance(acct, str) and acct else str(instance)


def _item(position: str, envelope: Any, raw: str, context: ParseContext) -> ParsedItem:
    if not isinstance(envelope, dict):
        raise _Bad("a line that is not a JSON object: not a capture envelope")
    capture = envelope.get("capture")
    if capture not in CAPTURES:
        raise _Bad(f"capture {str(capture)[:40]!r} is not one of {', '.join(CAPTURES)}: not a capture envelope")
    _text(envelope, "instance", where="")
    _text(envelope, "account_id", where="")
    revision = envelope.get("revision")
    if (capture == "edit" or revision is not None) and (type(revision) is not int or revision < 2):
        raise _Bad(f"revision is {str(revision)[:20]!r}, expected a whole number of at least 2")  # bool: no
    if capture == "notification":
        notification = _object(envelope, "notification", where="")
        kind = _text(notification, "type", where="notification.")
        if kind not in CONTENT_NOTIFICATIONS:
            return Skipped(position, str(kind), f"a {kind} notification carries no post or comment to keep")
        status = _object(notification, "status", where="notification.")
        return _status_event(envelope, status, revision, context, raw, position, "notification.status.")
    if capture == "delete":
        uri = _text(envelope, "uri", where="")
        own = envelope.get("own")
        if not isinstance(own, bool):
            raise _Bad("own is not true or false")
        return SocialEvent(
            platform=PLATFORM, external_id=uri, kind=Kind.DELETE, channel=_channel(envelope, context),
            author_id=None, author_name=None, text=None,
            created_at=from_iso(_text(envelope, "observed_at", where="")),
            direction="out" if own else "in", raw=raw, identity=f"{PLATFORM}:{uri}:delete",
        )
    return _status_event(envelope, _object(envelope, "status", where=""), revision, context, raw, position,
                         "status.", edit=capture == "edit")


def parse(stream: IO[bytes], context: ParseContext) -> Iterator[ParsedItem]:
    """Yield one item per non-blank line: the envelope's event, a skip, or a quarantine entry with the reason."""
    for position, line, envelope in json_lines(stream):
        if isinstance(envelope, Unparsable):
            yield envelope
            continue
        try:
            yield _item(position, envelope, line.decode("utf-8").rstrip("\r\n"), context)
        except _Bad as exc:
            yield Unparsable(position, excerpt(line), str(exc))
        except ITEM_ERRORS as exc:
            yield Unparsable(position, excerpt(line), unreadable(exc))


_ENVELOPE = re.compile(rb'^\s*\{\s*"capture"\s*:\s*"(?:' + b"|".join(c.encode() for c in CAPTURES) + rb')"')
_LINES_LOOKED_AT = 10


def recognise(head: bytes) -> bool:
    """Lines that begin ``{"capture": "status"`` (or another capture kind), on any of the first few lines."""
    lines = [line for line in head.splitlines() if line.strip()][:_LINES_LOOKED_AT]
    return any(_ENVELOPE.match(line) for line in lines)


@hookimpl
def smcase_parse_adapters() -> list[Adapter]:
    """Declare the ``mastodon-api`` format."""
    return [Adapter(NAME, "Mastodon REST API captures (smcase's Mastodon poller), one envelope per line", parse,
                    recognise)]
