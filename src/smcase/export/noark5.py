"""Noark 5 v5.0 archive extraction (arkivuttrekk) of a Norwegian register (REN-6).

Writes ``arkivstruktur.xml`` (arkiv → arkivdel → klassifikasjonssystem → klasse →
saksmappe → journalpost → dokumentbeskrivelse → dokumentobjekt, in schema order),
``endringslogg.xml`` from the audit log, ``loependeJournal.xml`` and
``offentligJournal.xml`` (screened values as ``*****`` in the public one),
``arkivuttrekk.xml`` filled in from the official template (Arkade reads it by
position, so its order is kept), the official schemas, and ``DOKUMENT/`` with every
registered file in an archival format.

Only closed cases go in (Arkade N5.15, N5.22, N5.25); ``period_start``/``period_end``
select by closing day; open cases are counted and reported. Cases stream from one
cursor and are written as small subtrees with ``lxml.etree.xmlfile``, so memory does
not grow with the register. Everything is written to a temporary folder, validated
against the official schemas while streaming, and only then moved into place: a
failure leaves nothing behind.

System IDs are the register's UUIDs; the units smcase has no row for (arkivdel,
klassifikasjonssystem, dokumentobjekt) get UUIDs derived from the register's, so an
extraction of the same period has the same IDs every time.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, lazyload

from .. import __version__
from ..access import public_description, public_withholding
from ..duties import add_months
from ..errors import ConfigError, InvalidInput
from ..identity import PublicGuard, scrub
from ..model import (
    AuditEntry,
    AuditPayload,
    Case,
    Classification,
    DisposalEntry,
    Record,
    Register,
    User,
    table_of,
)
from ..progress import Progress
from ..register import RegisterService
from ..standards import Standards
from ..validate.common import sha256_file
from ..validate.noark5 import NoarkValidator
from .common import (
    Counts,
    HashingFile,
    Prototype,
    Shape,
    archival_extension,
    case_bundles,
    check_target,
    closed_period,
    day_bounds,
    publish,
    records_with_cases,
    work_folder,
)

NS = "http://www.arkivverket.no/standarder/noark5/arkivstruktur"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {None: NS, "xsi": XSI}
SCREENED = "*****"
MEDIUM = "Elektronisk arkiv"

JOURNALPOSTTYPE = {"incoming": "Inngående dokument", "outgoing": "Utgående dokument",
                   "internal": "Organinternt dokument for oppfølging", "memo": "Organinternt dokument uten oppfølging"}
CASE_FIELDS = {"title": "tittel", "public_title": "offentligTittel", "owner_unit": "administrativEnhet",
               "officer": "saksansvarlig"}
STATUS = {"open": "Under behandling", "in_progress": "Under behandling", "closed": "Avsluttet"}
PARTY: Shape = ("korrespondansepart", ("korrespondanseparttype", "korrespondansepartNavn"))

SCHEMAS = {"arkivstruktur.xsd": "noark5/arkivstruktur", "metadatakatalog.xsd": "noark5/metadatakatalog",
           "endringslogg.xsd": "noark5/endringslogg", "loependeJournal.xsd": "noark5/loependeJournal",
           "offentligJournal.xsd": "noark5/offentligJournal", "addml.xsd": "noark5/addml"}


def noark_parties(record: Any, parties: list[Any], by: str) -> list[tuple[str, str]]:
    """Correspondents as Noark parties (type, name); every journalpost needs at least one (1..*)."""
    roles = {"sender": "Avsender", "recipient": "Mottaker", "copy_recipient": "Kopimottaker"}
    internal = record.direction in ("internal", "memo")
    found = [(("Intern " + roles[p.role].lower()) if internal else roles[p.role], p.name) for p in parties]
    if not found:
        if record.direction == "incoming":
            found = [("Avsender", record.source_author or "Ukjent avsender")]
        else:
            found = [("Intern avsender", by)]
    return found


def journal_head(ns: str, first: date | None, last: date | None, count: int, register: Any) -> etree._Element:
    """The ``journalhode`` of a løpende or offentlig journal."""
    head = etree.Element(f"{{{ns}}}journalhode", nsmap={None: ns})
    for name, value in (("journalStartDato", first), ("journalSluttDato", last), ("seleksjon", "journaldato"),
                        ("antallJournalposter", count)):
        etree.SubElement(head, f"{{{ns}}}{name}").text = str(value)
    creator = etree.SubElement(head, f"{{{ns}}}arkivskaper")
    etree.SubElement(creator, f"{{{ns}}}arkivskaperID").text = register.org_number or str(register.uuid)
    etree.SubElement(creator, f"{{{ns}}}arkivskaperNavn").text = register.name
    return head


@lru_cache(maxsize=4)
def journal_prototypes(ns: str) -> tuple[Prototype, Prototype]:
    """The shapes of a journal's ``journalregistrering`` and of its ``korrespondansepart``, in ``ns``."""
    entry = Prototype(ns, ("journalregistrering", (
        ("klasse", ("klasseID", "tittel")),
        ("saksmappe", ("saksaar", "sakssekvensnummer", "tittel", "offentligTittel")),
        ("journalpost", ("systemID", "journalaar", "journalsekvensnummer", "journalpostnummer", "tittel",
                         "offentligTittel", "journaldato", PARTY)))))
    return entry, Prototype(ns, PARTY)


