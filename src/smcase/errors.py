"""The exceptions smcase raises on purpose.

Every one of them carries a message meant for a person: it names the problem
(which diary number, which key, which user) and never quotes confidential
content. The CLI turns them into a one-line message and exit status 1.
"""

from __future__ import annotations


class SmcaseError(Exception):
    """Base class: an operation that could not be done, with the reason."""


class ConfigError(SmcaseError):
    """The database, file store or environment is not usable as configured."""


class PolicyError(SmcaseError):
    """A policy file is malformed; the message names the key and the reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {reason}" if key else f"{where}{reason}")


class NotFound(SmcaseError):
    """A diary number, class, user or other name that the register does not hold."""


class InvalidState(SmcaseError):
    """The operation does not fit the current state (e.g. adding to a closed case)."""


class InvalidInput(SmcaseError):
    """A value given to the register is not acceptable (empty title, bad date...)."""


class PermissionDenied(SmcaseError):
    """The acting user lacks a role the policy requires, or is unknown."""


class IntegrityError(SmcaseError):
    """Stored data does not verify (audit chain, file checksum)."""
