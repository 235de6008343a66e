"""Rescan: find identity numbers that an older detector let into the register, and withhold them.

Registers written before the current detector (``identity.DETECTOR_VERSION``)
may hold numbers in case and record titles, public titles, counterparts typed
by hand, source fields, file names and stored events. ``scan`` streams every
case, record, counterpart, document and event once and collects what holds a
number; ``rescan`` hands that to the register service, the only writer, which
marks it under the policy's ingest ground:

* a case or record holding a number is marked confidential (its public title
  becomes the placeholder, or loses the number when it is not the title);
* a marked case or record whose public title still holds a number gets the
  number scrubbed from it;
* a stored event still in the inbox (trivial) that holds a number is held for
  review (``held_by = rescan``): ``smcase inbox retry`` runs it through the
  classifiers and the decision again, which open its confidential case;
* a registered event that holds a number gets its record and case marked.

The report counts what was done, never the numbers. ``smcase db upgrade`` runs
it once after an upgrade when the register was last scanned by an older
detector; ``smcase rescan`` runs it on demand (a second run finds nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .identity import DETECTOR_VERSION, contains, find
from .model import AuditEntry, AuditPayload, Case, Correspondent, Document, EventRow, Record, table_of

if TYPE_CHECKING:
    from .register import RegisterService

#: The audit action that records a rescan; its reference names the detector version.
ACTION = "register.rescan"


@dataclass
class Findings:
    """What the scan found, by row id (never the values)."""

    cases: set[int] = field(default_factory=set)  # to mark confidential
    records: set[int] = field(default_factory=set)
    case_public_titles: set[int] = field(default_factory=set)  # marked already; the public title holds a number
    record_public_titles: set[int] = field(default_factory=set)
    events: set[int] = field(default_factory=set)  # trivial events to hold for review
    counterparts: int = 0  # records found through their counterparts
    documents: int = 0  # records found through a document's file name


@dataclass(frozen=True)
class Report:
    """What a rescan did (``smcase rescan --json``)."""

    detector_version: int
    cases_marked: int
    records_marked: int
    public_titles_scrubbed: int
    events_held: int
    counterparts: int
    documents: int

    @property
    def changed(self) -> int:
        """How many rows the rescan changed."""
        return self.cases_marked + self.records_marked + self.public_titles_scrubbed + self.events_held

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"detector_version": self.detector_version, "cases_marked": self.cases_marked,
                "records_marked": self.records_marked, "public_titles_scrubbed": self.public_titles_scrubbed,
                "events_held": self.events_held, "counterparts": self.counterparts, "documents": self.documents}


def _any(values: Iterable[str | None]) -> bool:
    return any(contains(v) for v in values)


def scan(service: RegisterService) -> Findings:
    """Stream the register once and collect every row that holds an identity number."""
    found = Findings()
    row: Any  # one row at a time, of each table in turn
    cases, records, events = table_of(Case), table_of(Record), table_of(EventRow)
    batch = {"yield_per": 1000}
    with service.reading() as conn:
        lifted = _lifted(conn)
        for row in conn.execute(select(cases.c.id, cases.c.title, cases.c.public_title, cases.c.owner_unit,
                                       cases.c.confidentiality_ground).execution_options(**batch)):
            if row.confidentiality_ground is None and _any((row.title, row.public_title, row.owner_unit)):
                # A marking a cleared user lifted, with a reason, stays lifted: only the public title is scrubbed.
                if ("case", row.id) not in lifted:
                    found.cases.add(row.id)
                elif contains(row.public_title):
                    found.case_public_titles.add(row.id)
            elif row.confidentiality_ground is not None and contains(row.public_title):
                found.case_public_titles.add(row.id)
        marked: set[int] = set()
        for row in conn.execute(select(records.c.id, records.c.title, records.c.public_title,
                                       records.c.source_external_id, records.c.source_url, records.c.source_author,
                                       records.c.source_author_id, records.c.confidentiality_ground)
                                .execution_options(**batch)):
            if row.confidentiality_ground is not None:
                marked.add(row.id)
                if contains(row.public_title):
                    found.record_public_titles.add(row.id)
            elif ("record", row.id) in lifted:
                marked.add(row.id)  # a lifted marking is a cleared decision
                if contains(row.public_title):
                    found.record_public_titles.add(row.id)
            elif _any((row.title, row.public_title, row.source_external_id, row.source_url, row.source_author,
                       row.source_author_id)):
                found.records.add(row.id)
        parties = table_of(Correspondent)
        for row in conn.execute(select(parties.c.record_id, parties.c.name, parties.c.address)
                                .execution_options(**batch)):
            if row.record_id not in marked and row.record_id not in found.records and _any((row.name, row.address)):
                found.records.add(row.record_id)
                found.counterparts += 1
        documents = table_of(Document)
        for row in conn.execute(select(documents.c.record_id, documents.c.original_name).execution_options(**batch)):
            if row.record_id not in marked and row.record_id not in found.records and contains(row.original_name):
                found.records.add(row.record_id)
                found.documents += 1
        for row in conn.execute(select(events.c.id, events.c.status, events.c.findings, events.c.case_id,
                                       events.c.record_id, events.c.text, events.c.author_name, events.c.author_id,
                                       events.c.url, events.c.external_id, events.c.in_reply_to, events.c.channel)
                                .execution_options(**batch)):
            # The text as the classifier reads it (the words around a number decide); every other field as is.
            if not (find(row.text) or _any((row.author_name, row.author_id, row.url, row.external_id,
                                             row.in_reply_to, row.channel))):
                continue
            if any(f[0] == "confidential" for f in row.findings or ()):
                continue  # already found, withheld and registered as such
            if row.status == "trivial":
                found.events.add(row.id)
            elif row.record_id is not None and row.record_id not in marked:
                found.records.add(row.record_id)
                if row.case_id is not None:
                    found.cases.add(row.case_id)
        # A case found through its records only is marked if it is not marked already.
        if found.cases:
            already = set(conn.execute(select(cases.c.id).where(cases.c.id.in_(sorted(found.cases)),
                                                                cases.c.confidentiality_ground.is_not(None)))
                          .scalars())
            found.cases -= already
    return found


def _lifted(conn: Any) -> set[tuple[str, int]]:
    """(entity, id) of the cases and records whose marking a cleared user lifted (``case mark --lift``)."""
    entries, payloads = table_of(AuditEntry), table_of(AuditPayload)
    uuids = {(entity, value) for entity, value in conn.execute(
        select(entries.c.entity, entries.c.entity_uuid).join(payloads, payloads.c.seq == entries.c.seq)
        .where(entries.c.action.in_(("case.mark", "record.mark")), payloads.c.payload.like('%"change":"lift"%')))}
    found: set[tuple[str, int]] = set()
    for entity, model in (("case", Case), ("record", Record)):
        wanted = [u for e, u in uuids if e == entity]
        table = table_of(model)
        for start in range(0, len(wanted), 500):
            found.update((entity, i) for i in conn.execute(select(table.c.id).where(
                table.c.uuid.in_(wanted[start:start + 500]))).scalars())
    return found


def last_version(service: RegisterService) -> int:
    """The detector version of the register's last rescan (0: never rescanned)."""
    entries = table_of(AuditEntry)
    with service.reading() as conn:
        ref = conn.execute(select(entries.c.ref).where(entries.c.action == ACTION)
                           .order_by(entries.c.seq.desc()).limit(1)).scalar()
    try:
        return int(str(ref).rsplit(" ", 1)[-1]) if ref else 0
    except ValueError:
        return 0


def rescan(service: RegisterService) -> Report:
    """Scan the register and withhold what holds an identity number (through the register service)."""
    service.require("case.mark")
    return service.apply_rescan(scan(service), DETECTOR_VERSION, ACTION)
