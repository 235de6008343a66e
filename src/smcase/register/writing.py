"""Registering cases and records: one batch, one transaction, gap-free numbers, one audit entry per change."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, literal_column, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from .. import attest, audit, identity
from ..access import CaseView, RecordView, public_is_title
from ..clock import local_date
from ..errors import ConfigError, InvalidInput, InvalidState, NotFound, PermissionDenied
from ..identity import scrub
from ..model import (
    Case,
    CaseStatus,
    Channel,
    Classification,
    Correspondent,
    CorrespondentRole,
    Direction,
    Document,
    Mandate,
    Record,
    User,
    table_of,
)
from ..numbering import CASE_SCOPE, JOURNAL_SCOPE, allocate
from ..store import StoredFile
from .core import _jsonable
from .reads import Reads
from .specs import (
    _PLACEHOLDER_RECORD_TITLES,
    DIRECTION_ALIASES,
    CasePlan,
    CaseSpec,
    OpenedCase,
    Party,
    RecordSpec,
    Source,
    WrittenCase,
    WrittenRecord,
    _PreparedRecord,
    _record_kind,
    _text,
)

_CASES = table_of(Case)
_RECORDS = table_of(Record)
_INSERT_CASES = insert(_CASES)
# A new case's audited state as the driver gives it (untyped), for its attestation: see attest.returned_states.
_RETURNED_CASE: tuple[ColumnClause[Any], ...] = tuple(literal_column(name) for name in attest.returned_columns("cases"))
_INSERT_RECORDS = insert(_RECORDS)
_INSERT_PARTIES = insert(table_of(Correspondent))
_INSERT_DOCUMENTS = insert(table_of(Document))


class Writing(Reads):
    """Opening cases and adding records, one at a time or as a batch (ingest's path)."""

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
            "direction": direction.value, "kind": _record_kind(spec.kind), "title": title, "public_title": public_title,
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

