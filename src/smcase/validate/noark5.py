"""Validate a Noark 5 v5.0 extraction as Arkivverket's Arkade 5 does, rule by rule.

Every Arkade N5 test that can raise an error (research/noark5.md §3.2) is checked,
with the same rule IDs, plus XSD validity against the official schemas (not the
package's copies, which could have been edited). ``arkivstruktur.xml`` is read in
one streaming pass: finished subtrees are freed as the parse goes, and system IDs
are kept as 16-byte values, so a multi-gigabyte file validates in flat memory.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from ..standards import Standards
from .common import (
    IdStore,
    Report,
    RuleResult,
    drop_behind,
    local_name,
    sha256_file,
    stream_validate,
    unpacked,
    uuid_key,
    xml_error,
)

ADDML = "{http://www.arkivverket.no/standarder/addml}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
DOCUMENT_FOLDERS = ("dokumenter", "DOKUMENTER", "dokument", "DOKUMENT")
XML_FILES = {"arkivstruktur.xml": "noark5/arkivstruktur", "endringslogg.xml": "noark5/endringslogg",
             "loependeJournal.xml": "noark5/loependeJournal", "offentligJournal.xml": "noark5/offentligJournal"}
OFFICIAL_XSD = {"arkivstruktur.xsd": "noark5/arkivstruktur", "metadatakatalog.xsd": "noark5/metadatakatalog",
                "endringslogg.xsd": "noark5/endringslogg", "loependeJournal.xsd": "noark5/loependeJournal",
                "offentligJournal.xsd": "noark5/offentligJournal", "addml.xsd": "noark5/addml"}

#: The repeating element of each file: the streaming schema check frees each one when it ends.
UNITS = {"endringslogg.xml": "{http://www.arkivverket.no/standarder/noark5/endringslogg}endring",
         "loependeJournal.xml": "{http://www.arkivverket.no/standarder/noark5/loependeJournal}journalregistrering",
         "offentligJournal.xml": "{http://www.arkivverket.no/standarder/noark5/offentligJournal}journalregistrering"}

RULES: tuple[tuple[str, str], ...] = (
    ("N5.01", "XML files listed in arkivuttrekk.xml exist"),
    ("N5.02", "checksums in arkivuttrekk.xml are right"),
    ("N5.03", "XML files are valid against the official schemas"),
    ("N5.10", "number of folders (mappe) as documented"),
    ("N5.12", "no class with both subclasses and folders"),
    ("N5.15", "case-folder status is Avsluttet or Utgår"),
    ("N5.16", "number of registrations as documented"),
    ("N5.19", "no class with both subclasses and registrations"),
    ("N5.22", "journal status is Arkivert or Utgår"),
    ("N5.25", "document status is Dokumentet er ferdigstilt"),
    ("N5.27", "registration creation dates are dateTimes"),
    ("N5.28", "number of document files as documented"),
    ("N5.29", "document format equals the file extension"),
    ("N5.30", "document files' checksums are right"),
    ("N5.32", "referenced document files exist"),
    ("N5.33", "every document file is referenced"),
    ("N5.42", "screening flag agrees with the content"),
    ("N5.44", "disposal-decision flag agrees with the content"),
    ("N5.45", "performed-disposal flag agrees with the content"),
    ("N5.47", "system IDs are unique"),
    ("N5.48", "archive-part references resolve"),
    ("N5.51", "class references resolve"),
    ("N5.59", "both journals have the same number of journal posts"),
    ("N5.60", "journal start and end dates agree"),
    ("N5.61", "the change log is readable"),
    ("N5.62", "the change log refers to units in arkivstruktur.xml"),
    ("N5.63", "no element without content"),
)
class Addml:
    """What arkivuttrekk.xml documents: files, schemas, checksums, counts, flags."""

    def __init__(self, path: Path, parser: Any) -> None:
        self.tree = etree.parse(str(path), parser)
        root = self.tree.getroot()
        objects = root.find(f"{ADDML}dataset/{ADDML}dataObjects/{ADDML}dataObject")
        self.top = objects
        self.units = objects.findall(f"{ADDML}dataObjects/{ADDML}dataObject") if objects is not None else []

    @staticmethod
    def _value(prop: Any) -> str | None:
        value = prop.find(f"{ADDML}value")
        return value.text.strip() if value is not None and value.text else None

    def _props(self, element: Any, name: str) -> list[Any]:
        return [p for p in element.iter(f"{ADDML}property") if p.get("name") == name]

    def info(self, name: str) -> str | None:
        """A property of the top data object's info (antallDokumentfiler, the flags, the period split)."""
        if self.top is None:
            return None
        for prop in self._props(self.top.find(f"{ADDML}properties"), name):
            return self._value(prop)
        return None

    def files(self) -> list[tuple[str, str | None, str | None, bool]]:
        """(name, checksum algorithm, checksum value, is_schema) for every file and schema, each schema once."""
        found: list[tuple[str, str | None, str | None, bool]] = []
        seen: set[str] = set()
        for unit in self.units:
            for prop in unit.findall(f"{ADDML}properties/{ADDML}property"):
                if prop.get("name") not in ("file", "schema"):
                    continue
                is_schema = prop.get("name") == "schema"
                file_prop = prop if not is_schema else next(iter(self._props(prop, "file")), None)
                if file_prop is None:
                    continue
                name = next((self._value(p) for p in self._props(file_prop, "name")), None)
                if not name or (is_schema and name in seen):
                    continue
                seen.add(name)
                checksum = next(iter(self._props(file_prop, "checksum")), None)
                algorithm = value = None
                if checksum is not None:
                    algorithm = next((self._value(p) for p in self._props(checksum, "algorithm")), None)
                    value = next((self._value(p) for p in self._props(checksum, "value")), None)
                found.append((name, algorithm, value, is_schema))
        return found

    def xml_files(self) -> list[str]:
        """The XML files the units document (arkivstruktur.xml, endringslogg.xml, ...)."""
        return [name for name, _a, _v, is_schema in self.files() if not is_schema]

    def occurrences(self, unit_index: int, element: str) -> int | None:
        """numberOfOccurrences of ``element`` in data object ``unit_index`` (Arkade reads the first for mappe)."""
        if unit_index >= len(self.units):
            return None
        for prop in self._props(self.units[unit_index], "numberOfOccurrences"):
            if self._value(prop) == element:
                value = next((self._value(p) for p in self._props(prop, "value")), None)
                return int(value) if value and value.isdigit() else None
        return None


