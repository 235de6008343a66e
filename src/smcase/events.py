"""Plain data that flows through ingest: events, parse outcomes, findings, decisions.

An adapter turns an input stream into ``ParsedItem``s: a ``SocialEvent``, a
``Skipped`` item (no content to keep, e.g. a reaction) or an ``Unparsable``
one (goes to quarantine). Classifiers return ``Finding``s for an event; the
decision turns them into a ``Decision``. These types are the contract between
smcase and its plugins: they only ever gain optional fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import IO, Any


class Kind(StrEnum):
    """What a social-media item is."""

    POST = "post"
    COMMENT = "comment"
    MESSAGE = "message"
    EDIT = "edit"
    DELETE = "delete"
    REPORT = "report"
    REACTION = "reaction"


@dataclass(frozen=True, slots=True)
class SocialEvent:
    """One item from a social medium, as every adapter delivers it.

    ``direction`` is ``in`` for the public and ``out`` for the municipality's own
    account. ``identity`` is what makes two deliveries the same item (the
    adapter decides: for a Mastodon post its id and revision, for a Facebook
    webhook change the item id, the verb and the time). ``public`` is False for
    direct messages and other items never shown to the public. ``raw`` is the
    payload as received: the original JSON text where the adapter has it (kept
    verbatim as evidence), else the parsed object.
    """

    platform: str
    external_id: str
    kind: str
    channel: str | None
    author_id: str | None
    author_name: str | None
    text: str | None
    created_at: datetime
    url: str | None = None
    in_reply_to: str | None = None
    revision: int = 1
    direction: str = "in"
    raw: Any = None
    identity: str = ""
    public: bool = True
    register: bool = False  # a person asked for this item to be registered (manual registration, NOR-9)

    def key(self) -> str:
        """The deduplication key: the adapter's identity, or platform, id and revision."""
        return self.identity or f"{self.platform}:{self.external_id}:{self.revision}"


def platform_channel(platform: str, platform_id: str) -> str:
    """How an adapter names a channel it knows only by the platform's own id (``facebook:page:104857600000001``).

    Ingest matches such a name to the channel whose live capture gives that id (``channel capture``).
    """
    return f"{platform}:{'page' if platform == 'facebook' else 'account'}:{platform_id}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input item that carries no content to keep (a reaction, a boost), with the reason."""

    position: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unparsable:
    """An input item that could not be parsed: it goes to quarantine with the reason."""

    position: str
    raw: str
    reason: str


ParsedItem = SocialEvent | Skipped | Unparsable


@dataclass(frozen=True)
class ParseContext:
    """What the person running ingest said about the input."""

    channel: str | None = None
    source_name: str = "-"
    source_sha256: str | None = None  # of the whole input (set by ingest before parsing)


@dataclass(frozen=True)
class Adapter:
    """An input format: its name (``--format``), a description, its parser, and how to recognise it.

    ``recognise(head)`` gets the input's first bytes (up to ``HEAD_BYTES``, a UTF-8 byte order mark removed) and
    says whether they look like this format: ``smcase ingest`` without ``--format`` uses the one format that says
    yes, and names it when a file does not parse in the format given. It must be cheap and must not raise (one that
    raises counts as no); without one, the format is only used by name.
    """

    name: str
    description: str
    parse: Callable[[IO[bytes], ParseContext], Iterator[ParsedItem]]
    recognise: Callable[[bytes], bool] | None = None


HEAD_BYTES = 64 * 1024
"""How much of an input ``Adapter.recognise`` sees."""


class Label(StrEnum):
    """What a classifier can say about an event."""

    CONFIDENTIAL = "confidential"
    PROHIBITED = "prohibited"
    COMPLAINT = "complaint"
    QUESTION = "question"
    OPINION = "opinion"
    POLITICAL = "political"
    CRISIS = "crisis"


@dataclass(frozen=True)
class Finding:
    """One thing a classifier found. ``detail`` must never quote confidential text."""

    label: str
    category: str | None = None
    detail: str | None = None
    classifier: str = ""


class Action(StrEnum):
    """What the decision does with an event."""

    CONFIDENTIAL_CASE = "confidential_case"
    EVIDENCE = "evidence"
    REGISTER = "register"
    TRIVIAL = "trivial"
    HOLD = "hold"


@dataclass(frozen=True)
class Decision:
    """The action for one event under the register's policy, and why."""

    action: str
    reason: str
    ground: str | None = None
    category: str | None = None
    findings: tuple[Finding, ...] = field(default=())
