"""Validate a Noark 5 v5.0 extraction as Arkivverket's Arkade 5 does, rule by rule.

Every Arkade N5 test that can raise an error (research/noark5.md §3.2) is checked,
with the same rule IDs, plus XSD validity against the official schemas (not the
package's copies, which could have been edited). Each XML file is read in one
streaming pass, its schema attached and its SHA-256 computed on the way: finished
subtrees are freed as the parse goes, and system IDs are kept as 16-byte values on
disk, so a multi-gigabyte file validates in flat memory. Large journals are checked
in a second process (``smcase.validate.worker``) while this one runs the rules over
``arkivstruktur.xml``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from .. import xmlsafe
from ..standards import Standards
from .addml import Addml
from .arkivstruktur import ArkivstrukturScan, _Scan
from .common import (
    HashingReader,
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

DOCUMENT_FOLDERS = ("dokumenter", "DOKUMENTER", "dokument", "DOKUMENT")
XML_FILES = {"arkivstruktur.xml": "noark5/arkivstruktur", "endringslogg.xml": "noark5/endringslogg",
             "loependeJournal.xml": "noark5/loependeJournal", "offentligJournal.xml": "noark5/offentligJournal"}
OFFICIAL_XSD = {"arkivstruktur.xsd": "noark5/arkivstruktur", "metadatakatalog.xsd": "noark5/metadatakatalog",
                "endringslogg.xsd": "noark5/endringslogg", "loependeJournal.xsd": "noark5/loependeJournal",
                "offentligJournal.xsd": "noark5/offentligJournal", "addml.xsd": "noark5/addml"}

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
@dataclass
class FilePass:
    """One streaming pass over an XML file: its SHA-256 (None when the pass stopped early), the schema error
    (None when valid), and for a journal its ``journalhode`` fields."""

    sha256: str | None = None
    error: str | None = None
    head: dict[str, str] | None = None
    entries: int | None = None  # journalregistrering elements counted (None: the pass did not reach the end)


def journal_pass(path: Path, schema: etree.XMLSchema) -> FilePass:
    """A løpende or offentlig journal read once: the schema (N5.03), its head (N5.59, N5.60) and its SHA-256 (N5.02)."""
    found = FilePass()
    line = entries = 0
    with HashingReader(path) as reader:
        try:
            for _event, element in xmlsafe.iterparse(reader, events=("end",), schema=schema, huge_tree=True,
                                                   tag=("{*}journalhode", "{*}journalregistrering")):
                line = element.sourceline or line
                if found.head is None and local_name(element.tag) == "journalhode":
                    found.head = {local_name(child.tag): (child.text or "").strip() for child in element}
                else:
                    entries += 1
                if element.getparent() is not None:
                    drop_behind(element)
            found.sha256 = reader.sha256()
            found.entries = entries
        except etree.XMLSyntaxError as exc:
            found.error = xml_error(exc, line, path)
    return found


def file_passes(standards_root: str, journals: list[str], hash_only: list[str]) -> dict[str, FilePass]:
    """``journal_pass`` for each journal, with the schemas compiled here, and the SHA-256 of each ``hash_only``
    file (``smcase.validate.worker`` runs this)."""
    standards = Standards(Path(standards_root))
    found = {path: journal_pass(Path(path), standards.schema(f"noark5/{Path(path).stem}")) for path in journals}
    return found | {path: FilePass(sha256=sha256_file(Path(path))) for path in hash_only}


def rules_pass(path: Path, schema: etree.XMLSchema, read: Callable[[Any, Any], None], r: dict[str, RuleResult],
               restart: Callable[[], None], last_line: Callable[[], int], hash_it: bool = True) -> FilePass:
    """Run the rules in ``read(source, schema)`` over ``path`` with its schema attached (and hashed on the way,
    unless another process hashes it).

    If the schema stops the parse, the rules' errors are taken back to where they
    stood before, ``restart()`` forgets what ``read`` collected, and the whole file
    is read again without the schema, so every rule still reports; the result then
    carries the schema error (placed after ``last_line()``) and no SHA-256. A file
    that is not well-formed raises XMLSyntaxError from that second read.
    """
    found = FilePass()
    before = {rule.id: (len(rule.errors), rule.more) for rule in r.values()}
    try:
        with HashingReader(path) as reader:
            read(reader if hash_it else str(path), schema)  # lxml reads a named file itself, a little faster
            if hash_it:
                found.sha256 = reader.sha256()
        return found
    except etree.XMLSyntaxError as exc:
        found.error = xml_error(exc, last_line(), path)
    for rule in r.values():
        del rule.errors[before[rule.id][0]:]
        rule.more = before[rule.id][1]
    restart()
    read(str(path), None)
    return found


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """End a worker whose results are no longer wanted (the validation failed before collecting them)."""
    if worker.poll() is None:
        worker.kill()
        worker.communicate()


class NoarkValidator(ArkivstrukturScan):
    """Validates Noark 5 v5.0 extractions against the official schemas and Arkade's error rules.

    Each XML file is read once, with its schema attached and its SHA-256 computed
    on the way. The two journals are as large as arkivstruktur.xml together, so
    when they are large (``PARALLEL_BYTES``) and there is a second core they are
    checked in a worker process while this one reads arkivstruktur.xml; the
    report is the same either way (``parallel`` forces the choice).
    """

    #: Journals at least this large together are checked in a worker process (below it, starting one costs more).
    PARALLEL_BYTES = 32 << 20

    def __init__(self, standards: Standards, parallel: bool | None = None) -> None:
        self.standards = standards
        self.parallel = parallel

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
        journals = [path for path in (root / "loependeJournal.xml", root / "offentligJournal.xml") if path.is_file()]
        structure = root / "arkivstruktur.xml"
        size = sum(path.stat().st_size for path in journals)
        worker = bool(journals) and bool(sys.executable) and (self.parallel if self.parallel is not None else (
            size >= self.PARALLEL_BYTES and (os.cpu_count() or 1) > 1))
        with ExitStack() as stack:
            # With a worker, it also hashes arkivstruktur.xml: this process has that file's rules to run.
            hashed = [structure] if worker and structure.is_file() else []
            journal_passes = self._start_worker(journals, hashed, stack) if worker else self._inline(journals)
            documents = self._documents(root, addml, r)
            ids = IdStore()
            stack.callback(ids.close)
            scan, structure_pass = self._arkivstruktur(root, documents, r, ids, hash_it=not hashed)
            changelog = self._changelog(root, scan, r)
            passes = journal_passes()
        if structure_pass is not None:  # its schema error from here, its SHA-256 from here or from the worker
            structure_pass.sha256 = structure_pass.sha256 or passes.get(structure.name, FilePass()).sha256
            passes[structure.name] = structure_pass
        passes["endringslogg.xml"] = changelog
        self._schemas(root, addml, passes, r)
        self._checksums(root, addml, passes, r)
        self._journals(root, addml, scan, passes, r)
        if scan is not None:
            self._content_rules(addml, documents, scan, r)

    def _inline(self, journals: list[Path]) -> Callable[[], dict[str, FilePass]]:
        """The journals' passes in this process (called when their results are wanted)."""
        return lambda: {path.name: journal_pass(path, self.standards.schema(f"noark5/{path.stem}"))
                        for path in journals}

    def _start_worker(self, journals: list[Path], hashed: list[Path],
                      stack: ExitStack) -> Callable[[], dict[str, FilePass]]:
        """Start the journals' passes and the hashing of ``hashed`` in a worker process; the call returns them.

        If the worker dies (out of memory, killed) or says nothing usable, the
        journals' passes run here instead (and ``hashed`` is read by the checksum rule).
        """
        package = Path(__file__).resolve().parents[2]  # the folder smcase is imported from, for the worker too
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(package), os.environ.get("PYTHONPATH"))))}
        worker = subprocess.Popen([sys.executable, "-m", "smcase.validate.worker", str(self.standards.root),
                                   *map(str, journals), "--hash", *map(str, hashed)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        stack.callback(_stop, worker)

        def collect() -> dict[str, FilePass]:
            out, _err = worker.communicate()
            try:
                if worker.returncode == 0:
                    return {Path(path).name: FilePass(**found) for path, found in json.loads(out).items()}
            except (ValueError, TypeError, AttributeError):
                pass  # an answer that cannot be read counts as none
            return self._inline(journals)()

        return collect

    def _content_rules(self, addml: Addml, documents: tuple[Path, set[str]] | None, scan: _Scan,
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

    def _checksums(self, root: Path, addml: Addml, passes: dict[str, FilePass], r: dict[str, RuleResult]) -> None:
        """N5.01 and N5.02: every documented file is there with the documented SHA-256 (the XML files' from their
        passes, the others read here)."""
        for name, algorithm, value, is_schema in addml.files():
            path = root / name
            if not path.is_file():
                r["N5.01"].add(f"{name} is listed in arkivuttrekk.xml but missing from the package")
                continue
            if value is None or algorithm not in ("SHA-256", "SHA256"):
                if not (is_schema and name == "addml.xsd"):
                    r["N5.02"].add(f"{name}: no SHA-256 checksum documented (algorithm {algorithm!r})")
                continue
            found = passes.get(name)
            digest = found.sha256 if found is not None and found.sha256 else sha256_file(path)
            if digest.lower() != value.lower():
                r["N5.02"].add(f"{name}: the documented SHA-256 {value} does not match the file")

    def _schemas(self, root: Path, addml: Addml, passes: dict[str, FilePass], r: dict[str, RuleResult]) -> None:
        """N5.03: the schemas in the package are the official ones, and every XML file is valid against its
        official schema (the big files were checked in their passes)."""
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
            found = passes.get(name)
            error = found.error if found is not None else stream_validate(path, self.standards.schema(key))
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

    def _arkivstruktur(self, root: Path, documents: tuple[Path, set[str]] | None, r: dict[str, RuleResult],
                       ids: IdStore, hash_it: bool) -> tuple[_Scan | None, FilePass | None]:
        """One streaming pass over arkivstruktur.xml: the schema (N5.03) and every content rule together
        (``rules_pass``); the rules' findings, and the pass (schema error, SHA-256 unless hashed elsewhere).

        Only end events are read; a unit's ancestors are still in the tree when it
        ends, so its path and the ID of its folder or registration are looked up only
        when there is something to report. Finished folders and registrations are freed.
        """
        path = root / "arkivstruktur.xml"
        if not path.is_file():
            return None, None
        files = documents[1] if documents else set()
        scans = [_Scan(ids, files)]

        def restart() -> None:
            ids.reset()
            scans.append(_Scan(ids, files))

        try:
            found = rules_pass(path, self.standards.schema("noark5/arkivstruktur"),
                               lambda source, schema: self._scan(source, schema, scans[-1], r, root), r, restart,
                               lambda: scans[-1].line, hash_it)
        except etree.XMLSyntaxError as exc:  # not well-formed: no rule can run
            return None, FilePass(error=f"is not well-formed: {exc}")
        ids.flush()
        for value, line in ids.duplicates:
            r["N5.47"].add(f"systemID {value} is used more than once (line {line})")
        return scans[-1], found

    def _journals(self, root: Path, addml: Addml, scan: _Scan | None, passes: dict[str, FilePass],
                  r: dict[str, RuleResult]) -> None:
        heads: dict[str, dict[str, str]] = {}
        entries: dict[str, int] = {}
        listed = addml.xml_files()
        for name in ("loependeJournal", "offentligJournal"):
            path = root / f"{name}.xml"
            if f"{name}.xml" not in listed or not path.is_file():
                r["N5.59"].add(f"{name}.xml is missing or not listed in arkivuttrekk.xml")
                continue
            found = passes.get(f"{name}.xml")
            head = found.head if found is not None else None
            counted = found.entries if found is not None else None
            if head is None or counted is None:  # the schema stopped the pass early: read it again without
                head, counted = head or {}, 0
                try:
                    for _event, element in xmlsafe.iterparse(str(path), events=("end",), huge_tree=True,
                                                             tag=("{*}journalhode", "{*}journalregistrering")):
                        if local_name(element.tag) == "journalhode":
                            head = head or {local_name(child.tag): (child.text or "").strip() for child in element}
                        else:
                            counted += 1
                        if element.getparent() is not None:
                            drop_behind(element)
                except etree.XMLSyntaxError as exc:
                    r["N5.59"].add(f"{name}.xml cannot be read: {exc}")
            heads[name] = head
            entries[name] = counted
            if head.get("antallJournalposter") != str(counted):
                r["N5.59"].add(f"{name}.xml: its head says antallJournalposter {head.get('antallJournalposter')}, "
                               f"it holds {counted} journalregistrering")
        if len(heads) < 2 or scan is None:
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

    def _changelog(self, root: Path, scan: _Scan | None, r: dict[str, RuleResult]) -> FilePass:
        """endringslogg.xml read once: the schema (N5.03), its SHA-256, and its references (N5.61, N5.62)."""
        path = root / "endringslogg.xml"
        if not path.is_file():
            return FilePass()
        batch: dict[bytes, str] = {}

        def check() -> None:
            if scan is not None:
                known = scan.ids.present(list(batch))
                for key, value in batch.items():
                    if key not in known:
                        r["N5.62"].add(f"endring refers to {value}, which is no systemID in arkivstruktur.xml")
            batch.clear()

        line = [0]

        def read(source: Any, schema: Any) -> None:
            for _event, element in xmlsafe.iterparse(source, events=("end",), schema=schema, huge_tree=True,
                                                   tag=("{*}referanseArkivenhet", "{*}endring")):
                line[0] = element.sourceline or line[0]
                if local_name(element.tag) == "referanseArkivenhet":
                    value = (element.text or "").strip()
                    batch[uuid_key(value)] = value
                    if len(batch) >= IdStore.BATCH:
                        check()
                elif element.getparent() is not None:
                    drop_behind(element)
            check()

        try:
            return rules_pass(path, self.standards.schema("noark5/endringslogg"), read, r, batch.clear,
                              lambda: line[0])
        except (OSError, etree.XMLSyntaxError) as exc:
            r["N5.61"].add(f"endringslogg.xml cannot be read: {exc}")
            return FilePass(error=f"is not well-formed: {exc}" if isinstance(exc, etree.XMLSyntaxError) else None)
