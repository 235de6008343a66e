"""The register model: typed SQLAlchemy 2.x tables.

One database holds one register (one organisation's diary). Every entity has a
UUID that never changes; the archive exports use it as the system identifier.
Instants are stored in UTC (``UTCDateTime``); the register's time zone decides
calendar days and years.

Only the register service (the ``register`` package) writes these tables. Readers get
plain views through ``access.py``, never these objects.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import true

# Constraint names are fixed so that migrations name the same things on every
# database (SQLite and PostgreSQL would otherwise invent different names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored as UTC on every database.

    SQLite keeps no zone; this type normalises on the way in and attaches UTC
    on the way out, so Python code only ever sees aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with the project's naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class CaseStatus(StrEnum):
    """Life of a case: open → in progress → closed; reopening is logged."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Direction(StrEnum):
    """Direction of a record (SE inkommande/utgående/upprättad; NO I/U/N/X)."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"
    INTERNAL = "internal"  # internal document for follow-up (Noark N)
    MEMO = "memo"  # internal note without follow-up (Noark X)


class CorrespondentRole(StrEnum):
    """Part a correspondent plays on a record."""

    SENDER = "sender"
    RECIPIENT = "recipient"
    COPY_RECIPIENT = "copy_recipient"


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Register(Base):
    """The one register this database holds: the archive creator of both exports."""

    __tablename__ = "register"
    __table_args__ = (CheckConstraint("id = 1", name="single_register"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(200))
    org_number: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    # The parsed policy in force (numbering, roles, grounds, disposal rules...).
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class User(Base):
    """An individual who acts in the register (never a shared or group account, TOR-11)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(200))
    clearance: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )

    @property
    def role_names(self) -> list[str]:
        """The user's role names, sorted."""
        return [r.role for r in self.roles]


class UserRole(Base):
    """One role held by a user; role names come from the policy."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)

    user: Mapped[User] = relationship(back_populates="roles")


class Classification(Base):
    """A class in the filing plan (SE Klassa-style code, NO klasse)."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class Channel(Base):
    """A social-media account run in the municipality's name.

    State: proposed → approved → active → stopped. Its whole history (plan,
    approvals, mandates, start, snapshots, monitoring, stop) is records in the
    case ``case_id``. The plan (with administrators' contact details) is kept as
    proposed; the public list shows only the function's contact.
    """

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    platform: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(500), unique=True)  # URL or handle
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(32), default="proposed")
    created_at: Mapped[datetime]
    owner: Mapped[str | None] = mapped_column(String(200))  # the owning function, never a person (VIM-1)
    contact: Mapped[str | None] = mapped_column(String(300))  # the function's public contact
    purpose: Mapped[str | None] = mapped_column(Text)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    custody_location: Mapped[str | None] = mapped_column(String(300))  # where credentials are kept, never them
    controller_of_visitor_content: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())  # TOR-10
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", use_alter=True))
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    stop_reason: Mapped[str | None] = mapped_column(Text)


class ChannelApproval(Base):
    """One approval or consultation step done for a channel, by whom, and its record."""

    __tablename__ = "channel_approvals"
    __table_args__ = (UniqueConstraint("channel_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    step: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str] = mapped_column(String(100))
    approved_at: Mapped[datetime]
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))


