"""The Swedish archive package format: FGS Paketstruktur 2.0 (E-ARK CSIP 2.1 + SIP 2.1) with FGS Ärendehantering 2.0.

Plain data shared by the exporter (``export/fgs.py``) and the validator
(``validate/fgs.py``, ``validate/erms.py``): namespaces, profile URLs, the package layout and the two
CITS ERMS versions a package can carry. The versions are not instance-compatible
(research/sweden-fgs.md §3.6): 2.1.2 spells ``digitial`` and has no
classification-schema identifiers; METS declares which one is inside through
``csip:CONTENTINFORMATIONTYPE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidInput

ERMS = "https://DILCIS.eu/XML/ERMS"
METS = "http://www.loc.gov/METS/"
XLINK = "http://www.w3.org/1999/xlink"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
SIP = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

#: FGS Paketstruktur 2.0 names E-ARK SIP 2.1.0, whose profile URL every METS document carries (SIP2).
SIP_PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
#: The CSIP content category: the vocabulary's term is "Datasets" (the CITS text's "Dataset" is rejected).
CONTENT_CATEGORY = "Datasets"
REPRESENTATION = "rep1"
ERMS_PATH = f"representations/{REPRESENTATION}/data/erms.xml"
DOCUMENTS = f"representations/{REPRESENTATION}/data/documents"

#: The METS schemas every package carries in ``schemas/`` (file name → standards key).
METS_SCHEMAS = {"mets.xsd": "csip/mets", "xlink.xsd": "csip/xlink", "DILCISExtensionMETS.xsd": "csip/extension",
                "DILCISExtensionSIPMETS.xsd": "csip/sip-extension"}


@dataclass(frozen=True)
class ErmsVersion:
    """One CITS ERMS version: its schema, Schematron, METS content type and spelling differences."""

    name: str
    content_type: str
    schema: str  # standards key
    schematron: str  # standards key
    schema_file: str
    schematron_file: str
    digital: str  # recordPhysicalOrDigital for born-digital records
    classification_ids: bool  # classificationSchemaId/Status and classificationSchemaUsed exist
    restriction_agent: bool  # restriction may name the agent that made the marking
    created_date_required: bool  # ERMS135/ERMS204 (a created date on every case and record) are in its tables


VERSIONS = {
    "3.0": ErmsVersion("3.0", "citserms_v3_0", "erms/v3", "erms/v3-sch", "ERMS_v3.xsd", "erms_v3.sch",
                       "digital", True, True, True),
    # 2.1.2 really spells it "digitial" (a typo in the schema that Swedish receivers on 2.1 expect).
    "2.1": ErmsVersion("2.1", "citserms_v2_1", "erms/v2_1", "erms/v2_1-sch", "ERMS_v2_1_2.xsd", "erms_v2_1_2.sch",
                       "digitial", False, False, False),
}
BY_CONTENT_TYPE = {v.content_type: v for v in VERSIONS.values()}


def erms_version(name: str) -> ErmsVersion:
    """The ERMS version called ``name`` (``3.0``, ``2.1``, also ``3``, ``2.1.2`` or the METS content type)."""
    key = name.strip().lower()
    key = {"3": "3.0", "3.0.2": "3.0", "2.1.2": "2.1"}.get(key, key)
    if key in VERSIONS:
        return VERSIONS[key]
    if key in BY_CONTENT_TYPE:
        return BY_CONTENT_TYPE[key]
    raise InvalidInput(f"unknown ERMS version {name!r}: smcase writes and checks 3.0 and 2.1")
