"""Storing a batch: the event rows, the search index, what earlier batches stored, and the notifications."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text, update

from ..access import CaseView, uncleared_event
from ..db import bulk_insert
from ..events import Action, Label, ParseContext, SocialEvent, platform_channel
from ..identity import scrub
from ..model import CaptureSource, Channel, EventRow, QuarantineRow, table_of
from ..register import WrittenCase
from .batch import _VERSIONS, Stage, Summary, _Item

_EVENTS = table_of(EventRow)
# SQLite's full-text index of events (migration 0006), filled a batch at a time (0007); PostgreSQL's GIN indexes
# follow the table by themselves.
_INDEX_FOR_SEARCH = text(
    "INSERT INTO events_fts(rowid, text, author) SELECT id, text, coalesce(author_name, '') || ' ' || "
    "coalesce(author_id, '') FROM events WHERE id BETWEEN :first AND :last")
_QUARANTINE = table_of(QuarantineRow)


class Storing(Stage):
    """Writing the batch's events and telling the plugins what became of them."""

    def _attach_early_versions(self, conn: Connection, written: list[WrittenCase]) -> set[int]:
        """Link the stored early edits and deletions (``_early_versions``) to their records; their ids."""
        attached = self._attach
        self._attach = []
        for row_id, plan, record, reason in attached:
            case = written[plan]
            conn.execute(update(_EVENTS).where(_EVENTS.c.id == row_id).values(
                status="registered", case_id=case.id, record_id=case.records[record].id, reason=reason))
        return {row_id for row_id, _plan, _record, _reason in attached}

    def _apply_stored_updates(self, conn: Connection, updates: dict[tuple[str, str], tuple[int, int]],
                              written: list[WrittenCase]) -> set[int]:
        """Register stored comments that this batch's replies made registrable; the ids of the events changed."""
        changed: set[int] = set()
        for (platform, external_id), (plan, record) in updates.items():
            case = written[plan]
            changed.update(conn.execute(
                update(_EVENTS)
                .where(_EVENTS.c.platform == platform, _EVENTS.c.external_id == external_id,
                       _EVENTS.c.status == "trivial", _EVENTS.c.direction == "in",
                       _EVENTS.c.kind.not_in([k.value for k in _VERSIONS]))  # its edits get records of their own
                .values(status="registered", case_id=case.id, record_id=case.records[record].id,
                        action=Action.REGISTER.value, reason="answered by the municipality")
                .returning(_EVENTS.c.id)
            ).scalars())
        return changed

    # -- stages ----------------------------------------------------------------------

    def _quarantined_digests(self, digests: list[str]) -> set[str]:
        if not digests:
            return set()
        with self.service.reading() as conn:
            return set(conn.execute(select(_QUARANTINE.c.digest).where(_QUARANTINE.c.digest.in_(digests))).scalars())

    def _existing_keys(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        with self.service.reading() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                found.update(conn.execute(select(_EVENTS.c.key).where(_EVENTS.c.key.in_(chunk))).scalars())
        return found

    def _channel_ids(self) -> dict[str, int]:
        if self._channels is None:
            with self.service.reading() as conn:
                rows = conn.execute(select(Channel.address, Channel.id, Channel.controller_of_visitor_content)).all()
                # A webhook delivery names its channel by the platform's own id (``facebook:page:<id>``).
                captured = conn.execute(select(CaptureSource.platform, CaptureSource.platform_id,
                                               CaptureSource.channel_id)).all()
            self._channels = {address.casefold(): channel_id for address, channel_id, _c in rows}
            addresses = {channel_id: address for address, channel_id, _c in rows}
            # ... and is stored under the channel's address: what registrars search by.
            self._addresses = {platform_channel(platform, pid).casefold(): addresses[channel_id]
                               for platform, pid, channel_id in captured}
            self._channels.update({name: self._channels[address.casefold()]
                                   for name, address in self._addresses.items()})
            not_controller = {channel_id for _a, channel_id, controller in rows if not controller}
            self._not_controller = {name for name, channel_id in self._channels.items() if channel_id in not_controller}
        return self._channels

    def _store_events(self, conn: Connection, new: list[_Item], written: list[WrittenCase], adapter: str,
                      context: ParseContext, now: datetime, channels: dict[str, int]) -> set[int]:
        """Insert the batch's new events; their ids (for attestation)."""
        rows = []
        for entry in new:
            event = entry.event
            raw, raw_sha256 = entry.raw()
            rows.append({
                "uuid": entry.uuid, "key": event.key(), "platform": event.platform, "external_id": event.external_id,
                "revision": event.revision, "kind": event.kind,
                "channel": self._addresses.get((event.channel or "").casefold(), event.channel),
                "channel_id": channels.get((event.channel or "").casefold()), "author_id": event.author_id,
                "author_name": event.author_name, "text": event.text, "created_at": event.created_at,
                "url": event.url, "in_reply_to": event.in_reply_to,
                "direction": event.direction, "public": event.public, "raw": raw,
                "raw_sha256": raw_sha256, "adapter": adapter,
                "source": context.source_name[:500], "position": entry.position, "ingested_at": now,
                "ingested_by": self.service.actor.username,
                "resolution": None, "resolved_at": None, "resolved_by": None,
                **_outcome(entry, written),
            })
        sqlite = conn.dialect.name == "sqlite"
        before = (conn.execute(select(func.max(_EVENTS.c.id))).scalar() or 0) if sqlite else 0
        bulk_insert(conn, _EVENTS, rows)
        if sqlite:
            # One writer holds SQLite's lock: the batch's rows took the ids after the largest before it.
            last = conn.execute(select(func.max(_EVENTS.c.id))).scalar() or 0
            if last - before == len(rows):
                index_for_search(conn, before + 1, last)
                return set(range(before + 1, last + 1))
        ids: set[int] = set()
        uuids = [row["uuid"] for row in rows]
        for start in range(0, len(uuids), 500):
            ids.update(conn.execute(select(_EVENTS.c.id).where(_EVENTS.c.uuid.in_(uuids[start:start + 500]))).scalars())
        if sqlite:
            for event_id in sorted(ids):
                index_for_search(conn, event_id, event_id)
        return ids

    def _notify(self, new: list[_Item], written: list[WrittenCase], quarantine: list[dict[str, Any]],
                summary: Summary) -> None:
        """Tell the notifier plugins; those the policy does not clear get what a user without clearance sees."""
        plugins, failures, cleared = self.plugins, [], self.policy.notify_cleared
        ingest_ground = self.service.access.ingest_ground
        for row in quarantine:
            failures += plugins.notify("smcase_notify_event_quarantined", adapter=row["adapter"],
                                       position=row["position"], reason=row["reason"], cleared=cleared,
                                       uncleared={"adapter": row["adapter"], "position": row["position"],
                                                  "reason": scrub(row["reason"])})

        def hidden(entry: _Item, case: CaseView | None = None) -> SocialEvent:
            ground = case.confidentiality if case is not None else None
            if ground is None and any(f.label == Label.CONFIDENTIAL for f in entry.findings):
                ground = ingest_ground
            return uncleared_event(entry.event, ground)

        for entry in new:
            tags = sorted({f.label for f in entry.findings if f.label in (Label.POLITICAL, Label.CRISIS)})
            if tags:
                failures += plugins.notify("smcase_notify_event_routed", event=entry.event, tags=tags,
                                           cleared=cleared, uncleared={"event": hidden(entry), "tags": tags})
        hooks: dict[str, str] = {Action.CONFIDENTIAL_CASE: "smcase_notify_confidential_registered",
                 Action.EVIDENCE: "smcase_notify_prohibited_captured"}
        wanted = [h for h in ("smcase_notify_case_opened", "smcase_notify_complaint_received", *hooks.values())
                  if plugins.has_implementations(h)]
        if wanted:
            views: dict[int, tuple[CaseView, CaseView]] = {}  # case id → (acting user's view, uncleared view)
            for case in written:
                views[case.id] = (self.service.view_case(case.diary_number, records=False),
                                  self.service.view_case(case.diary_number, records=False, uncleared=True))
                if case.opened:
                    failures += plugins.notify("smcase_notify_case_opened", case=views[case.id][0], cleared=cleared,
                                               uncleared={"case": views[case.id][1]})
            for entry in new:
                if entry.plan is None or entry.decision is None:
                    continue
                view, public = views[written[entry.plan].id]
                action = entry.decision.action
                both: dict[str, Any] = {"cleared": cleared, "event": entry.event, "case": view}
                other: dict[str, Any] = {"event": hidden(entry, public), "case": public}
                if action == Action.CONFIDENTIAL_CASE:
                    failures += plugins.notify(hooks[action], **both, uncleared=other)
                elif action == Action.EVIDENCE:
                    category = entry.decision.category or ""
                    failures += plugins.notify(hooks[action], **both, category=category,
                                               uncleared={**other, "category": category})
                elif entry.event.direction == "out":
                    failures += plugins.notify("smcase_notify_complaint_received", **both, uncleared=other)
        summary.warnings += [f"notifier {f.plugin!r} failed: {f.reason}" for f in failures]


def index_for_search(conn: Connection, first: int, last: int) -> None:
    """Add the events with ids ``first``..``last`` to SQLite's full-text index (``inbox list --text``): one
    statement for a batch, where a trigger per row cost four fifths of storing an event. Other databases: nothing."""
    if conn.dialect.name == "sqlite":
        conn.execute(_INDEX_FOR_SEARCH, {"first": first, "last": last})


def _by_platform(pairs: Iterable[tuple[str, str | None]], size: int = 500) -> Iterator[tuple[str, list[str]]]:
    """(platform, up to ``size`` values) chunks, so that lookups use the (platform, …) indexes."""
    grouped: dict[str, set[str]] = {}
    for platform, value in pairs:
        if value:
            grouped.setdefault(platform, set()).add(value)
    for platform, values in grouped.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), size):
            yield platform, ordered[start:start + size]


