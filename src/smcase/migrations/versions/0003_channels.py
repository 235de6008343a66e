"""Channels: plan fields, the channel's case, approvals and writing mandates.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:15:13.298299
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('approved_by', sa.String(length=100), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_channel_approvals_channel_id_channels')),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_channel_approvals_record_id_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_approvals')),
    sa.UniqueConstraint('channel_id', 'step', name=op.f('uq_channel_approvals_channel_id_step'))
    )
    op.create_table('mandates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('granted_by', sa.String(length=100), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_mandates_channel_id_channels')),
    sa.ForeignKeyConstraint(['record_id'], ['records.id'], name=op.f('fk_mandates_record_id_records')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandates'))
    )
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.create_index('ix_mandates_channel_user', ['channel_id', 'username'], unique=False)

    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('contact', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('purpose', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('plan', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('custody_location', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('controller_of_visitor_content', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('stop_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_channels_case_id_cases'), 'cases', ['case_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_channels_case_id_cases'), type_='foreignkey')
        batch_op.drop_column('stop_reason')
        batch_op.drop_column('stopped_at')
        batch_op.drop_column('started_at')
        batch_op.drop_column('case_id')
        batch_op.drop_column('controller_of_visitor_content')
        batch_op.drop_column('custody_location')
        batch_op.drop_column('plan')
        batch_op.drop_column('purpose')
        batch_op.drop_column('contact')
        batch_op.drop_column('owner')

    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.drop_index('ix_mandates_channel_user')

    op.drop_table('mandates')
    op.drop_table('channel_approvals')
