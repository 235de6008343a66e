"""The annual follow-up report per channel (TOR-7), computed from the register.

For each channel and calendar year (in the register's time zone): questions
answered by the municipality, posts and comments in and out, removals,
confidential cases, and the median time from a citizen's comment to the
municipality's reply. ``register`` stores each report as an ``annual_report``
record in the channel's case, which satisfies the annual-report duty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from statistics import median
from typing import Any

from sqlalchemy import select

from .model import Case, Channel, EventRow, table_of
from .register import CasePlan, RecordSpec, RegisterService

_TITLE = {True: "Uppföljningsrapport", False: "Oppfølgingsrapport"}


@dataclass(frozen=True)
class ChannelReport:
    """One channel's figures for one year."""

    channel: str
    year: int
    questions_answered: int
    posts_in: int
    posts_out: int
    comments_in: int
    comments_out: int
    removals: int
    confidential_cases: int
    median_response_hours: float | None
    followers: int | None = None  # the last count entered in the year (``channel followers``)

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase report annual --json``)."""
        return dict(self.__dict__)


def annual(service: RegisterService, year: int) -> list[ChannelReport]:
    """The report of every channel that was active in ``year``."""
    channels, events = table_of(Channel), table_of(EventRow)
    start = datetime(year, 1, 1, tzinfo=service.tz)
    end = datetime(year + 1, 1, 1, tzinfo=service.tz)
    reports = []
    with service.reading() as conn:
        for channel in conn.execute(select(channels).where(channels.c.started_at.is_not(None))
                                    .order_by(channels.c.id)).mappings():
            if channel["started_at"] >= end or (channel["stopped_at"] and channel["stopped_at"] < start):
                continue
            rows = conn.execute(select(events).where(events.c.channel_id == channel["id"],
                                                     events.c.created_at >= start, events.c.created_at < end)
                                ).mappings().all()
            by_id = {(r["platform"], r["external_id"]): r for r in rows if r["direction"] == "in"}
            answered: dict[tuple[str, str], float] = {}
            for reply in rows:
                parent = by_id.get((reply["platform"], reply["in_reply_to"] or ""))
                if reply["direction"] == "out" and parent is not None:
                    hours = (reply["created_at"] - parent["created_at"]).total_seconds() / 3600
                    key = (parent["platform"], parent["external_id"])
                    answered[key] = min(hours, answered.get(key, hours))
            reports.append(ChannelReport(
                channel=channel["address"], year=year, questions_answered=len(answered),
                posts_in=_count(rows, "in", "post"), posts_out=_count(rows, "out", "post"),
                comments_in=_count(rows, "in", "comment"), comments_out=_count(rows, "out", "comment"),
                removals=sum(1 for r in rows if r["resolution"] == "removed"),
                confidential_cases=sum(1 for r in rows if r["action"] == "confidential_case"),
                median_response_hours=round(median(answered.values()), 2) if answered else None,
                followers=_followers(channel["plan"], year),
            ))
    return reports


def _followers(plan: Mapping[str, Any] | None, year: int) -> int | None:
    counts = [c for c in (plan or {}).get("followers", []) if c["on"].startswith(f"{year}-")]
    return counts[-1]["count"] if counts else None


def _count(rows: Sequence[Mapping[Any, Any]], direction: str, kind: str) -> int:
    return sum(1 for r in rows if r["direction"] == direction and r["kind"] == kind)


def register(service: RegisterService, reports: list[ChannelReport]) -> list[str]:
    """Store each report as an ``annual_report`` record in its channel's case; returns the record numbers."""
    channels = table_of(Channel)
    plans = []
    with service.reading() as conn:
        for report in reports:
            number = conn.execute(select(Case.diary_number).join(channels, channels.c.case_id == Case.id)
                                  .where(channels.c.address == report.channel)).scalar_one()
            body = json.dumps(report.to_json(), ensure_ascii=False, indent=2).encode("utf-8")
            plans.append(CasePlan(case_number=number, records=[RecordSpec(
                "internal", f"{_TITLE[service.policy.language == 'sv']} {report.year}: {report.channel}",
                kind="annual_report",
                document_date=date(report.year, 12, 31),
                attachments=[(f"annual-report-{report.year}.json", body)])]))
    written = service.write_batch(plans)
    return [w.records[0].number for w in written]
