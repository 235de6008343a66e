"""Live capture (issue 16): a channel's platform id and where its capture stands.

``capture_sources`` holds, per channel with live capture configured, the
platform's own id (a Facebook page id, a Mastodon account) that webhook
deliveries and polls are matched on, where to poll, the token file's path, and
the poller's position and last success (the "capture stalled" duty). It is
operational state and not attested; the configuration itself is registered as
a record in the channel's case.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_sources",
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id", name="fk_capture_sources_channel_id_channels"),
                  nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.String(300), nullable=False),
        sa.Column("instance", sa.String(500), nullable=True),
        sa.Column("token_file", sa.String(1000), nullable=True),
        sa.Column("configured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("configured_by", sa.String(100), nullable=False),
        sa.Column("position", sa.JSON(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("channel_id", name="pk_capture_sources"),
        sa.UniqueConstraint("platform", "platform_id", name="uq_capture_sources_platform_platform_id"),
    )


def downgrade() -> None:
    op.drop_table("capture_sources")
