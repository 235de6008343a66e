"""The access seam: the one place that decides what of a case or record a user sees.

Every read that leaves the register service (to the CLI, exports, plugins)
is built here from the stored rows into plain, immutable views. Nothing else
turns a row into something shown, so masking confidential fields for users
without clearance happens here once and reaches every output.

A user without clearance sees, in place of every field a marking withholds
(title, description, parties, text, documents), ``[withheld: <legal ground>]``;
the public title and the diary number stay. A record in a marked case is
withheld as its case is. Identity numbers (``identity.scrub``) are scrubbed from
every value that came from outside that such a user sees, marked or not: titles,
texts, author names and ids, addresses, the platform's ids, counterparts typed
by hand, file names, quarantined input. The platform's post id is not a name
for them: an event is shown and addressed by smcase's own id (its uuid). A user
with clearance sees everything, and each such read of confidential content is
noted in ``reads``; the register service writes those notes to the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import identity
from .diary import DiaryFormat
from .events import SocialEvent
from .model import Case, Record

#: Fields a marking can withhold (policy ``withheld``).
WITHHELD_FIELDS = ("title", "description", "parties", "text", "documents")


def withheld(ground: str) -> str:
    """What a user without clearance sees in place of a withheld value."""
    return f"[withheld: {ground}]"


def scrub(text: str | None) -> str | None:
    """``text`` with every valid identity number replaced, whatever the words around it say or how it is spelt."""
    return identity.scrub(text, withheld("identity number"))


def uncleared_event(event: SocialEvent, ground: str | None) -> SocialEvent:
    """``event`` as a user without clearance may see it (what notifier plugins receive unless cleared).

    Under ``ground`` (a confidential event) its text, author and address are
    withheld; every other value from outside is scrubbed of identity numbers,
    and the raw payload is dropped.
    """
    mask = withheld(ground) if ground else None

    def hide(value: str | None) -> str | None:
        return mask if mask and value else scrub(value)

    return replace(event, platform=scrub(event.platform) or "", external_id=scrub(event.external_id) or "",
                   channel=scrub(event.channel),
                   author_id=hide(event.author_id), author_name=hide(event.author_name), text=hide(event.text),
                   url=hide(event.url), in_reply_to=scrub(event.in_reply_to), raw=None,
                   identity=scrub(event.key()) or "")


@dataclass(frozen=True)
class Viewer:
    """Who is reading: user name, roles, and clearance for confidential content."""

    username: str
    roles: tuple[str, ...]
    clearance: bool


#: The viewer that notifier plugins are, unless the policy clears them.
NOTIFIER = Viewer("notifier plugin", (), False)


def public_withholding(record: Any, case: Any, show_citizen_names: bool) -> str | None:
    """Why a record's counterparts may not be published (the legal ground, or personal data), or None.

    For the public journal, whoever produces it: a marking of the record or its case
    that withholds parties, and the names of citizens whose social-media posts were
    registered as incoming, unless the policy allows them.
    """
    for row in (record, case):
        if row.confidentiality_ground and "parties" in (row.withheld_fields or WITHHELD_FIELDS):
            return str(row.confidentiality_ground)
    if record.direction == "incoming" and record.source_platform and not show_citizen_names:
        return "personal data"
    return None


def public_is_title(public_title: str | None, title: str | None) -> bool:
    """True when a public title is the title itself (or the title with its identity numbers scrubbed).

    Such a public title says what the title says: a marking that withholds the
    title must replace it.
    """
    return public_title == title or public_title == identity.scrub(title)


def public_description(row: Any) -> str:
    """A case's or record's public title as it may be published: never a withheld title, never an identity number."""
    if row.confidentiality_ground and public_is_title(row.public_title, row.title) and {"title", "description"} & set(
            row.withheld_fields or WITHHELD_FIELDS):
        return withheld(row.confidentiality_ground)
    return scrub(row.public_title) or ""


@dataclass(frozen=True)
class Read:
    """A read of confidential content by a user with clearance, for the audit log."""

    action: str  # case.read | record.read | event.read | quarantine.read
    entity: str
    entity_uuid: uuid.UUID | None
    ref: str


@dataclass(frozen=True)
class Marking:
    """A confidentiality marking as shown: the legal ground and the fields it withholds."""

    ground: str
    withheld: tuple[str, ...]
    marked_at: datetime | None
    marked_by: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form (see README, 'JSON output')."""
        return {
            "ground": self.ground,
            "withheld": list(self.withheld),
            "marked_at": _iso(self.marked_at),
            "marked_by": self.marked_by,
        }


