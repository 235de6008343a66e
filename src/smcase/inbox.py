"""The inbox: every stored event, what is held or quarantined, and what is still to do.

* ``list_events`` shows stored events (all, held for review, or with open work),
  ``list_quarantined`` the input that could not be parsed;
* ``resolve`` records that a post was unpublished, removed or hidden on the
  platform: a record in the event's case and the event's resolution, in one
  transaction. For prohibited content it is refused until the evidence record
  exists (VIM-6c, NOR-8): capture first, remove after;
* ``retry`` runs quarantined input through its adapter again and held events
  through the classifiers and decision again, after a fix.

Open work is a fact of the register (``access.open_work``), not a to-do list.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, cast, func, or_, select, text, update

from . import audit
from .access import EventView, QuarantineView, scrub, uncleared_event
from .errors import ConfigError, InvalidInput, InvalidState, NotFound
from .events import Action, Label, ParseContext, Skipped, SocialEvent, Unparsable
from .ingest import Ingest, Summary, guarded, stored_event
from .model import Case, EventRow, QuarantineRow, Record, table_of
from .plugins import Plugins
from .register import CasePlan, RecordSpec, RegisterService, Source, WrittenCase

_EVENTS = table_of(EventRow)
_QUARANTINE = table_of(QuarantineRow)
_CASES = table_of(Case)

RESOLUTIONS = ("unpublished", "removed", "hidden")
#: What takes a post away from the public for what it says: only after its evidence is captured.
EVIDENCE_FIRST = ("removed", "hidden")
_RESOLUTION_TITLES = {
    "sv": {"unpublished": "Avpublicerat på {platform}", "removed": "Borttaget från {platform}",
           "hidden": "Dolt på {platform}"},
    "nb": {"unpublished": "Avpublisert på {platform}", "removed": "Slettet fra {platform}",
           "hidden": "Skjult på {platform}"},
}


def _with_case(query: Any) -> Any:
    """The event with its case's number and marking (masking follows the case)."""
    return query.add_columns(
        _CASES.c.diary_number, _CASES.c.confidentiality_ground.label("case_ground"),
        _CASES.c.withheld_fields.label("case_withheld"), _CASES.c.confidentiality_marked_at.label("case_marked_at"),
        _CASES.c.confidentiality_marked_by.label("case_marked_by"),
    ).outerjoin(_CASES, _CASES.c.id == _EVENTS.c.case_id)


@dataclass(frozen=True)
class _CaseMarking:
    """The confidentiality columns of an event's case, under the names the access seam reads."""

    confidentiality_ground: str | None
    withheld_fields: list[str] | None
    confidentiality_marked_at: Any
    confidentiality_marked_by: str | None


def _view(service: RegisterService, row: Any) -> EventView:
    marking = _CaseMarking(row["case_ground"], row["case_withheld"], row["case_marked_at"], row["case_marked_by"])
    return service.access.event(row, row["diary_number"], marking)


@dataclass(frozen=True)
class Search:
    """What ``inbox list`` narrows the events to (NOR-4, TOR-9); every part optional, all must hold."""

    text: str | None = None  # words that must all occur in the text (the start of a word is enough)
    author: str | None = None  # the author's name or platform id, in any case
    channel: str | None = None
    kind: str | None = None
    status: str | None = None
    start: datetime | None = None  # created at or after
    end: datetime | None = None  # created before

    def narrows_by_content(self) -> bool:
        """Does it match on what an uncleared user may not see in a confidential item (its text, its author)?"""
        return bool(self.text or self.author)


_WORD = re.compile(r"\w+")


def list_events(service: RegisterService, *, review: bool = False, open_work: bool = False, unmatched: bool = False,
                limit: int | None = None, search: Search | None = None) -> Iterator[EventView]:
    """Stored events, oldest first: all, those held for review, those with open work, or (``unmatched``) those on
    no known channel; narrowed by ``search``.

    Text is found by the database's own full-text index (SQLite FTS5, PostgreSQL's
    text search). A user without clearance never finds a confidential item by its
    text or author: only what they could see can match.
    """
    query = _with_case(select(_EVENTS)).order_by(_EVENTS.c.id)
    if review:
        query = query.where(_EVENTS.c.status == "held")
    if unmatched:
        query = query.where(_EVENTS.c.channel_id.is_(None))
    if open_work:
        query = query.where(_EVENTS.c.resolution.is_(None), or_(
            _EVENTS.c.action == Action.EVIDENCE.value,
            and_(_EVENTS.c.action == Action.CONFIDENTIAL_CASE.value, _EVENTS.c.public.is_(True))))
    if search is not None:
        query = _narrowed(service, query, search)
    if limit:
        query = query.limit(limit)
    with service.audited_reads(), service.reading() as conn:
        for row in conn.execute(query.execution_options(yield_per=500)).mappings():
            yield _view(service, row)


