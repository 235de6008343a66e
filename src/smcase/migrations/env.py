"""Alembic environment: smcase always hands Alembic an open connection."""

from __future__ import annotations

from alembic import context

from smcase.model import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - smcase never runs Alembic without one
    raise RuntimeError("smcase migrations run through 'smcase db upgrade', which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
