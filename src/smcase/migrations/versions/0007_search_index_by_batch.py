"""Ingest indexes a batch's events for search in one statement (issue 15): the per-row insert trigger goes.

On SQLite the FTS5 index was kept current on insert by a trigger, one FTS
statement per event: four fifths of the cost of storing an event. Ingest, the
only writer of events, now indexes each batch with one ``INSERT … SELECT`` in
the same transaction (``ingest.index_for_search``). The delete and update
triggers stay: disposal and the rare rewrite of an event go through them.
PostgreSQL's GIN indexes are unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 19:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

FTS = "events_fts"
_AUTHOR = "coalesce(new.author_name, '') || ' ' || coalesce(new.author_id, '')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}_insert")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON events BEGIN "
                   f"INSERT INTO {FTS}(rowid, text, author) VALUES (new.id, new.text, {_AUTHOR}); END")
