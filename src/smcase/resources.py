"""Where smcase finds its own files: the JSON schemas and the default policies.

An installed wheel carries them inside the package (``smcase/_data``); an
editable install or a source checkout reads them from the repository's
``schemas/`` and ``fixtures/policies/`` folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parent.parent


def _first_existing(*candidates: Path) -> Path:
    for path in candidates:
        if path.exists():
            return path
    raise ConfigError(f"smcase data folder missing (looked in {', '.join(map(str, candidates))}); reinstall smcase")


@cache
def schemas_dir() -> Path:
    """The folder holding smcase's own JSON schemas."""
    return _first_existing(_PACKAGE / "_data" / "schemas", _REPO / "schemas")


@cache
def policies_dir() -> Path:
    """The folder holding the shipped policies (default-se.toml, default-no.toml, ...)."""
    return _first_existing(_PACKAGE / "_data" / "policies", _REPO / "fixtures" / "policies")


def default_policy(country: str) -> Path:
    """The shipped default policy for a country code (SE or NO)."""
    path = policies_dir() / f"default-{country.lower()}.toml"
    if not path.exists():
        raise ConfigError(f"no default policy for country {country!r}")
    return path