def journal_entry(ns: str, public: bool, record: Any, case: Any, cls: Any, parties: list[tuple[str, str]],
                  tz: Any, show_citizen_names: bool, case_title: str | None = None,
                  guard: PublicGuard | None = None) -> etree._Element:
    """One ``journalregistrering``. In the public journal the titles are left out, the public titles are what
    may be published, and withheld names are ``*****`` (the Noark convention). ``case_title`` is the case's
    published title when the caller has it already (the same for every record of the case). In the public
    journal every published value passes ``guard`` last (the final check for identity numbers)."""
    entry_shape, party_shape = journal_prototypes(ns)
    screened = public and public_withholding(record, case, show_citizen_names) is not None
    if public:
        published = guard or PublicGuard(SCREENED)
        case_title = case_title if case_title is not None else public_description(case)
        titles = (None, published(case_title), None, published(public_description(record)))
        # A name typed with an identity number in it: the number is screened like any withheld value.
        parties = [(role, SCREENED if screened else published.text(scrub(name, SCREENED))) for role, name in parties]
    else:
        titles = (case.title, case.public_title, record.title, record.public_title)
    (role, name), *more = parties  # every journal post has a party (noark_parties); the first is in the shape
    entry, leaves = entry_shape.fill((
        cls.code, cls.title,
        str(case.year), str(case.seq), titles[0], titles[1],
        str(record.uuid), _text(record.journal_year), _text(record.journal_seq), str(record.number), titles[2],
        titles[3], record.registered_at.astimezone(tz).date().isoformat(), role, name))
    post = leaves[-1].getparent().getparent()
    for role, name in more:
        post.append(party_shape.fill((role, name))[0])
    return entry


@dataclass
class NoarkCounts(Counts):
    """The shared counts, plus logged changes, screened units, disposals and the journal's first and last day."""

    changes: int = 0
    screened: int = 0
    disposed_records: int = 0
    first_journal_day: date | None = None
    last_journal_day: date | None = None


@dataclass(frozen=True)
class Exported:
    """A finished extraction: where it is (a folder, or a tar) and what it holds."""

    folder: Path
    counts: NoarkCounts
    period: tuple[date, date]
    tar_sha256: str | None = None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _text(value: Any) -> str | None:
    """A value as element text: instants in UTC to the second, days in ISO form; None stays None."""
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, datetime):
        return _iso(value)
    return value.isoformat() if isinstance(value, date) else str(value)


def _leaf(parent: etree._Element, name: str, value: Any) -> None:
    """A child with text; optional values that are empty are left out (krav 6.4.5: no empty elements)."""
    value = _text(value)
    if value and not value.isspace():
        etree.SubElement(parent, f"{{{NS}}}{name}").text = value


def _write_leaves(xf: Any, holder: etree._Element) -> None:
    """Write the children of a scratch element inside the open element (no repeated namespace declarations)."""
    for child in holder:
        if len(child):
            xf.write(child)
        else:
            with xf.element(child.tag):
                xf.write(child.text)


def _or(value: Any, fallback: str) -> Any:
    """``value``, or ``fallback`` when it is missing or blank (for elements the schema requires)."""
    return value if value not in (None, "") and str(value).strip() else fallback


def _required(parent: etree._Element, name: str, value: Any, fallback: str) -> None:
    _leaf(parent, name, _or(value, fallback))