def _fts(e: Any, column: str, words: list[str], *, prefix: bool, sqlite: bool) -> Any:
    """The condition that an event's ``column`` (text, or author: name and id) holds every word."""
    if sqlite:
        # Each word a quoted FTS5 string, so that nothing in it is read as FTS5 syntax.
        match = f"{column} : (" + " ".join(f'"{word}"' + ("*" if prefix else "") for word in words) + ")"
        return e.c.id.in_(select(text("rowid")).select_from(text("events_fts")).where(
            text(f"events_fts MATCH :{column}_words").bindparams(**{f"{column}_words": match})))
    document = func.coalesce(e.c.text, "") if column == "text" else \
        func.coalesce(e.c.author_name, "") + " " + func.coalesce(e.c.author_id, "")
    tsquery = " & ".join(f"{word}:*" if prefix else word for word in words)
    return func.to_tsvector("simple", document).op("@@")(func.to_tsquery("simple", tsquery))


def _narrowed(service: RegisterService, query: Any, search: Search) -> Any:
    e = _EVENTS
    sqlite = service.engine.dialect.name == "sqlite"
    if search.text is not None:
        words = _WORD.findall(search.text.casefold())
        if not words:
            raise InvalidInput("give --text at least one word (letters or digits)")
        # Every word, and the start of a word is enough ("plog" finds "plogad").
        query = query.where(_fts(e, "text", words, prefix=True, sqlite=sqlite))
    if search.author is not None:
        words = _WORD.findall(search.author.casefold())
        if not words:
            raise InvalidInput("give --author a name or an id (letters or digits)")
        query = query.where(_fts(e, "author", words, prefix=False, sqlite=sqlite))
    if search.channel is not None:
        query = query.where(e.c.channel == search.channel.strip())
    if search.kind is not None:
        query = query.where(e.c.kind == search.kind)
    if search.status is not None:
        query = query.where(e.c.status == search.status)
    if search.start is not None:
        query = query.where(e.c.created_at >= search.start)
    if search.end is not None:
        query = query.where(e.c.created_at < search.end)
    if search.narrows_by_content() and not service.actor.clearance:
        # Withheld content never answers a search: not in a confidential case, not found confidential.
        # Held items were not classified to the end, so they are left out too.
        query = query.where(_CASES.c.confidentiality_ground.is_(None), e.c.status != "held", or_(
            e.c.findings.is_(None), ~cast(e.c.findings, String).like('%"confidential"%')))
    return query


def list_quarantined(service: RegisterService, *, include_resolved: bool = False) -> list[QuarantineView]:
    """Quarantined input items, oldest first."""
    query = select(_QUARANTINE).order_by(_QUARANTINE.c.id)
    if not include_resolved:
        query = query.where(_QUARANTINE.c.status == "open")
    with service.audited_reads(), service.reading() as conn:
        return [service.access.quarantined(row) for row in conn.execute(query).mappings()]


_HEX = re.compile(r"^[0-9a-f]{4,32}$")


def _find_event(conn: Connection, ref: str, cleared: bool = True) -> dict[str, Any]:
    """The event ``ref`` names: its id (uuid) or a unique start of it as ``inbox list`` shows it, or, for a
    user with clearance, its key or ``platform:id`` (the platform's ids are not names for anyone else)."""
    ref = ref.strip()
    query = _with_case(select(_EVENTS))
    hexed = ref.lower().replace("-", "")
    found: Sequence[Any] = []
    try:
        found = conn.execute(query.where(_EVENTS.c.uuid == uuid.UUID(ref))).mappings().all()
    except ValueError:
        if _HEX.match(hexed):
            found = conn.execute(query.where(func.replace(cast(_EVENTS.c.uuid, String), "-", "").like(f"{hexed}%"))
                                 .limit(2)).mappings().all()
            if len(found) > 1:
                raise InvalidInput(f"{ref!r} is the start of more than one event's id: give more of it") from None
        if not found and cleared:
            found = conn.execute(query.where(or_(_EVENTS.c.key == ref, and_(
                _EVENTS.c.platform == ref.split(":", 1)[0], _EVENTS.c.external_id == ref.split(":", 1)[-1])))
                .order_by(_EVENTS.c.id)).mappings().all()
    if not found:
        names = "its id as 'inbox list' shows it" + (", key or platform:id" if cleared else "")
        raise NotFound(f"no event {scrub(ref)!r} in the inbox (give {names})")
    return dict(found[0])


