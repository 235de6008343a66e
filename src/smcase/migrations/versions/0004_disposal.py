"""Disposal: the disposal log, and when a record's content was disposed of.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_uuid', sa.Uuid(), nullable=False),
    sa.Column('ref', sa.String(length=400), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('what', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposals'))
    )
    with op.batch_alter_table('disposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disposals_at'), ['at'], unique=False)

    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disposed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # In place, not by copying the table: dropping the old copy would cascade to the records'
        # correspondents and documents (ON DELETE CASCADE).
        op.execute("ALTER TABLE records DROP COLUMN disposed_at")
    else:
        op.drop_column('records', 'disposed_at')

    with op.batch_alter_table('disposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disposals_at'))

    op.drop_table('disposals')