#: arkivstruktur's repeating units, in schema order. Screening, disposal decisions and documents go in before
#: ``saksaar`` (folders) and ``registreringsID`` (journal posts), parties before ``journalaar``.
FOLDER = Prototype(NS, ("mappe", (
    "systemID", "mappeID", "tittel", "offentligTittel", "dokumentmedium", "opprettetDato", "opprettetAv",
    "avsluttetDato", "avsluttetAv", "referanseArkivdel", "saksaar", "sakssekvensnummer", "saksdato",
    "administrativEnhet", "saksansvarlig", "saksstatus")), {f"{{{XSI}}}type": "saksmappe"}, NSMAP)
JOURNALPOST = Prototype(NS, ("registrering", (
    "systemID", "opprettetDato", "opprettetAv", "arkivertDato", "arkivertAv", "referanseArkivdel",
    "registreringsID", "tittel", "offentligTittel", "dokumentmedium", PARTY, "journalaar", "journalsekvensnummer",
    "journalpostnummer", "journalposttype", "journalstatus", "journaldato", "dokumentetsDato", "mottattDato",
    "sendtDato")), {f"{{{XSI}}}type": "journalpost"}, NSMAP)
STRUCTURE_PARTY = Prototype(NS, PARTY)
DISPOSAL = Prototype(NS, ("kassasjon", ("kassasjonsvedtak", "kassasjonshjemmel", "bevaringstid", "kassasjonsdato")))
CHANGELOG_NS = "http://www.arkivverket.no/standarder/noark5/endringslogg"
CHANGE = Prototype(CHANGELOG_NS, ("endring", ("referanseArkivenhet", "referanseMetadata", "endretDato", "endretAv",
                                              "tidligereVerdi", "nyVerdi")))
BEFORE_FOLDER_END = FOLDER.index("saksaar")
BEFORE_POST_ID = JOURNALPOST.index("registreringsID")
BEFORE_POST_JOURNAL = JOURNALPOST.index("journalaar")


