"""Row attestations: the audit chain covers every audited row (issue 13).

Creates ``attestations`` and ``audit_entries.rows_sha256``, then, in a register
that already has an audit chain, appends one baseline entry (``audit.baseline``)
that attests every existing row, so that an upgraded register verifies; from
then on every write attests what it touches.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:40:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attestations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('tbl', sa.String(length=32), nullable=False),
    sa.Column('row_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attestations'))
    )
    with op.batch_alter_table('attestations', schema=None) as batch_op:
        batch_op.create_index('ix_attestations_row', ['tbl', 'row_id', 'seq', 'digest'], unique=False)
        batch_op.create_index('ix_attestations_seq', ['seq', 'tbl', 'row_id', 'digest'], unique=False)
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rows_sha256', sa.String(length=64), nullable=True))

    from smcase import attest, audit  # the register's own code computes the digests the chain will check

    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM audit_head")).scalar_one():
        rows = attest.everything(conn)
        audit.append(conn, [audit.Change("audit.baseline", "register", None, "rows attested at upgrade",
                                         {"after": {name: len(ids) for name, ids in rows.items()}})],
                     actor="smcase db upgrade", at=datetime.now(UTC), touched=rows)


def downgrade() -> None:
    attesting = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_entries WHERE rows_sha256 IS NOT NULL")).scalar_one()
    if attesting:
        # Their hashes cover rows_sha256: without it the chain would no longer verify from the first of them.
        raise RuntimeError(f"cannot go below 0005: {attesting} audit entries attest rows, and their hashes cover "
                           "the rows' digests")
    if op.get_bind().dialect.name == "sqlite":
        # Not in batch mode: that copies the table, and dropping the old one would cascade to the audit
        # payloads (ON DELETE CASCADE) and erase every entry's before/after values. SQLite drops a column
        # in place (3.35 and later).
        op.execute("ALTER TABLE audit_entries DROP COLUMN rows_sha256")
    else:
        op.drop_column('audit_entries', 'rows_sha256')
    with op.batch_alter_table('attestations', schema=None) as batch_op:
        batch_op.drop_index('ix_attestations_seq')
        batch_op.drop_index('ix_attestations_row')
    op.drop_table('attestations')
