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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, event, func, insert, literal_column, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from . import attest, audit, identity
from .access import NOTIFIER, Access, CaseView, RecordView, Viewer, public_is_title
from .clock import Clock, local_date, utcnow, zone
from .db import connect, read_only, require_current, upgrade
from .diary import ParsedNumber
from .errors import ConfigError, InvalidInput, InvalidState, NotFound, PermissionDenied
from .identity import scrub
from .model import (
    Case,
    CaseStatus,
    Channel,
    ChannelApproval,
    Classification,
    Correspondent,
    CorrespondentRole,
    Direction,
    DisposalEntry,
    Document,
    EventRow,
    Mandate,
    Record,
    Register,
    User,
    UserRole,
    table_of,
)
from .numbering import CASE_SCOPE, JOURNAL_SCOPE, allocate
from .policy import Ground, Policy, from_document
from .rescan import Findings
from .rescan import Report as RescanReport
from .store import FileStore, StoredFile

_CASES = table_of(Case)
_RECORDS = table_of(Record)
_INSERT_CASES = insert(_CASES)
# A new case's audited state as the driver gives it (untyped), for its attestation: see attest.returned_states.
_RETURNED_CASE: tuple[ColumnClause[Any], ...] = tuple(literal_column(name) for name in attest.returned_columns("cases"))
_INSERT_RECORDS = insert(_RECORDS)
_INSERT_PARTIES = insert(table_of(Correspondent))
_INSERT_DOCUMENTS = insert(table_of(Document))
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_PLACEHOLDER_RECORD_TITLES = {"SE": "Sekretessmarkerad handling", "NO": "Skjermet journalpost"}

DIRECTION_ALIASES = {
    "in": Direction.INCOMING, "incoming": Direction.INCOMING,
    "out": Direction.OUTGOING, "outgoing": Direction.OUTGOING,
    "internal": Direction.INTERNAL,
    "memo": Direction.MEMO,
}


_TOUCHED = "smcase.touched"
#: Which audited row an ORM object is, or belongs to: (audited table, attribute holding that row's id).
_AUDITED_BY_MODEL: dict[type, tuple[str, str]] = {
    Register: ("register", "id"), User: ("users", "id"), UserRole: ("users", "user_id"),
    Classification: ("classes", "id"), Channel: ("channels", "id"), ChannelApproval: ("channels", "channel_id"),
    Mandate: ("channels", "channel_id"), Case: ("cases", "id"), Record: ("records", "id"),
    Correspondent: ("records", "record_id"), Document: ("records", "record_id"), EventRow: ("events", "id"),
    DisposalEntry: ("disposals", "id"),
}


@event.listens_for(Session, "after_flush")
def _note_touched(session: Session, _context: Any) -> None:
    """Collect the audited rows a register-service transaction flushes (new, changed or deleted)."""
    touched = session.info.get(_TOUCHED)
    if touched is None:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        found = _AUDITED_BY_MODEL.get(type(obj))
        if found is not None and getattr(obj, found[1], None) is not None:
            touched.setdefault(found[0], set()).add(getattr(obj, found[1]))


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
class CasePlan:
    """Records to register together: in a new case (``spec``) or in an open case (``case_number``)."""

    records: Sequence[RecordSpec] = ()
    spec: CaseSpec | None = None
    case_number: str | None = None


@dataclass(frozen=True)
class WrittenRecord:
    """A record the batch registered."""

    id: int
    uuid: uuid.UUID
    number: str
    running_number: int


@dataclass(frozen=True)
class WrittenCase:
    """The case of one plan: opened by the batch or an existing one, with the records added to it."""

    id: int
    uuid: uuid.UUID
    diary_number: str
    opened: bool
    records: tuple[WrittenRecord, ...]


@dataclass
class _PreparedRecord:
    row: dict[str, Any]
    parties: list[Party]
    stored: list[StoredFile]


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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _text(value: str | None, what: str) -> str:
    """A title as typed, trimmed; control characters (an ESC, a NUL) become spaces, as they mean nothing in a
    register and would reach the published journal raw."""
    cleaned = _CONTROL.sub(" ", value or "").strip()
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
        # The creator registers confidential content from the first day, so holds clearance (grant it to others).
        creator = User(username=user, created_at=now, clearance=True,
                       roles=[UserRole(role=r) for r in policy.initial_roles])
        session.add(creator)
        classes = [Classification(code=c.code, title=c.title, created_at=now) for c in policy.classes]
        session.add_all(classes)
        session.flush()
        changes = [
            audit.Change("register.create", "register", register.uuid, name, {
                "after": {"name": name, "org_number": org_number, "country": policy.country,
                          "timezone": policy.timezone, "policy_sha256": policy.sha256, "policy": policy.document},
            }),
            audit.Change("user.add", "user", creator.uuid, user, {"after": {"roles": list(policy.initial_roles),
                                                                            "clearance": True}}),
        ]
        changes += [
            audit.Change("class.add", "class", c.uuid, c.code, {"after": {"code": c.code, "title": c.title}})
            for c in classes
        ]
        audit.append(session, changes, actor=user, at=now, touched=attest.everything(session.connection()))
        return RegisterInfo(name, org_number, policy.country, policy.timezone, policy.name, policy.version,
                            policy.sha256, register.uuid, users=1)