@dataclass(frozen=True)
class PartyView:
    """A correspondent of a record."""

    role: str
    name: str
    address: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"role": self.role, "name": self.name, "address": self.address}


@dataclass(frozen=True)
class DocumentView:
    """A document of a record, as stored."""

    uuid: uuid.UUID
    number: int
    original_name: str
    format: str
    media_type: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "uuid": str(self.uuid),
            "number": self.number,
            "original_name": self.original_name,
            "format": self.format,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class SourceView:
    """Where a record came from on social media."""

    platform: str | None
    external_id: str | None
    url: str | None
    author: str | None
    author_id: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "platform": self.platform,
            "external_id": self.external_id,
            "url": self.url,
            "author": self.author,
            "author_id": self.author_id,
        }


@dataclass(frozen=True)
class RecordView:
    """A record as a viewer may see it."""

    uuid: uuid.UUID
    number: str
    running_number: int
    case_number: str
    direction: str
    kind: str
    title: str
    public_title: str
    registered_at: datetime
    registered_by: str
    document_date: date | None
    journal_year: int | None
    journal_seq: int | None
    marking: Marking | None
    correspondents: tuple[PartyView, ...]
    documents: tuple[DocumentView, ...]
    source: SourceView | None

    @property
    def confidentiality(self) -> str | None:
        """The legal ground of the marking, or None for a public record."""
        return self.marking.ground if self.marking else None

    def to_json(self) -> dict[str, Any]:
        """JSON form (see README, 'JSON output')."""
        return {
            "uuid": str(self.uuid),
            "number": self.number,
            "running_number": self.running_number,
            "case": self.case_number,
            "direction": self.direction,
            "kind": self.kind,
            "title": self.title,
            "public_title": self.public_title,
            "registered_at": _iso(self.registered_at),
            "registered_by": self.registered_by,
            "document_date": self.document_date.isoformat() if self.document_date else None,
            "journal": {"year": self.journal_year, "seq": self.journal_seq} if self.journal_seq else None,
            "confidentiality": self.confidentiality,
            "marking": self.marking.to_json() if self.marking else None,
            "correspondents": [p.to_json() for p in self.correspondents],
            "documents": [d.to_json() for d in self.documents],
            "source": self.source.to_json() if self.source else None,
        }


