"""What an ingest batch carries: the summary that adds up, each item with what was found and decided,
the titles' texts, and the archival rendering of a captured post."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..events import Decision, Finding, Kind, SocialEvent
from ..plugins import Plugins
from ..policy import Policy, canonical_json
from ..progress import Progress
from ..register import RegisterService

# Edits and deletions: versions of an item, registered with their original.
_VERSIONS = frozenset((Kind.EDIT, Kind.DELETE))

TEXTS = {
    "sv": {
        "confidential_case": "Inlägg med uppgift som kan omfattas av sekretess ({platform})",
        "confidential_record": "Inlägg på {platform} med sekretessuppgift",
        "removal_case": "Borttagning av otillåtet innehåll: {category} ({platform})",
        "evidence_record": "Bevis: {category} på {platform}",
        "incoming": "Kommentar på {platform}",
        "outgoing": "Svar på {platform}",
        "edit": "Ändrad version på {platform}",
        "delete": "Borttaget på {platform}",
        "registered": "Registrerat meddelande ({platform})",
        "referral": "Svar med hänvisning till e-post eller brev ({platform})",
    },
    "nb": {
        "confidential_case": "Innlegg med opplysning som kan være taushetsbelagt ({platform})",
        "confidential_record": "Innlegg på {platform} med taushetsbelagt opplysning",
        "removal_case": "Sletting av ulovlig innhold: {category} ({platform})",
        "evidence_record": "Bevis: {category} på {platform}",
        "incoming": "Kommentar på {platform}",
        "outgoing": "Svar på {platform}",
        "edit": "Endret versjon på {platform}",
        "delete": "Slettet på {platform}",
        "registered": "Registrert henvendelse ({platform})",
        "referral": "Svar med henvisning til e-post eller brev ({platform})",
    },
}

@dataclass
class Summary:
    """What happened to the input; ``received`` equals the sum of the four fates."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    quarantined: int = 0
    unparsable: int = 0  # items that did not parse (quarantined now, or already in quarantine)
    held_for_review: int = 0
    cases_opened: int = 0
    records_added: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    skipped_reasons: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    format: str = ""  # the format read (given, or recognised)
    fits: list[str] = field(default_factory=list)  # when nothing parsed: the formats the input looks like
    retried: int = 0  # inbox retry: quarantined items tried again
    still_quarantined: list[int] = field(default_factory=list)  # inbox retry: entries that still do not parse
    held_retried: int = 0  # inbox retry: held events classified and decided again

    @property
    def nothing_parsed(self) -> bool:
        """True when items came in and not one of them parsed in the format given."""
        return self.received > 0 and self.unparsable == self.received

    @property
    def accounted(self) -> bool:
        """True when every received item is stored, a duplicate, skipped or quarantined."""
        return self.received == self.stored + self.duplicates + self.skipped + self.quarantined

    def add(self, other: Summary) -> None:
        """Add another summary's counts to this one."""
        for name in ("received", "stored", "duplicates", "skipped", "quarantined", "unparsable", "held_for_review",
                     "cases_opened", "records_added"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_kind.update(other.by_kind)
        self.skipped_reasons.update(other.skipped_reasons)
        self.warnings.extend(other.warnings)
        self.retried += other.retried
        self.still_quarantined.extend(other.still_quarantined)
        self.held_retried += other.held_retried

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase ingest --json``)."""
        return {
            "format": self.format,
            "received": self.received, "stored": self.stored, "duplicates": self.duplicates,
            "skipped": self.skipped, "quarantined": self.quarantined, "held_for_review": self.held_for_review,
            "cases_opened": self.cases_opened, "records_added": self.records_added,
            "by_kind": dict(sorted(self.by_kind.items())),
            "skipped_reasons": dict(sorted(self.skipped_reasons.items())),
            "warnings": self.warnings,
            "retried": self.retried, "still_quarantined": self.still_quarantined, "held_retried": self.held_retried,
        }

    def retry_json(self) -> dict[str, Any]:
        """JSON form of an ``inbox retry``: what was tried again and what became of it (no format: each entry
        is retried in its own)."""
        return {
            "quarantined_retried": self.retried, "still_quarantined": self.still_quarantined,
            "held_retried": self.held_retried, "stored": self.stored, "duplicates": self.duplicates,
            "held_for_review": self.held_for_review, "cases_opened": self.cases_opened,
            "records_added": self.records_added, "warnings": self.warnings,
        }


@dataclass
class _Item:
    """A new event in the batch, with what was found and decided."""

    event: SocialEvent
    position: str
    findings: list[Finding] = field(default_factory=list)
    decision: Decision | None = None
    held_by: str | None = None
    thread: str = ""
    plan: int | None = None  # index of the plan that registers it
    plan_record: int | None = None  # its record's index in that plan
    status: str = "trivial"
    uuid: uuid.UUID = field(default_factory=uuid.uuid4)  # the stored event's id
    _raw: tuple[str, str] | None = None

    def raw(self) -> tuple[str, str]:
        """The raw payload as text and its SHA-256 (computed once)."""
        if self._raw is None:
            text = _raw_json(self.event)
            self._raw = (text, hashlib.sha256(text.encode()).hexdigest())
        return self._raw


def render_capture(event: SocialEvent, raw_sha256: str) -> bytes:
    """The archival rendering of a captured post: UTF-8 text with its metadata."""
    lines = [
        f"Platform: {event.platform}",
        f"Item: {event.external_id} (revision {event.revision}, {event.kind})",
        f"Channel: {event.channel or ''}",
        f"Author: {event.author_name or ''} ({event.author_id or 'unknown id'})",
        f"Published: {event.created_at.isoformat()}",
        f"Address: {event.url or ''}",
        f"In reply to: {event.in_reply_to or ''}",
        f"Visibility: {'public' if event.public else 'not public (direct message)'}",
        f"SHA-256 of the captured payload: {raw_sha256}",
        "",
        event.text or "",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _raw_json(event: SocialEvent) -> str:
    """The raw payload as text: verbatim when the adapter kept it, else canonical JSON."""
    if isinstance(event.raw, str):
        return event.raw
    return canonical_json(event.raw) if event.raw is not None else "null"


class Stage:
    """What every stage of an ingest run shares: the service, the plugins, the policy and the batch's state."""

    service: RegisterService
    plugins: Plugins
    policy: Policy
    batch_size: int
    progress: Progress | None
    texts: dict[str, str]
    _channels: dict[str, int] | None
    _not_controller: set[str]
    _addresses: dict[str, str]  # a platform-id channel name → the channel's address
    # Stored events the batch being planned attaches to its records: (event id, plan, record index, why).
    _attach: list[tuple[int, int, int, str]]
