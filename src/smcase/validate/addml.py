"""A Noark 5 extraction's ``arkivuttrekk.xml`` (ADDML): the files it lists, their checksums and counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import xmlsafe

ADDML = "{http://www.arkivverket.no/standarder/addml}"


class Addml:
    """What arkivuttrekk.xml documents: files, schemas, checksums, counts, flags."""

    def __init__(self, path: Path, parser: Any) -> None:
        self.tree = xmlsafe.parse(path, parser)
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