@dataclass(frozen=True)
class CaseView:
    """A case as a viewer may see it; ``records`` is None when not asked for."""

    uuid: uuid.UUID
    diary_number: str
    title: str
    public_title: str
    status: str
    class_code: str
    class_title: str
    owner_unit: str | None
    officer: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    marking: Marking | None
    disposal_rule: str
    legal_hold: bool
    channel: str | None
    records: tuple[RecordView, ...] | None = None

    @property
    def confidentiality(self) -> str | None:
        """The legal ground of the marking, or None for a public case."""
        return self.marking.ground if self.marking else None

    def to_json(self) -> dict[str, Any]:
        """JSON form (see README, 'JSON output'); ``records`` only when loaded."""
        out: dict[str, Any] = {
            "uuid": str(self.uuid),
            "diary_number": self.diary_number,
            "title": self.title,
            "public_title": self.public_title,
            "status": self.status,
            "class": {"code": self.class_code, "title": self.class_title},
            "owner_unit": self.owner_unit,
            "officer": self.officer,
            "opened_at": _iso(self.opened_at),
            "updated_at": _iso(self.updated_at),
            "closed_at": _iso(self.closed_at),
            "confidentiality": self.confidentiality,
            "marking": self.marking.to_json() if self.marking else None,
            "disposal_rule": self.disposal_rule,
            "legal_hold": self.legal_hold,
            "channel": self.channel,
        }
        if self.records is not None:
            out["records"] = [r.to_json() for r in self.records]
        return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class Access:
    """Builds the views one viewer may see, in the register's time zone.

    ``ingest_ground`` is the legal ground shown for event texts that a classifier
    found confidential before any case was marked (the policy's ingest ground).
    """

    def __init__(self, viewer: Viewer, tz: ZoneInfo, numbering: DiaryFormat, ingest_ground: str = "") -> None:
        self.viewer = viewer
        self.tz = tz
        self.numbering = numbering
        self.ingest_ground = ingest_ground
        self.reads: list[Read] = []
        self.noting = False  # set while the register service audits a read (views built for writes note nothing)

    def _local(self, value: datetime) -> datetime:
        return value.astimezone(self.tz)

    def marking(self, row: Any) -> Marking | None:
        """The marking of a case or record row (anything with its confidentiality columns), or None."""
        if not row.confidentiality_ground:
            return None
        marked_at = row.confidentiality_marked_at
        return Marking(
            ground=row.confidentiality_ground,
            withheld=tuple(row.withheld_fields or ()),
            marked_at=self._local(marked_at) if marked_at else None,
            marked_by=row.confidentiality_marked_by,
        )

    def _hidden(self, marking: Marking | None) -> frozenset[str]:
        """The fields this viewer may not see under ``marking`` (none with clearance)."""
        if marking is None or self.viewer.clearance:
            return frozenset()
        return frozenset(marking.withheld or WITHHELD_FIELDS)

    def _text(self, value: str | None) -> str | None:
        return value if self.viewer.clearance else scrub(value)

    def shown(self, value: str | None) -> str | None:
        """A free value from outside (e.g. an audit entry's reference) as this viewer may see it."""
        return self._text(value)

    def _note(self, marking: Marking | None, action: str, entity: str, entity_uuid: uuid.UUID | None,
              ref: str) -> None:
        if self.noting and marking is not None and self.viewer.clearance:
            self.reads.append(Read(action, entity, entity_uuid, ref))

    def _public_title(self, row: Any, marking: Marking | None, hidden: frozenset[str]) -> str:
        """The public title; should it still be the withheld title (marked before smcase replaced those), masked."""
        if marking and hidden & {"title", "description"} and public_is_title(row.public_title, row.title):
            return withheld(marking.ground)
        return self._text(row.public_title) or ""

    def take_reads(self) -> list[Read]:
        """The reads noted since the last call (the register service audits them)."""
        reads, self.reads = self.reads, []
        return reads

    def case(self, case: Case, records: list[Record] | None = None) -> CaseView:
        """The view of ``case``; with ``records``, the views of those records too."""
        marking = self.marking(case)
        hidden = self._hidden(marking)
        self._note(marking, "case.read", "case", case.uuid, case.diary_number)
        return CaseView(
            uuid=case.uuid,
            diary_number=case.diary_number,
            title=withheld(marking.ground) if marking and hidden & {"title", "description"} else
            self._text(case.title) or "",
            public_title=self._public_title(case, marking, hidden),
            status=case.status,
            class_code=case.classification.code,
            class_title=case.classification.title,
            owner_unit=self._text(case.owner_unit),
            officer=case.officer.username,
            opened_at=self._local(case.created_at),
            updated_at=self._local(case.updated_at),
            closed_at=self._local(case.closed_at) if case.closed_at else None,
            marking=marking,
            disposal_rule=case.disposal_rule,
            legal_hold=case.legal_hold,
            channel=self._text(case.channel.address) if case.channel else None,
            records=tuple(self.record(r, case.diary_number, marking) for r in records)
            if records is not None else None,
        )

    def event(self, row: Mapping[Any, Any], case_number: str | None, case_marking: Any = None) -> EventView:
        """The view of a stored event row (``events`` table) whose case is ``case_number``.

        ``case_marking`` is the case's row (or anything with its confidentiality
        columns); without one, an event a classifier found confidential is withheld
        under the policy's ingest ground.
        """
        labels = tuple(sorted({f[0] for f in row.get("findings") or ()}))
        marking = self.marking(case_marking) if case_marking is not None else None
        if marking is None and "confidential" in labels:
            marking = Marking(self.ingest_ground, ("parties", "text"), None, None)
        hidden = self._hidden(marking)
        self._note(marking, "event.read", "event", row["uuid"], row["key"])
        text, author = row["text"], row["author_name"] or row["author_id"]
        cleared = self.viewer.clearance
        return EventView(
            uuid=row["uuid"], key=row["key"] if cleared else str(row["uuid"]), platform=self._text(row["platform"]) or "",
            external_id=row["external_id"] if cleared else scrub(row["external_id"]) or "",
            revision=row["revision"], kind=row["kind"], direction=row["direction"], public=row["public"],
            channel=self._text(row["channel"]),
            author=withheld(marking.ground) if marking and "parties" in hidden and author else self._text(author),
            text=withheld(marking.ground) if marking and "text" in hidden and text else self._text(text),
            created_at=self._local(row["created_at"]),
            url=withheld(marking.ground) if marking and "parties" in hidden and row["url"] else self._text(row["url"]),
            status=row["status"], action=row["action"],
            reason=self._text(row["reason"]), labels=labels, held_by=row["held_by"], case=case_number,
            resolution=row["resolution"], open_work=open_work(row["action"], row["public"], row["resolution"]),
        )

    def quarantined(self, row: Mapping[Any, Any]) -> QuarantineView:
        """The view of a quarantined input item: identity numbers in it are withheld from users without clearance."""
        raw, reason = row["raw"], row["reason"]
        if self.noting and self.viewer.clearance and scrub(raw) != raw:
            self.reads.append(Read("quarantine.read", "quarantine", None, f"{row['adapter']} {row['position']}"))
        return QuarantineView(row["id"], row["adapter"], self._text(row["source"]) or "", row["position"],
                              self._text(raw) or "",
                              self._text(reason) or "", self._local(row["received_at"]), row["status"])

    def record(self, record: Record, case_number: str, case_marking: Marking | None = None) -> RecordView:
        """The view of ``record``, which belongs to the case numbered ``case_number``.

        A record without a marking of its own is withheld as its case is (``case_marking``).
        """
        marking = self.marking(record) or case_marking
        hidden = self._hidden(marking)
        number = self.numbering.record_number(case_number, record.number)
        self._note(marking, "record.read", "record", record.uuid, number)
        mask = withheld(marking.ground) if marking else ""
        parties = "parties" in hidden
        has_source = any((record.source_platform, record.source_external_id, record.source_url, record.source_author))
        return RecordView(
            uuid=record.uuid,
            number=number,
            running_number=record.number,
            case_number=case_number,
            direction=record.direction,
            kind=record.kind,
            title=mask if hidden & {"title", "description"} else self._text(record.title) or "",
            public_title=self._public_title(record, marking, hidden),
            registered_at=self._local(record.registered_at),
            registered_by=record.registered_by.username,
            document_date=record.document_date,
            journal_year=record.journal_year,
            journal_seq=record.journal_seq,
            marking=marking,
            correspondents=tuple(PartyView(c.role, mask if parties else self._text(c.name) or "",
                                           None if parties else self._text(c.address))
                                 for c in record.correspondents),
            documents=tuple(
                DocumentView(d.uuid, d.number, mask if hidden & {"documents", "text"} else
                             self._text(d.original_name) or "", d.format, d.media_type, d.size, d.sha256)
                for d in record.documents
            ),
            source=SourceView(
                self._text(record.source_platform), self._text(record.source_external_id),
                mask if parties and record.source_url else self._text(record.source_url),
                mask if parties and record.source_author else self._text(record.source_author),
                mask if parties and record.source_author_id else self._text(record.source_author_id),
            ) if has_source else None,
        )


