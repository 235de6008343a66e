"""The official archive schemas: found in a folder the user names, loaded offline.

smcase does not ship the official schemas. The folder is given with
``--standards DIR`` or ``SMCASE_STANDARDS`` and laid out as the publishers'
files are grouped::

    noark5/  arkivstruktur.xsd, metadatakatalog.xsd, endringslogg.xsd,
             loependeJournal.xsd, offentligJournal.xsd, addml.xsd,
             arkivuttrekk_Noark5_v5_0_mal.xml        (Arkivverket)
    erms/    ERMS_v3.xsd, ERMS_v2_1_2.xsd, erms_v3.sch,
             erms_v2_1_2.sch                         (DILCIS Board, CITS ERMS)
    csip/    mets.xsd, xlink.xsd, DILCISExtensionMETS.xsd,
             DILCISExtensionSIPMETS.xsd, catalog.xml,
             vocabularies/CSIPVocabularyContentCategory.xml (Library of Congress, DILCIS Board)

Schemas are compiled with the network switched off; imports by URL (METS
imports xlink from loc.gov) are resolved through ``csip/catalog.xml`` to the
local copies. Every problem names the file and where the official one is published.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lxml import etree

from .errors import ConfigError

ENV = "SMCASE_STANDARDS"


@dataclass(frozen=True)
class Official:
    """One official file smcase needs: where it sits in the folder and who publishes it."""

    key: str
    path: str
    what: str
    publisher: str


OFFICIAL: tuple[Official, ...] = (
    Official("noark5/arkivstruktur", "noark5/arkivstruktur.xsd", "Noark 5 v5.0 arkivstruktur",
             "Arkivverket: github.com/arkivverket/schemas (N5/v5.0)"),
    Official("noark5/metadatakatalog", "noark5/metadatakatalog.xsd", "Noark 5 v5.0 metadatakatalog",
             "Arkivverket: github.com/arkivverket/schemas (N5/v5.0)"),
    Official("noark5/endringslogg", "noark5/endringslogg.xsd", "Noark 5 v5.0 endringslogg",
             "Arkivverket: github.com/arkivverket/schemas (N5/v5.0)"),
    Official("noark5/loependeJournal", "noark5/loependeJournal.xsd", "Noark 5 v5.0 løpende journal",
             "Arkivverket: github.com/arkivverket/schemas (N5/v5.0)"),
    Official("noark5/offentligJournal", "noark5/offentligJournal.xsd", "Noark 5 v5.0 offentlig journal",
             "Arkivverket: github.com/arkivverket/schemas (N5/v5.0)"),
    Official("noark5/addml", "noark5/addml.xsd", "ADDML 8.3 (arkivuttrekk.xml)",
             "Arkivverket: github.com/arkivverket/arkade5"),
    Official("noark5/template", "noark5/arkivuttrekk_Noark5_v5_0_mal.xml", "the arkivuttrekk.xml template for v5.0",
             "Arkivverket: github.com/arkivverket/noark5-standard"),
    Official("erms/v3", "erms/ERMS_v3.xsd", "CITS ERMS 3.0 (FGS Ärendehantering 2.0)",
             "DILCIS Board: github.com/DILCISBoard/CITS-ERMS"),
    Official("erms/v2_1", "erms/ERMS_v2_1_2.xsd", "CITS ERMS 2.1.2", "DILCIS Board: github.com/DILCISBoard/CITS-ERMS"),
    Official("erms/v3-sch", "erms/erms_v3.sch", "the CITS ERMS 3.0 Schematron rules",
             "DILCIS Board: github.com/DILCISBoard/CITS-ERMS"),
    Official("erms/v2_1-sch", "erms/erms_v2_1_2.sch", "the CITS ERMS 2.1.2 Schematron rules",
             "DILCIS Board: github.com/DILCISBoard/CITS-ERMS"),
    Official("csip/mets", "csip/mets.xsd", "METS 1.12", "Library of Congress: loc.gov/standards/mets"),
    Official("csip/xlink", "csip/xlink.xsd", "METS XLink schema v2", "Library of Congress: loc.gov/standards/mets"),
    Official("csip/extension", "csip/DILCISExtensionMETS.xsd", "E-ARK CSIP METS extension",
             "DILCIS Board: github.com/DILCISBoard/E-ARK-CSIP"),
    Official("csip/sip-extension", "csip/DILCISExtensionSIPMETS.xsd", "E-ARK SIP METS extension",
             "DILCIS Board: github.com/DILCISBoard/E-ARK-SIP"),
    Official("csip/content-category", "csip/vocabularies/CSIPVocabularyContentCategory.xml",
             "the CSIP content category vocabulary (mets/@TYPE)", "DILCIS Board: github.com/DILCISBoard/E-ARK-CSIP"),
    Official("csip/catalog", "csip/catalog.xml", "an XML catalogue of the schemas' network locations",
             "written for smcase's standards folder (maps loc.gov and dilcis.eu URLs to the local files)"),
)
_BY_KEY = {o.key: o for o in OFFICIAL}


def locate(explicit: str | Path | None = None) -> Path:
    """The standards folder: ``--standards DIR``, else ``SMCASE_STANDARDS``."""
    value = explicit or os.environ.get(ENV)
    if not value:
        raise ConfigError(f"no folder of official schemas: give --standards DIR or set {ENV} "
                          "(see 'smcase standards check --help' for the files and where they are published)")
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"the standards folder {folder} does not exist")
    return folder


class _Catalogue(etree.Resolver):  # type: ignore[misc]  # lxml ships no type information
    """Resolves the network locations listed in an OASIS catalogue to local files."""

    def __init__(self, catalogue: Path) -> None:
        super().__init__()
        self.mapping: dict[str, str] = {}
        if catalogue.is_file():
            for entry in etree.parse(str(catalogue), etree.XMLParser(no_network=True)).getroot():
                key = entry.get("systemId") or entry.get("name") if isinstance(entry.tag, str) else None
                if key and entry.get("uri"):
                    self.mapping[key] = str((catalogue.parent / entry.get("uri")).resolve())

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        local = self.mapping.get(system_url)
        return self.resolve_filename(local, context) if local else None


class Standards:
    """The official schemas in one folder, compiled on first use and kept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._schemas: dict[str, etree.XMLSchema] = {}

    @classmethod
    def from_option(cls, explicit: str | Path | None = None) -> Standards:
        """The standards named by ``--standards`` or ``SMCASE_STANDARDS``."""
        return cls(locate(explicit))

    @cached_property
    def parser(self) -> etree.XMLParser:
        """A parser that never reaches the network and resolves known URLs locally."""
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        parser.resolvers.add(_Catalogue(self.root / "csip" / "catalog.xml"))
        return parser

    def path(self, key: str) -> Path:
        """The file for ``key``; ConfigError names it and its publisher when it is missing."""
        official = _BY_KEY[key]
        path = self.root / official.path
        if not path.is_file():
            raise ConfigError(f"{official.what} is missing: expected {path} (published by {official.publisher})")
        return path

    def schema(self, key: str) -> etree.XMLSchema:
        """The compiled schema for ``key`` (offline)."""
        if key not in self._schemas:
            path = self.path(key)
            try:
                self._schemas[key] = etree.XMLSchema(etree.parse(str(path), self.parser))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
                raise ConfigError(f"{path} does not load as a schema: {exc}") from None
        return self._schemas[key]

    def mets_with_extensions(self) -> etree.XMLSchema:
        """METS together with the CSIP and SIP extensions, so that the ``csip:``/``sip:`` attributes are checked."""
        if "csip/combined" not in self._schemas:
            imports = "".join(
                f'<xs:import namespace="{ns}" schemaLocation="{self.path(key).resolve().as_uri()}"/>'
                for ns, key in (("http://www.loc.gov/METS/", "csip/mets"),
                                ("https://DILCIS.eu/XML/METS/CSIPExtensionMETS", "csip/extension"),
                                ("https://DILCIS.eu/XML/METS/SIPExtensionMETS", "csip/sip-extension")))
            wrapper = (f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                       f'targetNamespace="urn:smcase:mets-csip-sip">{imports}</xs:schema>')
            self._schemas["csip/combined"] = etree.XMLSchema(etree.fromstring(wrapper.encode(), self.parser))
        return self._schemas["csip/combined"]

    def check(self) -> list[tuple[Official, str | None]]:
        """Every official file with None when it is present (and loads, for schemas), else the problem."""
        results: list[tuple[Official, str | None]] = []
        for official in OFFICIAL:
            try:
                if official.path.endswith(".xsd"):
                    self.schema(official.key)
                else:
                    etree.parse(str(self.path(official.key)), self.parser)
                results.append((official, None))
            except (ConfigError, etree.XMLSyntaxError) as exc:
                results.append((official, str(exc)))
        return results
