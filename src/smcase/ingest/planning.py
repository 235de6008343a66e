"""Planning a batch: which events become which cases and records (threads, versions, the late and the early)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..events import Action, Kind, SocialEvent
from ..identity import scrub
from ..model import Case, EventRow, table_of
from ..register import CasePlan, CaseSpec, Party, RecordSpec, Source
from .batch import _VERSIONS, _Item, render_capture
from .storing import Storing, _by_platform, _case_title, _safe, stored_event

_EVENTS = table_of(EventRow)




#: Platforms by their proper names, as published titles give them.
_PLATFORM_NAMES = {"facebook": "Facebook", "instagram": "Instagram", "mastodon": "Mastodon", "x": "X",
                   "twitter": "X", "tiktok": "TikTok", "youtube": "YouTube", "linkedin": "LinkedIn"}


class Planning(Storing):
    """Turning decided events into the batch's case plans."""

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
        # Titles are published: the platform by its proper name and a category by the policy's description in its
        # own language ("Hot och uppmaningar till brott", not "threat"). The platform's name came from outside too
        # (a jsonl line names it): no number reaches a title.
        if "category" in extra:
            described = {c.category: c.description for c in self.policy.prohibited}
            extra["category"] = described.get(extra["category"], extra["category"])
        platform = _PLATFORM_NAMES.get(event.platform.casefold(), event.platform)
        return scrub(self.texts[key].format(platform=platform, **extra)) or ""

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
