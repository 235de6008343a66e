"""The register service: the only code that writes cases, records, classes and users.

Numbering, audit, permission checks and confidentiality markings live here
once. Each write is one transaction: the diary number is allocated, the rows
inserted and the audit entry appended together, or nothing happens at all (so
a failure never burns a number). Every read leaves through ``access.Access``.

Typical use::

    service = RegisterService.open(engine, user="anna")
    case = service.open_case(CaseSpec(title="Synpunkt på snöröjningen"))
    service.add_record(case.diary_number, RecordSpec(direction="incoming", title="Kommentar på Facebook"))
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from . import audit
from .access import Access, CaseView, RecordView, Viewer
from .clock import Clock, local_date, utcnow, zone
from .db import connect, read_only, require_current, upgrade
from .errors import ConfigError, InvalidInput, InvalidState, NotFound, PermissionDenied
from .model import (
    Case,
    CaseStatus,
    Channel,
    Classification,
    Correspondent,
    CorrespondentRole,
    Direction,
    Document,
    Record,
    Register,
    User,
    UserRole,
    table_of,
)
from .numbering import CASE_SCOPE, JOURNAL_SCOPE, ParsedNumber, allocate
from .policy import Ground, Policy, from_document
from .store import FileStore, StoredFile

_INSERT_CASES = insert(table_of(Case))
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_PLACEHOLDER_RECORD_TITLES = {"SE": "Sekretessmarkerad handling", "NO": "Skjermet journalpost"}

DIRECTION_ALIASES = {
    "in": Direction.INCOMING, "incoming": Direction.INCOMING,
    "out": Direction.OUTGOING, "outgoing": Direction.OUTGOING,
    "internal": Direction.INTERNAL,
    "memo": Direction.MEMO,
}


def acting_username(explicit: str | None = None) -> str:
    """Who acts: ``--user``, else ``SMCASE_USER``, else the operating-system login."""
    name = explicit or os.environ.get("SMCASE_USER")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            raise ConfigError("cannot tell who you are: give --user or set SMCASE_USER") from None
    return name


@dataclass(frozen=True)
class Party:
    """A correspondent to record: sender, recipient or copy recipient."""

    role: str
    name: str
    address: str | None = None


@dataclass(frozen=True)
class Source:
    """Where a record came from on social media."""

    platform: str | None = None
    external_id: str | None = None
    url: str | None = None
    author: str | None = None
    author_id: str | None = None


@dataclass(frozen=True)
class CaseSpec:
    """What a new case is to be: only the title is required."""

    title: str
    public_title: str | None = None
    class_code: str | None = None
    confidential: str | None = None  # id or citation of a ground in the policy
    owner_unit: str | None = None
    officer: str | None = None  # user name; defaults to the acting user
    disposal_rule: str | None = None
    channel: str | None = None  # address of a known channel


@dataclass(frozen=True)
class RecordSpec:
    """What a new record is to be: direction and title are required."""

    direction: str
    title: str
    public_title: str | None = None
    kind: str = "document"
    parties: Sequence[Party] = ()
    files: Sequence[Path] = ()
    attachments: Sequence[tuple[str, bytes]] = ()  # (file name, content) captured in memory
    confidential: str | None = None
    document_date: date | None = None
    source: Source | None = None


@dataclass(frozen=True)
class OpenedCase:
    """A case opened by the bulk path: its identity and number."""

    uuid: uuid.UUID
    diary_number: str
    year: int
    seq: int


@dataclass(frozen=True)
class RegisterInfo:
    """The register as a whole."""

    name: str
    org_number: str | None
    country: str
    timezone: str
    policy_name: str
    policy_version: str
    policy_sha256: str
    uuid: uuid.UUID
    cases: int = 0
    records: int = 0
    users: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name, "org_number": self.org_number, "country": self.country,
            "timezone": self.timezone, "uuid": str(self.uuid),
            "policy": {"name": self.policy_name, "version": self.policy_version, "sha256": self.policy_sha256},
            "cases": self.cases, "records": self.records, "users": self.users,
        }


@dataclass(frozen=True)
class UserView:
    """A user of the register."""

    username: str
    roles: tuple[str, ...]
    full_name: str | None
    job_title: str | None
    unit: str | None
    clearance: bool
    active: bool

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "username": self.username, "roles": list(self.roles), "full_name": self.full_name,
            "job_title": self.job_title, "unit": self.unit, "clearance": self.clearance, "active": self.active,
        }


@dataclass(frozen=True)
class ClassView:
    """A class of the filing plan."""

    code: str
    title: str
    uuid: uuid.UUID = field(compare=False)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"code": self.code, "title": self.title, "uuid": str(self.uuid)}


def _user_view(user: User) -> UserView:
    return UserView(user.username, tuple(user.role_names), user.full_name, user.job_title, user.unit,
                    user.clearance, user.active)


def _check_username(name: str) -> str:
    if not _USERNAME.match(name):
        raise InvalidInput(f"{name!r} is not a valid user name (letters, digits, '.', '_', '@', '-')")
    return name


def _text(value: str | None, what: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise InvalidInput(f"{what} may not be empty")
    return cleaned


def create_register(
    engine: Engine,
    *,
    name: str,
    policy: Policy,
    user: str,
    org_number: str | None = None,
    clock: Clock = utcnow,
) -> RegisterInfo:
    """Create the schema and the register in an empty database.

    The person creating it becomes its first user, with the policy's initial
    roles; the policy's filing plan becomes the register's classes.
    """
    _check_username(user)
    name = _text(name, "the register's name")
    upgrade(engine)
    now = clock()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if session.get(Register, 1) is not None:
            raise InvalidState("this database already holds a register")
        register = Register(
            id=1, uuid=uuid.uuid4(), name=name, org_number=org_number, country=policy.country,
            timezone=policy.timezone, policy=policy.document, policy_sha256=policy.sha256,
            created_at=now, created_by=user,
        )
        session.add(register)
        audit.start_chain(session)
        creator = User(username=user, created_at=now, roles=[UserRole(role=r) for r in policy.initial_roles])
        session.add(creator)
        classes = [Classification(code=c.code, title=c.title, created_at=now) for c in policy.classes]
        session.add_all(classes)
        session.flush()
        changes = [
            audit.Change("register.create", "register", register.uuid, name, {
                "after": {"name": name, "org_number": org_number, "country": policy.country,
                          "timezone": policy.timezone, "policy_sha256": policy.sha256, "policy": policy.document},
            }),
            audit.Change("user.add", "user", creator.uuid, user, {"after": {"roles": list(policy.initial_roles)}}),
        ]
        changes += [
            audit.Change("class.add", "class", c.uuid, c.code, {"after": {"code": c.code, "title": c.title}})
            for c in classes
        ]
        audit.append(session, changes, actor=user, at=now)
        return RegisterInfo(name, org_number, policy.country, policy.timezone, policy.name, policy.version,
                            policy.sha256, register.uuid, users=1)


class RegisterService:
    """The register as one acting user sees and changes it."""

    def __init__(self, engine: Engine, register: Register, actor: User, *,
                 files: FileStore | None = None, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.policy: Policy = from_document(register.policy, source="register policy")
        self.tz = zone(register.timezone)
        self.numbering = self.policy.numbering
        self.files = files
        self.register_name = register.name
        self._actor_id = actor.id
        self.actor = Viewer(actor.username, tuple(actor.role_names), actor.clearance)
        self.access = Access(self.actor, self.tz, self.numbering)
        # Classes are only ever added, never changed: cache them for the hot paths.
        self._class_ids: dict[str, int] = {}
        self._class_titles: dict[str, str] = {}

    @classmethod
    def open(cls, engine: Engine, *, user: str | None = None, files: FileStore | None = None,
             clock: Clock = utcnow) -> RegisterService:
        """The service for ``user`` (see ``acting_username``) on the register in ``engine``.

        Refuses a database without a register, an outdated schema, and users the
        register does not know.
        """
        require_current(engine)
        username = acting_username(user)
        with connect(read_only(engine)) as conn, conn.begin():
            session = Session(bind=conn, expire_on_commit=False)
            register = session.get(Register, 1)
            if register is None:
                raise ConfigError("the database has smcase's tables but no register: run 'smcase init'")
            actor = session.scalars(select(User).where(User.username == username)).one_or_none()
            if actor is None:
                raise PermissionDenied(
                    f"unknown user {username!r}: an admin adds users with 'smcase users add NAME --role ROLE'"
                )
            if not actor.active:
                raise PermissionDenied(f"user {username!r} is deactivated")
            return cls(engine, register, actor, files=files, clock=clock)

    # -- transactions and checks ------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with connect(read_only(self.engine)) as conn, conn.begin():
            yield Session(bind=conn, expire_on_commit=False)

    def _require(self, action: str) -> None:
        allowed = self.policy.roles_for(action)
        if not set(self.actor.roles) & set(allowed):
            raise PermissionDenied(
                f"user {self.actor.username!r} may not {action}: it needs one of the roles {', '.join(allowed)}"
            )

    def _audit(self, conn: Session | Connection, changes: Sequence[audit.Change], at: datetime) -> None:
        audit.append(conn, changes, actor=self.actor.username, at=at)

    def _class_id(self, session: Session, code: str) -> int:
        if code not in self._class_ids:
            found = session.execute(
                select(Classification.id, Classification.title).where(Classification.code == code)
            ).one_or_none()
            if found is None:
                raise NotFound(f"no class {code!r} in the filing plan (add it with 'smcase class add')")
            self._class_ids[code], self._class_titles[code] = found
        return self._class_ids[code]

    def _user_id(self, session: Session, username: str) -> int:
        found = session.scalar(select(User.id).where(User.username == username, User.active.is_(True)))
        if found is None:
            raise NotFound(f"no active user {username!r}")
        return found

    def _channel_id(self, session: Session, address: str) -> int:
        found = session.scalar(select(Channel.id).where(Channel.address == address))
        if found is None:
            raise NotFound(f"no channel {address!r} in the register")
        return found

    def _parse(self, number: str) -> ParsedNumber:
        return self.numbering.parse(number)

    def _load_case(self, session: Session, number: str) -> Case:
        parsed = self._parse(number)
        if parsed.record is not None:
            raise InvalidInput(f"{number!r} is a record number; give the case's diary number")
        case = session.scalars(select(Case).where(Case.year == parsed.year, Case.seq == parsed.seq)).one_or_none()
        if case is None:
            raise NotFound(f"no case {number!r} in the register")
        return case

    def _marking(self, ground: Ground, now: datetime) -> dict[str, Any]:
        return {
            "confidentiality_ground": ground.citation,
            "withheld_fields": list(ground.withheld),
            "confidentiality_marked_at": now,
            "confidentiality_marked_by": self.actor.username,
        }

    def _disposal_rule(self, rule: str | None) -> str:
        rule = rule or self.policy.case_disposal_rule
        self.policy.disposal_rule(rule)
        return rule

    # -- cases ------------------------------------------------------------------

    def open_case(self, spec: CaseSpec) -> CaseView:
        """Open a case, give it the next diary number, and audit it."""
        row = self._open([spec])[0]
        # The view is built from the row just written: no second round trip to read it back.
        case = Case(**{k: v for k, v in row.items() if k != "class_code"})
        case.classification = Classification(code=row["class_code"], title=self._class_titles[row["class_code"]])
        case.officer = User(username=spec.officer or self.actor.username)
        case.channel = Channel(address=spec.channel) if spec.channel else None
        return self.access.case(case, [])

    def open_cases(self, specs: Sequence[CaseSpec]) -> list[OpenedCase]:
        """Open many cases in one transaction with one block of consecutive numbers.

        This is the bulk path (ingest): no ORM objects, one INSERT for all rows.
        """
        rows = self._open(specs)
        return [OpenedCase(r["uuid"], r["diary_number"], r["year"], r["seq"]) for r in rows]

    def _open(self, specs: Sequence[CaseSpec]) -> list[dict[str, Any]]:
        self._require("case.open")
        if not specs:
            return []
        now = self.clock()
        year = local_date(now, self.tz).year
        with self._write() as session:
            conn = session.connection()
            # Everything that needs no number is done before the counter's lock is taken.
            rows = [self._case_row(session, spec, now) for spec in specs]
            payloads = [_jsonable(row) for row in rows]
            first = allocate(conn, CASE_SCOPE, year, len(rows))
            for offset, (row, payload) in enumerate(zip(rows, payloads, strict=True)):
                number = self.numbering.case_number(year, first + offset)
                row.update(year=year, seq=first + offset, diary_number=number)
                payload.update(year=year, seq=first + offset, diary_number=number)
            conn.execute(_INSERT_CASES, [{k: v for k, v in r.items() if k != "class_code"} for r in rows])
            self._audit(conn, [
                audit.Change("case.open", "case", row["uuid"], row["diary_number"], {"after": payload})
                for row, payload in zip(rows, payloads, strict=True)
            ], now)
        return rows

    def _case_row(self, session: Session, spec: CaseSpec, now: datetime) -> dict[str, Any]:
        title = _text(spec.title, "a case's title")
        ground = self.policy.ground(spec.confidential) if spec.confidential else None
        public_title = (spec.public_title or "").strip() or (
            self.policy.placeholder_title if ground and "title" in ground.withheld else title
        )
        class_code = spec.class_code or self.policy.default_class
        row: dict[str, Any] = {
            "uuid": uuid.uuid4(),
            "class_code": class_code,
            "title": title,
            "public_title": public_title,
            "status": CaseStatus.OPEN.value,
            "class_id": self._class_id(session, class_code),
            "owner_unit": (spec.owner_unit or "").strip() or None,
            "officer_id": self._user_id(session, spec.officer) if spec.officer else self._actor_id,
            "created_at": now,
            "created_by_id": self._actor_id,
            "updated_at": now,
            "disposal_rule": self._disposal_rule(spec.disposal_rule),
            "legal_hold": False,
            "channel_id": self._channel_id(session, spec.channel) if spec.channel else None,
            "next_record_number": 1,
            "confidentiality_ground": None,
            "withheld_fields": None,
            "confidentiality_marked_at": None,
            "confidentiality_marked_by": None,
        }
        if ground:
            row.update(self._marking(ground, now))
        return row

    def update_case(self, number: str, **changes: Any) -> CaseView:
        """Change a case's title, public title, class, owner unit, officer, disposal rule or status.

        Status may only move open → in_progress here; closing and reopening have
        their own calls. A closed case is not changed.
        """
        self._require("case.update")
        allowed = {"title", "public_title", "class_code", "owner_unit", "officer", "disposal_rule", "status"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(f"cannot update {', '.join(sorted(unknown))} of a case")
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise InvalidInput("nothing to update: give at least one new value")
        now = self.clock()
        with self._write() as session:
            case = self._load_case(session, number)
            if case.status == CaseStatus.CLOSED:
                raise InvalidState(f"case {case.diary_number} is closed; reopen it first")
            before, after = {}, {}
            for key, value in changes.items():
                column, new = self._resolve_case_change(session, case, key, value)
                old = getattr(case, column)
                if old != new:
                    before[key], after[key] = _jsonable_value(old), _jsonable_value(new)
                    setattr(case, column, new)
            if after:
                case.updated_at = now
                self._audit(session, [audit.Change("case.update", "case", case.uuid, case.diary_number,
                                                   {"before": before, "after": after})], now)
        return self.get_case(number)

    def _resolve_case_change(self, session: Session, case: Case, key: str, value: Any) -> tuple[str, Any]:
        if key == "title":
            return "title", _text(value, "a case's title")
        if key == "public_title":
            return "public_title", _text(value, "a case's public title")
        if key == "class_code":
            return "class_id", self._class_id(session, value)
        if key == "owner_unit":
            return "owner_unit", value.strip() or None
        if key == "officer":
            return "officer_id", self._user_id(session, value)
        if key == "disposal_rule":
            return "disposal_rule", self._disposal_rule(value)
        # status: the only move allowed here is open -> in_progress (and staying put)
        status = CaseStatus(value) if value in CaseStatus._value2member_map_ else None
        if status not in (CaseStatus.OPEN, CaseStatus.IN_PROGRESS):
            raise InvalidInput(f"status {value!r} cannot be set here; use 'case close' or 'case reopen'")
        if status == CaseStatus.OPEN and case.status == CaseStatus.IN_PROGRESS:
            raise InvalidInput("a case in progress goes back to open only by closing and reopening")
        return "status", status.value

    def close_case(self, number: str) -> CaseView:
        """Close a case (status closed, closing time and user recorded)."""
        self._require("case.close")
        now = self.clock()
        with self._write() as session:
            case = self._load_case(session, number)
            if case.status == CaseStatus.CLOSED:
                raise InvalidState(f"case {case.diary_number} is already closed")
            before = case.status
            case.status, case.closed_at, case.closed_by_id, case.updated_at = (
                CaseStatus.CLOSED.value, now, self._actor_id, now)
            self._audit(session, [audit.Change("case.close", "case", case.uuid, case.diary_number,
                                               {"before": {"status": before},
                                                "after": {"status": "closed", "closed_at": now.isoformat()}})], now)
        return self.get_case(number)

    def reopen_case(self, number: str, reason: str) -> CaseView:
        """Reopen a closed case; the reason is logged."""
        self._require("case.reopen")
        reason = _text(reason, "the reason for reopening")
        now = self.clock()
        with self._write() as session:
            case = self._load_case(session, number)
            if case.status != CaseStatus.CLOSED:
                raise InvalidState(f"case {case.diary_number} is not closed (it is {case.status})")
            closed_at = case.closed_at
            case.status, case.closed_at, case.closed_by_id, case.updated_at = CaseStatus.OPEN.value, None, None, now
            self._audit(session, [audit.Change("case.reopen", "case", case.uuid, case.diary_number, {
                "before": {"status": "closed", "closed_at": closed_at.isoformat() if closed_at else None},
                "after": {"status": "open"}, "reason": reason})], now)
        return self.get_case(number)

    def mark(self, number: str, ground: str | None) -> CaseView | RecordView:
        """Mark a case or record confidential under ``ground``, or lift the marking with None.

        Marking a case or record whose public title is its (now withheld) title
        replaces the public title with the policy's placeholder, so the secret
        title cannot leak through the public one.
        """
        self._require("case.mark")
        parsed = self._parse(number)
        now = self.clock()
        with self._write() as session:
            case = self._load_case(session, self.numbering.case_number(parsed.year, parsed.seq))
            target: Case | Record = case
            entity = "case"
            placeholder = self.policy.placeholder_title
            if parsed.record is not None:
                target = self._load_record(session, case, parsed.record)
                entity = "record"
                placeholder = _PLACEHOLDER_RECORD_TITLES[self.policy.country]
            before = {"ground": target.confidentiality_ground, "withheld": target.withheld_fields,
                      "public_title": target.public_title}
            if ground is None:
                if target.confidentiality_ground is None:
                    raise InvalidState(f"{number} is not marked confidential")
                target.confidentiality_ground = None
                target.withheld_fields = None
                target.confidentiality_marked_at = None
                target.confidentiality_marked_by = None
            else:
                found = self.policy.ground(ground)
                for key, value in self._marking(found, now).items():
                    setattr(target, key, value)
                if "title" in found.withheld and target.public_title == target.title:
                    target.public_title = placeholder
            after = {"ground": target.confidentiality_ground, "withheld": target.withheld_fields,
                     "public_title": target.public_title}
            case.updated_at = now
            ref = number if entity == "case" else self.numbering.record_number(case.diary_number, parsed.record or 0)
            self._audit(session, [audit.Change(f"{entity}.mark", entity, target.uuid, ref,
                                               {"before": before, "after": after})], now)
        if parsed.record is not None:
            return self.get_record(number)
        return self.get_case(number)

    # -- records ----------------------------------------------------------------

    def add_record(self, case_number: str, spec: RecordSpec) -> RecordView:
        """Register a record in an open case with the case's next running number.

        Files are put in the document store first (content-addressed, so a
        failed transaction leaves at most an unreferenced file, never a
        dangling reference).
        """
        self._require("record.add")
        direction = DIRECTION_ALIASES.get(spec.direction.strip().lower())
        if direction is None:
            raise InvalidInput(f"unknown direction {spec.direction!r}: use in, out, internal or memo")
        title = _text(spec.title, "a record's description")
        ground = self.policy.ground(spec.confidential) if spec.confidential else None
        parties = [self._party(p) for p in spec.parties]
        stored = self._store_files(spec.files, spec.attachments)
        now = self.clock()
        parsed = self._parse(case_number)
        if parsed.record is not None:
            raise InvalidInput(f"{case_number!r} is a record number; give the case's diary number")
        with self._write() as session:
            # Taking the running number also locks the case row for the rest of the transaction.
            taken = session.execute(
                update(Case)
                .where(Case.year == parsed.year, Case.seq == parsed.seq)
                .values(next_record_number=Case.next_record_number + 1, updated_at=now)
                .returning(Case.id, Case.uuid, Case.diary_number, Case.status, Case.next_record_number)
            ).one_or_none()
            if taken is None:
                raise NotFound(f"no case {case_number!r} in the register")
            case_id, case_uuid, diary_number, status, next_number = taken
            if status == CaseStatus.CLOSED:
                raise InvalidState(f"case {diary_number} is closed; reopen it before adding records")
            journal_year = journal_seq = None
            if self.numbering.journal:
                journal_year = local_date(now, self.tz).year
                journal_seq = allocate(session, JOURNAL_SCOPE, journal_year)
            public_title = (spec.public_title or "").strip() or (
                _PLACEHOLDER_RECORD_TITLES[self.policy.country] if ground and "title" in ground.withheld else title
            )
            source = spec.source or Source()
            record = Record(
                uuid=uuid.uuid4(), case_id=case_id, number=next_number - 1,
                journal_year=journal_year, journal_seq=journal_seq, direction=direction.value,
                kind=spec.kind, title=title, public_title=public_title, registered_at=now,
                registered_by_id=self._actor_id, document_date=spec.document_date,
                source_platform=source.platform, source_external_id=source.external_id, source_url=source.url,
                source_author=source.author, source_author_id=source.author_id,
                correspondents=[Correspondent(role=p.role, name=p.name, address=p.address) for p in parties],
                documents=[
                    Document(uuid=uuid.uuid4(), number=i, sha256=f.sha256, size=f.size, format=f.format,
                             media_type=f.media_type, original_name=f.original_name, added_at=now,
                             added_by=self.actor.username)
                    for i, f in enumerate(stored, start=1)
                ],
            )
            if ground:
                for key, value in self._marking(ground, now).items():
                    setattr(record, key, value)
            session.add(record)
            session.flush()
            number = self.numbering.record_number(diary_number, record.number)
            self._audit(session, [audit.Change("record.add", "record", record.uuid, number, {"after": {
                "case": str(case_uuid), "number": record.number, "direction": record.direction,
                "kind": record.kind, "title": title, "public_title": public_title,
                "journal": [journal_year, journal_seq] if journal_seq else None,
                "confidentiality": record.confidentiality_ground,
                "parties": [[p.role, p.name, p.address] for p in parties],
                "documents": [[f.sha256, f.original_name, f.size] for f in stored],
                "source": [source.platform, source.external_id, source.url, source.author],
            }})], now)
        return self.get_record(number)

    def _party(self, party: Party) -> Party:
        role = party.role.strip().lower()
        if role not in CorrespondentRole._value2member_map_:
            raise InvalidInput(f"unknown correspondent role {party.role!r}: use sender, recipient or copy_recipient")
        return Party(role, _text(party.name, "a correspondent's name"), (party.address or "").strip() or None)

    def _store_files(self, paths: Sequence[Path], attachments: Sequence[tuple[str, bytes]]) -> list[StoredFile]:
        if not paths and not attachments:
            return []
        if self.files is None:
            raise ConfigError("no document store is configured (set SMCASE_FILES)")
        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise InvalidInput(f"no such file: {missing[0]}")
        stored = [self.files.put_file(Path(p)) for p in paths]
        return stored + [self.files.put_bytes(data, name) for name, data in attachments]

    def _load_record(self, session: Session, case: Case, running_number: int) -> Record:
        record = session.scalars(
            select(Record).where(Record.case_id == case.id, Record.number == running_number)
        ).one_or_none()
        if record is None:
            raise NotFound(f"no record {self.numbering.record_number(case.diary_number, running_number)!r}")
        return record

    # -- classes and users ------------------------------------------------------

    def add_class(self, code: str, title: str) -> ClassView:
        """Add a class to the filing plan."""
        self._require("class.add")
        code = _text(code, "a class code")
        if any(ch.isspace() for ch in code):
            raise InvalidInput(f"class code {code!r} may not contain spaces")
        title = _text(title, "a class title")
        now = self.clock()
        with self._write() as session:
            if session.scalar(select(Classification.id).where(Classification.code == code)) is not None:
                raise InvalidState(f"class {code!r} already exists")
            cls = Classification(code=code, title=title, created_at=now)
            session.add(cls)
            session.flush()
            self._audit(session, [audit.Change("class.add", "class", cls.uuid, code,
                                               {"after": {"code": code, "title": title}})], now)
            return ClassView(code, title, cls.uuid)

    def add_user(self, username: str, roles: Sequence[str], *, full_name: str | None = None,
                 job_title: str | None = None, unit: str | None = None, clearance: bool = False) -> UserView:
        """Add an individual user with roles from the policy."""
        self._require("user.manage")
        username = _check_username(username)
        roles = tuple(dict.fromkeys(roles))
        if not roles:
            raise InvalidInput("a user needs at least one role")
        unknown = [r for r in roles if r not in self.policy.roles]
        if unknown:
            raise InvalidInput(f"unknown role {unknown[0]!r}; the policy's roles are {', '.join(self.policy.roles)}")
        now = self.clock()
        with self._write() as session:
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise InvalidState(f"user {username!r} already exists")
            user = User(username=username, full_name=full_name, job_title=job_title, unit=unit,
                        clearance=clearance, created_at=now, roles=[UserRole(role=r) for r in roles])
            session.add(user)
            session.flush()
            self._audit(session, [audit.Change("user.add", "user", user.uuid, username, {"after": {
                "roles": list(roles), "full_name": full_name, "job_title": job_title, "unit": unit,
                "clearance": clearance}})], now)
            return _user_view(user)

    # -- reads ------------------------------------------------------------------

    def info(self) -> RegisterInfo:
        """The register, with counts of cases, records and users."""
        with self._read() as session:
            register = session.get(Register, 1)
            assert register is not None
            return RegisterInfo(
                register.name, register.org_number, register.country, register.timezone,
                self.policy.name, self.policy.version, register.policy_sha256, register.uuid,
                cases=session.scalar(select(func.count()).select_from(Case)) or 0,
                records=session.scalar(select(func.count()).select_from(Record)) or 0,
                users=session.scalar(select(func.count()).select_from(User)) or 0,
            )

    def get_case(self, number: str, *, records: bool = True) -> CaseView:
        """The case with this diary number (spacing, case and leading zeros forgiven)."""
        with self._read() as session:
            case = self._load_case(session, number)
            rows = list(session.scalars(select(Record).where(Record.case_id == case.id).order_by(Record.number)))
            return self.access.case(case, rows if records else None)

    def get_record(self, number: str) -> RecordView:
        """The record with this number (e.g. ``KS 2026/0042-3``)."""
        parsed = self._parse(number)
        if parsed.record is None:
            raise InvalidInput(f"{number!r} is a case number; give a record number such as {number}-1")
        with self._read() as session:
            case = self._load_case(session, self.numbering.case_number(parsed.year, parsed.seq))
            return self.access.record(self._load_record(session, case, parsed.record), case.diary_number)

    def iter_cases(self, *, status: str | None = None, text: str | None = None,
                   opened_from: date | None = None, opened_to: date | None = None,
                   limit: int | None = None) -> Iterator[CaseView]:
        """Cases matching the filters, oldest first, streamed in batches.

        ``text`` matches the diary number, title or public title (case-insensitive);
        the dates bound the opening day in the register's time zone, inclusive.
        """
        query = select(Case).order_by(Case.year, Case.seq)
        if status:
            if status not in CaseStatus._value2member_map_:
                raise InvalidInput(f"unknown status {status!r}: use open, in_progress or closed")
            query = query.where(Case.status == status)
        if text:
            pattern = f"%{text.strip()}%"
            query = query.where(or_(Case.diary_number.ilike(pattern), Case.title.ilike(pattern),
                                    Case.public_title.ilike(pattern)))
        if opened_from:
            query = query.where(Case.created_at >= self._day_start(opened_from))
        if opened_to:
            query = query.where(Case.created_at < self._day_start(date.fromordinal(opened_to.toordinal() + 1)))
        if limit:
            query = query.limit(limit)
        with self._read() as session:
            for case in session.scalars(query.execution_options(yield_per=500)):
                yield self.access.case(case)

    def _day_start(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz)

    def list_users(self) -> list[UserView]:
        """Every user, by user name."""
        with self._read() as session:
            return [_user_view(u) for u in session.scalars(select(User).order_by(User.username))]

    def list_classes(self) -> list[ClassView]:
        """The filing plan, by code."""
        with self._read() as session:
            return [ClassView(c.code, c.title, c.uuid)
                    for c in session.scalars(select(Classification).order_by(Classification.code))]


def _jsonable_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable_value(v) for k, v in row.items()}