class Mandate(Base):
    """A person's mandate to write for the municipality on a channel (RAT-1, RAT-3, NOR-2, REN-3)."""

    __tablename__ = "mandates"
    __table_args__ = (Index("ix_mandates_channel_user", "channel_id", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    username: Mapped[str] = mapped_column(String(100))
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[datetime]
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    revoked_at: Mapped[datetime | None]


class CaptureSource(Base):
    """Live capture configured for a channel: the platform's own id for it, and where its capture stands.

    ``platform_id`` is what deliveries and polls are matched on (a Facebook page
    id, a Mastodon ``acct``); ``instance`` and ``token_file`` say where to poll
    and which token to use (a path, never the token). ``position`` is the
    poller's resume point and ``last_success_at`` feeds the "capture stalled"
    duty. Kept apart from ``channels`` on purpose: it changes at every poll,
    which is operational state, not a registered change of the channel (the
    configuration itself is registered as a record in the channel's case).
    """

    __tablename__ = "capture_sources"
    __table_args__ = (UniqueConstraint("platform", "platform_id"),)

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[str] = mapped_column(String(300))
    instance: Mapped[str | None] = mapped_column(String(500))
    token_file: Mapped[str | None] = mapped_column(String(1000))
    configured_at: Mapped[datetime]
    configured_by: Mapped[str] = mapped_column(String(100))
    position: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Counter(Base):
    """A number sequence: one row per scope and year, incremented in the writer's transaction.

    Scopes: ``case`` (the diary's case sequence) and ``journal`` (Noark's
    register-wide journalsekvensnummer). A rolled-back transaction rolls the
    increment back too, so no number is ever burned.
    """

    __tablename__ = "counters"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class ConfidentialityMixin:
    """A confidentiality marking: legal ground, withheld fields, when and by whom.

    OSL 5 kap. 5 § (SE): a marking states the provision, the date and the
    authority; the Noark skjerming (NO) names skjermingshjemmel and the
    screened metadata. ``confidentiality_ground`` is NULL for public matter.
    """

    confidentiality_ground: Mapped[str | None] = mapped_column(String(200))
    withheld_fields: Mapped[list[str] | None] = mapped_column(JSON)
    confidentiality_marked_at: Mapped[datetime | None]
    confidentiality_marked_by: Mapped[str | None] = mapped_column(String(100))


class Case(ConfidentialityMixin, Base):
    """A matter in the register, identified by its diary number."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        CheckConstraint("status IN ('open', 'in_progress', 'closed')", name="status"),
        Index("ix_cases_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    diary_number: Mapped[str] = mapped_column(String(64), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    public_title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN.value)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"))
    owner_unit: Mapped[str | None] = mapped_column(String(200))
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disposal_rule: Mapped[str] = mapped_column(String(64))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    # Next running number for a record in this case; bumped in the writer's transaction.
    next_record_number: Mapped[int] = mapped_column(Integer, default=1)

    classification: Mapped[Classification] = relationship(lazy="joined")
    officer: Mapped[User] = relationship(foreign_keys=[officer_id], lazy="joined")
    channel: Mapped[Channel | None] = relationship(lazy="joined", foreign_keys=[channel_id])
    records: Mapped[list[Record]] = relationship(back_populates="case", order_by="Record.number")


class Record(ConfidentialityMixin, Base):
    """A registered document or message in a case (SE handling, NO journalpost)."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("case_id", "number"),
        UniqueConstraint("journal_year", "journal_seq"),
        CheckConstraint("direction IN ('incoming', 'outgoing', 'internal', 'memo')", name="direction"),
        Index("ix_records_source", "source_platform", "source_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    number: Mapped[int] = mapped_column(Integer)
    # Noark journalaar/journalsekvensnummer; NULL in registers without a journal sequence.
    journal_year: Mapped[int | None] = mapped_column(Integer)
    journal_seq: Mapped[int | None] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64), default="document")
    title: Mapped[str] = mapped_column(Text)
    public_title: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(index=True)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    document_date: Mapped[date | None] = mapped_column(Date)
    source_platform: Mapped[str | None] = mapped_column(String(64))
    source_external_id: Mapped[str | None] = mapped_column(String(200))
    source_url: Mapped[str | None] = mapped_column(Text)
    source_author: Mapped[str | None] = mapped_column(String(200))
    source_author_id: Mapped[str | None] = mapped_column(String(200))

    # Disposal destroys a record's documents and audit payloads; the register entry stays (numbers never skip).
    disposed_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="records")
    registered_by: Mapped[User] = relationship(lazy="joined")
    correspondents: Mapped[list[Correspondent]] = relationship(
        back_populates="record", cascade="all, delete-orphan", lazy="selectin", order_by="Correspondent.id"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="record", cascade="all, delete-orphan", lazy="selectin", order_by="Document.number"
    )


