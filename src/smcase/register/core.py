"""The register service's core: who acts, transactions, audit, permission checks and lookups every concern uses.

``create_register`` makes a register in an empty database; ``ServiceCore`` is the base of every part of
``RegisterService``, holding its engine, policy, acting user and clock."""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, Self

from sqlalchemy import Engine, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from .. import attest, audit
from ..access import NOTIFIER, Access, Viewer
from ..clock import Clock, utcnow, zone
from ..db import connect, read_only, require_current, upgrade
from ..diary import ParsedNumber
from ..errors import ConfigError, InvalidInput, InvalidState, NotFound, PermissionDenied
from ..model import (
    Case,
    Channel,
    ChannelApproval,
    Classification,
    Correspondent,
    DisposalEntry,
    Document,
    EventRow,
    Mandate,
    Record,
    Register,
    User,
    UserRole,
)
from ..policy import Ground, Policy, from_document
from ..store import FileStore
from .specs import (
    RegisterInfo,
    _check_username,
    _person_detail,
    _text,
)

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


def create_register(
    engine: Engine,
    *,
    name: str,
    policy: Policy,
    user: str,
    org_number: str | None = None,
    full_name: str | None = None,
    clock: Clock = utcnow,
) -> RegisterInfo:
    """Create the schema and the register in an empty database.

    The person creating it becomes its first user, with the policy's initial
    roles (and ``full_name``: what the records they sign are published under,
    rather than their login); the policy's filing plan becomes the register's
    classes.
    """
    _check_username(user)
    full_name = _person_detail(full_name, "a full name")
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
        creator = User(username=user, full_name=full_name, created_at=now, clearance=True,
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
                                                                            "clearance": True,
                                                                            "full_name": full_name}}),
        ]
        changes += [
            audit.Change("class.add", "class", c.uuid, c.code, {"after": {"code": c.code, "title": c.title}})
            for c in classes
        ]
        audit.append(session, changes, actor=user, at=now, touched=attest.everything(session.connection()))
        return RegisterInfo(name, org_number, policy.country, policy.timezone, policy.name, policy.version,
                            policy.sha256, register.uuid, users=1)


class ServiceCore:
    """The register as one acting user sees it: the state and helpers every part of the service shares."""

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
             clock: Clock = utcnow) -> Self:
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
            raise NotFound(f"no case {self.numbering.case_number(parsed.year, parsed.seq)!r} in the register")
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

    def _load_record(self, session: Session, case: Case, running_number: int) -> Record:
        record = session.scalars(
            select(Record).where(Record.case_id == case.id, Record.number == running_number)
        ).one_or_none()
        if record is None:
            raise NotFound(f"no record {self.numbering.record_number(case.diary_number, running_number)!r}")
        return record


def _jsonable_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable_value(v) for k, v in row.items()}
