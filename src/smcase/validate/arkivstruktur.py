"""The streaming pass over a Noark 5 ``arkivstruktur.xml``: counts, references, flags and empty elements,
collected unit by unit and freed as the parse goes (Arkade's N5.10 to N5.63 over the structure)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from .. import xmlsafe
from .common import (
    HashingReader,
    IdStore,
    RuleResult,
    drop_behind,
    local_name,
    sha256_file,
    uuid_key,
)

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


#: The leaves a content rule or a message looks at (every other leaf is only checked for being empty, N5.63).
WATCHED = frozenset({"systemID", "referanseArkivdel", "referanseSekundaerKlassifikasjon", "saksstatus",
                     "journalstatus", "dokumentstatus", "opprettetDato", "journaldato", "referanseDokumentfil"})


#: Elements with children that a rule counts or reads.
CONTAINERS = frozenset({"skjerming", "kassasjon", "utfoertKassasjon", "dokumentobjekt"})
#: Units whose own leaves are checked for content when they end; folders and registrations are then freed.
UNITS_N5 = frozenset({"arkiv", "arkivdel", "klassifikasjonssystem", "klasse", "mappe", "registrering"})
FOLDERS = frozenset({"mappe", "registrering"})
EMPTY_LEAVES = etree.XPath("descendant::*[not(*)][not(normalize-space())]")


def _unit_of(element: Any) -> Any:
    """The nearest unit (arkiv … registrering) that holds ``element``."""
    node = element.getparent()
    while node is not None and local_name(node.tag) not in UNITS_N5:
        node = node.getparent()
    return node


def _label(unit: Any) -> str:
    """A folder's mappeID or a registration's registreringsID, else its systemID, as far as it has been read."""
    found = ""
    for child in unit:
        name = local_name(child.tag)
        if name in ("mappeID", "registreringsID"):
            return (child.text or "").strip()
        if name == "systemID" and not found:
            found = (child.text or "").strip()
    return found


def _empty_leaves(unit: Any, owners: set[Any], r: dict[str, RuleResult]) -> None:
    """N5.63: the empty elements under ``unit`` whose nearest unit is one of ``owners`` (nested units are
    checked on their own; freed folders and registrations are empty shells, not empty leaves)."""
    for empty in EMPTY_LEAVES(unit):
        if local_name(empty.tag) not in FOLDERS and _unit_of(empty) in owners:
            r["N5.63"].add(f"empty element {_where(empty)}")


def _where(element: Any) -> str:
    """The element's path from the root, with the ID of the folder or registration it is in (for messages).

    Only called when there is something to report: the ancestors of the element
    being read are still in the tree, with the leaves read so far.
    """
    path, unit = [], ""
    node = element
    while node is not None:
        name = local_name(node.tag)
        path.append(name)
        if not unit and name in ("mappe", "registrering"):
            unit = _label(node)
        node = node.getparent()
    return "/".join(reversed(path)) + (f" ({unit})" if unit else "") + f", line {element.sourceline}"


@dataclass
class _Scan:
    """What the streaming pass over arkivstruktur.xml collects (counts and small sets only)."""

    ids: IdStore
    files: set[str]  # the documents folder's files, as referanseDokumentfil names them
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


class ArkivstrukturScan:
    """The part of the Noark validator that reads ``arkivstruktur.xml`` in one streaming pass."""

    def _scan(self, source: HashingReader | str, schema: Any, scan: _Scan, r: dict[str, RuleResult],
              root: Path) -> None:
        """Read arkivstruktur.xml once. Only the elements a rule looks at reach Python (lxml's tag filter), each
        to the one handler of its name. Empty leaves (N5.63) are found by XPath, in C, over each unit when it
        ends: a folder's registrations (up to ``PENDING``) with the folder, in one call, then freed with it."""
        names: dict[str, str] = {}
        kinds: dict[Any, set[str]] = {}  # per open klasse: the kinds of its children (keyed by the element itself)
        pending: list[Any] = []  # finished registrations of the open folder, not yet checked for empty leaves
        leaves = self._leaf_rules(scan, r)
        for _event, element in xmlsafe.iterparse(source, events=("end",), schema=schema, huge_tree=True,
                                               tag=[f"{{*}}{n}" for n in (*WATCHED, *CONTAINERS, *UNITS_N5)]):
            tag = element.tag
            name = names.get(tag)
            if name is None:
                name = names[tag] = local_name(tag)
            rule = leaves.get(name)
            if rule is not None:
                if not len(element):
                    rule(element, (element.text or "").strip())
                continue
            holder = element.getparent()
            parent = "" if holder is None else names.get(holder.tag) or local_name(holder.tag)
            self._container(scan, r, element, name, parent, kinds, root)
            if name == "registrering":
                scan.line = element.sourceline or scan.line
                if pending and pending[-1].getparent() is not holder:
                    self._check_pending(pending, r)
                pending.append(element)  # checked for empty leaves with its folder, in one XPath
                if len(pending) >= self.PENDING:
                    self._check_pending(pending, r)
            elif name in UNITS_N5:
                covered = pending[:] if pending and pending[0].getparent() is element else []
                if pending and not covered:
                    self._check_pending(pending, r)
                pending.clear()
                _empty_leaves(element, {element, *covered}, r)
                if name == "mappe":
                    scan.line = element.sourceline or scan.line
                    drop_behind(element, FOLDERS)  # frees the folder with its registrations
                else:
                    for registration in covered:  # registrations directly in a class or archive part
                        registration.clear()
        self._check_pending(pending, r)

    #: Finished registrations kept for their folder's check; a larger folder has them checked one by one.
    PENDING = 256

    @staticmethod
    def _check_pending(pending: list[Any], r: dict[str, RuleResult]) -> None:
        """N5.63 for registrations kept for a check with their folder, each on its own; then free them."""
        for registration in pending:
            _empty_leaves(registration, {registration}, r)
            registration.clear()
        if pending:
            drop_behind(pending[-1], FOLDERS)
        pending.clear()

    @staticmethod
    def _leaf_rules(scan: _Scan, r: dict[str, RuleResult]) -> dict[str, Callable[[Any, str], None]]:
        """The rule for each watched leaf, by local name: called with the leaf and its stripped text."""
        def parent_of(element: Any) -> str:
            holder = element.getparent()
            return "" if holder is None else local_name(holder.tag)

        def system_id(element: Any, text: str) -> None:
            scan.ids.add(text, element.sourceline)
            parent = parent_of(element)
            if parent == "arkivdel":
                scan.arkivdeler.add(uuid_key(text))
            elif parent == "klasse":
                scan.klasser.add(uuid_key(text))

        def archive_part(element: Any, text: str) -> None:
            # An arkivdel's systemID comes before everything in it, so the reference is checked now.
            if uuid_key(text) not in scan.arkivdeler and parent_of(element) in (
                    "mappe", "registrering", "dokumentbeskrivelse"):
                r["N5.48"].add(f"referanseArkivdel {text} in {_where(element)} is no arkivdel's systemID")

        def secondary_class(element: Any, text: str) -> None:
            if uuid_key(text) not in scan.klasser and parent_of(element) == "mappe":
                scan.class_refs.append((text, _where(element)))  # a class later in the file may still resolve it

        def case_status(element: Any, text: str) -> None:
            if text not in ("Avsluttet", "Utgår") and parent_of(element) == "mappe":
                r["N5.15"].add(f"saksstatus {text!r} in {_where(element)}")

        def journal_status(element: Any, text: str) -> None:
            if text not in ("Arkivert", "Utgår") and parent_of(element) == "registrering":
                r["N5.22"].add(f"journalstatus {text!r} in {_where(element)}")

        def document_status(element: Any, text: str) -> None:
            if text != "Dokumentet er ferdigstilt" and parent_of(element) == "dokumentbeskrivelse":
                r["N5.25"].add(f"dokumentstatus {text!r} in {_where(element)}")

        def created(element: Any, text: str) -> None:
            try:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                if parent_of(element) == "registrering":
                    r["N5.27"].add(f"opprettetDato {text!r} is not a dateTime ({_where(element)})")

        def journal_day(element: Any, text: str) -> None:
            if parent_of(element) != "registrering":
                return
            with suppress(ValueError):  # the schema check reports a bad date
                day = date.fromisoformat(text[:10])
                if scan.first_day is None or day < scan.first_day:
                    scan.first_day = day
                if scan.last_day is None or day > scan.last_day:
                    scan.last_day = day

        def document_file(element: Any, text: str) -> None:
            reference = text.replace("\\", "/")
            scan.referenced.add(reference)
            if reference not in scan.files:
                r["N5.32"].add(f"{reference} is referenced ({_where(element)}) but not in the documents folder")

        return {"systemID": system_id, "referanseArkivdel": archive_part,
                "referanseSekundaerKlassifikasjon": secondary_class, "saksstatus": case_status,
                "journalstatus": journal_status, "dokumentstatus": document_status, "opprettetDato": created,
                "journaldato": journal_day, "referanseDokumentfil": document_file}

    def _container(self, scan: _Scan, r: dict[str, RuleResult], element: Any, name: str, parent: str,
                   kinds: dict[Any, set[str]], root: Path) -> None:
        def where() -> str:
            return _where(element)

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
