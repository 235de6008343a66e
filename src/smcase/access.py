"""The access seam: the one place that decides what of a case or record a user sees.

Every read that leaves the register service (to the CLI, exports, plugins)
is built here from the stored rows into plain, immutable views. Nothing else
turns a row into something shown, so masking confidential fields for users
without clearance happens here once and reaches every output.

In the register core every viewer sees every field; the views already carry
the marking (ground and withheld fields) that masking will act on.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from .model import Case, Record
from .numbering import DiaryFormat


@dataclass(frozen=True)
class Viewer:
    """Who is reading: user name, roles, and clearance for confidential content."""

    username: str
    roles: tuple[str, ...]
    clearance: bool


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
    """Builds the views one viewer may see, in the register's time zone."""

    def __init__(self, viewer: Viewer, tz: ZoneInfo, numbering: DiaryFormat) -> None:
        self.viewer = viewer
        self.tz = tz
        self.numbering = numbering

    def _local(self, value: datetime) -> datetime:
        return value.astimezone(self.tz)

    def _marking(self, row: Case | Record) -> Marking | None:
        if not row.confidentiality_ground:
            return None
        marked_at = row.confidentiality_marked_at
        return Marking(
            ground=row.confidentiality_ground,
            withheld=tuple(row.withheld_fields or ()),
            marked_at=self._local(marked_at) if marked_at else None,
            marked_by=row.confidentiality_marked_by,
        )

    def case(self, case: Case, records: list[Record] | None = None) -> CaseView:
        """The view of ``case``; with ``records``, the views of those records too."""
        marking = self._marking(case)
        return CaseView(
            uuid=case.uuid,
            diary_number=case.diary_number,
            title=case.title,
            public_title=case.public_title,
            status=case.status,
            class_code=case.classification.code,
            class_title=case.classification.title,
            owner_unit=case.owner_unit,
            officer=case.officer.username,
            opened_at=self._local(case.created_at),
            updated_at=self._local(case.updated_at),
            closed_at=self._local(case.closed_at) if case.closed_at else None,
            marking=marking,
            disposal_rule=case.disposal_rule,
            legal_hold=case.legal_hold,
            channel=case.channel.address if case.channel else None,
            records=tuple(self.record(r, case.diary_number) for r in records) if records is not None else None,
        )

    def event(self, row: Mapping[Any, Any], case_number: str | None) -> EventView:
        """The view of a stored event row (``events`` table) whose case is ``case_number``."""
        labels = tuple(sorted({f[0] for f in row.get("findings") or ()}))
        return EventView(
            uuid=row["uuid"], key=row["key"], platform=row["platform"], external_id=row["external_id"],
            revision=row["revision"], kind=row["kind"], direction=row["direction"], public=row["public"],
            channel=row["channel"], author=row["author_name"] or row["author_id"], text=row["text"],
            created_at=self._local(row["created_at"]), url=row["url"], status=row["status"], action=row["action"],
            reason=row["reason"], labels=labels, held_by=row["held_by"], case=case_number,
            resolution=row["resolution"], open_work=open_work(row["action"], row["public"], row["resolution"]),
        )

    def quarantined(self, row: Mapping[Any, Any]) -> QuarantineView:
        """The view of a quarantined input item."""
        return QuarantineView(row["id"], row["adapter"], row["source"], row["position"], row["raw"], row["reason"],
                              self._local(row["received_at"]), row["status"])

    def record(self, record: Record, case_number: str) -> RecordView:
        """The view of ``record``, which belongs to the case numbered ``case_number``."""
        has_source = any((record.source_platform, record.source_external_id, record.source_url, record.source_author))
        return RecordView(
            uuid=record.uuid,
            number=self.numbering.record_number(case_number, record.number),
            running_number=record.number,
            case_number=case_number,
            direction=record.direction,
            kind=record.kind,
            title=record.title,
            public_title=record.public_title,
            registered_at=self._local(record.registered_at),
            registered_by=record.registered_by.username,
            document_date=record.document_date,
            journal_year=record.journal_year,
            journal_seq=record.journal_seq,
            marking=self._marking(record),
            correspondents=tuple(PartyView(c.role, c.name, c.address) for c in record.correspondents),
            documents=tuple(
                DocumentView(d.uuid, d.number, d.original_name, d.format, d.media_type, d.size, d.sha256)
                for d in record.documents
            ),
            source=SourceView(
                record.source_platform, record.source_external_id, record.source_url,
                record.source_author, record.source_author_id,
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
