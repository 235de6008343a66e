"""Validators of archive packages: rule by rule, against the official schemas."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from .. import xmlsafe
from ..errors import InvalidInput
from ..fgs import ErmsVersion
from ..standards import Standards
from .common import Report
from .fgs import FgsValidator
from .noark5 import NoarkValidator


def kind_of(path: Path) -> str:
    """What ``path`` holds: ``noark5`` (an extraction folder or tar), ``fgs`` (a package folder or zip) or ``erms``."""
    path = Path(path)
    if path.is_dir():
        if (path / "arkivuttrekk.xml").is_file():
            return "noark5"
        if (path / "METS.xml").is_file():
            return "fgs"
        raise InvalidInput(f"{path} holds neither arkivuttrekk.xml (Noark 5) nor METS.xml (FGS / E-ARK CSIP)")
    if zipfile.is_zipfile(path):
        return "fgs"
    if tarfile.is_tarfile(path):
        return "noark5"
    if path.suffix.lower() == ".xml":
        return "erms"
    raise InvalidInput(f"{path} is not an archive package smcase knows (a folder, tar, zip or ERMS .xml file)")


def validate(path: Path, standards: Standards, erms: ErmsVersion | None = None) -> Report:
    """Validate whatever package ``path`` is; ``erms`` names the version of a bare ERMS file."""
    kind = kind_of(path)
    if kind == "erms":
        xmlsafe.check(path)
    if kind == "noark5":
        return NoarkValidator(standards).validate(path)
    return FgsValidator(standards).validate(path, erms if kind == "erms" else None)
