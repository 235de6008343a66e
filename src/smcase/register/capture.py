"""Where live capture stands: the register service's bookkeeping for ``smcase serve`` and ``smcase capture``.

The configuration of a channel's capture is registered through the channel
workflow (a record in its case); what changes at every delivery or poll (the
poller's position, the last success, the last error) is operational state,
written here and never audited: a poll every five minutes is not a registered
act, and the events it stores are audited by ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from ..model import CaptureSource, Channel, table_of
from .core import ServiceCore

_SOURCES = table_of(CaptureSource)


@dataclass(frozen=True)
class CaptureView:
    """A channel's live capture: the platform's id, where to poll, and how it went last."""

    channel_id: int
    channel: str  # the channel's address
    channel_state: str
    platform: str
    platform_id: str
    instance: str | None
    token_file: str | None
    configured_at: datetime
    position: dict[str, Any] | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None


class CaptureState(ServiceCore):
    """Reads and notes of live capture (no permission beyond reading: the state holds no content)."""

    def captures(self, platform: str | None = None, *, active_only: bool = False) -> list[CaptureView]:
        """Every channel with live capture configured (of ``platform``; ``active_only``: only active channels)."""
        channels = table_of(Channel)
        query = select(_SOURCES, channels.c.address, channels.c.state).join(
            channels, channels.c.id == _SOURCES.c.channel_id).order_by(_SOURCES.c.channel_id)
        if platform is not None:
            query = query.where(_SOURCES.c.platform == platform)
        if active_only:
            query = query.where(channels.c.state == "active")
        with self.reading() as conn:
            rows = conn.execute(query).mappings().all()
        return [CaptureView(r["channel_id"], r["address"], r["state"], r["platform"], r["platform_id"], r["instance"],
                            r["token_file"], r["configured_at"], r["position"], r["last_attempt_at"], r["last_success_at"],
                            r["last_error"]) for r in rows]

    def note_capture(self, channel_id: int, *, position: dict[str, Any] | None = None,
                     error: str | None = None) -> None:
        """Note a delivery or poll for a channel: a success (with the poller's new ``position``, if it keeps one)
        or, with ``error``, a failure (one line; the position is kept so the next try resumes)."""
        now = self.clock()
        values: dict[str, Any] = {"last_attempt_at": now}
        if error is None:
            values["last_success_at"] = now
            values["last_error"] = None
            if position is not None:
                values["position"] = position
        else:
            values["last_error"] = error[:1000]
        with self._write() as session:
            session.execute(update(_SOURCES).where(_SOURCES.c.channel_id == channel_id).values(**values))

    def note_deliveries(self, platform: str, platform_ids: set[str]) -> None:
        """A webhook delivery for these platform ids was processed: their channels' capture succeeded now."""
        if not platform_ids:
            return
        now = self.clock()
        with self._write() as session:
            session.execute(update(_SOURCES).where(_SOURCES.c.platform == platform,
                                                   _SOURCES.c.platform_id.in_(sorted(platform_ids)))
                            .values(last_attempt_at=now, last_success_at=now, last_error=None))