class NoarkExport:
    """One extraction of the register behind ``service``."""

    #: Rows fetched per round trip; the session's identity map is weak, so finished rows are freed.
    batch = 1000

    def __init__(self, service: RegisterService, standards: Standards) -> None:
        service.require("archive.export")  # the export holds every confidential value of the period
        if not service.numbering.journal:
            raise InvalidInput("a Noark 5 extraction needs a Norwegian register with Noark numbering "
                               "(journalaar/journalsekvensnummer); this register numbers the Swedish way")
        if service.files is None:
            raise ConfigError("no document store is configured (set SMCASE_FILES)")
        self.service = service
        self.files = service.files
        self.standards = standards
        self.tz = service.tz
        self.counts = NoarkCounts()
        self.guard = PublicGuard(SCREENED)  # the last check on offentligTittel and offentligJournal.xml
        self.digests: dict[str, str] = {}  # SHA-256 of the XML files, computed while they are written
        self._disposals: dict[tuple[str, date], tuple[str, ...] | None] = {}  # kassasjon by rule and closing day
        self.progress: Progress | None = None
        self.total_records: int | None = None

    # -- the run ---------------------------------------------------------------------

    def run(self, out: Path, period_start: date | None = None, period_end: date | None = None,
            tar: bool = False, *, check: bool = True, progress: Progress | None = None) -> Exported:
        """Write, validate, then move the extraction into ``out`` (which must not exist yet).

        With ``tar``, ``out`` is one uncompressed tar in the layout Arkade reads
        (``<uuid>/content/…``), written to a temporary name and then renamed.
        ``check=False`` skips the validation; only the benchmark uses it, to time
        the writer alone (the CLI always validates). ``progress`` hears of the records written.
        """
        self.progress = progress
        out = Path(out)
        check_target(out)
        for key in SCHEMAS.values():
            self.standards.path(key)  # fail before writing anything if the standards are incomplete
        self.standards.path("noark5/template")
        start, end = closed_period(self.service, period_start, period_end)

        def pack(work: Path, target: Path) -> None:
            with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as archive:
                archive.add(work, arcname=f"{self.ids['arkivdel']}/content")

        with work_folder(out) as work:
            self._write_all(work, start, end)
            if check:
                self._validate(work)
            self.counts.guard_caught = self.guard.caught
            self.service.note_guard_catches(f"noark5 {start}/{end} {out.name}", self.guard.caught)
            self.service.note_export("noark5", f"{start}/{end} {out.name}", self.counts.to_json())
            digest = publish(work, out, pack if tar else None)
        return Exported(out, self.counts, (start, end), tar_sha256=digest)

    def _write_all(self, work: Path, start: date, end: date) -> None:
        (work / "DOKUMENT").mkdir()
        low, high = day_bounds(self.tz, start, end)
        in_period = and_(Case.status == "closed", Case.closed_at >= low, Case.closed_at < high)
        with self.service.reading() as conn:
            session = Session(bind=conn)
            self.counts.open_cases = session.execute(select(func.count()).select_from(Case)
                                                     .where(Case.status != "closed")).scalar_one()
            register = session.execute(select(Register)).scalars().one()
            self.users = {u.id: u.full_name or u.username
                          for u in session.execute(select(User).options(lazyload("*"))).scalars()}
            self.classes = list(session.execute(select(Classification).order_by(Classification.code)).scalars())
            closed = session.execute(select(func.count()).select_from(Case).where(in_period)).scalar_one()
            if not closed:
                raise InvalidInput(f"nothing to extract: no case was closed between {start} and {end}")
            self.total_records = session.execute(select(func.count()).select_from(Record)
                                                 .join(Case, Case.id == Record.case_id).where(in_period)).scalar_one()
            if not self.total_records:
                # Both journals require a journal post (1..*): say so before writing, not as a schema error after.
                raise InvalidInput(f"nothing to extract: the {closed} case{'s' if closed != 1 else ''} closed between "
                                   f"{start} and {end} hold{'s' if closed == 1 else ''} no journal post, and a Noark 5 "
                                   "extraction's journals need at least one")
            self.register = register
            self.ids = self._unit_ids(register.uuid, start, end)
            self.disposed = self._performed_disposal(conn, in_period)
            self._arkivstruktur(session, work, start, end, in_period)
            self._endringslogg(conn, work, in_period)
            self._journals(session, work, in_period, start, end)
        for name, key in SCHEMAS.items():
            shutil.copyfile(self.standards.path(key), work / name)
        self._arkivuttrekk(work, start, end)

    def _performed_disposal(self, conn: Any, in_period: Any) -> tuple[datetime, str] | None:
        """When and by whom documents of the extracted cases were last disposed of, if ever (``utfoertKassasjon``)."""
        log = table_of(DisposalEntry)
        extracted = select(Record.uuid).join(Case, Case.id == Record.case_id).where(in_period)
        row = conn.execute(select(log.c.at, log.c.actor, func.count().over()).where(
            log.c.entity == "record", log.c.entity_uuid.in_(extracted)).order_by(log.c.at.desc()).limit(1)).first()
        if row is None:
            return None
        self.counts.disposed_records = row[2]
        return row[0], row[1]

    def _unit_ids(self, register: uuid.UUID, start: date, end: date) -> dict[str, str]:
        return {"arkiv": str(register),
                "arkivdel": str(uuid.uuid5(register, f"arkivdel:{start}:{end}")),
                "klassifikasjonssystem": str(uuid.uuid5(register, "klassifikasjonssystem"))}

    @contextmanager
    def _hashing(self, path: Path) -> Iterator[HashingFile]:
        """A file whose SHA-256 lands in ``self.digests`` for arkivuttrekk.xml once it is closed."""
        with HashingFile(path) as out:
            yield out
        self.digests[path.name] = out.sha256

    def _user(self, user_id: int | None) -> str:
        """The name a unit's creator or closer goes into the archive with (the exporter, if none is known)."""
        return self.users.get(user_id, self.service.actor.username) if user_id is not None \
            else self.service.actor.username

    # -- arkivstruktur.xml -------------------------------------------------------------

    def _arkivstruktur(self, session: Session, work: Path, start: date, end: date, in_period: Any) -> None:
        now = self.service.clock()
        actor = self.service.actor.username
        cases = (select(*table_of(Case).c).join(Classification, Classification.id == Case.class_id).where(in_period)
                 .order_by(Classification.code, Case.year, Case.seq))
        bundles = case_bundles(session.connection(), cases, table_of(Record).c, self.batch)
        pending = next(bundles, None)
        with self._hashing(work / "arkivstruktur.xml") as out, \
                etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(f"{{{NS}}}arkiv", nsmap=NSMAP, attrib={
                    f"{{{XSI}}}schemaLocation": f"{NS} arkivstruktur.xsd"}):
                head = etree.Element(f"{{{NS}}}x", nsmap=NSMAP)
                _leaf(head, "systemID", self.ids["arkiv"])
                _leaf(head, "tittel", self.register.name)
                _leaf(head, "arkivstatus", "Avsluttet")
                _leaf(head, "dokumentmedium", MEDIUM)
                _leaf(head, "opprettetDato", self.register.created_at)
                _leaf(head, "opprettetAv", self.register.created_by)
                _leaf(head, "avsluttetDato", now)
                _leaf(head, "avsluttetAv", actor)
                creator = etree.SubElement(head, f"{{{NS}}}arkivskaper")
                _required(creator, "arkivskaperID", self.register.org_number, str(self.register.uuid))
                _leaf(creator, "arkivskaperNavn", self.register.name)
                _write_leaves(xf, head)
                with xf.element(f"{{{NS}}}arkivdel"):
                    part = etree.Element(f"{{{NS}}}x", nsmap=NSMAP)
                    _leaf(part, "systemID", self.ids["arkivdel"])
                    _leaf(part, "tittel", f"{self.register.name} {start}–{end}")
                    _leaf(part, "arkivdelstatus", "Avsluttet periode")
                    _leaf(part, "dokumentmedium", MEDIUM)
                    _leaf(part, "opprettetDato", self.register.created_at)
                    _leaf(part, "opprettetAv", self.register.created_by)
                    _leaf(part, "avsluttetDato", now)
                    _leaf(part, "avsluttetAv", actor)
                    _leaf(part, "arkivperiodeStartDato", start)
                    _leaf(part, "arkivperiodeSluttDato", end)
                    if self.disposed is not None:  # documents of this period were disposed of (smcase dispose)
                        done = etree.SubElement(part, f"{{{NS}}}utfoertKassasjon")
                        _leaf(done, "kassertDato", self.disposed[0])
                        _leaf(done, "kassertAv", self.disposed[1])
                    _write_leaves(xf, part)
                    with xf.element(f"{{{NS}}}klassifikasjonssystem"):
                        system = etree.Element(f"{{{NS}}}x", nsmap=NSMAP)
                        _leaf(system, "systemID", self.ids["klassifikasjonssystem"])
                        _leaf(system, "klassifikasjonstype", "Funksjonsbasert, hierarkisk")
                        _leaf(system, "tittel", f"Arkivplan, {self.register.name}")
                        _leaf(system, "opprettetDato", self.register.created_at)
                        _leaf(system, "opprettetAv", self.register.created_by)
                        _write_leaves(xf, system)
                        # The whole classification system goes in (krav 6.4.13), cases under their class.
                        for cls in self.classes:
                            with xf.element(f"{{{NS}}}klasse"):
                                leaves = etree.Element(f"{{{NS}}}x", nsmap=NSMAP)
                                _leaf(leaves, "systemID", cls.uuid)
                                _leaf(leaves, "klasseID", cls.code)
                                _leaf(leaves, "tittel", cls.title)
                                _leaf(leaves, "opprettetDato", cls.created_at)
                                _leaf(leaves, "opprettetAv", self.register.created_by)
                                _write_leaves(xf, leaves)
                                while pending is not None and pending[0].class_id == cls.id:
                                    case, records = pending
                                    xf.write(self._saksmappe(work, case, records), pretty_print=True)
                                    xf.flush()
                                    pending = next(bundles, None)

    def _screening(self, ground: str | None, withheld: list[str] | None, unit: str,
                   with_document: bool = False) -> etree._Element | None:
        """``skjerming`` for a marked unit, else None."""
        if not ground:
            return None
        fields = set(withheld or ())
        shield = etree.Element(f"{{{NS}}}skjerming", nsmap=NSMAP)
        _leaf(shield, "tilgangsrestriksjon", "Unntatt offentlighet")
        _leaf(shield, "skjermingshjemmel", ground)
        metadata = []
        if "title" in fields or "description" in fields:
            metadata.append(f"Skjerming tittel {unit} - utvalgte ord")
        if "parties" in fields:
            metadata += ["Skjerming navn part i sak"] if unit == "mappe" else ["Skjerming navn avsender",
                                                                              "Skjerming navn mottaker"]
        for value in metadata or [f"Skjerming tittel {unit} - utvalgte ord"]:
            _leaf(shield, "skjermingMetadata", value)
        if with_document and ("documents" in fields or "text" in fields):
            _leaf(shield, "skjermingDokument", "Skjerming av hele dokumentet")
        self.counts.screened += 1
        return shield

    def _disposal(self, rule_id: str, closed: datetime) -> etree._Element | None:
        """``kassasjon`` under ``rule_id`` for a unit closed at ``closed``, or None when the rule preserves.

        Only decisions to dispose are written: preserving is the default (and Arkade counts every kassasjon).
        """
        due = closed.astimezone(self.tz).date()
        values = self._disposals.get((rule_id, due), ())
        if values == ():
            rule = self.service.policy.disposal_rule(rule_id)
            values = None
            if rule.action == "dispose":
                years = rule.after_years if rule.after_years is not None else -(-(rule.after_days or 0) // 365)
                values = ("Kasseres", rule.mandate or rule.description, str(years),
                          add_months(due, 12 * years).isoformat())
            self._disposals[(rule_id, due)] = values
        if values is None:
            return None
        self.counts.disposal_decisions += 1
        return DISPOSAL.fill(values)[0]

    def _saksmappe(self, work: Path, case: Any, records: list[tuple[Any, list[Any], list[Any]]]) -> etree._Element:
        closed_by = self._user(case.closed_by_id)
        closed = _iso(case.closed_at)
        folder, leaves = FOLDER.fill((
            str(case.uuid), case.diary_number, case.title,
            self.guard(case.public_title) if case.public_title != case.title else None, MEDIUM,
            _iso(case.created_at), self._user(case.created_by_id), closed, closed_by, self.ids["arkivdel"],
            str(case.year), str(case.seq), case.created_at.astimezone(self.tz).date().isoformat(),
            _or(case.owner_unit, self.register.name),
            self._user(case.officer_id), "Avsluttet"))
        end = leaves[BEFORE_FOLDER_END]
        for part in (self._disposal(case.disposal_rule, case.closed_at),
                     self._screening(case.confidentiality_ground, case.withheld_fields, "mappe")):
            if part is not None:
                end.addprevious(part)
        for record, parties, documents in records:
            end.addprevious(self._journalpost(work, case, record, parties, documents, closed, closed_by))
        self.counts.cases += 1
        return folder

    def _journalpost(self, work: Path, case: Any, record: Any, parties: list[Any], documents: list[Any],
                     archived: str, archived_by: str) -> etree._Element:
        by = self._user(record.registered_by_id)
        registered = _iso(record.registered_at)
        journal_day = record.registered_at.astimezone(self.tz).date()
        direction = record.direction
        (role, name), *more = noark_parties(record, parties, by)  # one at least; the first is in the shape
        entry, leaves = JOURNALPOST.fill((
            str(record.uuid), registered, by, archived, archived_by, self.ids["arkivdel"],
            self.service.numbering.record_number(case.diary_number, record.number), record.title,
            self.guard(record.public_title) if record.public_title != record.title else None, MEDIUM, role, name,
            str(record.journal_year), str(record.journal_seq), str(record.number), JOURNALPOSTTYPE[direction],
            "Arkivert", journal_day.isoformat(), _text(record.document_date),
            registered if direction == "incoming" else None, registered if direction == "outgoing" else None))
        before_id = leaves[BEFORE_POST_ID]
        for part in (self._disposal(self.service.policy.rule_for_record(record.kind, case.disposal_rule).id,
                                    case.closed_at),
                     self._screening(record.confidentiality_ground, record.withheld_fields, "registrering")):
            if part is not None:
                before_id.addprevious(part)
        for document in documents:
            before_id.addprevious(self._dokumentbeskrivelse(work, record, document, by))
        before_journal = leaves[BEFORE_POST_JOURNAL]
        for role, name in more:
            before_journal.addprevious(STRUCTURE_PARTY.fill((role, name))[0])
        self.counts.records += 1
        if self.progress is not None and not self.counts.records % 1000:
            self.progress("writing records", self.counts.records, self.total_records)
        first, last = self.counts.first_journal_day, self.counts.last_journal_day
        if first is None or journal_day < first:
            self.counts.first_journal_day = journal_day
        if last is None or journal_day > last:
            self.counts.last_journal_day = journal_day
        return entry

    def _dokumentbeskrivelse(self, work: Path, record: Any, document: Any, by: str) -> etree._Element:
        extension = archival_extension(document.format, document.original_name, record.uuid)
        name = f"DOKUMENT/{document.uuid}.{extension}"
        source = self.files.path(document.sha256)
        if not source.is_file():
            raise ConfigError(f"document {document.sha256} of record {record.uuid} is missing from the file store")
        shutil.copyfile(source, work / name)
        description = etree.Element(f"{{{NS}}}dokumentbeskrivelse", nsmap=NSMAP)
        _leaf(description, "systemID", document.uuid)
        _leaf(description, "dokumenttype", "Sosiale medier" if record.source_platform else "Dokument")
        _leaf(description, "dokumentstatus", "Dokumentet er ferdigstilt")
        _leaf(description, "tittel", record.title if document.number == 1 else document.original_name)
        _leaf(description, "opprettetDato", document.added_at)
        _leaf(description, "opprettetAv", by)
        _leaf(description, "tilknyttetRegistreringSom", "Hoveddokument" if document.number == 1 else "Vedlegg")
        _leaf(description, "dokumentnummer", document.number)
        _leaf(description, "tilknyttetDato", document.added_at)
        _leaf(description, "tilknyttetAv", by)
        shield = self._screening(record.confidentiality_ground, record.withheld_fields, "dokumentbeskrivelse",
                                 with_document=True)
        if shield is not None:
            description.append(shield)
        obj = etree.SubElement(description, f"{{{NS}}}dokumentobjekt")
        _leaf(obj, "systemID", uuid.uuid5(document.uuid, "dokumentobjekt:1"))
        _leaf(obj, "versjonsnummer", 1)
        _leaf(obj, "variantformat", "Arkivformat")
        _leaf(obj, "format", extension)
        _leaf(obj, "formatDetaljer", f"{document.media_type} ({document.original_name})")
        _leaf(obj, "opprettetDato", document.added_at)
        _leaf(obj, "opprettetAv", by)
        _leaf(obj, "referanseDokumentfil", name)
        _leaf(obj, "sjekksum", document.sha256)
        _leaf(obj, "sjekksumAlgoritme", "SHA256")
        _leaf(obj, "filstoerrelse", document.size)
        self.counts.documents += 1
        return description

    # -- endringslogg.xml ---------------------------------------------------------------

    def _endringslogg(self, conn: Any, work: Path, in_period: Any) -> None:
        ns = CHANGELOG_NS
        entries, payloads = table_of(AuditEntry), table_of(AuditPayload)
        # The database picks the entries about extracted cases and records: nothing is collected in memory.
        extracted = select(Case.uuid).where(in_period).union_all(
            select(Record.uuid).join(Case, Case.id == Record.case_id).where(in_period))
        query = (select(entries, payloads.c.payload).outerjoin(payloads, payloads.c.seq == entries.c.seq)
                 .where(entries.c.entity.in_(("case", "record")), entries.c.entity_uuid.in_(extracted))
                 .order_by(entries.c.seq).execution_options(yield_per=2000))
        with self._hashing(work / "endringslogg.xml") as out, etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(f"{{{ns}}}endringslogg", nsmap={None: ns, "xsi": XSI},
                            attrib={f"{{{XSI}}}schemaLocation": f"{ns} endringslogg.xsd"}):
                for row in conn.execute(query).mappings():
                    body = json.loads(row["payload"]) if row["payload"] else None
                    for field, before, after in self._changes(row["action"], body):
                        xf.write(CHANGE.fill((str(row["entity_uuid"]), field, _iso(row["at"]), row["actor"],
                                              before, after))[0], pretty_print=True)
                        self.counts.changes += 1

    @staticmethod
    def _changes(action: str, body: dict[str, Any] | None) -> list[tuple[str, str, str]]:
        """Audit entries as Noark changes (vedlegg 3): element name, before, after (never empty)."""
        def text(value: Any) -> str:
            return str(value) if value not in (None, "") else "(tom)"

        if action == "case.close":
            before = (body or {}).get("before", {}).get("status", "in_progress")
            return [("saksstatus", STATUS.get(before, "Under behandling"), "Avsluttet")]
        if action == "case.reopen":
            return [("saksstatus", "Avsluttet", "Under behandling")]
        if action == "case.update" and body:
            return [(CASE_FIELDS[k], text(body["before"].get(k)), text(v))
                    for k, v in body.get("after", {}).items() if k in CASE_FIELDS]
        if action in ("case.mark", "record.mark") and body:
            return [("skjermingshjemmel", text(body["before"].get("ground")), text(body["after"].get("ground")))]
        if action == "case.update" or action in ("case.mark", "record.mark"):
            return [("tittel", "(kassert)", "(kassert)")]  # the payload was lawfully disposed of
        return []

    # -- the journals -----------------------------------------------------------------

    def _journals(self, session: Session, work: Path, in_period: Any, start: date, end: date) -> None:
        classes = {c.id: c for c in self.classes}
        conn = session.connection()
        records = (select(*table_of(Record).c).join(Case, Case.id == Record.case_id).where(in_period)
                   .order_by(Record.journal_year, Record.journal_seq))
        names = {"loependeJournal": False, "offentligJournal": True}
        namespaces = {name: f"http://www.arkivverket.no/standarder/noark5/{name}" for name in names}
        with ExitStack() as stack:
            streams = {}
            for name in names:  # both journals are written in one pass over the records
                ns = namespaces[name]
                out = stack.enter_context(self._hashing(work / f"{name}.xml"))
                xf = streams[name] = stack.enter_context(etree.xmlfile(out, encoding="utf-8"))
                xf.write_declaration()
                stack.enter_context(xf.element(f"{{{ns}}}{name}", nsmap={None: ns, "xsi": XSI},
                                               attrib={f"{{{XSI}}}schemaLocation": f"{ns} {name}.xsd"}))
                # Closed cases without journal posts leave the journals empty: their period is the extraction's.
                xf.write(journal_head(ns, self.counts.first_journal_day or start, self.counts.last_journal_day or end,
                                      self.counts.records, self.register), pretty_print=True)
            show_citizen_names = self.service.policy.show_citizen_names
            case_titles: dict[int, str] = {}  # published case titles (an identity-number scan each), per batch
            for record, case, parties in records_with_cases(conn, records, self.batch):
                if case.id not in case_titles:
                    if len(case_titles) >= self.batch:
                        case_titles.clear()
                    case_titles[case.id] = public_description(case)
                resolved = noark_parties(record, parties, self._user(record.registered_by_id))
                for name, public in names.items():
                    streams[name].write(journal_entry(
                        namespaces[name], public, record, case, classes[case.class_id], resolved,
                        self.tz, show_citizen_names, case_titles[case.id], self.guard), pretty_print=True)

    # -- arkivuttrekk.xml ----------------------------------------------------------------

    def _arkivuttrekk(self, work: Path, start: date, end: date) -> None:
        template = etree.parse(str(self.standards.path("noark5/template")), self.standards.parser)
        counts = {("mappe", "arkivstruktur.xml"): self.counts.cases,
                  ("registrering", "arkivstruktur.xml"): self.counts.records,
                  ("endring", "endringslogg.xml"): self.counts.changes,
                  ("journalregistrering", "loependeJournal.xml"): self.counts.records,
                  ("journalregistrering", "offentligJournal.xml"): self.counts.records}
        flags = {"inneholderSkjermetInformasjon": self.counts.screened > 0,
                 "omfatterDokumenterSomErKassert": self.disposed is not None,
                 "inneholderDokumenterSomSkalKasseres": self.counts.disposal_decisions > 0,
                 "inneholderVirksomhetsspesifikkeMetadata": False}
        replacements = {"Arkivskaper A": self.register.name, "System X": f"smcase {__version__}",
                        "Arkiv XYZ": self.register.name, "2014-01-01": start.isoformat(),
                        "2019-01-01": end.isoformat(), "mykt/skarpt": "skarpt"}
        documents = sum(1 for p in (work / "DOKUMENT").rglob("*") if p.is_file())
        for value in template.iter("{http://www.arkivverket.no/standarder/addml}value"):
            text = (value.text or "").strip()
            owner = value.getparent()
            if text in replacements:
                value.text = replacements[text]
            elif text == "true/false":
                value.text = "true" if flags[owner.get("name")] else "false"
            elif text.startswith("Oppgi antall dokumentfiler"):
                value.text = str(documents)
            elif match := re.match(r"Oppgi sjekksumverdi heksadesimalt for (\S+) her", text):
                value.text = self.digests.get(match[1]) or sha256_file(work / match[1])
            elif match := re.match(r"Oppgi antall forekomster av (\S+) i (\S+) her", text):
                value.text = str(counts[(match[1], match[2])])
        leftover = [v.text for v in template.iter("{http://www.arkivverket.no/standarder/addml}value")
                    if v.text and v.text.startswith("Oppgi")]
        if leftover:
            raise ConfigError(f"the arkivuttrekk template has a field smcase cannot fill: {leftover[0]!r}")
        template.write(str(work / "arkivuttrekk.xml"), encoding="utf-8", xml_declaration=True)

    # -- validation -------------------------------------------------------------------

    def _validate(self, work: Path) -> None:
        """The same validator as ``smcase validate``: the export is not done until every rule passes."""
        report = NoarkValidator(self.standards).validate(work)
        if not report.ok:
            first = next(rule for rule in report.rules if not rule.ok)
            raise ConfigError(f"the extraction does not validate: {', '.join(report.failed())}; "
                              f"{first.id}: {first.errors[0]}")
