"""Time: one source of 'now' and the register's local calendar.

All instants are stored as timezone-aware UTC. The register's time zone decides
which calendar day and year an instant belongs to, e.g. which year's number
sequence a case registered at 23:30 UTC on 31 December falls into.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``; an unknown name is an InvalidInput."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {name!r} (expected an IANA name such as Europe/Stockholm)") from None


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar day of ``instant`` in the register's zone."""
    return instant.astimezone(tz).date()