@dataclass(frozen=True)
class Resolved:
    """What ``resolve`` registered, and notifiers that failed afterwards (it stays registered)."""

    event: EventView
    record: str | None
    warnings: tuple[str, ...] = ()


def resolve(service: RegisterService, plugins: Plugins, ref: str, action: str, note: str | None = None) -> Resolved:
    """Record that the post ``ref`` was unpublished, removed or hidden on its platform."""
    if action not in RESOLUTIONS:
        raise InvalidInput(f"unknown action {action!r}: use {', '.join(RESOLUTIONS)}")
    with service.reading() as conn:
        row = _find_event(conn, ref, service.actor.clearance)
    service.require("inbox.resolve")
    labels = {f[0] for f in row["findings"] or ()}
    name = _name(service, row)
    stronger = {"unpublished": EVIDENCE_FIRST, "hidden": ("removed",)}  # hidden first, removed later
    if row["resolution"] and action not in stronger.get(row["resolution"], ()):
        # Unpublished first (it held a number), removed later (it also broke the rules): the stronger follows.
        raise InvalidState(f"event {name} was already recorded as {row['resolution']}")
    if action in EVIDENCE_FIRST and not (row["action"] == Action.EVIDENCE.value and row["record_id"]):
        # Evidence first, whatever the classifier said (VIM-6c, NOR-8, REN-2, RAT-10, TOR-4).
        found = " holds prohibited content but" if Label.PROHIBITED in labels else ""
        raise InvalidState(
            f"event {name}{found} has no evidence record: capture it first with "
            f"'smcase inbox flag {str(row['uuid'])[:8]} --category CATEGORY', then record it as {action}")
    language = "nb" if service.policy.language in ("nb", "nn") else "sv"
    title = _RESOLUTION_TITLES[language][action].format(platform=row["platform"])
    if note:
        title = f"{title}: {note.strip()}"
    now = service.clock()

    def mark(conn: Connection, written: list[WrittenCase]) -> dict[str, set[int]]:
        record_id = written[0].records[0].id if written else None
        conn.execute(update(_EVENTS).where(_EVENTS.c.id == row["id"]).values(
            resolution=action, resolved_at=now, resolved_by=service.actor.username,
            **({"record_id": row["record_id"] or record_id} if record_id else {})))
        return {"events": {row["id"]}}

    plans = []
    if row["diary_number"]:
        plans.append(CasePlan(records=[RecordSpec(
            "memo", title, kind=action, source=Source(row["platform"], row["external_id"], row["url"]))],
            case_number=row["diary_number"]))
    change = audit.Change("inbox.resolve", "event", row["uuid"], row["key"][:200],
                          {"after": {"resolution": action, "note": note}})
    written = service.write_batch(plans, after=mark, audit_extra=[change])
    record = written[0].records[0].number if written else None
    with service.reading() as conn:
        updated = _find_event(conn, str(row["uuid"]))
    view = _view(service, updated)
    failures = []
    if record:
        ground = updated["case_ground"] or (service.access.ingest_ground
                                            if Label.CONFIDENTIAL in labels else None)
        failures = plugins.notify(
            "smcase_notify_post_resolved", event=stored_event(updated), action=action,
            record=service.view_record(record), cleared=service.policy.notify_cleared,
            uncleared={"event": uncleared_event(stored_event(updated), ground), "action": action,
                       "record": service.view_record(record, uncleared=True)})
    return Resolved(view, record, tuple(f"notifier {f.plugin!r} failed: {f.reason}" for f in failures))


def _name(service: RegisterService, row: Mapping[str, Any]) -> str:
    """How an event is named to the acting user: its key with clearance, else its id."""
    return str(row["key"]) if service.actor.clearance else str(row["uuid"])


@dataclass(frozen=True)
class Flagged:
    """What ``flag`` registered: the event now, its removal case and evidence record, notifier warnings."""

    event: EventView
    case: str
    record: str
    opened: bool
    warnings: tuple[str, ...] = ()


