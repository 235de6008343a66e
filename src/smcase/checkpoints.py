"""Checkpoints: the audit chain's head, kept outside the database, so a rewound or recomputed chain is caught.

Someone who can write the database can delete the last entries and rewind the
head, or recompute every hash of the chain: nothing inside the database can
prove otherwise. A checkpoint (register id, entry number, entry hash, time)
written out with ``smcase audit checkpoint`` and kept elsewhere (printed in the
annual report, mailed to the archive, committed to a repository) can:
``smcase audit verify --checkpoint FILE`` checks that the chain still holds
that entry with that hash. Later legitimate entries change nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from .db import connect, read_only
from .errors import InvalidInput
from .model import AuditEntry, AuditHead, table_of

if TYPE_CHECKING:
    from .register import RegisterService

FORMAT = "smcase-audit-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment."""

    register: uuid.UUID
    seq: int
    entry_hash: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"format": FORMAT, "register": str(self.register), "seq": self.seq, "hash": self.entry_hash,
                "at": self.at.isoformat()}

    def to_text(self) -> str:
        """The file's text."""
        return json.dumps(self.to_json(), indent=2) + "\n"


def take(service: RegisterService) -> Checkpoint:
    """The current head of ``service``'s register."""
    with service.reading() as conn:
        head = conn.execute(select(table_of(AuditHead).c.seq, table_of(AuditHead).c.entry_hash)).one()
    return Checkpoint(service.register_uuid, head.seq, head.entry_hash, service.clock())


def read(path: Path) -> Checkpoint:
    """A checkpoint file; a file that is not one is refused with the reason."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
        if data.get("format") != FORMAT:
            raise ValueError(f"its format is not {FORMAT}")
        seq, digest = data.get("seq"), data.get("hash")
        if type(seq) is not int or not 0 <= seq < 2**63:
            raise ValueError("its 'seq' is not an entry number")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("its 'hash' is not a SHA-256 in hex")
        if not isinstance(data.get("register"), str) or not isinstance(data.get("at"), str):
            raise ValueError("its 'register' and 'at' are not text")
        return Checkpoint(uuid.UUID(data["register"]), seq, digest, datetime.fromisoformat(data["at"]))
    except FileNotFoundError:
        raise InvalidInput(f"no checkpoint file {path}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not an smcase audit checkpoint: it is not UTF-8 text") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise InvalidInput(f"{path} is not an smcase audit checkpoint: {str(exc).splitlines()[0][:200]}") from None


def holds(engine: Engine, mark: Checkpoint, register: uuid.UUID) -> str | None:
    """None when the chain still holds ``mark``'s entry with its hash (and the head is at or past it); else why not."""
    if mark.register != register:
        return f"it is a checkpoint of register {mark.register}, not of this one ({register})"
    entries = table_of(AuditEntry)
    with connect(read_only(engine)) as conn, conn.begin():
        found = conn.execute(select(entries.c.entry_hash).where(entries.c.seq == mark.seq)).scalar()
        head = conn.execute(select(table_of(AuditHead).c.seq)).scalar()
    if found is None:
        return f"the chain no longer holds entry {mark.seq} (its head is at {head}): entries were removed"
    if found != mark.entry_hash:
        return f"entry {mark.seq} has another hash than at the checkpoint: the chain was rewritten"
    if head is None or head < mark.seq:
        return f"the chain head ({head}) is behind the checkpoint's entry {mark.seq}: the chain was rewound"
    return None


#: The audit action that records that a checkpoint was written out.
ACTION = "audit.checkpoint"


def record(service: RegisterService, mark: Checkpoint, where: str) -> None:
    """Audit that ``mark`` was written out (to ``where``), so that the checkpoint duty is met."""
    service.note_checkpoint(ACTION, mark.seq, where)


def last_taken(service: RegisterService) -> datetime:
    """When a checkpoint was last written out; the register's creation when never."""
    entries = table_of(AuditEntry)
    with service.reading() as conn:
        found = conn.execute(select(entries.c.at).where(entries.c.action == ACTION)
                             .order_by(entries.c.seq.desc()).limit(1)).scalar()
        if found is None:
            found = conn.execute(select(entries.c.at).where(entries.c.seq == 1)).scalar()
    assert found is not None
    return found  # type: ignore[no-any-return]