#: The leaves a content rule or a message looks at (every other leaf is only checked for being empty, N5.63).
WATCHED = frozenset({"systemID", "referanseArkivdel", "referanseSekundaerKlassifikasjon", "saksstatus",
                     "journalstatus", "dokumentstatus", "opprettetDato", "journaldato", "referanseDokumentfil",
                     "mappeID", "registreringsID"})


#: Elements with children that a rule counts or reads.
CONTAINERS = frozenset({"skjerming", "kassasjon", "utfoertKassasjon", "dokumentobjekt"})
#: Units whose own leaves are checked for content when they end; folders and registrations are then freed.
UNITS_N5 = frozenset({"arkiv", "arkivdel", "klassifikasjonssystem", "klasse", "mappe", "registrering"})
FOLDERS = frozenset({"mappe", "registrering"})
EMPTY_LEAVES = etree.XPath(".//*[not(*) and not(normalize-space())]")


def _unit_of(element: Any) -> Any:
    """The nearest unit (arkiv … registrering) that holds ``element``."""
    node = element.getparent()
    while node is not None and local_name(node.tag) not in UNITS_N5:
        node = node.getparent()
    return node


def _where(element: Any, ids: dict[Any, str]) -> str:
    """The element's path from the root, with the ID of the folder or registration it is in (for messages)."""
    path, unit = [], ""
    node = element
    while node is not None:
        name = local_name(node.tag)
        path.append(name)
        if not unit and name in ("mappe", "registrering"):
            unit = ids.get(node, "")
        node = node.getparent()
    return "/".join(reversed(path)) + (f" ({unit})" if unit else "") + f", line {element.sourceline}"


