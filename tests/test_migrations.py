"""Migrations: the schema they build is exactly the model, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from smcase.db import SCHEMA_REVISION, current_revision, head_revision, require_current, upgrade
from smcase.errors import ConfigError
from smcase.model import Base


def test_migrations_build_exactly_the_model(engine: Engine) -> None:
    assert upgrade(engine) == (None, head_revision())
    with engine.connect() as conn:
        # The full-text objects (an FTS5 table and its shadow tables; a GIN expression index) are the
        # database's own, made by migration 0006 and not part of the model.
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": lambda name, kind,
                                                         _parent: not (name or "").startswith("events_fts")})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    assert upgrade(engine) == (head_revision(), head_revision())
    assert current_revision(engine) == head_revision()


def test_an_outdated_or_missing_schema_is_refused_with_the_way_out(engine: Engine) -> None:
    with pytest.raises(ConfigError, match="run 'smcase init'"):
        require_current(engine)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(ConfigError, match=r"revision 0000, this smcase needs .*run 'smcase db upgrade'"):
        require_current(engine)


def test_the_schema_revision_commands_check_is_alembics_head() -> None:
    """Commands compare a register with SCHEMA_REVISION instead of parsing the migration scripts at start-up."""
    assert head_revision() == SCHEMA_REVISION
