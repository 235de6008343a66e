"""What callers give the register service and get back: specs of cases and records, views of users and classes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .. import identity
from ..errors import InvalidInput
from ..model import (
    Direction,
    User,
)
from ..store import StoredFile

_PLACEHOLDER_RECORD_TITLES = {"SE": "Sekretessmarkerad handling", "NO": "Skjermet journalpost"}
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


DIRECTION_ALIASES = {
    "in": Direction.INCOMING, "incoming": Direction.INCOMING,
    "out": Direction.OUTGOING, "outgoing": Direction.OUTGOING,
    "internal": Direction.INTERNAL,
    "memo": Direction.MEMO,
}


@dataclass(frozen=True)
class Party:
    """A correspondent to record: sender, recipient or copy recipient."""

    role: str
    name: str
    address: str | None = None


@dataclass(frozen=True)
class Source:
    """Where a record came from on social media."""

    platform: str | None = None
    external_id: str | None = None
    url: str | None = None
    author: str | None = None
    author_id: str | None = None


@dataclass(frozen=True)
class CaseSpec:
    """What a new case is to be: only the title is required."""

    title: str
    public_title: str | None = None
    class_code: str | None = None
    confidential: str | None = None  # id or citation of a ground in the policy
    owner_unit: str | None = None
    officer: str | None = None  # user name; defaults to the acting user
    disposal_rule: str | None = None
    channel: str | None = None  # address of a known channel


@dataclass(frozen=True)
class RecordSpec:
    """What a new record is to be: direction and title are required."""

    direction: str
    title: str
    public_title: str | None = None
    kind: str = "document"
    parties: Sequence[Party] = ()
    files: Sequence[Path] = ()
    attachments: Sequence[tuple[str, bytes]] = ()  # (file name, content) captured in memory
    confidential: str | None = None
    document_date: date | None = None
    source: Source | None = None


@dataclass(frozen=True)
class OpenedCase:
    """A case opened by the bulk path: its identity and number."""

    uuid: uuid.UUID
    diary_number: str
    year: int
    seq: int


@dataclass(frozen=True)
class CasePlan:
    """Records to register together: in a new case (``spec``) or in an open case (``case_number``)."""

    records: Sequence[RecordSpec] = ()
    spec: CaseSpec | None = None
    case_number: str | None = None


@dataclass(frozen=True)
class WrittenRecord:
    """A record the batch registered."""

    id: int
    uuid: uuid.UUID
    number: str
    running_number: int


@dataclass(frozen=True)
class WrittenCase:
    """The case of one plan: opened by the batch or an existing one, with the records added to it."""

    id: int
    uuid: uuid.UUID
    diary_number: str
    opened: bool
    records: tuple[WrittenRecord, ...]


@dataclass
class _PreparedRecord:
    row: dict[str, Any]
    parties: list[Party]
    stored: list[StoredFile]


@dataclass(frozen=True)
class RegisterInfo:
    """The register as a whole."""

    name: str
    org_number: str | None
    country: str
    timezone: str
    policy_name: str
    policy_version: str
    policy_sha256: str
    uuid: uuid.UUID
    cases: int = 0
    records: int = 0
    users: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name, "org_number": self.org_number, "country": self.country,
            "timezone": self.timezone, "uuid": str(self.uuid),
            "policy": {"name": self.policy_name, "version": self.policy_version, "sha256": self.policy_sha256},
            "cases": self.cases, "records": self.records, "users": self.users,
        }


@dataclass(frozen=True)
class UserView:
    """A user of the register."""

    username: str
    roles: tuple[str, ...]
    full_name: str | None
    job_title: str | None
    unit: str | None
    clearance: bool
    active: bool

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "username": self.username, "roles": list(self.roles), "full_name": self.full_name,
            "job_title": self.job_title, "unit": self.unit, "clearance": self.clearance, "active": self.active,
        }


@dataclass(frozen=True)
class ClassView:
    """A class of the filing plan."""

    code: str
    title: str
    uuid: uuid.UUID = field(compare=False)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"code": self.code, "title": self.title, "uuid": str(self.uuid)}


def _user_view(user: User) -> UserView:
    return UserView(user.username, tuple(user.role_names), user.full_name, user.job_title, user.unit,
                    user.clearance, user.active)


def _check_username(name: str) -> str:
    if not _USERNAME.match(name):
        raise InvalidInput(f"{name!r} is not a valid user name (letters, digits, '.', '_', '@', '-')")
    return _no_identity_number(name, "a user name")


def _no_identity_number(value: str, what: str) -> str:
    """``value``, refused when it holds an identity number: class titles, user names and record kinds are shown to
    every user and published, and are never withheld (the message does not repeat the value)."""
    if identity.find(value, context=False):
        raise InvalidInput(f"{what} may not hold an identity number: it is shown to every user")
    return value


def _person_detail(value: str | None, what: str) -> str | None:
    """A user's full name, job title or unit: 1 to 200 characters, no control characters, no identity number."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 200 or _CONTROL.search(value):
        raise InvalidInput(f"{what} is 1 to 200 characters, without control characters")
    return _no_identity_number(value, what)


_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _record_kind(kind: str) -> str:
    """A record kind: a short lower-case word (``document``, ``social_post``), never free text."""
    if not _KIND.match(kind):
        raise InvalidInput(f"a record kind is a lower-case word of letters, digits and '_' (like 'document'), "
                           f"not {(identity.scrub(kind) or '')[:60]!r}")
    return _no_identity_number(kind, "a record kind")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _text(value: str | None, what: str) -> str:
    """A title as typed, trimmed; control characters (an ESC, a NUL) become spaces, as they mean nothing in a
    register and would reach the published journal raw."""
    cleaned = _CONTROL.sub(" ", value or "").strip()
    if not cleaned:
        raise InvalidInput(f"{what} may not be empty")
    return cleaned
