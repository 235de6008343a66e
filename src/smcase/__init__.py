"""smcase: a case register for the social-media side of Nordic municipalities.

Social-media events become registered cases with diary numbers under the
municipality's policy; every change is audited in a hash chain; the register
exports to the Noark 5 and FGS/ERMS archive formats.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    """``__version__``, read from the installed package's metadata on first use: importlib.metadata costs a
    command's start-up some 30 ms, and most commands never print the version."""
    if name != "__version__":
        raise AttributeError(f"module 'smcase' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("smcase")
    except PackageNotFoundError:  # running from a source tree without an install
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