def _outcome(entry: _Item, written: list[WrittenCase]) -> dict[str, Any]:
    """The columns of an event row that classification and decision set."""
    case_id = record_id = None
    if entry.plan is not None and entry.plan_record is not None:
        case = written[entry.plan]
        case_id, record_id = case.id, case.records[entry.plan_record].id
    decision = entry.decision
    return {
        "status": entry.status,
        "action": decision.action if decision else None,
        "reason": decision.reason if decision else None,
        "findings": [[f.label, f.category, f.detail, f.classifier] for f in entry.findings] or None,
        "held_by": entry.held_by,
        "case_id": case_id,
        "record_id": record_id,
        "thread": entry.thread[:200],
    }


def _case_title(event: SocialEvent | None) -> str | None:
    """A case title from a citizen's text: its first line, cut at 120 characters, never with an identity number."""
    text = scrub(event.text) if event is not None else None
    if not text or not text.strip():
        return None
    first = text.strip().splitlines()[0].strip()
    return first if len(first) <= 120 else first[:117].rstrip() + "..."


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)[:80]


def stored_event(row: Mapping[str, Any]) -> SocialEvent:
    """A stored event row back as the SocialEvent it was."""
    return SocialEvent(
        platform=row["platform"], external_id=row["external_id"], kind=row["kind"], channel=row["channel"],
        author_id=row["author_id"], author_name=row["author_name"], text=row["text"],
        created_at=row["created_at"], url=row["url"], in_reply_to=row["in_reply_to"], revision=row["revision"],
        direction=row["direction"], raw=row["raw"], identity=row["key"], public=row["public"],
    )
