"""The Swedish archive package: FGS Paketstruktur 2.0 (E-ARK CSIP/SIP 2.1 METS) holding FGS Ärendehantering 2.0 (CITS ERMS).

Layout (CSIP)::

    OUT/METS.xml                                  the package: agents, Schemas and Representations file groups
    OUT/schemas/                                  METS, xlink, CSIP/SIP extensions, the ERMS schema and Schematron
    OUT/representations/rep1/METS.xml             the representation: every data file with size and SHA-256
    OUT/representations/rep1/data/erms.xml        the register as CITS ERMS 3.0 (or 2.1)
    OUT/representations/rep1/data/documents/      every registered file, in an archival format

Every closed case is an ``aggregation aggregationType="caseFile"`` with its records;
confidential cases and records carry ``restriction restrictionType="confidential"``
with the OSL provision; the policy's disposal rules become ``disposal``. Only
closed cases go in (as in the Noark export), unless the policy says
``[archive] include_open_cases = true``; open ones left out are counted and reported.
``erms.xml`` streams from one cursor through ``lxml.etree.xmlfile``, and the
document list for the representation METS is spooled to a temporary file, so memory
does not grow with the register. The package is written to a temporary folder,
validated by the same validator as ``smcase validate``, then moved into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import zipfile
from copy import deepcopy
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, lazyload

from .. import __version__
from ..duties import add_months
from ..errors import ConfigError, InvalidInput
from ..fgs import (
    CONTENT_CATEGORY,
    CSIP,
    DOCUMENTS,
    ERMS,
    ERMS_PATH,
    METS,
    METS_SCHEMAS,
    REPRESENTATION,
    SIP,
    SIP_PROFILE,
    XLINK,
    XSI,
    ErmsVersion,
)
from ..identity import PublicGuard
from ..model import Case, Classification, Record, Register, User
from ..policy import DisposalRule
from ..progress import Progress
from ..register import RegisterService
from ..standards import Standards
from ..validate.common import sha256_file
from ..validate.fgs import FgsValidator
from .common import (
    MEDIA_TYPES,
    Counts,
    HashingFile,
    archival_extension,
    case_bundles,
    check_target,
    closed_period,
    day_bounds,
    publish,
    work_folder,
)

E = f"{{{ERMS}}}"
M = f"{{{METS}}}"
DIRECTION = {"incoming": "incoming", "outgoing": "outgoing", "internal": "internal_memo_for_follow-up",
             "memo": "internal_memo_without_follow-up"}
RECORD_STATUS = {"incoming": "received", "outgoing": "expedited"}
#: The columns the package needs (rows, not ORM entities: building entities cost a third of the time).
CASE_COLUMNS = (Case.id, Case.uuid, Case.diary_number, Case.status, Case.title, Case.public_title, Case.class_id, Case.owner_unit,
                Case.officer_id, Case.created_at, Case.created_by_id, Case.closed_at, Case.disposal_rule,
                Case.confidentiality_ground, Case.confidentiality_marked_at)
RECORD_COLUMNS = (Record.id, Record.uuid, Record.case_id, Record.number, Record.direction, Record.kind, Record.title,
                  Record.public_title, Record.registered_at, Record.registered_by_id, Record.source_platform,
                  Record.source_external_id, Record.source_author, Record.confidentiality_ground,
                  Record.confidentiality_marked_at, Record.disposed_at)
PARTY = {"sender": "sender", "recipient": "recipient", "copy_recipient": "recipient"}
METS_NSMAP = {None: METS, "xlink": XLINK, "csip": CSIP, "sip": SIP, "xsi": XSI}
# Subtrees written into an open element declare what they use; only that, to keep large METS files lean.
LINKS = {None: METS, "xlink": XLINK}
EXTENDED = {None: METS, "csip": CSIP}


@dataclass
class FgsCounts(Counts):
    """The shared counts, plus the cases and records marked confidential."""

    confidential: int = 0


@dataclass(frozen=True)
class Packaged:
    """A finished package: where it is (a folder, or a zip), what it holds, and in which ERMS version."""

    path: Path
    counts: FgsCounts
    period: tuple[date, date]
    erms_version: str
    zip_sha256: str | None = None


def _text(parent: etree._Element, name: str, value: Any, attrib: dict[str, str] | None = None) -> None:
    """An ERMS child with text; empty values are left out (the schema has no empty required strings we write)."""
    if value is None or not str(value).strip():
        return
    etree.SubElement(parent, f"{E}{name}", attrib or {}).text = str(value)


class FgsExport:
    """One FGS 2.0 package of the register behind ``service``."""

    #: Rows fetched per round trip; the session's identity map is weak, so finished rows are freed.
    batch = 1000

    def __init__(self, service: RegisterService, standards: Standards, version: ErmsVersion) -> None:
        service.require("archive.export")  # the export holds every confidential value of the period
        if service.numbering.journal:
            raise InvalidInput("an FGS package is for a Swedish register; this register numbers the Noark way "
                               "(use 'smcase export noark5')")
        if service.files is None:
            raise ConfigError("no document store is configured (set SMCASE_FILES)")
        self.service = service
        self.files = service.files
        self.standards = standards
        self.version = version
        self.tz = service.tz
        self.counts = FgsCounts()
        self.guard = PublicGuard()  # the last check on what the package marks public (the public titles)
        self.disposals: dict[tuple[str, date], etree._Element] = {}
        self.progress: Progress | None = None
        self.total_records: int | None = None

    # -- the run ---------------------------------------------------------------------

    def run(self, out: Path, period_start: date | None = None, period_end: date | None = None,
            as_zip: bool = False, *, check: bool = True, progress: Progress | None = None) -> Packaged:
        """Write, validate, then move the package to ``out`` (a new folder, or with ``as_zip`` a new zip file).

        The package's OBJID is the name of its root folder (CSIP1): ``out``'s name,
        without ``.zip``. ``check=False`` skips the validation; only the benchmark
        uses it, to time the writer alone (the CLI always validates). ``progress`` hears of the records written.
        """
        self.progress = progress
        out = Path(out)
        check_target(out)
        for key in (*METS_SCHEMAS.values(), self.version.schema, self.version.schematron):
            self.standards.path(key)  # fail before writing anything if the standards are incomplete
        start, end = closed_period(self.service, period_start, period_end, self.service.policy.archive_open_cases)
        objid = out.name[:-4] if as_zip and out.name.lower().endswith(".zip") else out.name

        def pack(work: Path, target: Path) -> None:
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for folder, _dirs, names in os.walk(work):
                    for name in sorted(names):
                        path = Path(folder, name)
                        archive.write(path, f"{objid}/{path.relative_to(work).as_posix()}")

        with work_folder(out) as work:
            self._write_all(work, objid, start, end)
            if check:
                self._validate(work)
            self.counts.guard_caught = self.guard.caught
            self.service.note_guard_catches(f"fgs {start}/{end} {out.name}", self.guard.caught)
            self.service.note_export("fgs", f"{start}/{end} {out.name}", self.counts.to_json())
            digest = publish(work, out, pack if as_zip else None)
        return Packaged(out, self.counts, (start, end), self.version.name, digest)

    def _write_all(self, work: Path, objid: str, start: date, end: date) -> None:
        low, high = day_bounds(self.tz, start, end)
        in_period = and_(Case.status == "closed", Case.closed_at >= low, Case.closed_at < high)
        left_out = Case.status != "closed"
        if self.service.policy.archive_open_cases:
            # The policy sends open cases too, as they stand: those opened by the end of the period.
            in_period = or_(in_period, and_(Case.status != "closed", Case.created_at < high))
            left_out = and_(Case.status != "closed", Case.created_at >= high)
        data = work / ERMS_PATH
        (work / DOCUMENTS).mkdir(parents=True)
        (work / "schemas").mkdir()
        with self.service.reading() as conn:
            session = Session(bind=conn)
            self.counts.open_cases = session.execute(select(func.count()).select_from(Case)
                                                     .where(left_out)).scalar_one()
            if not session.execute(select(func.count()).select_from(Case).where(in_period)).scalar_one():
                raise InvalidInput(f"nothing to extract: no case was closed between {start} and {end}")
            if self.progress is not None:
                self.total_records = session.execute(select(func.count()).select_from(Record)
                                                     .join(Case, Case.id == Record.case_id)
                                                     .where(in_period)).scalar_one()
            self.register = session.execute(select(Register)).scalars().one()
            self.users = {u.id: u for u in session.execute(select(User).options(lazyload("*"))).scalars()}
            self.classes = {c.id: c for c in session.execute(select(Classification)).scalars()}
            self.now = self.service.clock()
            with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
                erms_file = self._erms(session, work, data, in_period, spool)
                spool.seek(0)
                rep = self._representation_mets(work, objid, erms_file, spool)
        schemas = {**METS_SCHEMAS, self.version.schema_file: self.version.schema,
                   self.version.schematron_file: self.version.schematron}
        for name, key in schemas.items():
            shutil.copyfile(self.standards.path(key), work / "schemas" / name)
        self._package_mets(work, objid, start, end, sorted(schemas), rep)

    def _user(self, user_id: int | None) -> str:
        user = self.users.get(user_id) if user_id is not None else None
        return (user.full_name or user.username) if user else self.service.actor.username

    def _when(self, value: datetime) -> str:
        """An ERMS dateTime: local time of the register with its offset."""
        return value.astimezone(self.tz).isoformat(timespec="seconds")

    # -- erms.xml ----------------------------------------------------------------------

    def _erms(self, session: Session, work: Path, path: Path, in_period: Any, spool: Any) -> tuple[str, int]:
        """Write erms.xml; documents are copied and noted in ``spool``. Returns the file's SHA-256 and size."""
        schema_location = f"{ERMS} ../../../schemas/{self.version.schema_file}"
        with HashingFile(path) as out, etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element(f"{E}erms", nsmap={None: ERMS, "xsi": XSI},
                            attrib={f"{{{XSI}}}schemaLocation": schema_location}):
                xf.write(self._control(), pretty_print=True)
                with xf.element(f"{E}aggregations"):
                    for case, records in case_bundles(
                            session.connection(), select(*CASE_COLUMNS).where(in_period).order_by(Case.year, Case.seq),
                            RECORD_COLUMNS, self.batch):
                        xf.write(self._aggregation(work, case, records, spool), pretty_print=True)
                        xf.flush()
        return out.sha256, out.size

    def _control(self) -> etree._Element:
        control = etree.Element(f"{E}control", nsmap={None: ERMS})
        _text(control, "identification", self.register.name, {"identificationType": "arkivbildare"})
        _text(control, "identification", self.register.org_number, {"identificationType": "organisationsnummer"})
        _text(control, "identification", self.service.numbering.prefix, {"identificationType": "diarium"})
        attrib = {"classificationSchemaId": "klassificeringsstruktur", "classificationSchemaStatus": "current"} \
            if self.version.classification_ids else {}
        schema = etree.SubElement(control, f"{E}classificationSchema", attrib)
        if self.version.classification_ids:
            period = etree.SubElement(schema, f"{E}useDatePeriod")
            _text(period, "fromDate", self.register.created_at.astimezone(self.tz).date().isoformat())
        text = etree.SubElement(schema, f"{E}textualDescriptionOfClassificationSchema")
        _text(text, "p", f"Klassificeringsstruktur enligt {self.service.policy.name} ({self.service.policy.version}): "
                         + "; ".join(f"{c.code} {c.title}" for c in sorted(self.classes.values(),
                                                                           key=lambda c: c.code)))
        maintenance = etree.SubElement(control, f"{E}maintenanceInformation")
        etree.SubElement(maintenance, f"{E}maintenanceStatus", value="new")
        agency = etree.SubElement(maintenance, f"{E}maintenanceAgency")
        if self.register.org_number:
            _text(agency, "agencyCode", self.register.org_number, {"type": "organisationsnummer"})
        _text(agency, "agencyName", self.register.name)
        history = etree.SubElement(maintenance, f"{E}maintenanceHistory")
        event = etree.SubElement(history, f"{E}maintenanceEvent")
        etree.SubElement(event, f"{E}eventType", value="created")
        _text(event, "eventDateTime", self._when(self.now))
        agent = etree.SubElement(event, f"{E}agent", agentType="creator")
        _text(agent, "name", f"smcase {__version__}")
        return control

    def _aggregation(self, work: Path, case: Any, records: list[tuple[Any, list[Any], list[Any]]],
                     spool: Any) -> etree._Element:
        attrib = {"systemIdentifier": str(case.uuid), "aggregationType": "caseFile"}
        if self.version.classification_ids:
            attrib["classificationSchemaUsed"] = "klassificeringsstruktur"
        folder = etree.Element(f"{E}aggregation", attrib, nsmap={None: ERMS})
        _text(folder, "objectId", case.diary_number)
        cls = self.classes[case.class_id]
        _text(folder, "classification", cls.title, {"classificationCode": cls.code,
                                                    "fullyQualifiedClassificationCode": cls.code})
        _text(folder, "title", case.title)
        # The public title is what may be shown to anyone: never the confidential one (OSL 5 kap. 2 §).
        _text(folder, "otherTitle", self.guard(case.public_title), {"titleType": "public"})
        etree.SubElement(folder, f"{E}status", value=case.status)  # open | in_progress | closed: ERMS's own values
        self._restriction(folder, case)
        if case.closed_at is not None:  # the retention period starts when the case is closed
            self._disposal(folder, case.disposal_rule, case.closed_at)
        agents = etree.SubElement(folder, f"{E}agents")
        officer = etree.SubElement(agents, f"{E}agent", agentType="responsible_person")
        _text(officer, "name", self._user(case.officer_id))
        _text(officer, "organisation", self.register.name)
        _text(officer, "unitName", case.owner_unit)
        creator = etree.SubElement(agents, f"{E}agent", agentType="creator")
        _text(creator, "name", self._user(case.created_by_id))
        for name in self._counterparts(records):
            counterpart = etree.SubElement(agents, f"{E}agent", agentType="counterpart")
            _text(counterpart, "name", name)
        dates = etree.SubElement(folder, f"{E}dates")
        for kind, value in (("created", case.created_at), ("opened", case.created_at), ("closed", case.closed_at)):
            if value is not None:
                _text(dates, "date", self._when(value), {"dateType": kind})
        for record, parties, documents in records:
            folder.append(self._record(work, case, record, parties, documents, spool))
        self.counts.cases += 1
        return folder

    @staticmethod
    def _counterparts(records: list[tuple[Any, list[Any], list[Any]]]) -> list[str]:
        """Who the case was with: the correspondents of its records (or the author of an incoming post), once each."""
        names: dict[str, None] = {}
        for record, parties, _documents in records:
            for party in parties:
                names.setdefault(party.name.strip())
            if not parties and record.direction == "incoming" and record.source_author:
                names.setdefault(record.source_author.strip())
        return [name for name in names if name]

    def _restriction(self, parent: etree._Element, unit: Any) -> None:
        """The secrecy marking (OSL 5 kap. 5 §): provision, date, and the authority that made it."""
        if not unit.confidentiality_ground:
            return
        try:
            ground = self.service.policy.ground(unit.confidentiality_ground)
            citation, why = ground.citation, ground.description
        except InvalidInput:  # a ground since removed from the policy: the stored citation is still the law
            citation, why = unit.confidentiality_ground, None
        restriction = etree.SubElement(parent, f"{E}restriction", restrictionType="confidential")
        _text(restriction, "explanatoryText", why)
        _text(restriction, "regulation", citation)
        if self.version.restriction_agent:
            authority = etree.SubElement(restriction, f"{E}agent", agentType="creator")
            _text(authority, "name", self.register.name)
        if unit.confidentiality_marked_at:
            dates = etree.SubElement(restriction, f"{E}dates")
            _text(dates, "date", self._when(unit.confidentiality_marked_at), {"dateType": "confidentiality_assessed"})
        self.counts.confidential += 1

    def _disposal(self, parent: etree._Element, rule_id: str, closed: datetime, applied: datetime | None = None) -> None:
        """The disposal rule as ERMS ``disposal``; built once per rule and closing day, then copied.

        ``applied``: when the content was disposed of (``smcase dispose``), as ``disposalDate dateType="applied"``.
        """
        closed_day = closed.astimezone(self.tz).date()
        key = (rule_id, closed_day)
        template = self.disposals.get(key)
        if template is None:
            if len(self.disposals) > 4096:  # a register closes cases on a few hundred days a year
                self.disposals.clear()
            template = self.disposals[key] = self._disposal_element(self.service.policy.disposal_rule(rule_id),
                                                                    closed_day)
        disposal = deepcopy(template)
        parent.append(disposal)
        if applied is not None:
            _text(disposal[-1], "disposalDate", self._when(applied), {"dateType": "applied"})
        if template.get("disposable") == "true":
            self.counts.disposal_decisions += 1

    @staticmethod
    def _disposal_element(rule: DisposalRule, closed_day: date) -> etree._Element:
        disposable = rule.action == "dispose"
        disposal = etree.Element(f"{E}disposal", disposable="true" if disposable else "false", nsmap={None: ERMS})
        _text(disposal, "disposalScheduleId", rule.id)
        _text(disposal, "disposalAction", "gallras" if disposable else "bevaras")
        if disposable:
            if rule.after_years is not None:
                _text(disposal, "disposalPeriod", f"{rule.after_years} år efter ärendets avslut")
                due = add_months(closed_day, 12 * rule.after_years)
            else:
                _text(disposal, "disposalPeriod", f"{rule.after_days or 0} dagar efter ärendets avslut")
                due = date.fromordinal(closed_day.toordinal() + (rule.after_days or 0))
        _text(disposal, "disposalMandate", rule.mandate)
        _text(disposal, "disposalDescription", rule.description)
        dates = etree.SubElement(disposal, f"{E}dates")
        kind, day = ("retention_period_end", due) if disposable else ("retention_period_start", closed_day)
        _text(dates, "disposalDate", f"{day.isoformat()}T00:00:00", {"dateType": kind})
        return disposal

    def _record(self, work: Path, case: Any, record: Any, parties: list[Any], documents: list[Any],
                spool: Any) -> etree._Element:
        element = etree.Element(f"{E}record", {"systemIdentifier": str(record.uuid), "recordType": record.kind,
                                               "recordPhysicalOrDigital": self.version.digital}, nsmap={None: ERMS})
        if self.version.classification_ids:
            element.set("classificationSchemaUsed", "klassificeringsstruktur")
        _text(element, "objectId", self.service.numbering.record_number(case.diary_number, record.number))
        if record.source_platform and record.source_external_id:
            _text(element, "extraId", record.source_external_id, {"extraIdType": f"platform:{record.source_platform}"})
        _text(element, "title", record.title)
        _text(element, "otherTitle", self.guard(record.public_title), {"titleType": "public"})
        etree.SubElement(element, f"{E}status", value=RECORD_STATUS.get(record.direction, "closed"))
        _text(element, "runningNumber", record.number)
        self._restriction(element, record)
        if case.closed_at is not None:
            rule = self.service.policy.rule_for_record(record.kind, case.disposal_rule)
            self._disposal(element, rule.id, case.closed_at, record.disposed_at)
        etree.SubElement(element, f"{E}direction", directionDefinition=DIRECTION[record.direction])
        by = self._user(record.registered_by_id)
        agents = etree.SubElement(element, f"{E}agents")
        found = [(PARTY[p.role], p.name) for p in parties]
        if record.direction == "incoming":
            if not any(kind == "sender" for kind, _n in found):
                found.insert(0, ("sender", record.source_author or "Okänd avsändare"))
            found.append(("receiver", self.register.name))
        else:
            found.insert(0, ("creator", by))
        for kind, name in found:
            agent = etree.SubElement(agents, f"{E}agent", agentType=kind)
            _text(agent, "name", name)
        dates = etree.SubElement(element, f"{E}dates")
        _text(dates, "date", self._when(record.registered_at), {"dateType": "created"})
        if record.direction in ("incoming", "outgoing"):
            kind = "received" if record.direction == "incoming" else "sent"
            _text(dates, "date", self._when(record.registered_at), {"dateType": kind})
        if documents:
            extra = etree.SubElement(element, f"{E}additionalInformation")
            for document in documents:
                path = self._copy(work, record, document, spool)
                etree.SubElement(extra, f"{E}appendix", name=document.original_name, path=path)
        self.counts.records += 1
        if self.progress is not None and not self.counts.records % 1000:
            self.progress("writing records", self.counts.records, self.total_records)
        return element

    def _copy(self, work: Path, record: Any, document: Any, spool: Any) -> str:
        """Copy a registered file into the package and note it for the representation METS."""
        extension = archival_extension(document.format, document.original_name, record.uuid)
        path = f"{DOCUMENTS}/{document.uuid}.{extension}"
        source = self.files.path(document.sha256)
        if not source.is_file():
            raise ConfigError(f"document {document.sha256} of record {record.uuid} is missing from the file store")
        shutil.copyfile(source, work / path)
        media = MEDIA_TYPES.get(extension, document.media_type)
        spool.write(f"{document.uuid}\t{path}\t{document.sha256}\t{document.size}\t{media}\t"
                    f"{self._when(document.added_at)}\n")
        self.counts.documents += 1
        return path

    # -- METS ---------------------------------------------------------------------------

    def _mets_root(self, xf: Any, objid: str, label: str, schemas: str) -> Any:
        return xf.element(f"{M}mets", nsmap=METS_NSMAP, attrib={
            "OBJID": objid, "LABEL": label, "TYPE": CONTENT_CATEGORY, "PROFILE": SIP_PROFILE,
            f"{{{CSIP}}}CONTENTINFORMATIONTYPE": self.version.content_type,
            f"{{{XSI}}}schemaLocation": " ".join((
                f"{METS} {schemas}mets.xsd", f"{XLINK} {schemas}xlink.xsd",
                f"{CSIP} {schemas}DILCISExtensionMETS.xsd",
                f"{SIP} {schemas}DILCISExtensionSIPMETS.xsd"))})

    def _header(self, submitter: bool) -> etree._Element:
        """metsHdr: the software agent (CSIP10-16) and, in the package METS, the SIP agents (SIP9-31)."""
        header = etree.Element(f"{M}metsHdr", {"CREATEDATE": self._when(self.now), "RECORDSTATUS": "NEW",
                                               f"{{{CSIP}}}OAISPACKAGETYPE": "SIP"}, nsmap=EXTENDED)
        software = etree.SubElement(header, f"{M}agent", ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
        etree.SubElement(software, f"{M}name").text = "smcase"
        etree.SubElement(software, f"{M}note", {f"{{{CSIP}}}NOTETYPE": "SOFTWARE VERSION"}).text = __version__
        if submitter:
            code = self.register.org_number or str(self.register.uuid)
            for attrib in ({"ROLE": "ARCHIVIST", "TYPE": "ORGANIZATION"},
                           {"ROLE": "OTHER", "OTHERROLE": "SUBMITTER", "TYPE": "ORGANIZATION"}):
                agent = etree.SubElement(header, f"{M}agent", attrib)
                etree.SubElement(agent, f"{M}name").text = self.register.name
                etree.SubElement(agent, f"{M}note", {f"{{{CSIP}}}NOTETYPE": "IDENTIFICATIONCODE"}).text = code
            contact = etree.SubElement(header, f"{M}agent", ROLE="CREATOR", TYPE="INDIVIDUAL")
            etree.SubElement(contact, f"{M}name").text = self.service.actor.username
        return header

    def _file(self, file_id: str, href: str, media: str, sha256: str, size: int, created: str) -> etree._Element:
        entry = etree.Element(f"{M}file", {"ID": file_id, "MIMETYPE": media, "SIZE": str(size), "CREATED": created,
                                           "CHECKSUM": sha256, "CHECKSUMTYPE": "SHA-256"}, nsmap=LINKS)
        etree.SubElement(entry, f"{M}FLocat", {"LOCTYPE": "URL", f"{{{XLINK}}}type": "simple",
                                               f"{{{XLINK}}}href": href})
        return entry

    def _id(self, *parts: str) -> str:
        """A stable xml:id for a package part (IDs start with a letter, as xs:ID requires)."""
        return "uuid-" + str(uuid.uuid5(self.register.uuid, "/".join(parts)))

    def _representation_mets(self, work: Path, objid: str, erms_file: tuple[str, int], spool: Any) -> HashingFile:
        """representations/rep1/METS.xml: every data file with its checksum, streamed from the spool."""
        path = work / "representations" / REPRESENTATION / "METS.xml"
        group = self._id(objid, REPRESENTATION, "Data")
        with HashingFile(path) as out, etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with self._mets_root(xf, REPRESENTATION, f"{self.register.name}: ärenden (CITS ERMS "
                                                     f"{self.version.name})", "../../schemas/"):
                xf.write(self._header(submitter=False), pretty_print=True)
                with xf.element(f"{M}fileSec", ID=self._id(objid, REPRESENTATION, "fileSec")), \
                        xf.element(f"{M}fileGrp", {"ID": group, "USE": "Data",
                                                   f"{{{CSIP}}}CONTENTINFORMATIONTYPE": self.version.content_type}):
                        sha, size = erms_file
                        xf.write(self._file(self._id(objid, ERMS_PATH), "data/erms.xml", "application/xml",
                                            sha, size, self._when(self.now)), pretty_print=True)
                        prefix = f"representations/{REPRESENTATION}/"
                        for line in spool:
                            doc_id, href, sha, size_text, media, created = line.rstrip("\n").split("\t")
                            xf.write(self._file(f"uuid-{doc_id}", href.removeprefix(prefix), media, sha,
                                                int(size_text), created), pretty_print=True)
                structure = etree.Element(f"{M}structMap", ID=self._id(objid, REPRESENTATION, "structMap"),
                                          TYPE="PHYSICAL", LABEL="CSIP", nsmap=LINKS)
                top = etree.SubElement(structure, f"{M}div", ID=self._id(objid, REPRESENTATION, "div"),
                                       LABEL=REPRESENTATION)
                data = etree.SubElement(top, f"{M}div", ID=self._id(objid, REPRESENTATION, "div", "Data"),
                                        LABEL="Data")
                etree.SubElement(data, f"{M}fptr", FILEID=group)
                xf.write(structure, pretty_print=True)
        return out

    def _package_mets(self, work: Path, objid: str, start: date, end: date, schemas: list[str],
                      rep: HashingFile) -> None:
        """METS.xml at the root: agents, the Schemas and Representations file groups, the CSIP structMap."""
        root = etree.Element(f"{M}x", nsmap={**LINKS, **EXTENDED})
        schema_group = self._id(objid, "Schemas")
        rep_group = self._id(objid, "Representations", REPRESENTATION)
        created = self._when(self.now)
        files = etree.SubElement(root, f"{M}fileSec", ID=self._id(objid, "fileSec"))
        group = etree.SubElement(files, f"{M}fileGrp", ID=schema_group, USE="Schemas")
        for name in schemas:
            path = work / "schemas" / name
            group.append(self._file(self._id(objid, "schemas", name), f"schemas/{name}", "application/xml",
                                    sha256_file(path), path.stat().st_size, created))
        group = etree.SubElement(files, f"{M}fileGrp", {  # CSIP62: a representation's group names its content type
            "ID": rep_group, "USE": f"Representations/{REPRESENTATION}",
            f"{{{CSIP}}}CONTENTINFORMATIONTYPE": self.version.content_type})
        group.append(self._file(self._id(objid, "representations", REPRESENTATION, "METS.xml"),
                                f"representations/{REPRESENTATION}/METS.xml", "application/xml", rep.sha256,
                                rep.size, created))
        structure = etree.SubElement(root, f"{M}structMap", ID=self._id(objid, "structMap"), TYPE="PHYSICAL",
                                     LABEL="CSIP")
        top = etree.SubElement(structure, f"{M}div", ID=self._id(objid, "div"), LABEL=objid)
        schemas_div = etree.SubElement(top, f"{M}div", ID=self._id(objid, "div", "Schemas"), LABEL="Schemas")
        etree.SubElement(schemas_div, f"{M}fptr", FILEID=schema_group)
        rep_div = etree.SubElement(top, f"{M}div", ID=self._id(objid, "div", REPRESENTATION),
                                   LABEL=f"Representations/{REPRESENTATION}")
        etree.SubElement(rep_div, f"{M}mptr", {"LOCTYPE": "URL", f"{{{XLINK}}}type": "simple",
                                               f"{{{XLINK}}}href": f"representations/{REPRESENTATION}/METS.xml",
                                               f"{{{XLINK}}}title": rep_group})
        with (work / "METS.xml").open("wb") as out, etree.xmlfile(out, encoding="utf-8") as xf:
            xf.write_declaration()
            with self._mets_root(xf, objid, f"{self.register.name}: diarium, ärenden avslutade {start}–{end}",
                                 "schemas/"):
                xf.write(self._header(submitter=True), pretty_print=True)
                for child in root:
                    xf.write(child, pretty_print=True)

    # -- validation -------------------------------------------------------------------

    def _validate(self, work: Path) -> None:
        """The same validator as ``smcase validate``: the package is not done until every check passes."""
        report = FgsValidator(self.standards).validate(work)
        if not report.ok:
            first = next(rule for rule in report.rules if not rule.ok)
            raise ConfigError(f"the package does not validate: {', '.join(report.failed())}; "
                              f"{first.id}: {first.errors[0]}")
