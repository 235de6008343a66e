"""Ingest: social-media input → inbox → classification → decision → register.

Every input item ends in exactly one place, and the summary adds up:
``received = stored + duplicates + skipped + quarantined``. Stored events are
``trivial`` (kept and searchable, NOR-4), ``registered`` (a record in a case) or
``held`` for review (a classifier or decision plugin failed on them: never
decided as trivial, so a broken plugin cannot let a confidential post through
unmarked).

Work is done in batches: parse up to ``batch_size`` items, look their keys up
in one query, classify and decide them, then write the events, quarantine rows,
cases and records of the batch in one transaction through
``RegisterService.write_batch``. Nothing is committed per event.

The thread rule (VIM-6b, REN-1): when the municipality's own account replies
(direction ``out``) to a comment from the public, that comment is registered,
with the reply, in a case for the thread: the thread's open case if it has one,
else a new case.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection, func, insert, select, text, update

from . import audit
from .access import CaseView, uncleared_event
from .db import bulk_insert
from .errors import InvalidInput
from .events import HEAD_BYTES, Action, Decision, Finding, Kind, Label, ParseContext, Skipped, SocialEvent, Unparsable
from .identity import scrub
from .model import Case, Channel, EventRow, QuarantineRow, table_of
from .plugins import Failure, Plugins
from .policy import canonical_json
from .progress import Progress
from .register import CasePlan, CaseSpec, Party, RecordSpec, RegisterService, Source, WrittenCase

_EVENTS = table_of(EventRow)
# SQLite's full-text index of events (migration 0006), filled a batch at a time (0007); PostgreSQL's GIN indexes
# follow the table by themselves.
_INDEX_FOR_SEARCH = text(
    "INSERT INTO events_fts(rowid, text, author) SELECT id, text, coalesce(author_name, '') || ' ' || "
    "coalesce(author_id, '') FROM events WHERE id BETWEEN :first AND :last")
_QUARANTINE = table_of(QuarantineRow)

TEXTS = {
    "sv": {
        "confidential_case": "Inlägg med uppgift som kan omfattas av sekretess ({platform})",
        "confidential_record": "Inlägg på {platform} med sekretessuppgift",
        "removal_case": "Borttagning av otillåtet innehåll: {category} ({platform})",
        "evidence_record": "Bevis: {category} på {platform}",
        "incoming": "Kommentar på {platform}",
        "outgoing": "Svar på {platform}",
        "edit": "Ändrad version på {platform}",
        "delete": "Borttaget på {platform}",
        "registered": "Registrerat meddelande ({platform})",
        "referral": "Svar med hänvisning till e-post eller brev ({platform})",
    },
    "nb": {
        "confidential_case": "Innlegg med opplysning som kan være taushetsbelagt ({platform})",
        "confidential_record": "Innlegg på {platform} med taushetsbelagt opplysning",
        "removal_case": "Sletting av ulovlig innhold: {category} ({platform})",
        "evidence_record": "Bevis: {category} på {platform}",
        "incoming": "Kommentar på {platform}",
        "outgoing": "Svar på {platform}",
        "edit": "Endret versjon på {platform}",
        "delete": "Slettet på {platform}",
        "registered": "Registrert henvendelse ({platform})",
        "referral": "Svar med henvisning til e-post eller brev ({platform})",
    },
}

@dataclass
class Summary:
    """What happened to the input; ``received`` equals the sum of the four fates."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    quarantined: int = 0
    unparsable: int = 0  # items that did not parse (quarantined now, or already in quarantine)
    held_for_review: int = 0
    cases_opened: int = 0
    records_added: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    skipped_reasons: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    format: str = ""  # the format read (given, or recognised)
    fits: list[str] = field(default_factory=list)  # when nothing parsed: the formats the input looks like
    retried: int = 0  # inbox retry: quarantined items tried again
    still_quarantined: list[int] = field(default_factory=list)  # inbox retry: entries that still do not parse
    held_retried: int = 0  # inbox retry: held events classified and decided again

    @property
    def nothing_parsed(self) -> bool:
        """True when items came in and not one of them parsed in the format given."""
        return self.received > 0 and self.unparsable == self.received

    @property
    def accounted(self) -> bool:
        """True when every received item is stored, a duplicate, skipped or quarantined."""
        return self.received == self.stored + self.duplicates + self.skipped + self.quarantined

    def add(self, other: Summary) -> None:
        """Add another summary's counts to this one."""
        for name in ("received", "stored", "duplicates", "skipped", "quarantined", "unparsable", "held_for_review",
                     "cases_opened", "records_added"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_kind.update(other.by_kind)
        self.skipped_reasons.update(other.skipped_reasons)
        self.warnings.extend(other.warnings)
        self.retried += other.retried
        self.still_quarantined.extend(other.still_quarantined)
        self.held_retried += other.held_retried

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase ingest --json``)."""
        return {
            "format": self.format,
            "received": self.received, "stored": self.stored, "duplicates": self.duplicates,
            "skipped": self.skipped, "quarantined": self.quarantined, "held_for_review": self.held_for_review,
            "cases_opened": self.cases_opened, "records_added": self.records_added,
            "by_kind": dict(sorted(self.by_kind.items())),
            "skipped_reasons": dict(sorted(self.skipped_reasons.items())),
            "warnings": self.warnings,
            "retried": self.retried, "still_quarantined": self.still_quarantined, "held_retried": self.held_retried,
        }

    def retry_json(self) -> dict[str, Any]:
        """JSON form of an ``inbox retry``: what was tried again and what became of it (no format: each entry
        is retried in its own)."""
        return {
            "quarantined_retried": self.retried, "still_quarantined": self.still_quarantined,
            "held_retried": self.held_retried, "stored": self.stored, "duplicates": self.duplicates,
            "held_for_review": self.held_for_review, "cases_opened": self.cases_opened,
            "records_added": self.records_added, "warnings": self.warnings,
        }


@dataclass
class _Item:
    """A new event in the batch, with what was found and decided."""

    event: SocialEvent
    position: str
    findings: list[Finding] = field(default_factory=list)
    decision: Decision | None = None
    held_by: str | None = None
    thread: str = ""
    plan: int | None = None  # index of the plan that registers it
    plan_record: int | None = None  # its record's index in that plan
    status: str = "trivial"
    uuid: uuid.UUID = field(default_factory=uuid.uuid4)  # the stored event's id
    _raw: tuple[str, str] | None = None

    def raw(self) -> tuple[str, str]:
        """The raw payload as text and its SHA-256 (computed once)."""
        if self._raw is None:
            text = _raw_json(self.event)
            self._raw = (text, hashlib.sha256(text.encode()).hexdigest())
        return self._raw


def render_capture(event: SocialEvent, raw_sha256: str) -> bytes:
    """The archival rendering of a captured post: UTF-8 text with its metadata."""
    lines = [
        f"Platform: {event.platform}",
        f"Item: {event.external_id} (revision {event.revision}, {event.kind})",
        f"Channel: {event.channel or ''}",
        f"Author: {event.author_name or ''} ({event.author_id or 'unknown id'})",
        f"Published: {event.created_at.isoformat()}",
        f"Address: {event.url or ''}",
        f"In reply to: {event.in_reply_to or ''}",
        f"Visibility: {'public' if event.public else 'not public (direct message)'}",
        f"SHA-256 of the captured payload: {raw_sha256}",
        "",
        event.text or "",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _raw_json(event: SocialEvent) -> str:
    """The raw payload as text: verbatim when the adapter kept it, else canonical JSON."""
    if isinstance(event.raw, str):
        return event.raw
    return canonical_json(event.raw) if event.raw is not None else "null"


class Ingest:
    """One ingest run for one acting user."""

    def __init__(self, service: RegisterService, plugins: Plugins, *, batch_size: int = 1000,
                 progress: Progress | None = None) -> None:
        self.service = service
        self.plugins = plugins
        self.policy = service.policy
        self.batch_size = batch_size
        self.progress = progress
        self.texts = TEXTS["nb" if self.policy.language in ("nb", "nn") else "sv"]
        self._channels: dict[str, int] | None = None
        self._not_controller: set[str] = set()
        # Stored events the batch being planned attaches to its records: (event id, plan, record index, why).
        self._attach: list[tuple[int, int, int, str]] = []

    # -- the run ---------------------------------------------------------------------

    def run(self, stream: IO[bytes], fmt: str | None, context: ParseContext) -> Summary:
        """Ingest every item of ``stream`` in format ``fmt`` (None: the one format that recognises it).

        The input's SHA-256 is taken first (a pipe is spooled to a temporary file
        for it): quarantined items that kept no text of their own are told apart
        by it. An adapter that fails outright (a bug, or input no parser survives)
        leaves one quarantine entry naming it: nothing read is ever lost unseen.
        When nothing parses, ``Summary.fits`` names the formats the input looks like.
        """
        if fmt is not None:
            self.plugins.adapter(fmt)  # an unknown name is refused before a pipe is read
        with _rewindable(stream) as (readable, digest):
            head = readable.read(HEAD_BYTES)
            readable.seek(0)
            if fmt is None:
                fmt = self._recognised(head, context.source_name or "the input")
            context = replace(context, source_sha256=digest)
            summary = self._run(self.plugins.adapter(fmt).parse(readable, context), fmt, context)
        summary.format = fmt
        if summary.nothing_parsed:
            summary.fits = [name for name in self.plugins.recognise(head) if name != fmt]
        return summary

    def _recognised(self, head: bytes, source: str) -> str:
        fits = self.plugins.recognise(head)
        if len(fits) == 1:
            return fits[0]
        known = ", ".join(sorted(self.plugins.adapters()))
        if not fits:
            raise InvalidInput(f"cannot tell the format of {source}: give --format (one of {known})")
        raise InvalidInput(f"{source} could be {' or '.join(fits)}: give --format")

    def _run(self, items: Iterator[Any], fmt: str, context: ParseContext) -> Summary:
        total = Summary()
        batch: list[tuple[str, Any]] = []
        for n, item in enumerate(guarded(items, fmt), start=1):
            batch.append((f"item {n}", item))
            if len(batch) >= self.batch_size:
                total.add(self.process(batch, fmt, context))
                batch = []
                if self.progress:
                    self.progress("ingesting items", n, None)
        if batch:
            total.add(self.process(batch, fmt, context))
        return total

    def process(self, items: list[tuple[str, Any]], adapter: str, context: ParseContext,
                resolve_quarantine: int | None = None) -> Summary:
        """Process one batch of parsed items in one transaction.

        ``resolve_quarantine`` marks that quarantine row resolved in the same
        transaction (``inbox retry``).
        """
        summary = Summary(received=len(items))
        channels = self._channel_ids()  # read before the write transaction takes the lock
        quarantine: list[dict[str, Any]] = []
        fresh: dict[str, _Item] = {}
        now = self.service.clock()
        for position, item in items:
            item = _without_surrogates(item)
            if isinstance(item, Skipped):
                summary.skipped += 1
                summary.skipped_reasons[item.reason] += 1
            elif isinstance(item, Unparsable):
                summary.unparsable += 1
                # The content tells bad items apart; one that kept no text is told apart by its input's digest.
                # The position counts too: the same broken line twice in a file is two items, not one.
                content = item.raw or f"(no text kept; input sha256 {context.source_sha256 or context.source_name})"
                digest = hashlib.sha256(f"{adapter}\x1f{item.position}\x1f{content}".encode()).hexdigest()
                quarantine.append({"adapter": adapter, "source": context.source_name, "position": item.position,
                                   "raw": item.raw, "digest": digest, "reason": item.reason, "received_at": now,
                                   "received_by": self.service.actor.username, "status": "open"})
            elif item.key() in fresh:
                summary.duplicates += 1
            else:
                fresh[item.key()] = _Item(item, position)
        existing = self._existing_keys(list(fresh))
        for key in existing:
            del fresh[key]
        summary.duplicates += len(existing)
        known = self._quarantined_digests([q["digest"] for q in quarantine])
        unique_quarantine = list({q["digest"]: q for q in quarantine if q["digest"] not in known}.values())
        summary.duplicates += len(quarantine) - len(unique_quarantine)
        quarantine = unique_quarantine
        summary.quarantined = len(quarantine)
        summary.stored = len(fresh)

        new = list(fresh.values())
        self._classify_all(new)
        summary.by_kind.update(entry.event.kind for entry in new)
        plans, stored_updates = self._plan(new)
        summary.held_for_review = sum(1 for e in new if e.status == "held")

        keys_digest = hashlib.sha256("\n".join(sorted(fresh)).encode()).hexdigest()
        batch_audit = [audit.Change("inbox.ingest", "inbox", None, context.source_name[:200], {"after": {
            "adapter": adapter, "source": context.source_name, "stored": len(new), "quarantined": len(quarantine),
            "keys_sha256": keys_digest}})] if new or quarantine else []

        def store(conn: Connection, written: list[WrittenCase]) -> dict[str, set[int]]:
            touched = self._store_events(conn, new, written, adapter, context, now, channels)
            touched |= self._apply_stored_updates(conn, stored_updates, written)
            touched |= self._attach_early_versions(conn, written)
            if quarantine:
                conn.execute(insert(_QUARANTINE), quarantine)
            if resolve_quarantine is not None:
                conn.execute(update(_QUARANTINE).where(_QUARANTINE.c.id == resolve_quarantine)
                             .values(status="resolved"))
            return {"events": touched}

        wanted = new or quarantine or resolve_quarantine is not None
        written = self.service.write_batch(plans, after=store, audit_extra=batch_audit) if wanted else []
        summary.cases_opened = sum(1 for w in written if w.opened)
        summary.records_added = sum(len(w.records) for w in written)
        self._notify(new, written, quarantine, summary)
        return summary

    def reprocess(self, rows: Sequence[Mapping[str, Any]]) -> Summary:
        """Classify and decide stored events again (``inbox retry`` of held events) and update their rows."""
        summary = Summary()
        entries = [(_Item(stored_event(row), row["position"], uuid=row["uuid"]), row["id"]) for row in rows]
        items = [item for item, _row_id in entries]
        self._classify_all(items)
        plans, stored_updates = self._plan(items)
        summary.held_for_review = sum(1 for item in items if item.status == "held")

        def store(conn: Connection, written: list[WrittenCase]) -> dict[str, set[int]]:
            for item, row_id in entries:
                conn.execute(update(_EVENTS).where(_EVENTS.c.id == row_id).values(**_outcome(item, written)))
            return {"events": {row_id for _item, row_id in entries}
                    | self._apply_stored_updates(conn, stored_updates, written)
                    | self._attach_early_versions(conn, written)}

        change = audit.Change("inbox.retry", "inbox", None, None, {"after": {
            "events": len(items), "still_held": summary.held_for_review}})
        written = self.service.write_batch(plans, after=store, audit_extra=[change])
        summary.cases_opened = sum(1 for w in written if w.opened)
        summary.records_added = sum(len(w.records) for w in written)
        self._notify(items, written, [], summary)
        return summary

    def register_stored(self, row: Mapping[str, Any], reply: str | None = None) -> tuple[WrittenCase, str | None]:
        """Register a stored event that needs case handling (``inbox register``), and with ``reply`` record the
        municipality's answer to it as an outgoing record (``inbox reply --referral``, REN-1). An event already
        in a case gets only the answer, in that case. Returns the case and the answer's record number."""
        user = self.service.actor.username
        item = _Item(stored_event(row), row["position"], uuid=row["uuid"], thread=row["thread"] or "")
        records: list[RecordSpec] = []
        if not row["case_id"]:
            records.append(self._record(item, direction="in"))
        if reply is not None:
            author = item.event.author_name or item.event.author_id
            records.append(RecordSpec(
                "out", self._title("referral", item.event), kind="referral_reply",
                parties=[Party("recipient", author)] if author else [],
                attachments=[(f"reply-{item.uuid}.txt", reply.encode("utf-8"))]))
        if row["diary_number"]:
            plans = [CasePlan(records=records, case_number=row["diary_number"])]
        else:
            plans = [CasePlan(records=records, spec=CaseSpec(
                title=_case_title(item.event) or self._title("registered", item.event),
                class_code=self.policy.ingest.complaint_class))]

        def store(conn: Connection, written: list[WrittenCase]) -> dict[str, set[int]]:
            case = written[0]
            values: dict[str, Any] = {"status": "registered", "case_id": case.id}
            if not row["case_id"]:
                values.update(record_id=case.records[0].id, action=Action.REGISTER.value,
                              reason=f"registered by {user}" + (" with a referral reply" if reply else ""))
            conn.execute(update(_EVENTS).where(_EVENTS.c.id == row["id"]).values(**values))
            return {"events": {row["id"]}}

        change = audit.Change("inbox.reply" if reply is not None else "inbox.register", "event", row["uuid"],
                              row["key"][:200], {"after": {"referral": reply is not None}})
        written = self.service.write_batch(plans, after=store, audit_extra=[change], permission="case.open")
        return written[0], written[0].records[-1].number if reply is not None else None

    def capture_evidence(self, row: Mapping[str, Any], category: str,
                         note: str | None) -> tuple[WrittenCase, list[str]]:
        """The evidence record of a stored post a registrar flagged as prohibited (``inbox flag``), written exactly
        as for a post the classifier caught: in a new removal case, or in the event's case if it has one.
        Returns the case written and the warnings of notifiers that failed afterwards."""
        user = self.service.actor.username
        item = _Item(stored_event(row), row["position"], uuid=row["uuid"], thread=row["thread"] or "")
        # A finding's detail never quotes confidential text: the note is scrubbed (the audit entry keeps it whole).
        flagged = Finding(Label.PROHIBITED, category, f"flagged by {user}" + (f": {scrub(note)}" if note else ""),
                          f"registrar:{user}")
        item.findings = [*(Finding(*f) for f in row["findings"] or ()), flagged]
        item.decision = Decision(Action.EVIDENCE, f"prohibited content: {category} (flagged by {user})",
                                 category=category, findings=(flagged,))
        evidence = self._record(item, kind="evidence", title=self._title("evidence_record", item.event,
                                                                          category=category))
        if row["diary_number"]:
            plans = [CasePlan(records=[evidence], case_number=row["diary_number"])]
            item.plan, item.plan_record, item.status = 0, 0, "registered"
        else:
            plans = []
            self._add(plans, item, CaseSpec(title=self._title("removal_case", item.event, category=category),
                                            class_code=self.policy.ingest.removal_class), [evidence])

        def store(conn: Connection, written: list[WrittenCase]) -> dict[str, set[int]]:
            conn.execute(update(_EVENTS).where(_EVENTS.c.id == row["id"]).values(**_outcome(item, written)))
            return {"events": {row["id"]}}

        change = audit.Change("inbox.flag", "event", row["uuid"], row["key"][:200],
                              {"after": {"category": category, "note": note}})
        written = self.service.write_batch(plans, after=store, audit_extra=[change], permission="inbox.resolve")
        summary = Summary()
        self._notify([item], written, [], summary)
        return written[0], summary.warnings

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

    def _classify_all(self, entries: Sequence[_Item]) -> None:
        """Classify a batch (one call per batch classifier), then decide each."""
        results = self.plugins.classify_all([entry.event for entry in entries], self.policy)
        for entry, (findings, failures) in zip(entries, results, strict=True):
            self._decide(entry, findings, failures)

    def _decide(self, entry: _Item, findings: list[Finding], failures: list[Failure]) -> None:
        entry.findings = findings
        if failures:
            entry.status = "held"
            entry.held_by = ", ".join(f.plugin for f in failures)
            entry.decision = Decision(Action.HOLD, "; ".join(f"classifier {f.plugin!r} failed: {f.reason}"
                                                            for f in failures))
            return
        decision, failure = self.plugins.decide(entry.event, findings, self.policy)
        channel = (entry.event.channel or "").casefold()
        if decision.action == Action.EVIDENCE and entry.event.direction == "in" and channel in self._not_controller:
            # TOR-10: where the municipality answers only for its own posts, visitors' posts are not removed by it.
            decision = Decision(Action.TRIVIAL, f"{decision.reason}; not the controller of visitors' content on "
                                                "this platform (TOR-10)", findings=decision.findings)
        entry.decision = decision
        if failure is not None or decision.action == Action.HOLD:
            entry.status = "held"
            entry.held_by = failure.plugin if failure else None

    def _plan(self, new: list[_Item]) -> tuple[list[CasePlan], dict[tuple[str, str], tuple[int, int]]]:
        """Turn the batch's decisions, the thread rule and edits of registered items into case plans.

        Also returns the stored (earlier) comments that this batch's replies make
        registrable: (platform, id) → (plan, record index).
        """
        plans: list[CasePlan] = []
        by_id: dict[tuple[str, str], _Item] = {}
        for e in new:  # the original, wherever it is in the batch (webhooks deliver out of order); else the first
            if e.event.kind not in _VERSIONS:
                by_id.setdefault((e.event.platform, e.event.external_id), e)
        for e in new:
            by_id.setdefault((e.event.platform, e.event.external_id), e)
        parents = self._stored_parents(new, by_id)
        for entry in new:  # in order: a reply takes the thread its parent was given just before
            entry.thread = self._thread_of(entry.event, by_id, parents)
        threads = self._thread_cases(new)
        originals = self._registered_originals(new)
        thread_plan: dict[tuple[str, str], int] = {}
        stored_updates: dict[tuple[str, str], tuple[int, int]] = {}
        # Edits and deletions last, by revision: an edit delivered before its original still follows it.
        ordered = [e for e in new if e.event.kind not in _VERSIONS] + sorted(
            (e for e in new if e.event.kind in _VERSIONS), key=lambda e: e.event.revision)
        for entry in ordered:
            event, decision = entry.event, entry.decision
            if entry.status == "held" or decision is None:
                continue
            if decision.action == Action.CONFIDENTIAL_CASE:
                self._add(plans, entry, CaseSpec(
                    title=self._title("confidential_case", event), confidential=decision.ground,
                    class_code=self.policy.ingest.confidential_class), [self._record(entry, confidential=decision.ground)])
            elif decision.action == Action.EVIDENCE:
                self._add(plans, entry, CaseSpec(
                    title=self._title("removal_case", event, category=decision.category),
                    class_code=self.policy.ingest.removal_class),
                    [self._record(entry, kind="evidence", title=self._title("evidence_record", event,
                                                                             category=decision.category))])
            elif decision.action == Action.REGISTER:
                self._add(plans, entry, CaseSpec(title=_case_title(event) or self._title("registered", event),
                                                 class_code=self.policy.ingest.complaint_class),
                          [self._record(entry, kind="message")])
            elif event.kind in (Kind.EDIT, Kind.DELETE):
                self._version(plans, entry, by_id, originals)
            elif event.direction == "out" and event.in_reply_to:
                self._thread_rule(plans, entry, by_id, parents, threads, thread_plan, stored_updates)
        self._attach = []  # what an earlier batch planned and never wrote (it failed) is not carried over
        self._late_originals(plans, new)
        self._answered_before(plans, new)
        self._early_versions(plans, new, stored_updates)
        return plans, stored_updates

    def _late_originals(self, plans: list[CasePlan], new: list[_Item]) -> None:
        """An original whose edit was registered before it arrived (the edit stood in for it, e.g. when it was
        answered) joins that case now: nothing of the item is left outside its case (TOR-5)."""
        waiting = {(e.event.platform, e.event.external_id): e for e in new
                   if e.event.kind not in _VERSIONS and e.status == "trivial" and e.plan is None}
        if not waiting:
            return
        cases = table_of(Case)
        found: dict[tuple[str, str], str] = {}
        with self.service.reading() as conn:
            for platform, chunk in _by_platform(set(waiting)):
                for platform_, external_id, number in conn.execute(
                        select(_EVENTS.c.platform, _EVENTS.c.external_id, cases.c.diary_number)
                        .join(cases, cases.c.id == _EVENTS.c.case_id)
                        .where(_EVENTS.c.platform == platform, _EVENTS.c.external_id.in_(chunk),
                               _EVENTS.c.kind.in_([k.value for k in _VERSIONS]), cases.c.status != "closed")
                        .order_by(_EVENTS.c.id)):
                    found.setdefault((platform_, external_id), number)
        for key, number in found.items():
            item = waiting[key]
            plans.append(CasePlan(records=[self._record(item)], case_number=number))
            item.plan, item.plan_record, item.status = len(plans) - 1, 0, "registered"

    def _answered_before(self, plans: list[CasePlan], new: list[_Item]) -> None:
        """A comment whose answer from the municipality was stored before it (a webhook delivers out of order)
        is registered now with that answer, as if they had come in order (VIM-6b, REN-1)."""
        waiting = {(e.event.platform, e.event.external_id): e for e in new
                   if e.event.kind not in _VERSIONS and e.event.direction == "in" and e.status == "trivial"
                   and e.plan is None}
        if not waiting:
            return
        found: list[dict[str, Any]] = []
        with self.service.reading() as conn:
            for platform, chunk in _by_platform(set(waiting)):
                found += [dict(row) for row in conn.execute(
                    select(_EVENTS).where(_EVENTS.c.platform == platform, _EVENTS.c.in_reply_to.in_(chunk),
                                          _EVENTS.c.direction == "out", _EVENTS.c.case_id.is_(None),
                                          _EVENTS.c.kind.not_in([k.value for k in _VERSIONS]))
                    .order_by(_EVENTS.c.created_at, _EVENTS.c.id)).mappings()]
        for row in found:
            comment = waiting.get((row["platform"], row["in_reply_to"]))
            if comment is None:
                continue
            reply = _Item(stored_event(row), row["position"], uuid=row["uuid"])
            answer = self._record(reply, direction="out", title=self._title("outgoing", reply.event))
            if comment.plan is None:
                self._add(plans, comment, CaseSpec(title=_case_title(comment.event) or self._title(
                    "incoming", comment.event), class_code=self.policy.ingest.complaint_class),
                    [self._record(comment, direction="in")])
            assert comment.plan is not None
            self._attach.append((row["id"], comment.plan, self._append(plans, comment.plan, answer),
                                 "answered by the municipality (delivered before the comment)"))

    def _early_versions(self, plans: list[CasePlan], new: list[_Item],
                        stored_updates: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Edits and deletions stored before their original was registered (a webhook delivers out of order,
        or the original is registered only now, when it is answered) are added to the original's case, after
        it, by revision (TOR-5)."""
        registered: dict[tuple[str, str], tuple[int, str | None]] = {
            key: (plan, None) for key, (plan, _record) in stored_updates.items()}
        for e in new:
            if e.event.kind not in _VERSIONS and e.plan is not None and e.plan_record is not None:
                source = e.decision
                ground = source.ground if source and source.action == Action.CONFIDENTIAL_CASE else None
                registered[(e.event.platform, e.event.external_id)] = (e.plan, ground)
        if not registered:
            return
        found: list[dict[str, Any]] = []
        with self.service.reading() as conn:
            for platform, chunk in _by_platform(set(registered)):
                found += [dict(row) for row in conn.execute(
                    select(_EVENTS).where(_EVENTS.c.platform == platform, _EVENTS.c.external_id.in_(chunk),
                                          _EVENTS.c.kind.in_([k.value for k in _VERSIONS]),
                                          _EVENTS.c.case_id.is_(None))
                    .order_by(_EVENTS.c.revision, _EVENTS.c.id)).mappings()]
        for row in found:
            original = registered.get((row["platform"], row["external_id"]))
            if original is None:
                continue
            index, ground = original
            item = _Item(stored_event(row), row["position"], uuid=row["uuid"])
            if row["kind"] == Kind.EDIT:
                record = self._record(item, title=self._title("edit", item.event), confidential=ground)
            else:
                record = RecordSpec("memo", self._title("delete", item.event), kind="platform_delete",
                                    source=Source(row["platform"], row["external_id"], row["url"]))
            self._attach.append((row["id"], index, self._append(plans, index, record),
                                 "an edit of a registered item, delivered before it (TOR-5)"))

    def _version(self, plans: list[CasePlan], entry: _Item, by_id: dict[tuple[str, str], _Item],
                 originals: dict[tuple[str, str], tuple[str, str | None]]) -> None:
        """An edit or deletion of a registered item becomes a new record in its case (TOR-5)."""
        event = entry.event
        key = (event.platform, event.external_id)
        original = by_id.get(key)
        ground: str | None = None
        if original is not None and original is not entry and original.plan is not None:
            index = original.plan
            source = original.decision
            ground = source.ground if source and source.action == Action.CONFIDENTIAL_CASE else None
        elif key in originals:
            number, ground = originals[key]
            plans.append(CasePlan(records=[], case_number=number))
            index = len(plans) - 1
        else:
            return
        if event.kind == Kind.EDIT:
            record = self._record(entry, title=self._title("edit", event), confidential=ground)
        else:
            record = RecordSpec("memo", self._title("delete", event), kind="platform_delete",
                                source=Source(event.platform, event.external_id, event.url))
        entry.plan, entry.plan_record, entry.status = index, self._append(plans, index, record), "registered"

    def _registered_originals(self, new: list[_Item]) -> dict[tuple[str, str], tuple[str, str | None]]:
        """Stored, registered items that this batch edits or deletes: → (case number, case ground)."""
        wanted = {(e.event.platform, e.event.external_id) for e in new if e.event.kind in (Kind.EDIT, Kind.DELETE)}
        found: dict[tuple[str, str], tuple[str, str | None]] = {}
        if not wanted:
            return found
        cases = table_of(Case)
        with self.service.reading() as conn:
            for platform, chunk in _by_platform(wanted):
                rows = conn.execute(
                    select(_EVENTS.c.platform, _EVENTS.c.external_id, cases.c.diary_number,
                           cases.c.confidentiality_ground)
                    .join(cases, cases.c.id == _EVENTS.c.case_id)
                    .where(_EVENTS.c.platform == platform, _EVENTS.c.external_id.in_(chunk),
                           cases.c.status != "closed")
                )
                for platform, external_id, number, ground in rows:
                    if (platform, external_id) in wanted:
                        found[(platform, external_id)] = (number, self._ground_id(ground))
        return found

    def _ground_id(self, citation: str | None) -> str | None:
        return self.policy.ground(citation).id if citation else None

    @staticmethod
    def _thread_of(event: SocialEvent, by_id: dict[tuple[str, str], _Item],
                   parents: dict[tuple[str, str], dict[str, Any]]) -> str:
        """A thread is a comment on a post with the replies under it (not the whole post).

        Comments by different people under one post are different matters; a
        reply belongs to the thread of the comment it answers.
        """
        key = (event.platform, event.in_reply_to or "")
        if key in by_id and by_id[key].event.kind != Kind.POST:
            return by_id[key].thread or by_id[key].event.external_id
        if key in parents and parents[key]["kind"] != Kind.POST:
            return str(parents[key]["thread"])
        if event.direction == "out" and event.in_reply_to and key not in by_id and key not in parents:
            return event.in_reply_to  # our reply to a comment we never saw: keep it with that comment's thread
        return event.external_id

    def _thread_rule(self, plans: list[CasePlan], reply: _Item, by_id: dict[tuple[str, str], _Item],
                     parents: dict[tuple[str, str], dict[str, Any]], threads: dict[tuple[str, str], str],
                     thread_plan: dict[tuple[str, str], int],
                     stored_updates: dict[tuple[str, str], tuple[int, int]]) -> None:
        key = (reply.event.platform, reply.event.in_reply_to or "")
        in_batch = by_id.get(key)
        stored = parents.get(key) if in_batch is None else None
        parent = in_batch.event if in_batch is not None else (stored_event(stored) if stored else None)
        if parent is None or parent.direction != "in":
            return
        thread_key = (reply.event.platform, reply.thread)
        unregistered = (in_batch.status == "trivial" and in_batch.plan is None) if in_batch is not None \
            else (stored or {}).get("status") == "trivial"
        if not unregistered and thread_key not in thread_plan and thread_key not in threads:
            return  # the comment is registered elsewhere (e.g. confidential) or held: leave the reply trivial
        records = []
        if unregistered:
            records.append(self._record(in_batch, direction="in") if in_batch is not None
                           else self._stored_record(stored or {}))
        records.append(self._record(reply, direction="out", title=self._title("outgoing", reply.event)))
        if thread_key in thread_plan:  # the thread already has a case in this batch
            index = thread_plan[thread_key]
            plans[index] = CasePlan(records=[*plans[index].records, *records], spec=plans[index].spec,
                                    case_number=plans[index].case_number)
        else:
            spec = None if thread_key in threads else CaseSpec(
                title=_case_title(parent) or self._title("incoming", reply.event),
                class_code=self.policy.ingest.complaint_class)
            plans.append(CasePlan(records=records, spec=spec, case_number=threads.get(thread_key)))
            index = len(plans) - 1
            thread_plan[thread_key] = index
        if unregistered:
            first = len(plans[index].records) - len(records)
            if in_batch is not None:
                in_batch.plan, in_batch.plan_record, in_batch.status = index, first, "registered"
            else:
                stored_updates[key] = (index, first)
        reply.plan, reply.plan_record, reply.status = index, len(plans[index].records) - 1, "registered"

    @staticmethod
    def _append(plans: list[CasePlan], index: int, record: RecordSpec) -> int:
        """Add ``record`` to plan ``index`` (plans are immutable: it is replaced); the record's index in it."""
        plan = plans[index]
        plans[index] = CasePlan(records=[*plan.records, record], spec=plan.spec, case_number=plan.case_number)
        return len(plans[index].records) - 1

    def _add(self, plans: list[CasePlan], entry: _Item, spec: CaseSpec, records: list[RecordSpec]) -> None:
        plans.append(CasePlan(records=records, spec=spec))
        entry.plan, entry.plan_record, entry.status = len(plans) - 1, 0, "registered"

    def _title(self, key: str, event: SocialEvent, **extra: Any) -> str:
        # The platform's name came from outside too (a jsonl line names it): no number reaches a title.
        return scrub(self.texts[key].format(platform=event.platform, **extra)) or ""

    def _record(self, entry: _Item, *, direction: str | None = None, kind: str = "social_post",
                title: str | None = None, confidential: str | None = None) -> RecordSpec:
        event = entry.event
        raw_sha = entry.raw()[1]
        direction = direction or event.direction
        default_title = self._title("confidential_record" if confidential else
                                    ("incoming" if direction == "in" else "outgoing"), event)
        author = event.author_name or event.author_id
        return RecordSpec(
            direction=direction,
            title=title or default_title,
            kind=kind,
            parties=[Party("sender" if direction == "in" else "recipient", author)] if author and direction == "in"
            else [],
            # Named by smcase's own id: the platform's id is not a name users without clearance may see.
            attachments=[(f"{_safe(event.platform)}-{entry.uuid}-r{event.revision}.txt",
                          render_capture(event, raw_sha))],
            confidential=confidential,
            document_date=event.created_at.date(),
            source=Source(event.platform, event.external_id, event.url, event.author_name, event.author_id),
        )

    def _stored_record(self, stored: dict[str, Any]) -> RecordSpec:
        return self._record(_Item(stored_event(stored), stored["position"], uuid=stored["uuid"]), direction="in")

    def _stored_parents(self, new: list[_Item], by_id: dict[tuple[str, str], _Item]) -> dict[tuple[str, str], dict[str, Any]]:
        """Stored events that new ones reply to (latest revision of each)."""
        wanted = {(e.event.platform, e.event.in_reply_to) for e in new
                  if e.event.in_reply_to and (e.event.platform, e.event.in_reply_to) not in by_id}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        if not wanted:
            return found
        with self.service.reading() as conn:
            for platform, chunk in _by_platform(wanted):
                # The item itself, not an edit of it: an edit delivered first waits for its original.
                rows = conn.execute(select(_EVENTS).where(_EVENTS.c.platform == platform,
                                                          _EVENTS.c.external_id.in_(chunk),
                                                          _EVENTS.c.kind.not_in([k.value for k in _VERSIONS]))
                                    .order_by(_EVENTS.c.id)).mappings()
                for row in rows:
                    key = (row["platform"], row["external_id"])
                    if key in wanted:
                        found[key] = dict(row)
        return found

    def _thread_cases(self, new: list[_Item]) -> dict[tuple[str, str], str]:
        """Open cases of the threads our replies in this batch join: (platform, thread) → diary number.

        Only the municipality's replies are filed into a thread's case, so only
        their threads are looked up.
        """
        threads = {(e.event.platform, e.thread) for e in new
                   if e.event.direction == "out" and e.event.in_reply_to and e.thread}
        found: dict[tuple[str, str], str] = {}
        if not threads:
            return found
        cases = table_of(Case)
        with self.service.reading() as conn:
            for platform, chunk in _by_platform(threads):
                rows = conn.execute(
                    select(_EVENTS.c.platform, _EVENTS.c.thread, cases.c.diary_number)
                    .join(cases, cases.c.id == _EVENTS.c.case_id)
                    .where(_EVENTS.c.platform == platform, _EVENTS.c.thread.in_(chunk),
                           cases.c.status != "closed", cases.c.confidentiality_ground.is_(None))
                )
                for platform, thread, number in rows:
                    if (platform, thread) in threads:
                        found[(platform, thread)] = number
        return found

    def _channel_ids(self) -> dict[str, int]:
        if self._channels is None:
            with self.service.reading() as conn:
                rows = conn.execute(select(Channel.address, Channel.id, Channel.controller_of_visitor_content)).all()
            self._channels = {address.casefold(): channel_id for address, channel_id, _c in rows}
            self._not_controller = {address.casefold() for address, _i, controller in rows if not controller}
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
                "revision": event.revision, "kind": event.kind, "channel": event.channel,
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


@contextmanager
def _rewindable(stream: IO[bytes]) -> Iterator[tuple[IO[bytes], str]]:
    """``stream`` ready to read from its start, and its SHA-256 (a pipe is spooled to a temporary file)."""
    digest = hashlib.sha256()
    if stream.seekable():
        start = stream.tell()
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
        stream.seek(start)
        yield stream, digest.hexdigest()
        return
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        yield spool, digest.hexdigest()


_VERSIONS = frozenset((Kind.EDIT, Kind.DELETE))

_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any) -> Any:
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) and _SURROGATE.search(value) else value


