"""Duties: what falls due, derived from the policy and the register, never typed in.

For every active channel: monitoring checks (RAT-10 daily, TOR-4 twice a week,
VIM-1 weekdays), snapshots (RAT-8 every six months, NOR-6 yearly, TOR-8 on 30
June and 31 December, and after a registered major change), the annual
follow-up report (TOR-7, Q3); for the register: the policy's own review
(TOR-13); and the open platform work of ingest (unpublish, removal).

A duty is done by registering the record that satisfies it (a ``monitoring``,
``snapshot`` or ``annual_report`` record in the channel's case); the next one
is then computed from that record.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, cast, select

from . import checkpoints
from .identity import scrub
from .inbox import list_events
from .model import Channel, EventRow, Record, table_of
from .register import RegisterService

MONITORING_DAYS = {"daily": 1, "twice_weekly": 3, "weekly": 7}


@dataclass(frozen=True)
class Duty:
    """Something that falls due: its kind, the channel it concerns, when, and whether it is late."""

    kind: str  # monitoring | snapshot | annual_report | follow_up | inquiry | policy_review | unpublish | removal
    #          | capture_stalled
    channel: str | None
    due: date
    overdue: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase duties --json``)."""
        return {"kind": self.kind, "channel": self.channel, "due": self.due.isoformat(), "overdue": self.overdue,
                "detail": self.detail}


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's last day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def next_weekday(day: date) -> date:
    """The first weekday (Monday-Friday) after ``day``."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def next_fixed_date(after: date, days: tuple[str, ...]) -> date:
    """The first of the yearly dates ``days`` ("MM-DD") strictly after ``after``."""
    candidates = [date(year, int(d[:2]), min(int(d[3:]), monthrange(year, int(d[:2]))[1]))
                  for year in (after.year, after.year + 1) for d in days]
    return min(c for c in candidates if c > after)


def quarter_end(year: int, quarter: int) -> date:
    """The last day of ``quarter`` of ``year``."""
    month = quarter * 3
    return date(year, month, monthrange(year, month)[1])


def compute(service: RegisterService, at: date | None = None) -> list[Duty]:
    """Every duty that is due by ``at`` (default: today in the register's zone) or next to come, oldest first."""
    today = at or service.clock().astimezone(service.tz).date()
    rules = service.policy.duties
    found: list[Duty] = []
    channels, records = table_of(Channel), table_of(Record)
    with service.reading() as conn:
        active = conn.execute(select(channels).where(channels.c.state == "active")).mappings().all()
        for channel in active:
            started = channel["started_at"].astimezone(service.tz).date()

            def last_at(kind: str, case_id: int = channel["case_id"]) -> datetime | None:
                return conn.execute(select(records.c.registered_at).where(records.c.case_id == case_id,
                                                                          records.c.kind == kind)
                                    .order_by(records.c.registered_at.desc()).limit(1)).scalar_one_or_none()

            def last(kind: str) -> date | None:
                when = last_at(kind)
                return when.astimezone(service.tz).date() if when else None

            address = channel["address"]
            if rules.monitoring:
                base = last("monitoring") or started
                due = next_weekday(base) if rules.monitoring == "weekdays" else \
                    base + timedelta(days=MONITORING_DAYS[rules.monitoring])
                found.append(Duty("monitoring", address, due, due < today, f"{rules.monitoring} check (last {base})"))
            snapshot_base = last("snapshot") or started
            snapshot_due = None
            if rules.snapshot_every_months:
                snapshot_due = add_months(snapshot_base, rules.snapshot_every_months)
            if rules.snapshot_dates:
                fixed = next_fixed_date(snapshot_base, rules.snapshot_dates)
                snapshot_due = min(fixed, snapshot_due) if snapshot_due else fixed
            change, taken = last_at("major_change"), last_at("snapshot")
            if rules.snapshot_on_major_change and change and (taken is None or change > taken):
                changed = change.astimezone(service.tz).date()  # a registered major change makes a snapshot due
                snapshot_due = min(changed, snapshot_due) if snapshot_due else changed
            if snapshot_due:
                found.append(Duty("snapshot", address, snapshot_due, snapshot_due < today,
                                  f"snapshot (last {last('snapshot') or 'none'})"))
            if rules.annual_report_quarter:
                reported = {r.year for r in conn.execute(
                    select(records.c.document_date).where(records.c.case_id == channel["case_id"],
                                                          records.c.kind == "annual_report")).scalars() if r}
                q = rules.annual_report_quarter
                year = started.year if started <= quarter_end(started.year, q) - timedelta(days=90) else started.year + 1
                while year in reported:
                    year += 1
                due = quarter_end(year, q)
                found.append(Duty("annual_report", address, due, due < today, f"follow-up report {year} (Q{q})"))
        # TOR-7: a short activity is followed up as soon as it ends.
        ended = conn.execute(select(channels).where(channels.c.state == "stopped")).mappings().all()
        for channel in ended:
            if not ((channel["plan"] or {}).get("channel", {}).get("short_activity")):
                continue
            stopped = channel["stopped_at"]
            done = conn.execute(select(records.c.id).where(
                records.c.case_id == channel["case_id"], records.c.kind == "follow_up",
                records.c.registered_at >= stopped).limit(1)).first()
            if done is None:
                due = stopped.astimezone(service.tz).date()
                found.append(Duty("follow_up", channel["address"], due, due < today,
                                  "follow-up of a short activity that has ended (TOR-7)"))
    if rules.policy_review_months and service.policy.reviewed:
        due = add_months(date.fromisoformat(service.policy.reviewed), rules.policy_review_months)
        found.append(Duty("policy_review", None, due, due < today, f"review of {service.policy.name}"))
    if rules.checkpoint_every_days:
        taken = checkpoints.last_taken(service)
        due = taken.astimezone(service.tz).date() + timedelta(days=rules.checkpoint_every_days)
        found.append(Duty("audit_checkpoint", None, due, due < today,
                          "write out the audit chain's head: smcase audit checkpoint --out FILE"))
    if rules.inquiries_within_days is not None:
        found += _inquiries(service, rules.inquiries_within_days, today)
    found += _stalled_captures(service, at)
    for event in list_events(service, open_work=True):
        assert event.open_work is not None
        due = event.created_at.date()
        found.append(Duty(event.open_work, event.channel, due, due < today,
                          f"{event.platform} {event.external_id} ({event.case})"))
    return sorted(found, key=lambda d: (d.due, d.kind, d.channel or ""))


def _stalled_captures(service: RegisterService, at: date | None) -> list[Duty]:
    """Active channels with live capture whose last successful delivery or poll is older than the policy allows:
    monitoring that stopped without anyone noticing surfaces here ("capture stalled")."""
    now = service.clock() if at is None else datetime.combine(at, time.max, service.tz)
    limit = timedelta(hours=service.policy.capture.stalled_after_hours)
    found = []
    for capture in service.captures(active_only=True):
        last = capture.last_success_at
        due_at = (last or capture.configured_at) + limit
        if due_at < now:
            since = f"last success {last.astimezone(service.tz):%Y-%m-%d %H:%M}" if last else "never succeeded"
            error = f"; last error: {capture.last_error}" if capture.last_error else ""
            found.append(Duty("capture_stalled", capture.channel, due_at.astimezone(service.tz).date(), True,
                              f"live capture of {capture.platform} {capture.platform_id} stalled ({since}{error})"))
    return found


def _inquiries(service: RegisterService, days: int, today: date) -> list[Duty]:
    """Questions from the public that are neither answered nor registered (REN-1): due ``days`` after they came.

    Read straight from the event rows: a trivial incoming item labelled as a
    question, in no case, with no reply from the municipality and its text not
    disposed of.
    """
    events = table_of(EventRow)
    answer = events.alias("answer")
    query = (select(events.c.platform, events.c.uuid, events.c.channel, events.c.created_at)
             .where(events.c.direction == "in", events.c.status == "trivial", events.c.case_id.is_(None),
                    events.c.resolution.is_(None), events.c.text.is_not(None),
                    cast(events.c.findings, String).like('%"question"%'),
                    ~select(answer.c.id).where(answer.c.platform == events.c.platform,
                                               answer.c.in_reply_to == events.c.external_id,
                                               answer.c.direction == "out").exists())
             .order_by(events.c.created_at))
    found = []
    with service.reading() as conn:
        for platform, event_uuid, channel, created in conn.execute(query):
            due = created.astimezone(service.tz).date() + timedelta(days=days)
            found.append(Duty("inquiry", scrub(channel) if channel else None, due, due < today,
                              f"a question on {platform} not answered or registered: smcase inbox reply "
                              f"{str(event_uuid)[:8]} --referral, or smcase inbox register {str(event_uuid)[:8]}"))
    return found
