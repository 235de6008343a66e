"""Disposal (SE gallring, NO kassasjon) under the policy's rules, with a log that survives what it destroys.

What falls due (RAT-7, VIM-6d, NOR-5, TOR-8):

* trivial social-media items that were never registered (inbox events kept as
  ``trivial``), under the rule for ``social_trivial``, once they are older than its
  period ("no longer current");
* records of a kind whose rule disposes of it, or of a case whose rule does, once
  that period has passed since the case was closed.

Never: anything under a ``preserve`` rule, events held for review, records of open
cases, and anything of a case on legal hold. ``due`` lists exactly what ``dispose``
destroys, and under which rule.

Disposing destroys, in one transaction with the register's own writes: an event's
text, raw payload, author and URL; a record's documents (and, after commit, stored
files nothing refers to any more); and the payloads of the audit entries about
them. The audit chain keeps every entry and its digest, so it still verifies. Each
item gets a disposal log entry (what, rule, when, who) and an audit entry. A second
run finds nothing more to dispose of.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from . import audit
from .duties import add_months
from .model import AuditEntry, AuditPayload, Case, DisposalEntry, Document, EventRow, Record, table_of
from .policy import DisposalRule
from .progress import Progress
from .register import RegisterService

_EVENTS, _RECORDS, _CASES = table_of(EventRow), table_of(Record), table_of(Case)
_DOCUMENTS, _LOG = table_of(Document), table_of(DisposalEntry)
TRIVIAL_KIND = "social_trivial"


@dataclass(frozen=True)
class DueItem:
    """Something the policy says may now be destroyed: which item, under which rule, due since when."""

    entity: str  # event | record
    uuid: uuid.UUID
    ref: str  # the event's key or the record's number: public references
    rule: str
    due: date
    what: str  # a public description, never the content

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase dispose --json``)."""
        return {"entity": self.entity, "uuid": str(self.uuid), "ref": self.ref, "rule": self.rule,
                "due": self.due.isoformat(), "what": self.what}


