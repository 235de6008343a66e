"""The ingest pipeline: read, classify, decide, plan and store, a batch at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import IO, Any

from sqlalchemy import Connection, insert, update

from .. import audit
from ..errors import InvalidInput
from ..events import HEAD_BYTES, Action, Decision, Finding, Label, ParseContext, Skipped, Unparsable
from ..identity import scrub
from ..model import EventRow, QuarantineRow, table_of
from ..plugins import Failure, Plugins
from ..progress import Progress
from ..register import CasePlan, CaseSpec, Party, RecordSpec, RegisterService, WrittenCase
from .batch import TEXTS, Summary, _Item
from .planning import Planning
from .reading import _rewindable, _without_surrogates, guarded
from .storing import _case_title, _outcome, stored_event

_EVENTS = table_of(EventRow)
_QUARANTINE = table_of(QuarantineRow)


class Ingest(Planning):
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
        self._addresses: dict[str, str] = {}
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
            fmt = self.plugins.format_name(fmt)  # an unknown name is refused before a pipe is read
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
                resolve_quarantine: Sequence[int] = ()) -> Summary:
        """Process one batch of parsed items in one transaction.

        ``resolve_quarantine`` marks those quarantine rows resolved in the same
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
            kept: set[int] = set()
            if quarantine:
                kept.update(conn.execute(insert(_QUARANTINE).returning(_QUARANTINE.c.id), quarantine).scalars())
            if resolve_quarantine:
                conn.execute(update(_QUARANTINE).where(_QUARANTINE.c.id.in_(list(resolve_quarantine)))
                             .values(status="resolved"))
                kept.update(resolve_quarantine)
            return {"events": touched, "quarantine": kept}

        wanted = new or quarantine or resolve_quarantine
        written = (self.service.write_batch(plans, after=store, audit_extra=batch_audit, permission="ingest")
                   if wanted else [])
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
