"""Inbox search (issue 14, NOR-4, TOR-9): the database's own full-text index over events' text and authors,
and an index for the channel filter.

SQLite: a contentless FTS5 table over each event's text and author (name and
id), kept current by triggers, so that disposal, which empties them, empties
the index too. PostgreSQL: GIN indexes on ``to_tsvector('simple', ...)`` of the
same (built in: no extension; 'simple' because posts come in Swedish,
Norwegian and English).

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
        # ingest looks up answers stored before their comment by what they reply to, every batch
        batch_op.create_index('ix_events_reply', ['platform', 'in_reply_to'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # Contentless (the text is in events already): two columns, the text and the author (name and id).
        # Letters keep their diacritics (å, ä, ö, æ, ø are letters of their own), as PostgreSQL's 'simple' does;
        # case is folded for every alphabet.
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, author, content='', "
                   "tokenize='unicode61 remove_diacritics 0')")
        author = "coalesce({row}.author_name, '') || ' ' || coalesce({row}.author_id, '')"
        add = f"INSERT INTO {FTS}(rowid, text, author) VALUES (new.id, new.text, {author.format(row='new')});"
        drop = (f"INSERT INTO {FTS}({FTS}, rowid, text, author) "
                f"VALUES ('delete', old.id, old.text, {author.format(row='old')});")
        op.execute(f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON events BEGIN {add} END")
        op.execute(f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON events BEGIN {drop} END")
        op.execute(f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF text, author_name, author_id ON events "
                   f"BEGIN {drop} {add} END")
        op.execute(f"INSERT INTO {FTS}(rowid, text, author) SELECT id, text, {author.format(row='events')} "
                   "FROM events")
    else:
        op.execute(f"CREATE INDEX {FTS}_text ON events USING gin (to_tsvector('simple', coalesce(text, '')))")
        op.execute(f"CREATE INDEX {FTS}_author ON events USING gin (to_tsvector('simple', "
                   "coalesce(author_name, '') || ' ' || coalesce(author_id, '')))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    else:
        op.execute(f"DROP INDEX IF EXISTS {FTS}_text")
        op.execute(f"DROP INDEX IF EXISTS {FTS}_author")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_reply')
        batch_op.drop_index('ix_events_channel')