def _without_surrogates(item: Any) -> Any:
    """An item whose strings hold no lone surrogate (JSON allows "\\ud800"; UTF-8 and the database do not)."""
    if isinstance(item, (SocialEvent, Unparsable)):
        strings = {name: value for name in item.__dataclass_fields__
                   if isinstance(value := getattr(item, name), str)}
        structured = isinstance(item, SocialEvent) and item.raw is not None and not isinstance(item.raw, str)
        if not structured and not _SURROGATE.search("".join(strings.values())):
            return item  # the common case: one search over all the item's text
        changed = {k: _clean(v) for k, v in strings.items() if _SURROGATE.search(v)}
        if structured:
            text = canonical_json(item.raw)
            if _SURROGATE.search(text):
                changed["raw"] = _clean(text)
        return replace(item, **changed) if changed else item
    return item


def guarded(items: Iterator[Any], fmt: str) -> Iterator[Any]:
    """The adapter's items; if the adapter itself fails, one Unparsable that names it and where it stopped."""
    n = 0
    try:
        for n, item in enumerate(items, start=1):  # noqa: B007 (n is read after the loop)
            yield item
    except Exception as exc:  # an adapter is a plugin: contained, named, and its failure accounted for
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        yield Unparsable(f"after item {n}", "", f"the {fmt} adapter stopped reading: {type(exc).__name__}"
                         + (f": {first[:200]}" if first else "") + " (the rest of the input was not read)")


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