class RegisterService:
    """The register as one acting user sees and changes it."""

    def __init__(self, engine: Engine, register: Register, actor: User, *,
                 files: FileStore | None = None, clock: Clock = utcnow) -> None:
        self.engine = engine
        self.clock = clock
        self.policy: Policy = from_document(register.policy, source="register policy", stored=True)
        self.tz = zone(register.timezone)
        self.numbering = self.policy.numbering
        self.files = files
        self.register_name = register.name
        self.register_uuid = register.uuid
        self._actor_id = actor.id
        self.actor = Viewer(actor.username, tuple(actor.role_names), actor.clearance)
        # VIM-7: whoever answers states name and title; outgoing records carry them.
        self._signature = ", ".join(filter(None, (actor.full_name, actor.job_title))) or actor.username
        self._signs_in_full = bool(actor.full_name and actor.job_title)
        ingest_ground = self.policy.ground(self.policy.ingest.confidential_ground).citation
        self.access = Access(self.actor, self.tz, self.numbering, ingest_ground)
        # What notifier plugins see unless the policy clears them: the view of a user without clearance.
        self.notifier_access = Access(NOTIFIER, self.tz, self.numbering, ingest_ground)
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
            session.info[_TOUCHED] = {}  # the ORM rows this transaction writes, for their attestation
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with connect(read_only(self.engine)) as conn, conn.begin():
            yield Session(bind=conn, expire_on_commit=False)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection for workflows that query beside the service (never blocks writers)."""
        with connect(read_only(self.engine)) as conn, conn.begin():
            yield conn

    @contextmanager
    def audited_reads(self) -> Iterator[None]:
        """Around a read: every confidential value the acting user (with clearance) is shown is audited after it.

        Views built outside it (the result of a write) note nothing: writing is not reading.
        """
        self.access.noting = True
        try:
            yield
        finally:
            self.access.noting = False
            reads = self.access.take_reads()
            if reads:
                now = self.clock()
                with self._write() as session:
                    self._audit(session, [audit.Change(r.action, r.entity, r.entity_uuid, r.ref, {})
                                          for r in reads], now)

    def note_export(self, kind: str, ref: str, summary: dict[str, Any]) -> None:
        """Audit an archive export: it read every confidential value of its period (``archive.export``)."""
        now = self.clock()
        with self._write() as session:
            self._audit(session, [audit.Change("archive.export", "register", self.register_uuid, f"{kind} {ref}"[:200],
                                               {"after": summary})], now)

    def note_checkpoint(self, action: str, seq: int, where: str) -> None:
        """Audit that a checkpoint of the chain at entry ``seq`` was written out (to ``where``)."""
        with self._write() as session:
            self._audit(session, [audit.Change(action, "register", self.register_uuid, f"entry {seq}",
                                               {"after": {"seq": seq, "where": where[:300]}})], self.clock())

    def note_guard_catches(self, output: str, caught: int) -> None:
        """Audit that the public-output guard masked ``caught`` identity numbers in ``output`` (``publish.guard``).

        A catch means an earlier layer let a number through: the entry says where
        and how many, never the number.
        """
        if caught:
            with self._write() as session:
                self._audit(session, [audit.Change("publish.guard", "register", self.register_uuid, output[:200],
                                                   {"after": {"output": output, "caught": caught}})], self.clock())

    def require(self, action: str) -> None:
        """PermissionDenied unless the acting user has a role the policy allows ``action`` for."""
        allowed = self.policy.roles_for(action)
        if not set(self.actor.roles) & set(allowed):
            raise PermissionDenied(
                f"user {self.actor.username!r} may not {action}: it needs one of the roles {', '.join(allowed)}"
            )

    def _audit(self, conn: Session | Connection, changes: Sequence[audit.Change], at: datetime,
               touched: attest.Touched | None = None, known: dict[str, dict[int, str]] | None = None,
               reserved: audit.Reserved | None = None) -> None:
        """Append ``changes``, attesting the rows written: those the ORM session flushed, and ``touched``
        (``known``: digests of some of them already taken; ``reserved``: their places on the chain)."""
        rows: dict[str, set[int]] = {name: set(ids) for name, ids in (touched or {}).items()}
        if isinstance(conn, Session):
            conn.flush()
            for name, ids in conn.info.get(_TOUCHED, {}).items():
                rows.setdefault(name, set()).update(ids)
        audit.append(conn, changes, actor=self.actor.username, at=at, touched=rows, known=known, reserved=reserved)

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
        _written, rows = self._write_batch([CasePlan(spec=spec)])
        row = rows[0]
        # The view is built from the row just written: no second round trip to read it back.
        case = Case(**{k: v for k, v in row.items() if k != "class_code"})
        case.classification = Classification(code=row["class_code"], title=self._class_titles[row["class_code"]])
        case.officer = User(username=spec.officer or self.actor.username)
        case.channel = Channel(address=spec.channel) if spec.channel else None
        return self.access.case(case, [])

    def open_cases(self, specs: Sequence[CaseSpec]) -> list[OpenedCase]:
        """Open many cases in one transaction with one block of consecutive numbers."""
        _written, rows = self._write_batch([CasePlan(spec=spec) for spec in specs])
        return [OpenedCase(r["uuid"], r["diary_number"], r["year"], r["seq"]) for r in rows]

    def write_batch(self, plans: Sequence[CasePlan],
                    after: Callable[[Connection, list[WrittenCase]], attest.Touched | None] | None = None,
                    audit_extra: Sequence[audit.Change] = (),
                    before: Callable[[Connection], None] | None = None,
                    permission: str | None = None) -> list[WrittenCase]:
        """Register many records, in new cases or open ones, in one transaction.

        New cases take one block of consecutive diary numbers, each case's records
        take consecutive running numbers, Noark journal numbers come as one block,
        and every case and record gets its audit entry. ``after(connection,
        written)`` runs inside the same transaction, so that what the caller
        writes beside the register (the inbox) commits or fails with it; it
        returns the rows it wrote (by audited table) for their attestation, and
        ``audit_extra`` entries are appended to the audit chain with the rest.
        ``before(connection)`` runs first in the transaction (e.g. to create the
        channel a new case belongs to). This is the bulk path (ingest): Core
        statements, no ORM objects. ``permission`` names the act a workflow
        performs (e.g. ``channel.approve``), checked instead of ``case.open`` and
        ``record.add``.
        """
        return self._write_batch(plans, after, audit_extra, before, permission)[0]

    def _write_batch(self, plans: Sequence[CasePlan],
                     after: Callable[[Connection, list[WrittenCase]], attest.Touched | None] | None = None,
                     audit_extra: Sequence[audit.Change] = (),
                     before: Callable[[Connection], None] | None = None,
                     permission: str | None = None,
                     ) -> tuple[list[WrittenCase], list[dict[str, Any]]]:
        if permission is not None:
            self.require(permission)
        else:
            if any(p.spec for p in plans):
                self.require("case.open")
            if any(p.records for p in plans):
                self.require("record.add")
        if any((p.spec is None) == (p.case_number is None) for p in plans):
            raise InvalidInput("each plan needs either a new case's spec or an existing case's number")
        if not plans and after is None and not audit_extra:
            return [], []
        with self.files.deferred_sync() if self.files else nullcontext():
            prepared = [[self._prepare_record(spec) for spec in plan.records] for plan in plans]
        now = self.clock()
        year = local_date(now, self.tz).year
        with self._write() as session:
            conn = session.connection()
            if before is not None:
                before(conn)
            # Everything that needs no number is done before the counter's lock is taken.
            new_rows = {i: self._case_row(session, plan.spec, now) for i, plan in enumerate(plans) if plan.spec}
            case_payloads = {i: _jsonable(row) for i, row in new_rows.items()}
            targets = self._existing_targets(conn, plans, prepared, now)
            for i, records in enumerate(prepared):  # a record in a marked case keeps the case's secret out of its
                withheld = new_rows[i]["withheld_fields"] if i in new_rows else targets[i][5]  # public title
                self._withhold_public_titles(records, withheld)
            self._check_mandates(conn, plans, prepared, new_rows, targets)
            known: dict[str, dict[int, str]] = {}  # digests of rows written, by audited table
            reserved = None
            if new_rows:
                if conn.dialect.name == "postgresql" and after is None and not any(prepared):
                    # Only new cases: the entries are known now, so the counter and the chain's head are locked
                    # together, in one round trip, at the last moment.
                    first, reserved = audit.allocate_and_reserve(conn, CASE_SCOPE, year, len(new_rows),
                                                                 len(new_rows) + len(audit_extra))
                else:
                    first = allocate(conn, CASE_SCOPE, year, len(new_rows))
                for offset, i in enumerate(new_rows):
                    number = self.numbering.case_number(year, first + offset)
                    new_rows[i].update(year=year, seq=first + offset, diary_number=number,
                                       next_record_number=len(prepared[i]) + 1)
                    case_payloads[i].update(year=year, seq=first + offset, diary_number=number)
                # PostgreSQL: the rows come back as stored, so their attestation needs no read-back under the lock
                # (unless ``after`` may change them); SQLite reads them back.
                returned = conn.dialect.name == "postgresql" and after is None
                inserted = conn.execute(
                    _INSERT_CASES.returning(*_RETURNED_CASE if returned else (_CASES.c.id,),
                                            sort_by_parameter_order=True),
                    [{k: v for k, v in row.items() if k != "class_code"} for row in new_rows.values()],
                ).all()
                if returned:
                    known["cases"] = attest.returned_states(conn, inserted)
                for i, (case_id, *_state) in zip(new_rows, inserted, strict=True):
                    targets[i] = (case_id, new_rows[i]["uuid"], new_rows[i]["diary_number"], 1,
                                  new_rows[i]["channel_id"], new_rows[i]["withheld_fields"])
            written = self._insert_records(conn, plans, prepared, targets, now)
            changes = [audit.Change("case.open", "case", new_rows[i]["uuid"], new_rows[i]["diary_number"],
                                    {"after": case_payloads[i]}) for i in new_rows]
            for plan_records, case in zip(prepared, written, strict=True):
                for record, done in zip(plan_records, case.records, strict=True):
                    payload = {**record.row, "case": str(case.uuid), "number": done.running_number,
                               "parties": [[p.role, p.name, p.address] for p in record.parties],
                               "documents": [[f.sha256, f.original_name, f.size] for f in record.stored]}
                    changes.append(audit.Change("record.add", "record", done.uuid, done.number,
                                                {"after": _jsonable(payload)}))
            touched: dict[str, set[int]] = {"cases": {c.id for c in written if c.opened},
                                            "records": {r.id for c in written for r in c.records}}
            if after is not None:  # what the caller writes beside the register, attested with it
                for name, ids in (after(conn, written) or {}).items():
                    touched.setdefault(name, set()).update(ids)
            self._audit(conn, changes + list(audit_extra), now, touched, known, reserved)
        return written, list(new_rows.values())

    def _existing_targets(self, conn: Connection, plans: Sequence[CasePlan],
                          prepared: list[list[_PreparedRecord]], now: datetime) -> dict[int, tuple[Any, ...]]:
        """Take running numbers in existing cases; this also locks their rows until commit."""
        targets: dict[int, tuple[Any, ...]] = {}
        existing = []
        for i, plan in enumerate(plans):
            if plan.case_number is not None:
                parsed = self._parse(plan.case_number)
                if parsed.record is not None:
                    raise InvalidInput(f"{plan.case_number!r} is a record number; give the case's diary number")
                existing.append((parsed.year, parsed.seq, i))
        # Case rows are locked in diary-number order, so two batches never wait on each other in a circle.
        for year, seq, i in sorted(existing):
            plan = plans[i]
            taken = conn.execute(
                update(_CASES)
                .where(_CASES.c.year == year, _CASES.c.seq == seq)
                .values(next_record_number=_CASES.c.next_record_number + len(prepared[i]), updated_at=now)
                .returning(_CASES.c.id, _CASES.c.uuid, _CASES.c.diary_number, _CASES.c.status,
                           _CASES.c.next_record_number, _CASES.c.channel_id, _CASES.c.withheld_fields)
            ).one_or_none()
            if taken is None:
                raise NotFound(f"no case {plan.case_number!r} in the register")
            case_id, case_uuid, diary_number, status, next_number, channel_id, withheld = taken
            if status == CaseStatus.CLOSED:
                raise InvalidState(f"case {diary_number} is closed; reopen it before adding records")
            targets[i] = (case_id, case_uuid, diary_number, next_number - len(prepared[i]), channel_id, withheld)
        return targets

    def _withhold_public_titles(self, records: list[_PreparedRecord], withheld: Sequence[str] | None) -> None:
        """Records whose public title is their title get the placeholder when their case withholds titles."""
        if not withheld or not {"title", "description"} & set(withheld):
            return
        for record in records:
            if public_is_title(record.row["public_title"], record.row["title"]):
                record.row["public_title"] = _PLACEHOLDER_RECORD_TITLES[self.policy.country]

    def _check_mandates(self, conn: Connection, plans: Sequence[CasePlan], prepared: list[list[_PreparedRecord]],
                        new_rows: dict[int, dict[str, Any]], targets: dict[int, tuple[Any, ...]]) -> None:
        """An outgoing record that a person enters for a channel needs that person's mandate (RAT-3, REN-3).

        Records with a social-media source were ingested from the platform: they
        carry the page, not a person, and are accepted.
        """
        for i in range(len(plans)):
            channel_id = new_rows[i]["channel_id"] if i in new_rows else targets[i][4]
            if channel_id is None:
                continue
            typed = [r for r in prepared[i] if r.row["direction"] == Direction.OUTGOING and not r.row["source_platform"]]
            if not typed:
                continue
            mandates = table_of(Mandate)
            held = conn.execute(select(mandates.c.id).where(
                mandates.c.channel_id == channel_id, mandates.c.username == self.actor.username,
                mandates.c.revoked_at.is_(None))).first()
            if held is None:
                address = conn.execute(select(Channel.address).where(Channel.id == channel_id)).scalar_one()
                raise PermissionDenied(
                    f"user {self.actor.username!r} has no mandate to write for the channel {address} (RAT-3): "
                    "register one with 'smcase channel designate'"
                )

    def _insert_records(self, conn: Connection, plans: Sequence[CasePlan], prepared: list[list[_PreparedRecord]],
                        targets: dict[int, tuple[Any, ...]], now: datetime) -> list[WrittenCase]:
        total = sum(len(p) for p in prepared)
        journal_year = local_date(now, self.tz).year
        journal_next = allocate(conn, JOURNAL_SCOPE, journal_year, total) if self.numbering.journal and total else 0
        rows: list[dict[str, Any]] = []
        numbers: list[tuple[int, str, int]] = []  # (plan index, record number, running number)
        for i in range(len(plans)):
            case_id, _case_uuid, diary_number, first_running = targets[i][:4]
            for offset, record in enumerate(prepared[i]):
                running = first_running + offset
                row = {**record.row, "uuid": uuid.uuid4(), "case_id": case_id, "number": running,
                       "registered_at": now, "registered_by_id": self._actor_id,
                       "journal_year": journal_year if journal_next else None,
                       "journal_seq": journal_next + len(rows) if journal_next else None}
                rows.append(row)
                numbers.append((i, self.numbering.record_number(diary_number, running), running))
        ids = conn.execute(_INSERT_RECORDS.returning(_RECORDS.c.id, sort_by_parameter_order=True),
                           rows).scalars().all() if rows else []
        parties, documents = [], []
        flat = [record for plan_records in prepared for record in plan_records]
        for record_id, record in zip(ids, flat, strict=True):
            parties += [{"record_id": record_id, "role": p.role, "name": p.name, "address": p.address}
                        for p in record.parties]
            documents += [{"uuid": uuid.uuid4(), "record_id": record_id, "number": n, "sha256": f.sha256,
                           "size": f.size, "format": f.format, "media_type": f.media_type,
                           "original_name": f.original_name, "added_at": now, "added_by": self.actor.username}
                          for n, f in enumerate(record.stored, start=1)]
        if parties:
            conn.execute(_INSERT_PARTIES, parties)
        if documents:
            conn.execute(_INSERT_DOCUMENTS, documents)
        by_plan: dict[int, list[WrittenRecord]] = {i: [] for i in range(len(plans))}
        for record_id, row, (i, number, running) in zip(ids, rows, numbers, strict=True):
            by_plan[i].append(WrittenRecord(record_id, row["uuid"], number, running))
        return [WrittenCase(targets[i][0], targets[i][1], targets[i][2], plans[i].spec is not None,
                            tuple(by_plan[i])) for i in range(len(plans))]

    def _prepare_record(self, spec: RecordSpec) -> _PreparedRecord:
        """Validate a record and put its files in the store (before any lock is taken)."""
        direction = DIRECTION_ALIASES.get(spec.direction.strip().lower())
        if direction is None:
            raise InvalidInput(f"unknown direction {spec.direction!r}: use in, out, internal or memo")
        title = _text(spec.title, "a record's description")
        ground = self.policy.ground(spec.confidential) if spec.confidential is not None else None
        if ground is None and identity.contains(title):
            # Whoever typed an identity number into a title (a note, a description): the record is marked at
            # once, under the ground rescan would give it, not only its public title scrubbed.
            ground = self.policy.ground(self.policy.ingest.confidential_ground)
        parties = [self._party(p) for p in spec.parties]
        if direction == Direction.OUTGOING and spec.source is None and not any(p.role == "sender" for p in parties):
            if self.policy.channels.signed_answers and not self._signs_in_full:
                raise InvalidInput(
                    f"user {self.actor.username!r} has no full name and title, and whoever answers states both "
                    f"(VIM-7): an admin sets them with 'smcase users update {self.actor.username} --full-name NAME "
                    f"--title TITLE'")
            parties.insert(0, Party("sender", self._signature))  # VIM-7: the officer's name and title
        stored = self._store_files(spec.files, spec.attachments)
        # A public title never holds an identity number, however it was typed (the title keeps what was given).
        public_title = scrub((spec.public_title or "").strip()) or (
            _PLACEHOLDER_RECORD_TITLES[self.policy.country] if ground and "title" in ground.withheld else scrub(title)
        )
        source = spec.source or Source()
        row: dict[str, Any] = {
            "direction": direction.value, "kind": spec.kind, "title": title, "public_title": public_title,
            "document_date": spec.document_date, "source_platform": source.platform,
            "source_external_id": source.external_id, "source_url": source.url, "source_author": source.author,
            "source_author_id": source.author_id, "confidentiality_ground": None, "withheld_fields": None,
            "confidentiality_marked_at": None, "confidentiality_marked_by": None,
        }
        if ground:
            row.update(self._marking(ground, self.clock()))
        return _PreparedRecord(row, parties, stored)

    def _case_row(self, session: Session, spec: CaseSpec, now: datetime) -> dict[str, Any]:
        title = _text(spec.title, "a case's title")
        ground = self.policy.ground(spec.confidential) if spec.confidential is not None else None
        public_title = scrub((spec.public_title or "").strip()) or (
            self.policy.placeholder_title if ground and "title" in ground.withheld else scrub(title)
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
        self.require("case.update")
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
        return self.view_case(number)

    def _resolve_case_change(self, session: Session, case: Case, key: str, value: Any) -> tuple[str, Any]:
        if key == "title":
            return "title", _text(value, "a case's title")
        if key == "public_title":
            return "public_title", scrub(_text(value, "a case's public title"))
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
        self.require("case.close")
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
        return self.view_case(number)

    def reopen_case(self, number: str, reason: str) -> CaseView:
        """Reopen a closed case; the reason is logged."""
        self.require("case.reopen")
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
        return self.view_case(number)

    def mark(self, number: str, ground: str | None, reason: str | None = None) -> CaseView | RecordView:
        """Mark a case or record confidential under ``ground``, or lift the marking with None.

        Marking needs only the permission: whoever spots a number must be able to
        restrict it. Changing or lifting a marking needs clearance too (only a
        cleared user can judge what it withholds) and a reason, which is audited.
        Marking a case or record whose public title is its (now withheld) title
        replaces the public title with the policy's placeholder, so the secret
        title cannot leak through the public one.
        """
        self.require("case.mark")
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
            if target.confidentiality_ground is not None:
                self._may_change_marking(number, reason)
            if ground is None:
                if target.confidentiality_ground is None:
                    raise InvalidState(f"{number} is not marked confidential")
                target.confidentiality_ground = None
                target.withheld_fields = None
                target.confidentiality_marked_at = None
                target.confidentiality_marked_by = None
                if target.public_title == placeholder:  # the placeholder stood in for the title: it is public again
                    target.public_title = scrub(target.title) or placeholder
            else:
                found = self.policy.ground(ground)
                for key, value in self._marking(found, now).items():
                    setattr(target, key, value)
                if {"title", "description"} & set(found.withheld) and public_is_title(target.public_title,
                                                                                      target.title):
                    target.public_title = placeholder
            after: dict[str, Any] = {"ground": target.confidentiality_ground, "withheld": target.withheld_fields,
                                     "public_title": target.public_title}
            if entity == "case" and ground is not None and {"title", "description"} & set(target.withheld_fields or ()):
                # The case's records are withheld with it: none may show its secret through a public title.
                hidden = []
                for record in session.scalars(select(Record).where(Record.case_id == case.id)):
                    if public_is_title(record.public_title, record.title):
                        record.public_title = _PLACEHOLDER_RECORD_TITLES[self.policy.country]
                        hidden.append(record.number)
                if hidden:
                    after["records_public_title_withheld"] = hidden
            case.updated_at = now
            ref = number if entity == "case" else self.numbering.record_number(case.diary_number, parsed.record or 0)
            payload: dict[str, Any] = {"before": before, "after": after,
                                       "change": "mark" if before["ground"] is None else
                                       ("lift" if ground is None else "change")}
            if reason:
                payload["reason"] = reason.strip()
            self._audit(session, [audit.Change(f"{entity}.mark", entity, target.uuid, ref, payload)], now)
        if parsed.record is not None:
            return self.view_record(number)
        return self.view_case(number)

    def _may_change_marking(self, number: str, reason: str | None) -> None:
        """Changing or lifting a marking: clearance as well as the permission, and a reason."""
        if not self.actor.clearance:
            raise PermissionDenied(f"user {self.actor.username!r} may not change or lift the marking of {number}: "
                                   "that needs clearance for confidential content ('smcase users grant NAME "
                                   "--clearance')")
        if not (reason or "").strip():
            raise InvalidInput(f"changing or lifting the marking of {number} needs a reason (--reason)")

    def apply_rescan(self, found: Findings, version: int, action: str) -> RescanReport:
        """Withhold what a rescan found (``rescan.py``): mark cases and records under the policy's ingest ground,
        scrub public titles, hold trivial events for review. One transaction; every change audited."""
        self.require("case.mark")
        ground = self.policy.ground(self.policy.ingest.confidential_ground)
        now = self.clock()
        changes: list[audit.Change] = []
        scrubbed = 0
        with self._write() as session:
            for case in session.scalars(select(Case).where(Case.id.in_(sorted(found.cases | found.case_public_titles)))):
                changes.append(self._withhold_found(case, "case", case.diary_number, ground, self.policy.placeholder_title,
                                                    now, mark=case.id in found.cases))
                scrubbed += case.id not in found.cases
            for record in session.scalars(select(Record).where(
                    Record.id.in_(sorted(found.records | found.record_public_titles)))):
                number = self.numbering.record_number(record.case.diary_number, record.number)
                changes.append(self._withhold_found(record, "record", number, ground,
                                                    _PLACEHOLDER_RECORD_TITLES[self.policy.country], now,
                                                    mark=record.id in found.records))
                scrubbed += record.id not in found.records
            events = table_of(EventRow)
            rows = session.execute(select(events.c.id, events.c.findings).where(
                events.c.id.in_(sorted(found.events)), events.c.status == "trivial")).all()
            for event_id, findings in rows:
                session.execute(update(events).where(events.c.id == event_id).values(
                    status="held", held_by="rescan", action=None,
                    reason="an identity number was found by a rescan: 'smcase inbox retry' registers it",
                    findings=[*(findings or []), ["confidential", "identity number", "found by rescan", "rescan"]]))
            report = RescanReport(version, len(found.cases), len(found.records), scrubbed, len(rows),
                                  found.counterparts, found.documents)
            if rows:
                changes.append(audit.Change("inbox.rescan", "inbox", None, None, {"after": {"held": len(rows)}}))
            changes.append(audit.Change(action, "register", self.register_uuid, f"identity detector {version}",
                                        {"after": report.to_json()}))
            self._audit(session, changes, now, {"events": {event_id for event_id, _f in rows}})
        return report

    def _withhold_found(self, target: Case | Record, entity: str, ref: str, ground: Ground, placeholder: str,
                        now: datetime, *, mark: bool) -> audit.Change:
        before = {"ground": target.confidentiality_ground, "withheld": target.withheld_fields,
                  "public_title": target.public_title}
        if mark:
            for key, value in self._marking(ground, now).items():
                setattr(target, key, value)
        if mark and public_is_title(target.public_title, target.title):
            target.public_title = placeholder
        else:
            target.public_title = scrub(target.public_title) or placeholder
        after = {"ground": target.confidentiality_ground, "withheld": target.withheld_fields,
                 "public_title": target.public_title}
        return audit.Change(f"{entity}.mark", entity, target.uuid, ref,
                            {"before": before, "after": after, "change": "rescan" if mark else "rescan public title"})

    def hold(self, number: str, held: bool = True) -> CaseView:
        """Put a legal hold on a case (nothing of it is disposed of while it lasts), or lift it."""
        self.require("case.hold")
        now = self.clock()
        with self._write() as session:
            case = self._load_case(session, number)
            if case.legal_hold == held:
                raise InvalidState(f"case {case.diary_number} is {'already' if held else 'not'} on legal hold")
            case.legal_hold = held
            case.updated_at = now
            self._audit(session, [audit.Change("case.hold" if held else "case.release", "case", case.uuid,
                                               case.diary_number, {"before": {"legal_hold": not held},
                                                                   "after": {"legal_hold": held}})], now)
            number = case.diary_number
        return self.view_case(number)

    # -- records ----------------------------------------------------------------

    def add_record(self, case_number: str, spec: RecordSpec) -> RecordView:
        """Register a record in an open case with the case's next running number.

        Files are put in the document store first (content-addressed, so a
        failed transaction leaves at most an unreferenced file, never a
        dangling reference).
        """
        written = self.write_batch([CasePlan(records=[spec], case_number=case_number)])
        return self.view_record(written[0].records[0].number)

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
        self.require("class.add")
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
        self.require("user.manage")
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

    def update_user(self, username: str, *, full_name: str | None = None, job_title: str | None = None,
                    unit: str | None = None) -> UserView:
        """Set a user's full name, job title or unit (what outgoing replies are signed with, VIM-7); audited."""
        self.require("user.manage")
        given = {k: v.strip() for k, v in (("full_name", full_name), ("job_title", job_title), ("unit", unit))
                 if v is not None}
        if not given:
            raise InvalidInput("give --full-name, --title and/or --unit")
        if any(not v or len(v) > 200 or _CONTROL.search(v) for v in given.values()):
            raise InvalidInput("a name, title or unit is 1 to 200 characters, without control characters")
        now = self.clock()
        with self._write() as session:
            user = session.scalar(select(User).where(User.username == username.strip()))
            if user is None:
                raise NotFound(f"no user {username!r}")
            before = {k: getattr(user, k) for k in given}
            if before == given:
                raise InvalidState(f"nothing to change for {username!r}")
            for key, value in given.items():
                setattr(user, key, value)
            session.flush()
            self._audit(session, [audit.Change("user.update", "user", user.uuid, user.username,
                                               {"before": before, "after": given})], now)
            return _user_view(user)

    def change_user(self, username: str, *, grant: Sequence[str] = (), revoke: Sequence[str] = (),
                    clearance: bool | None = None) -> UserView:
        """Grant or revoke roles, and set clearance for confidential content; every change is audited.

        A user keeps at least one role, and the last admin keeps the admin role (someone
        must be able to manage users).
        """
        self.require("user.manage")
        unknown = [r for r in (*grant, *revoke) if r not in self.policy.roles]
        if unknown:
            raise InvalidInput(f"unknown role {unknown[0]!r}; the policy's roles are {', '.join(self.policy.roles)}")
        now = self.clock()
        with self._write() as session:
            user = session.scalar(select(User).where(User.username == username.strip()))
            if user is None:
                raise NotFound(f"no user {username!r}")
            before: dict[str, Any] = {"roles": sorted(user.role_names), "clearance": user.clearance}
            roles = [r for r in dict.fromkeys((*user.role_names, *grant)) if r not in revoke]
            if not roles:
                raise InvalidInput(f"{username!r} would have no role left; a user needs at least one")
            if "admin" in user.role_names and "admin" not in roles:
                admins = session.scalar(select(func.count()).select_from(UserRole).join(User).where(
                    UserRole.role == "admin", User.active.is_(True), User.id != user.id)) or 0
                if not admins:
                    raise InvalidState(f"{username!r} is the last admin and cannot be removed: "
                                       "grant another user the admin role first")
            user.roles = [r for r in user.roles if r.role in roles] + [
                UserRole(role=r) for r in roles if r not in user.role_names]
            if clearance is not None:
                user.clearance = clearance
            after: dict[str, Any] = {"roles": sorted(roles), "clearance": user.clearance}
            if after == before:
                raise InvalidState(f"nothing to change: {username!r} has the roles {', '.join(before['roles'])} "
                                   f"and {'has' if user.clearance else 'has no'} clearance")
            session.flush()
            action = "user.revoke" if revoke or clearance is False else "user.grant"
            self._audit(session, [audit.Change(action, "user", user.uuid, user.username,
                                               {"before": before, "after": after})], now)
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
        """The case with this diary number (spacing, case and leading zeros forgiven); a read of it is audited."""
        with self.audited_reads():
            return self.view_case(number, records=records)

    def get_record(self, number: str) -> RecordView:
        """The record with this number (e.g. ``KS 2026/0042-3``); a read of it is audited."""
        with self.audited_reads():
            return self.view_record(number)

    def view_case(self, number: str, *, records: bool = True, uncleared: bool = False) -> CaseView:
        """The case as the acting user may see it, after a write (what was just written is not audited as read).

        ``uncleared``: as a user without clearance sees it (what notifier plugins receive).
        """
        access = self.notifier_access if uncleared else self.access
        with self._read() as session:
            case = self._load_case(session, number)
            rows = list(session.scalars(select(Record).where(Record.case_id == case.id).order_by(Record.number)))
            return access.case(case, rows if records else None)

    def view_record(self, number: str, *, uncleared: bool = False) -> RecordView:
        """The record as the acting user (or, ``uncleared``, a user without clearance) may see it, after a write."""
        access = self.notifier_access if uncleared else self.access
        parsed = self._parse(number)
        if parsed.record is None:
            raise InvalidInput(f"{number!r} is a case number; give a record number such as {number}-1")
        with self._read() as session:
            case = self._load_case(session, self.numbering.case_number(parsed.year, parsed.seq))
            return access.record(self._load_record(session, case, parsed.record), case.diary_number,
                                 access.marking(case))

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
            # Without clearance, the title of a marked case is not searched: a hit would reveal it.
            title = Case.title.ilike(pattern) if self.actor.clearance else and_(
                Case.confidentiality_ground.is_(None), Case.title.ilike(pattern))
            query = query.where(or_(Case.diary_number.ilike(pattern), title, Case.public_title.ilike(pattern)))
        if opened_from:
            query = query.where(Case.created_at >= self._day_start(opened_from))
        if opened_to:
            query = query.where(Case.created_at < self._day_start(date.fromordinal(opened_to.toordinal() + 1)))
        if limit:
            query = query.limit(limit)
        wanted = (text or "").strip().casefold()
        with self.audited_reads(), self._read() as session:
            for case in session.scalars(query.execution_options(yield_per=500)):
                view = self.access.case(case)
                # Without clearance, a hit must be in what the user sees: a search for digits must not tell
                # whether a title holds an identity number that is scrubbed from view.
                if wanted and not self.actor.clearance and not any(
                        wanted in value.casefold() for value in (view.diary_number, view.title, view.public_title)):
                    continue
                yield view

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