def flag(service: RegisterService, plugins: Plugins, ref: str, category: str, note: str | None = None) -> Flagged:
    """Flag the post ``ref`` as prohibited content the classifier missed, and capture its evidence record.

    The evidence is the same as for a classified post (content, author, time,
    URL and the SHA-256 of the captured payload) in a new removal case, or in
    the event's own case if it has one; the event becomes open removal work.
    """
    service.require("inbox.resolve")
    categories = [c.category for c in service.policy.prohibited]
    if category not in categories:
        raise InvalidInput(f"unknown category {scrub(category)!r}: the policy's categories are "
                           f"{', '.join(categories) or '(none)'}")
    with service.reading() as conn:
        row = _find_event(conn, ref, service.actor.clearance)
    name = _name(service, row)
    if row["text"] is None and row["raw"] is None:
        raise InvalidState(f"event {name} was disposed of: nothing is left to capture as evidence")
    if row["action"] == Action.EVIDENCE.value and row["record_id"]:
        raise InvalidState(f"event {name} already has its evidence record in case {row['diary_number']}")
    if row["resolution"] in EVIDENCE_FIRST:  # cannot happen without evidence; an unpublished post can be flagged
        raise InvalidState(f"event {name} was already recorded as {row['resolution']}")
    written, warnings = Ingest(service, plugins).capture_evidence(row, category, note and note.strip())
    with service.reading() as conn:
        updated = _find_event(conn, str(row["uuid"]))
    return Flagged(_view(service, updated), written.diary_number, written.records[0].number, written.opened,
                   tuple(warnings))


@dataclass(frozen=True)
class Registered:
    """What ``register`` or ``reply`` wrote: the event now, its case, the reply's record and text."""

    event: EventView
    case: str
    opened: bool
    reply_record: str | None = None
    reply_text: str | None = None


def register(service: RegisterService, plugins: Plugins, ref: str) -> Registered:
    """Register the stored event ``ref`` as a case: a question or message that needs case handling (REN-1,
    NOR-9, VIM-6b) whatever the classifiers decided."""
    row = _open_for_handling(service, ref)
    if row["case_id"]:
        raise InvalidState(f"event {_name(service, row)} is registered already, in case {row['diary_number']}")
    written, _reply = Ingest(service, plugins).register_stored(row)
    return Registered(_reread(service, row), written.diary_number, written.opened)


def reply(service: RegisterService, plugins: Plugins, ref: str, *, referral: bool = True) -> Registered:
    """Record the municipality's referral reply to ``ref`` (REN-1: case handling does not happen on the platform,
    write by e-mail or letter): the policy's text as an outgoing record in the event's case, registering the
    event first if it is not yet. The text is returned for the officer to post."""
    if not referral:
        raise InvalidInput("only the referral reply is recorded here: give --referral")
    text = service.policy.ingest.referral_reply
    if not text:
        raise ConfigError("the policy has no referral reply: set [ingest] referral_reply in the policy file")
    row = _open_for_handling(service, ref)
    name = _name(service, row)
    if row["action"] == Action.EVIDENCE.value:
        raise InvalidState(f"event {name} is prohibited content to remove, not a question to refer")
    with service.reading() as conn:
        answered = conn.execute(select(Record.id).where(
            Record.case_id == row["case_id"], Record.kind == "referral_reply",
            Record.source_external_id.is_(None)).limit(1)).first() if row["case_id"] else None
    if answered:
        raise InvalidState(f"event {name} already has its referral reply in case {row['diary_number']}")
    written, number = Ingest(service, plugins).register_stored(row, text)
    return Registered(_reread(service, row), written.diary_number, written.opened, number, text)


def _open_for_handling(service: RegisterService, ref: str) -> dict[str, Any]:
    with service.reading() as conn:
        row = _find_event(conn, ref, service.actor.clearance)
    name = _name(service, row)
    if row["text"] is None and row["raw"] is None:
        raise InvalidState(f"event {name} was disposed of: nothing is left to register")
    if row["direction"] != "in":
        raise InvalidState(f"event {name} is the municipality's own; only what the public sent is registered here")
    if row["status"] == "held":
        raise InvalidState(f"event {name} is held for review: run 'smcase inbox retry' after the fix first")
    return row


def _reread(service: RegisterService, row: Mapping[str, Any]) -> EventView:
    with service.reading() as conn:
        return _view(service, _find_event(conn, str(row["uuid"])))