@dataclass(frozen=True)
class LogEntry:
    """One line of the disposal log."""

    at: datetime
    actor: str
    entity: str
    uuid: uuid.UUID
    ref: str
    rule: str
    what: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase dispose log --json``)."""
        return {"at": self.at.isoformat(), "actor": self.actor, "entity": self.entity, "uuid": str(self.uuid),
                "ref": self.ref, "rule": self.rule, "what": self.what}


def _due_date(start: datetime, rule: DisposalRule, tz: Any) -> date:
    day = start.astimezone(tz).date()
    if rule.after_years is not None:
        return add_months(day, 12 * rule.after_years)
    return day + timedelta(days=rule.after_days or 0)


def due(service: RegisterService, at: datetime | None = None) -> Iterator[DueItem]:
    """Everything that may be disposed of at ``at`` (now by default), events first, then records."""
    now = at or service.clock()
    today = now.astimezone(service.tz).date()
    trivial = service.policy.disposal_rule(service.policy.record_rule_for(TRIVIAL_KIND))
    with service.reading() as conn:
        if trivial.action == "dispose":
            events = (select(_EVENTS.c.uuid, _EVENTS.c.key, _EVENTS.c.kind, _EVENTS.c.platform, _EVENTS.c.created_at)
                      .where(_EVENTS.c.status == "trivial", _EVENTS.c.case_id.is_(None),
                             # never what was removed, hidden or captured as evidence: it is registered
                             _EVENTS.c.resolution.is_(None), _EVENTS.c.action.is_distinct_from("evidence"))
                      .order_by(_EVENTS.c.id))
            for row in conn.execute(events.execution_options(yield_per=1000)):
                when = _due_date(row.created_at, trivial, service.tz)
                if when <= today:
                    yield DueItem("event", row.uuid, row.key, trivial.id, when, f"{row.kind} on {row.platform}")
        records = (select(_RECORDS.c.uuid, _RECORDS.c.number, _RECORDS.c.kind, _CASES.c.diary_number,
                        _CASES.c.closed_at, _CASES.c.disposal_rule,
                        select(func.count()).where(_DOCUMENTS.c.record_id == _RECORDS.c.id).scalar_subquery()
                        .label("documents"))
                 .join(_CASES, _CASES.c.id == _RECORDS.c.case_id)
                 .where(_CASES.c.status == "closed", _CASES.c.legal_hold.is_(False), _RECORDS.c.disposed_at.is_(None))
                   .order_by(_CASES.c.year, _CASES.c.seq, _RECORDS.c.number))
        for item in conn.execute(records.execution_options(yield_per=1000)):
            rule = service.policy.rule_for_record(item.kind, item.disposal_rule)
            if rule.action != "dispose":
                continue
            when = _due_date(item.closed_at, rule, service.tz)
            if when <= today:
                number = service.numbering.record_number(item.diary_number, item.number)
                yield DueItem("record", item.uuid, number, rule.id, when,
                              f"record of kind {item.kind} with {item.documents} document(s)")


def dispose(service: RegisterService, at: datetime | None = None,
            only: Collection[uuid.UUID] | None = None, progress: Progress | None = None) -> list[DueItem]:
    """Destroy everything due, in one transaction, with a log entry each; returns what was disposed of.

    ``only``: the items a person confirmed (by uuid); of those, what is still due goes, and nothing that became
    due since is destroyed unseen. ``progress`` hears of the items destroyed (the commit follows).
    """
    service.require("archive.dispose")
    items = [item for item in due(service, at) if only is None or item.uuid in only]
    if not items:
        return []
    now = service.clock()
    actor = service.actor.username
    changes = [audit.Change(f"{item.entity}.dispose", item.entity, item.uuid, item.ref[:200],
                            {"rule": item.rule, "what": item.what}) for item in items]
    unreferenced: list[str] = []

    def destroy(conn: Connection, _written: Any) -> dict[str, set[int]]:
        events = [i.uuid for i in items if i.entity == "event"]
        records = [i.uuid for i in items if i.entity == "record"]
        touched: dict[str, set[int]] = {"events": set(), "records": set()}
        for start in range(0, max(len(events), len(records)), 500):
            _destroy(conn, events[start:start + 500], records[start:start + 500], unreferenced, now, touched)
            if progress is not None:
                progress("destroying", min(start + 500, len(events)) + min(start + 500, len(records)), len(items))
        logged = conn.execute(insert(_LOG).returning(_LOG.c.id, sort_by_parameter_order=True), [
            {"at": now, "actor": actor, "entity": i.entity, "entity_uuid": i.uuid, "ref": i.ref[:400],
             "rule": i.rule, "what": i.what[:300]} for i in items]).scalars()
        return {**touched, "disposals": set(logged)}  # what it erased, attested as it now stands

    service.write_batch([], after=destroy, audit_extra=changes, permission="archive.dispose")
    if service.files is not None:
        with service.reading() as conn:  # a file is destroyed only when nothing refers to it after the commit
            for sha in set(unreferenced):
                if conn.execute(select(_DOCUMENTS.c.id).where(_DOCUMENTS.c.sha256 == sha).limit(1)).first() is None:
                    service.files.delete(sha)
    return items


def _destroy(conn: Connection, events: list[uuid.UUID], records: list[uuid.UUID], unreferenced: list[str],
             now: datetime, touched: dict[str, set[int]]) -> None:
    record_ids = [r.id for r in conn.execute(select(_RECORDS.c.id).where(_RECORDS.c.uuid.in_(records)))]
    touched["records"].update(record_ids)
    # The events a disposed record was registered from lose their content with it.
    linked = [r.uuid for r in conn.execute(select(_EVENTS.c.uuid).where(_EVENTS.c.record_id.in_(record_ids)))]
    content = {"text": None, "raw": None, "author_name": None, "author_id": None, "url": None}
    if events or linked:
        touched["events"].update(conn.execute(update(_EVENTS).where(_EVENTS.c.uuid.in_([*events, *linked]))
                                              .values(status="disposed", **content).returning(_EVENTS.c.id))
                                 .scalars())
    if record_ids:
        unreferenced += [r.sha256 for r in conn.execute(select(_DOCUMENTS.c.sha256).where(
            _DOCUMENTS.c.record_id.in_(record_ids)))]
        conn.execute(delete(_DOCUMENTS).where(_DOCUMENTS.c.record_id.in_(record_ids)))
        conn.execute(update(_RECORDS).where(_RECORDS.c.id.in_(record_ids)).values(disposed_at=now))
    # The before/after values of earlier entries go; the entries and their digests stay, so the chain verifies.
    entries = table_of(AuditEntry)
    earlier = select(entries.c.seq).where(entries.c.entity_uuid.in_([*events, *linked, *records]),
                                          entries.c.action.notin_(("event.dispose", "record.dispose")))
    conn.execute(delete(table_of(AuditPayload)).where(table_of(AuditPayload).c.seq.in_(earlier)))


def log(service: RegisterService, limit: int | None = None) -> list[LogEntry]:
    """The disposal log, oldest first (the newest ``limit`` entries)."""
    query = select(_LOG).order_by(_LOG.c.id.desc())
    if limit:
        query = query.limit(limit)
    with service.reading() as conn:
        rows = conn.execute(query).all()
    return [LogEntry(r.at.astimezone(service.tz), r.actor, r.entity, r.entity_uuid, r.ref, r.rule, r.what)
            for r in reversed(rows)]
