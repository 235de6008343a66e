"""Inbox search (issue 14, NOR-4, TOR-9): the database's own full-text index over events' text, and indexes
for the channel and author filters.

SQLite: an FTS5 table over ``events.text`` (external content, kept current by
triggers, so that disposal, which empties the text, empties the index too).
PostgreSQL: a GIN index on ``to_tsvector('simple', text)`` (built in: no
extension; 'simple' because posts come in Swedish, Norwegian and English).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:05:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

#: The full-text objects (not in the model's metadata: the schema comparison leaves them out by this prefix).
FTS = "events_fts"


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_channel', ['channel'], unique=False)
        batch_op.create_index('ix_events_author_name', ['author_name'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # Letters keep their diacritics (å, ä, ö, æ, ø are letters of their own), as PostgreSQL's 'simple' does.
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, content='events', content_rowid='id', "
                   "tokenize='unicode61 remove_diacritics 0')")
        op.execute(f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON events BEGIN "
                   f"INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text); END")
        op.execute(f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON events BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text); END")
        op.execute(f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF text ON events BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text); "
                   f"INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text); END")
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    else:
        op.execute(f"CREATE INDEX {FTS}_text ON events USING gin (to_tsvector('simple', coalesce(text, '')))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    else:
        op.execute(f"DROP INDEX IF EXISTS {FTS}_text")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_author_name')
        batch_op.drop_index('ix_events_channel')