@dataclass
class _Scan:
    """What the streaming pass over arkivstruktur.xml collects (counts and small sets only)."""

    ids: IdStore
    line: int = 0  # of the last folder or registration read, for schema errors that carry none
    mappe: int = 0
    registrering: int = 0
    journalposts: int = 0
    first_day: date | None = None
    last_day: date | None = None
    skjerming: int = 0
    kassasjon: int = 0
    utfoert: int = 0
    arkivdeler: set[bytes] = field(default_factory=set)
    klasser: set[bytes] = field(default_factory=set)
    class_refs: list[tuple[str, str]] = field(default_factory=list)  # only those not resolved when met
    referenced: set[str] = field(default_factory=set)


class NoarkValidator:
    """Validates Noark 5 v5.0 extractions against the official schemas and Arkade's error rules."""

    def __init__(self, standards: Standards) -> None:
        self.standards = standards

    def validate(self, path: Path) -> Report:
        """Check the extraction at ``path`` (a folder or a tar); every rule is run, none stops the others."""
        with unpacked(path, "arkivuttrekk.xml") as root:
            rules = {rule_id: RuleResult(rule_id, name) for rule_id, name in RULES}
            self._check(root, rules)
            return Report(Path(path), "noark5", list(rules.values()))

    def _check(self, root: Path, r: dict[str, RuleResult]) -> None:
        addml_path = root / "arkivuttrekk.xml"
        if not addml_path.is_file():
            r["N5.01"].add("arkivuttrekk.xml is missing from the package")
            return
        try:
            addml = Addml(addml_path, self.standards.parser)
        except etree.XMLSyntaxError as exc:
            r["N5.03"].add(f"arkivuttrekk.xml: {exc}")
            return
        for name, algorithm, value, is_schema in addml.files():
            path = root / name
            if not path.is_file():
                r["N5.01"].add(f"{name} is listed in arkivuttrekk.xml but missing from the package")
                continue
            if value is None or algorithm not in ("SHA-256", "SHA256"):
                if not (is_schema and name == "addml.xsd"):
                    r["N5.02"].add(f"{name}: no SHA-256 checksum documented (algorithm {algorithm!r})")
                continue
            if sha256_file(path).lower() != value.lower():
                r["N5.02"].add(f"{name}: the documented SHA-256 {value} does not match the file")
        self._schemas(root, addml, r)
        documents = self._documents(root, addml, r)
        ids = IdStore()
        try:
            scan = self._arkivstruktur(root, documents, r, ids)
            if scan is not None:
                self._content_rules(root, addml, documents, scan, r)
        finally:
            ids.close()

    def _content_rules(self, root: Path, addml: Addml, documents: tuple[Path, set[str]] | None, scan: _Scan,
                       r: dict[str, RuleResult]) -> None:
        for rule, element, found in (("N5.10", "mappe", scan.mappe), ("N5.16", "registrering", scan.registrering)):
            documented = addml.occurrences(0, element)
            if documented != found:
                r[rule].add(f"arkivuttrekk.xml documents {documented} {element}, arkivstruktur.xml holds {found}")
        for rule, flag, found in (("N5.42", "inneholderSkjermetInformasjon", scan.skjerming),
                                  ("N5.44", "inneholderDokumenterSomSkalKasseres", scan.kassasjon),
                                  ("N5.45", "omfatterDokumenterSomErKassert", scan.utfoert)):
            stated = (addml.info(flag) or "false").lower() == "true"
            if stated != (found > 0):
                r[rule].add(f"{flag} is {str(stated).lower()} but arkivstruktur.xml holds {found}")
        for reference, where in scan.class_refs:
            if uuid_key(reference) not in scan.klasser:
                r["N5.51"].add(f"referanseSekundaerKlassifikasjon {reference} in {where} is no klasse's systemID")
        if documents is not None:
            folder, files = documents
            for name in sorted(files - scan.referenced):
                r["N5.33"].add(f"{name} is not referenced by any dokumentobjekt")
        self._journals(root, addml, scan, r)
        self._changelog(root, scan, r)

    def _schemas(self, root: Path, addml: Addml, r: dict[str, RuleResult]) -> None:
        listed = {name for name, _a, _v, _s in addml.files()}
        for name, key in OFFICIAL_XSD.items():
            copy = root / name
            if name not in listed and name != "addml.xsd":
                r["N5.03"].add(f"schema {name} is not documented in arkivuttrekk.xml")
            if copy.is_file() and sha256_file(copy) != sha256_file(self.standards.path(key)):
                r["N5.03"].add(f"{name} in the package is not the official schema")
        for name, key in (*XML_FILES.items(), ("arkivuttrekk.xml", "noark5/addml")):
            path = root / name
            if not path.is_file():
                if name in addml.xml_files():
                    continue  # N5.01 has it
                r["N5.03"].add(f"{name} is missing")
                continue
            if name == "arkivstruktur.xml":
                continue  # validated in the same pass as its content rules
            error = stream_validate(path, self.standards.schema(key), UNITS.get(name))
            if error:
                r["N5.03"].add(f"{name} {error}")

    def _documents(self, root: Path, addml: Addml, r: dict[str, RuleResult]) -> tuple[Path, set[str]] | None:
        folder = next((root / name for name in DOCUMENT_FOLDERS if (root / name).is_dir()), None)
        if folder is None:
            r["N5.28"].add("the package has no documents folder (DOKUMENT)")
            return None
        files = {p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file()}
        documented = addml.info("antallDokumentfiler")
        # An empty folder is right when arkivuttrekk.xml says 0 (every document disposed of, or none registered).
        if documented is None or not documented.isdigit():
            r["N5.28"].add(f"antallDokumentfiler cannot be read (it is {documented!r})")
        elif int(documented) != len(files):
            r["N5.28"].add(f"antallDokumentfiler is {documented}, the documents folder holds {len(files)} files")
        return folder, files

    def _arkivstruktur(self, root: Path, documents: tuple[Path, set[str]] | None,
                       r: dict[str, RuleResult], ids: IdStore) -> _Scan | None:
        """One streaming pass over arkivstruktur.xml: the schema (N5.03) and every content rule together.

        Only end events are read; a unit's ancestors are still in the tree when it
        ends, so its path and the ID of its folder or registration are looked up only
        when there is something to report. Finished folders and registrations are freed.
        If the schema finds an error, the parse stops there; the rules then run in a
        second pass without the schema, so every rule still reports.
        """
        path = root / "arkivstruktur.xml"
        if not path.is_file():
            return None
        error = None
        for schema in (self.standards.schema("noark5/arkivstruktur"), None):
            scan = _Scan(ids)
            try:
                self._scan(path, schema, documents[1] if documents else set(), scan, r, root)
            except etree.XMLSyntaxError as exc:
                if schema is None or error is not None:
                    r["N5.03"].add(f"arkivstruktur.xml is not well-formed: {exc}")
                    return None
                error = xml_error(exc, scan.line, path)
                r["N5.03"].add(f"arkivstruktur.xml {error}")
                for rule in r.values():  # start the rules again, without the schema
                    if rule.id != "N5.03":
                        rule.errors.clear()
                        rule.more = 0
                ids.reset()
                continue
            break
        ids.flush()
        for value, where in ids.duplicates:
            r["N5.47"].add(f"systemID {value} is used more than once ({where})")
        return scan

    def _scan(self, path: Path, schema: Any, files: set[str], scan: _Scan, r: dict[str, RuleResult],
              root: Path) -> None:
        """Read arkivstruktur.xml once. Only the elements a rule looks at reach Python (lxml's tag filter);
        empty leaves (N5.63) are found by XPath, in C, over each unit when it ends."""
        names: dict[Any, str] = {}
        # Keyed by the open elements themselves (lxml returns the same proxy while one is held; lines may repeat).
        kinds: dict[Any, set[str]] = {}  # per open klasse: the kinds of its children
        ids: dict[Any, str] = {}  # per open mappe/registrering: its mappeID, registreringsID or systemID
        for _event, element in etree.iterparse(str(path), events=("end",), schema=schema, huge_tree=True,
                                               tag=[f"{{*}}{n}" for n in (*WATCHED, *CONTAINERS, *UNITS_N5)]):
            tag = element.tag
            name = names.get(tag)
            if name is None:
                name = names[tag] = local_name(tag)
            holder = element.getparent()
            parent = "" if holder is None else names.get(holder.tag) or local_name(holder.tag)
            if name in WATCHED and len(element) == 0:
                text = (element.text or "").strip()
                self._leaf(scan, r, name, parent, text, element, ids, files)
                if parent in ("mappe", "registrering") and (
                        name in ("mappeID", "registreringsID") or (name == "systemID" and holder not in ids)):
                    ids[holder] = text
                continue
            self._container(scan, r, element, name, parent, kinds, ids, root)
            if name in UNITS_N5:
                for empty in EMPTY_LEAVES(element):
                    # Freed folders and registrations are empty shells; nested units were checked when they ended.
                    if local_name(empty.tag) not in ("mappe", "registrering") and _unit_of(empty) is element:
                        r["N5.63"].add(f"empty element {_where(empty, ids)}")
            if name in ("mappe", "registrering"):
                scan.line = element.sourceline or scan.line
                ids.pop(element, None)
                drop_behind(element, FOLDERS)

    def _leaf(self, scan: _Scan, r: dict[str, RuleResult], name: str, parent: str, text: str, element: Any,
              ids: dict[Any, str], files: set[str]) -> None:
        def where() -> str:
            return _where(element, ids)

        if name == "systemID":
            scan.ids.add(text, f"line {element.sourceline}")
            if parent == "arkivdel":
                scan.arkivdeler.add(uuid_key(text))
            elif parent == "klasse":
                scan.klasser.add(uuid_key(text))
        elif name == "referanseArkivdel" and parent in ("mappe", "registrering", "dokumentbeskrivelse"):
            # An arkivdel's systemID comes before everything in it, so the reference is checked now.
            if uuid_key(text) not in scan.arkivdeler:
                r["N5.48"].add(f"referanseArkivdel {text} in {where()} is no arkivdel's systemID")
        elif name == "referanseSekundaerKlassifikasjon" and parent == "mappe":
            if uuid_key(text) not in scan.klasser:  # a class later in the file may still resolve it
                scan.class_refs.append((text, where()))
        elif name == "saksstatus" and parent == "mappe" and text not in ("Avsluttet", "Utgår"):
            r["N5.15"].add(f"saksstatus {text!r} in {where()}")
        elif name == "journalstatus" and parent == "registrering" and text not in ("Arkivert", "Utgår"):
            r["N5.22"].add(f"journalstatus {text!r} in {where()}")
        elif name == "dokumentstatus" and parent == "dokumentbeskrivelse" and text != "Dokumentet er ferdigstilt":
            r["N5.25"].add(f"dokumentstatus {text!r} in {where()}")
        elif name == "opprettetDato" and parent == "registrering":
            try:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                r["N5.27"].add(f"opprettetDato {text!r} is not a dateTime ({where()})")
        elif name == "journaldato" and parent == "registrering":
            with suppress(ValueError):  # the schema check reports a bad date
                day = date.fromisoformat(text[:10])
                scan.first_day = min(scan.first_day, day) if scan.first_day else day
                scan.last_day = max(scan.last_day, day) if scan.last_day else day
        elif name == "referanseDokumentfil":
            reference = text.replace("\\", "/")
            scan.referenced.add(reference)
            if reference not in files:
                r["N5.32"].add(f"{reference} is referenced ({where()}) but not in the documents folder")

    def _container(self, scan: _Scan, r: dict[str, RuleResult], element: Any, name: str, parent: str,
                   kinds: dict[Any, set[str]], ids: dict[Any, str], root: Path) -> None:
        def where() -> str:
            return _where(element, ids)

        if name in ("klasse", "mappe", "registrering") and parent == "klasse":
            kinds.setdefault(element.getparent(), set()).add(name)
        if name == "klasse":
            children = kinds.pop(element, set())
            if "klasse" in children and "mappe" in children:
                r["N5.12"].add(f"a klasse has both subclasses and folders ({where()})")
            if "klasse" in children and "registrering" in children:
                r["N5.19"].add(f"a klasse has both subclasses and registrations ({where()})")
        elif name == "mappe":
            scan.mappe += 1
        elif name == "registrering":
            scan.registrering += 1
            if element.get(XSI_TYPE) == "journalpost":
                scan.journalposts += 1
        elif name == "skjerming":
            scan.skjerming += 1
        elif name == "kassasjon":
            scan.kassasjon += 1
        elif name == "utfoertKassasjon" and parent in ("arkivdel", "dokumentbeskrivelse"):
            scan.utfoert += 1
        elif name == "dokumentobjekt":
            fmt = (element.findtext("{*}format") or "").strip().lower()
            reference = (element.findtext("{*}referanseDokumentfil") or "").strip().replace("\\", "/")
            checksum = (element.findtext("{*}sjekksum") or "").strip().lower()
            extension = reference.rsplit(".", 1)[-1].lower() if "." in reference.rsplit("/", 1)[-1] else ""
            if fmt != extension:
                r["N5.29"].add(f"format {fmt!r} is not the extension of {reference} ({where()})")
            path = root / reference
            if not path.is_file():
                r["N5.30"].add(f"{reference} is missing, its checksum cannot be checked ({where()})")
            elif sha256_file(path) != checksum:
                r["N5.30"].add(f"{reference}: sjekksum {checksum} is not the file's SHA-256 ({where()})")

    def _journals(self, root: Path, addml: Addml, scan: _Scan, r: dict[str, RuleResult]) -> None:
        heads: dict[str, dict[str, str]] = {}
        listed = addml.xml_files()
        for name in ("loependeJournal", "offentligJournal"):
            path = root / f"{name}.xml"
            if f"{name}.xml" not in listed or not path.is_file():
                r["N5.59"].add(f"{name}.xml is missing or not listed in arkivuttrekk.xml")
                continue
            head: dict[str, str] = {}
            try:
                for _event, element in etree.iterparse(str(path), events=("end",), huge_tree=True):
                    if local_name(element.tag) == "journalhode":
                        head = {local_name(child.tag): (child.text or "").strip() for child in element}
                        break
            except etree.XMLSyntaxError as exc:
                r["N5.59"].add(f"{name}.xml cannot be read: {exc}")
            heads[name] = head
        if len(heads) < 2:
            return
        counts = {name: head.get("antallJournalposter") for name, head in heads.items()}
        if counts["loependeJournal"] != counts["offentligJournal"]:
            r["N5.59"].add(f"loependeJournal has {counts['loependeJournal']} journal posts, "
                           f"offentligJournal {counts['offentligJournal']}")
        sharp = addml.info("inngaaendeSkille") == "skarpt" and addml.info("utgaaendeSkille") == "skarpt"
        if sharp and str(scan.journalposts) != counts["loependeJournal"]:
            r["N5.59"].add(f"the journals have {counts['loependeJournal']} journal posts, arkivstruktur.xml "
                           f"{scan.journalposts} (period split skarpt)")
        if scan.first_day is None or scan.last_day is None:
            r["N5.60"].add("no registrering/journaldato found in arkivstruktur.xml")
            return
        for field_name in ("journalStartDato", "journalSluttDato"):
            values = {heads[name].get(field_name) for name in heads}
            if len(values) != 1:
                r["N5.60"].add(f"the journals differ in {field_name}: {sorted(v or '' for v in values)}")
        if sharp:
            first, last = scan.first_day.isoformat(), scan.last_day.isoformat()
            head = heads["loependeJournal"]
            if (head.get("journalStartDato"), head.get("journalSluttDato")) != (first, last):
                r["N5.60"].add(f"the journal heads say {head.get('journalStartDato')}–{head.get('journalSluttDato')}, "
                               f"arkivstruktur.xml's journaldato runs {first}–{last}")

    def _changelog(self, root: Path, scan: _Scan, r: dict[str, RuleResult]) -> None:
        path = root / "endringslogg.xml"
        batch: dict[bytes, str] = {}

        def check() -> None:
            known = scan.ids.present(list(batch))
            for key, value in batch.items():
                if key not in known:
                    r["N5.62"].add(f"endring refers to {value}, which is no systemID in arkivstruktur.xml")
            batch.clear()

        try:
            for _event, element in etree.iterparse(str(path), events=("end",), huge_tree=True):
                if local_name(element.tag) == "referanseArkivenhet":
                    value = (element.text or "").strip()
                    batch[uuid_key(value)] = value
                    if len(batch) >= IdStore.BATCH:
                        check()
                elif local_name(element.tag) == "endring":
                    drop_behind(element)
            check()
        except (OSError, etree.XMLSyntaxError) as exc:
            r["N5.61"].add(f"endringslogg.xml cannot be read: {exc}")