class Correspondent(Base):
    """A sender or recipient of a record (NO korrespondansepart, SE avsändare/mottagare)."""

    __tablename__ = "correspondents"
    __table_args__ = (
        CheckConstraint("role IN ('sender', 'recipient', 'copy_recipient')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(Text)

    record: Mapped[Record] = relationship(back_populates="correspondents")


class Document(Base):
    """A file attached to a record, stored once in the content-addressed file store."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("record_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # order in the record, main document first
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(32))  # file extension, lower case: pdf, txt, png
    media_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(500))
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(100))

    record: Mapped[Record] = relationship(back_populates="documents")


class DisposalEntry(Base):
    """The disposal log: one entry per disposed item (what, under which rule, when, by whom). It survives the item.

    ``ref`` and ``what`` are public: an event key or record number, and a description
    such as "comment on facebook" - never the disposed content.
    """

    __tablename__ = "disposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(32))  # event | record
    entity_uuid: Mapped[uuid.UUID] = mapped_column(Uuid)
    ref: Mapped[str] = mapped_column(String(400))
    rule: Mapped[str] = mapped_column(String(64))
    what: Mapped[str] = mapped_column(String(300))


class AuditEntry(Base):
    """One change in the register: who, when, what, and the digest of its payload.

    Entries are numbered 1, 2, 3... with no gap and chained: ``entry_hash``
    covers the entry's fields and ``prev_hash``. The payload itself (before and
    after values) lives in ``AuditPayload`` so lawful disposal can erase it
    while the chain still verifies.
    """

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_uuid: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # A public reference such as a diary number or class code; never confidential text.
    ref: Mapped[str | None] = mapped_column(String(200))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    # The digest of the row attestations this entry covers (None: it attested no row). In entry_hash when set.
    rows_sha256: Mapped[str | None] = mapped_column(String(64))


class Attestation(Base):
    """The audited state of one row as an audit entry left it (``attest.py``): append-only, never updated.

    The last attestation of each row is what ``smcase audit verify`` compares the
    row with; the entry ``seq`` covers the digests through its ``rows_sha256``.
    """

    __tablename__ = "attestations"
    # Both covering, so that verify's two streams are index scans with no sort and no table lookup:
    # a table's rows with their attestations in row order, and the attestations entry by entry.
    __table_args__ = (Index("ix_attestations_row", "tbl", "row_id", "seq", "digest"),
                      Index("ix_attestations_seq", "seq", "tbl", "row_id", "digest"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    tbl: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))


class AuditPayload(Base):
    """The before and after values of one audit entry (canonical JSON)."""

    __tablename__ = "audit_payloads"

    seq: Mapped[int] = mapped_column(
        ForeignKey("audit_entries.seq", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    payload: Mapped[str] = mapped_column(Text)


class AuditHead(Base):
    """The chain's head: last entry number and hash. Its row lock serialises appends."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_head"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    entry_hash: Mapped[str] = mapped_column(String(64))


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for the bulk paths that bypass the ORM."""
    return cast(Table, model.__table__)


class EventRow(Base):
    """Every ingested social-media item, kept whether or not it became a case (NOR-4).

    ``key`` is the adapter's identity of the item: the same item delivered twice
    is stored once. An edit is a new row (a new revision or verb), so nothing
    stored is overwritten (TOR-5). ``status`` is ``trivial`` (kept, searchable),
    ``registered`` (it is a record in ``case_id``) or ``held`` (a plugin failed
    on it; ``held_by`` names the plugin; ``inbox retry`` runs it again).
    ``resolution`` records what was done on the platform (unpublished, removed, hidden).
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_platform_external", "platform", "external_id"),
        Index("ix_events_status", "status"),
        Index("ix_events_thread", "platform", "thread"),
        Index("ix_events_reply", "platform", "in_reply_to"),  # ingest: answers stored before their comment
        Index("ix_events_channel", "channel"),  # inbox list --channel (text and author: migration 0006's index)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=_uuid)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(500))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    author_id: Mapped[str | None] = mapped_column(String(200))
    author_name: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    url: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(200))
    thread: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(3))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    raw: Mapped[str | None] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    adapter: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    position: Mapped[str] = mapped_column(String(100))
    ingested_at: Mapped[datetime]
    ingested_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    action: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[list[str] | None] = mapped_column(JSON)
    held_by: Mapped[str | None] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"))
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class QuarantineRow(Base):
    """An input item that could not be parsed: where it was, its raw text, why, and by which adapter."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adapter: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    position: Mapped[str] = mapped_column(String(100))
    raw: Mapped[str] = mapped_column(Text)
    # Digest of adapter and raw text: the same bad input ingested again is a duplicate, not a new entry.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
