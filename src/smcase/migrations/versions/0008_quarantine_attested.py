"""Quarantined input is attested like every audited row (issue 15's hostile reading).

Input that could not be read is kept in ``quarantine`` with its raw text, and
the README promises that nothing accepted is lost; until now a quarantine row
could be deleted or rewritten behind smcase's back unseen. From this revision
every write of a quarantine row attests it, and in a register this baseline
entry attests the rows already there, so that an upgraded register verifies.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 03:20:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from smcase import audit  # the register's own code computes the digests the chain will check

    conn = op.get_bind()
    if not conn.execute(sa.text("SELECT count(*) FROM audit_head")).scalar_one():
        return  # a new database: nothing written yet
    kept = list(conn.execute(sa.text("SELECT id FROM quarantine ORDER BY id")).scalars())
    attested = conn.execute(sa.text("SELECT count(*) FROM attestations WHERE tbl = 'quarantine'")).scalar_one()
    if kept and not attested:  # a register upgraded from below 0005 had them attested by 0005's baseline
        audit.append(conn, [audit.Change("audit.baseline", "register", None, "quarantine attested at upgrade",
                                         {"after": {"quarantine": len(kept)}})],
                     actor="smcase db upgrade", at=datetime.now(UTC), touched={"quarantine": kept})


def downgrade() -> None:
    # The attestations stay: entries' hashes cover them. Below 0008 they are simply not checked again.
    pass
