"""smcase: a case register for the social-media side of Nordic municipalities.

Social-media events become registered cases with diary numbers under the
municipality's policy; every change is audited in a hash chain; the register
exports to the Noark 5 and FGS/ERMS archive formats.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smcase")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
