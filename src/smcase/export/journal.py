"""The public journal (SE postlista, NO offentlig journal): what was registered, without what is secret.

Every record registered in a period, sorted by registration: date, record number,
direction, counterparts and public description. What may be published does not
depend on who produces the list: descriptions are the public titles (never a
withheld title, never an identity number), counterparts are withheld under the
marking of the record or its case and, unless the policy allows them, the names
of citizens whose social-media posts were registered (``access.public_withholding``).

Formats: JSON, a small accessible HTML page, and for Norway ``offentligJournal.xml``
in the Noark 5 v5.0 schema (withheld names as ``*****``, the Noark convention),
validated against the official schema before it is reported done. Rows stream from
one cursor; a file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from lxml import etree
from sqlalchemy import func, select

from ..access import public_description, public_withholding, scrub, withheld
from ..errors import ConfigError, InvalidInput
from ..identity import PublicGuard
from ..model import Classification, Record, Register, User, table_of
from ..register import RegisterService
from ..standards import Standards
from ..validate.common import stream_validate
from .common import day_bounds, records_with_cases
from .noark5 import SCREENED, XSI, journal_entry, journal_head, noark_parties

FORMATS = ("json", "html", "xml")
DIRECTIONS = {"sv": {"incoming": "Inkommande", "outgoing": "Utgående", "internal": "Upprättad", "memo": "Minnesanteckning"},
              "nb": {"incoming": "Inngående", "outgoing": "Utgående", "internal": "Organinternt", "memo": "Notat"}}
OFFENTLIG = "http://www.arkivverket.no/standarder/noark5/offentligJournal"


@dataclass(frozen=True)
class JournalEntry:
    """One published line of the journal."""

    registered: date
    number: str
    case: str
    direction: str
    counterparts: tuple[str, ...]
    description: str
    case_description: str

    def to_json(self) -> dict[str, Any]:
        """JSON form (``smcase journal --format json``)."""
        return {"registered": self.registered.isoformat(), "number": self.number, "case": self.case,
                "direction": self.direction, "counterparts": list(self.counterparts),
                "description": self.description, "case_description": self.case_description}


class PublicJournal:
    """The public journal of the register behind ``service``."""

    batch = 1000

    def __init__(self, service: RegisterService) -> None:
        self.service = service
        self.policy = service.policy
        #: The last check on every published value (``caught`` says how many numbers earlier layers missed).
        self.guard = PublicGuard()
        self.noark_guard = PublicGuard(SCREENED)  # in Noark XML a masked value is *****, as the schema expects

    def _rows(self, start: date, end: date) -> Iterator[tuple[Any, Any, Any, list[Any]]]:
        """(record, case, class, correspondents) registered in the period, in registration order."""
        low, high = day_bounds(self.service.tz, start, end)
        records = (select(*table_of(Record).c).where(Record.registered_at >= low, Record.registered_at < high)
                   .order_by(Record.registered_at, Record.id))
        with self.service.reading() as conn:
            classes = {c.id: c for c in conn.execute(select(*table_of(Classification).c))}
            for record, case, parties in records_with_cases(conn, records, self.batch):
                yield record, case, classes[case.class_id], parties

    def entries(self, start: date, end: date) -> Iterator[JournalEntry]:
        """Every record registered from ``start`` to ``end`` (inclusive), as it may be published."""
        guard = self.guard.text
        for record, case, _cls, parties in self._rows(start, end):
            reason = public_withholding(record, case, self.policy.show_citizen_names)
            names = [p.name for p in parties] or ([record.source_author] if record.source_author else [])
            yield JournalEntry(
                registered=record.registered_at.astimezone(self.service.tz).date(),
                number=guard(self.service.numbering.record_number(case.diary_number, record.number)),
                case=guard(case.diary_number),
                direction=DIRECTIONS[self.policy.language if self.policy.language in DIRECTIONS else "sv"]
                [record.direction],
                counterparts=tuple(withheld(reason) if reason else guard(scrub(name)) for name in names),
                description=guard(public_description(record)),
                case_description=guard(public_description(case)),
            )

    # -- writing -----------------------------------------------------------------------

    @property
    def caught(self) -> int:
        """How many identity numbers the final guard masked (0 unless an earlier layer missed one)."""
        return self.guard.caught + self.noark_guard.caught

    def write(self, fmt: str, start: date, end: date, out: Path | None, stream: IO[str],
              standards: Standards | None = None) -> int:
        """Write the journal in ``fmt`` to ``out`` (atomically) or to ``stream``; returns the number of entries.

        The XML journal is validated against the official ``offentligJournal.xsd``
        under a temporary name first, then moved into place (or copied to ``stream``).
        Whatever the guard caught is audited (``publish.guard``); ``caught`` tells the caller.
        """
        try:
            return self._write_checked(fmt, start, end, out, stream, standards)
        finally:
            self.service.note_guard_catches(f"journal {fmt} {start}/{end}", self.caught)

    def _write_checked(self, fmt: str, start: date, end: date, out: Path | None, stream: IO[str],
                       standards: Standards | None) -> int:
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown format {fmt!r}: use {', '.join(FORMATS)}")
        if end < start:
            raise InvalidInput(f"the period ends ({end}) before it starts ({start})")
        if fmt == "xml":
            if self.policy.country != "NO":
                raise InvalidInput("the XML journal is the Norwegian offentligJournal.xml (Noark 5); "
                                   "a Swedish postlista is published as html or json")
            if standards is None:
                raise ConfigError("the XML journal is validated against the official offentligJournal.xsd: "
                                  "give --standards DIR or set SMCASE_STANDARDS")
            schema = standards.schema("noark5/offentligJournal")
        if out is None and fmt != "xml":
            return self._write(fmt, start, end, stream)
        if out is None:  # validated in a temporary file, then printed: nothing invalid is ever shown as the journal
            with tempfile.TemporaryDirectory(prefix="smcase-journal-") as folder:
                checked = Path(folder) / "offentligJournal.xml"
                count = self._xml(start, end, checked)
                error = stream_validate(checked, schema)
                if error:
                    raise ConfigError(f"the journal does not validate against offentligJournal.xsd: {error}")
                with checked.open(encoding="utf-8") as text:
                    shutil.copyfileobj(text, stream)
                return count
        partial = out.with_name(f".{out.name}.partial")
        try:
            if fmt == "xml":
                count = self._xml(start, end, partial)
                error = stream_validate(partial, schema)
                if error:
                    raise ConfigError(f"the journal does not validate against offentligJournal.xsd: {error}")
            else:
                with partial.open("w", encoding="utf-8") as text:
                    count = self._write(fmt, start, end, text)
            os.replace(partial, out)
            return count
        finally:
            partial.unlink(missing_ok=True)

    def _write(self, fmt: str, start: date, end: date, stream: IO[str]) -> int:
        if fmt == "json":
            count = 0
            stream.write("[")
            for entry in self.entries(start, end):
                stream.write(("," if count else "") + "\n  " + json.dumps(entry.to_json(), ensure_ascii=False))
                count += 1
            stream.write("\n]\n" if count else "]\n")
            return count
        return self._html(start, end, stream)

    def _html(self, start: date, end: date, stream: IO[str]) -> int:
        sv = self.policy.language != "nb"
        organisation = self.guard.text(self.service.register_name)
        title = (f"Postlista {organisation} {start}–{end}" if sv else f"Offentlig journal {organisation} {start}–{end}")
        headers = (["Datum", "Nummer", "Riktning", "Avsändare/mottagare", "Beskrivning", "Ärende"] if sv else
                   ["Dato", "Nummer", "Retning", "Avsender/mottaker", "Beskrivelse", "Sak"])
        stream.write(f'<!DOCTYPE html>\n<html lang="{"sv" if sv else "nb"}">\n<head>\n  <meta charset="utf-8" />\n'
                     f"  <title>{html.escape(title)}</title>\n</head>\n<body>\n  <main>\n"
                     f"    <h1>{html.escape(title)}</h1>\n    <table>\n"
                     f"      <caption>{html.escape(title)}</caption>\n      <thead><tr>"
                     + "".join(f'<th scope="col">{html.escape(h)}</th>' for h in headers) + "</tr></thead>\n"
                     "      <tbody>\n")
        count = 0
        for entry in self.entries(start, end):
            cells = [entry.registered.isoformat(), entry.number, entry.direction, "; ".join(entry.counterparts),
                     entry.description, f"{entry.case} {entry.case_description}"]
            stream.write("        <tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>\n")
            count += 1
        empty = "Inga handlingar registrerades under perioden." if sv else "Ingen journalposter i perioden."
        stream.write("      </tbody>\n    </table>\n" + ("" if count else f"    <p>{html.escape(empty)}</p>\n")
                     + "  </main>\n</body>\n</html>\n")
        return count

    def _xml(self, start: date, end: date, path: Path) -> int:
        low, high = day_bounds(self.service.tz, start, end)
        with self.service.reading() as conn:
            count = conn.execute(select(func.count()).where(Record.registered_at >= low,
                                                            Record.registered_at < high)).scalar_one()
            register = conn.execute(select(*table_of(Register).c)).one()
            users = {u.id: u.full_name or u.username for u in conn.execute(select(*table_of(User).c))}
        if not count:
            raise InvalidInput(f"no record was registered between {start} and {end}: an offentlig journal needs "
                               "at least one journal post")
        tz = self.service.tz
        with path.open("wb") as out, etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(f"{{{OFFENTLIG}}}offentligJournal", nsmap={None: OFFENTLIG, "xsi": XSI},
                            attrib={f"{{{XSI}}}schemaLocation": f"{OFFENTLIG} offentligJournal.xsd"}):
                xf.write(journal_head(OFFENTLIG, start, end, count, register), pretty_print=True)
                for record, case, cls, parties in self._rows(start, end):
                    by = users.get(record.registered_by_id, "")
                    xf.write(journal_entry(OFFENTLIG, True, record, case, cls, noark_parties(record, parties, by),
                                           tz, self.policy.show_citizen_names, guard=self.noark_guard),
                             pretty_print=True)
        return int(count)


def _day(value: datetime, tz: Any) -> date:
    return value.astimezone(tz).date()


