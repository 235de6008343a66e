"""Changing what is registered: case fields, closing and reopening, confidentiality markings, rescans, legal hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import audit
from ..access import CaseView, RecordView, public_is_title
from ..errors import InvalidInput, InvalidState, PermissionDenied
from ..identity import scrub
from ..model import (
    Case,
    CaseStatus,
    EventRow,
    Record,
    table_of,
)
from ..policy import Ground
from ..rescan import Findings
from ..rescan import Report as RescanReport
from .core import _jsonable_value
from .reads import Reads
from .specs import (
    _PLACEHOLDER_RECORD_TITLES,
    _text,
)


class CaseChanges(Reads):
    """Changes to registered cases and records; each audited with what it was before."""

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
            # The number as the register writes it, not as typed: messages and the audit log name it so.
            ref = case.diary_number if entity == "case" else self.numbering.record_number(case.diary_number,
                                                                                          parsed.record or 0)
            before = {"ground": target.confidentiality_ground, "withheld": target.withheld_fields,
                      "public_title": target.public_title}
            if ground is not None and target.confidentiality_ground is not None \
                    and self.policy.ground(ground).citation == target.confidentiality_ground:
                raise InvalidState(f"{ref} is already marked confidential under {target.confidentiality_ground}: "
                                   "nothing to change")
            if target.confidentiality_ground is not None:
                self._may_change_marking(ref, reason)
            if ground is None:
                if target.confidentiality_ground is None:
                    raise InvalidState(f"{ref} is not marked confidential")
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
