"""Adapter ``jsonl``: smcase's own event format, one JSON object per line.

The format is ``schemas/event.schema.json``. Each line is validated with a
compiled validator; a bad line goes to quarantine with its line number and the
rest of the file is read. Two lines are the same item when platform, id and
revision agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import IO, Any

from .. import schema_check
from ..events import Adapter, ParseContext, ParsedItem, Skipped, SocialEvent, Unparsable
from ..hookspecs import hookimpl
from ._common import excerpt, from_iso, json_lines

NAME = "jsonl"


def validator() -> Callable[[Any], None]:
    """Validation against ``schemas/event.schema.json``: raises SchemaProblem in plain words."""
    return partial(schema_check.check, "event.schema.json")


def event_from_json(obj: dict[str, Any], context: ParseContext, raw: Any = None) -> SocialEvent:
    """A SocialEvent from a validated JSON object of the smcase event format."""
    author = obj.get("author") or {}
    return SocialEvent(
        platform=obj["platform"],
        external_id=str(obj["id"]),
        kind=obj["kind"],
        channel=context.channel or obj.get("channel"),
        author_id=author.get("id"),
        author_name=author.get("name"),
        text=obj.get("text"),
        created_at=from_iso(obj["created_at"]),
        url=obj.get("url"),
        in_reply_to=obj.get("in_reply_to"),
        revision=obj.get("revision", 1),
        direction=obj.get("direction", "in"),
        raw=obj if raw is None else raw,
        public=obj.get("public", True),
        register=obj.get("register", False) is True,
    )


def parse(stream: IO[bytes], context: ParseContext) -> Iterator[ParsedItem]:
    """Yield one item per non-blank line of ``stream``."""
    check = validator()
    for position, line, obj in json_lines(stream):
        if isinstance(obj, Unparsable):
            yield obj
            continue
        try:
            check(obj)
            if obj["kind"] == "reaction":
                yield Skipped(position, "reaction", "a reaction carries no content to keep")
                continue
            yield event_from_json(obj, context, raw=line.decode("utf-8").rstrip("\r\n"))
        except schema_check.SchemaProblem as exc:
            yield Unparsable(position, excerpt(line), str(exc))
        except ValueError as exc:
            yield Unparsable(position, excerpt(line), f"created_at: {exc}")


def recognise(head: bytes) -> bool:
    """An object per line with the event format's keys, on any of the first few lines.

    Not only the first: a file whose first line is broken is still this format, and its broken lines belong
    in quarantine, not a refusal of the whole file.
    """
    lines = [line for line in head.splitlines() if line.strip()][:_LINES_LOOKED_AT]
    return any(line.lstrip().startswith(b"{") and all(key in line for key in (b'"platform"', b'"kind"', b'"id"'))
               for line in lines)


_LINES_LOOKED_AT = 10


@hookimpl
def smcase_parse_adapters() -> list[Adapter]:
    """Declare the ``jsonl`` format."""
    return [Adapter(NAME, "smcase event JSON Lines (schemas/event.schema.json), one event per line", parse,
                    recognise)]