@dataclass(frozen=True)
class EventView:
    """A stored social-media event as a viewer may see it (inbox listings)."""

    uuid: uuid.UUID
    key: str
    platform: str
    external_id: str
    revision: int
    kind: str
    direction: str
    public: bool
    channel: str | None
    author: str | None
    text: str | None
    created_at: datetime
    url: str | None
    status: str
    action: str | None
    reason: str | None
    labels: tuple[str, ...]
    held_by: str | None
    case: str | None
    resolution: str | None
    open_work: str | None  # unpublish | removal | None

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase inbox list --json``)."""
        return {
            "uuid": str(self.uuid), "key": self.key, "platform": self.platform, "external_id": self.external_id,
            "revision": self.revision, "kind": self.kind, "direction": self.direction, "public": self.public,
            "channel": self.channel, "author": self.author, "text": self.text,
            "created_at": _iso(self.created_at), "url": self.url, "status": self.status, "action": self.action,
            "reason": self.reason, "labels": list(self.labels), "held_by": self.held_by, "case": self.case,
            "resolution": self.resolution, "open_work": self.open_work,
        }


@dataclass(frozen=True)
class QuarantineView:
    """An input item that could not be parsed."""

    id: int
    adapter: str
    source: str
    position: str
    raw: str
    reason: str
    received_at: datetime
    status: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase inbox list --quarantined --json``)."""
        return {"id": self.id, "adapter": self.adapter, "source": self.source, "position": self.position,
                "raw": self.raw, "reason": self.reason, "received_at": _iso(self.received_at),
                "status": self.status}


def open_work(action: str | None, public: bool, resolution: str | None) -> str | None:
    """What must still be done on the platform for a registered event (a fact of the register).

    A public post registered as confidential must be unpublished; prohibited
    content captured as evidence must be removed. Direct messages were never
    published, so they leave no unpublish work.
    """
    if resolution:
        return None
    if action == "confidential_case" and public:
        return "unpublish"
    if action == "evidence":
        return "removal"
    return None
