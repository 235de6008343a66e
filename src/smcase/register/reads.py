"""Reading the register: cases, records, users and classes, every value through ``access.Access``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select

from ..access import CaseView, RecordView
from ..errors import InvalidInput
from ..model import (
    Case,
    CaseStatus,
    Classification,
    Record,
    Register,
    User,
)
from .core import ServiceCore
from .specs import (
    ClassView,
    RegisterInfo,
    UserView,
    _user_view,
)


class Reads(ServiceCore):
    """What the acting user may see of the register."""

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