def retry(service: RegisterService, plugins: Plugins, *, only: Sequence[int] = (),
          as_format: str | None = None) -> Summary:
    """Run quarantined input and held events through the pipeline again.

    ``only`` limits the retry to those quarantine entries (and leaves held events alone). ``as_format`` reads
    them in another format (input first ingested with the wrong ``--format``): entries from one file are put
    back together in their order (a JSON document read line by line was split into one entry per line), what
    parses is stored, what does not becomes a quarantine entry of that format, and the old entries are
    resolved; nothing is lost.
    """
    ingest = Ingest(service, plugins)
    total = Summary()
    entries = _open_entries(service, only) if only else list_quarantined(service)
    rawless = [e.id for e in entries if not e.raw]
    total.retried = len(entries)
    total.still_quarantined.extend(rawless)
    for group in _retry_groups([e for e in entries if e.raw], as_format is not None):
        first = group[0]
        fmt = as_format or first.adapter
        where = first.position if len(group) == 1 else f"{first.position} to {group[-1].position}"
        context = ParseContext(source_name=f"{first.source} (retry of {where})")
        text = "\n".join(e.raw for e in group)
        parsed = list(guarded(plugins.adapter(fmt).parse(io.BytesIO(text.encode("utf-8")), context), fmt))
        events = sum(isinstance(p, SocialEvent) for p in parsed)
        # In its own format an entry moves on only when all of it parses; in another, when anything does (the
        # rest is quarantined again under that format, so the old entries are answered).
        if not events or (as_format is None and events < len(parsed)):
            total.still_quarantined.extend(e.id for e in group)
            continue
        summary = ingest.process([(p.position if isinstance(p, Unparsable | Skipped) else where, p)
                                  for p in parsed], fmt, context, resolve_quarantine=[e.id for e in group])
        total.add(summary)
    if rawless:
        total.warnings.append(f"{len(rawless)} quarantine {'entry' if len(rawless) == 1 else 'entries'} kept no raw "
                              "input (" + ", ".join(f"#{n}" for n in rawless) + "): ingest the fixed file again")
    if only:
        return total
    with service.reading() as conn:
        held = [dict(r) for r in conn.execute(select(_EVENTS).where(_EVENTS.c.status == "held")
                                              .order_by(_EVENTS.c.id)).mappings()]
    if held:
        total.add(ingest.reprocess(held))
        total.held_retried = len(held)
    return total


def _open_entries(service: RegisterService, ids: Sequence[int]) -> list[QuarantineView]:
    """The open quarantine entries ``ids`` names, in order; InvalidInput names those that are not open."""
    entries = [e for e in list_quarantined(service) if e.id in set(ids)]
    unknown = sorted(set(ids) - {e.id for e in entries})
    if unknown:
        raise InvalidInput("no open quarantine entry " + ", ".join(f"#{n}" for n in unknown)
                           + ": see them with 'smcase inbox list --quarantined'")
    return entries


def _retry_groups(entries: list[QuarantineView], rejoin: bool) -> list[list[QuarantineView]]:
    # Read in another format, the entries of one file (same source, same first adapter) are one input again.
    if not rejoin:
        return [[e] for e in entries]
    groups: dict[tuple[str, str], list[QuarantineView]] = {}
    for entry in entries:
        groups.setdefault((entry.source, entry.adapter), []).append(entry)
    return list(groups.values())


def dismiss(service: RegisterService, ids: Sequence[int], reason: str) -> list[int]:
    """Close quarantine entries that need no retry (the input was ingested again, fixed, by other means), with
    the reason; audited. The entries are kept, with their raw input: nothing accepted is ever deleted."""
    service.require("inbox.resolve")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("dismissing quarantine entries needs a reason (--reason)")
    chosen = [e.id for e in _open_entries(service, ids)]
    change = audit.Change("inbox.dismiss", "inbox", None, ", ".join(f"#{n}" for n in chosen)[:200],
                          {"after": {"quarantine": chosen, "status": "dismissed", "reason": scrub(reason)}})

    def close(conn: Connection, _written: list[WrittenCase]) -> dict[str, list[int]]:
        conn.execute(update(_QUARANTINE).where(_QUARANTINE.c.id.in_(chosen)).values(status="dismissed"))
        return {"quarantine": chosen}

    service.write_batch([], after=close, audit_extra=[change], permission="inbox.resolve")
    return chosen
