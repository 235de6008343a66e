"""Database access: engines, transactions, and migrations.

SQLite is the embedded default (one file, WAL). Every write transaction on
SQLite starts with ``BEGIN IMMEDIATE`` so that a writer takes the database
lock before it reads a counter: two writers can then never both read the same
number, and nobody deadlocks upgrading a read lock. Read-only work uses
``read_only(engine)``, which begins deferred and never blocks writers in WAL.

PostgreSQL is reached with psycopg 3; a plain ``postgresql://`` URL is taken to
mean that driver.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import ArgumentError, OperationalError

from .errors import ConfigError
from .settings import DEFAULT_DB as DEFAULT_DB  # re-exported: the one default

if TYPE_CHECKING:  # alembic is imported where a migration runs: every other command starts without it
    from alembic.config import Config

SCHEMA_REVISION = "0009"
"""The newest migration (``migrations/versions``): what every command but ``init`` and ``db upgrade`` needs.
Kept here so that checking a register's schema does not parse the migration scripts; a test keeps it equal
to alembic's head."""
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_READ_ONLY = "smcase_read_only"


def parse_url(url: str) -> URL:
    """An SQLAlchemy URL from a URL or a bare file path (taken as SQLite)."""
    if "://" not in url:
        url = f"sqlite:///{url}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"not a database URL: {url!r}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    return parsed


def describe(url: URL | str) -> str:
    """The URL as it may be shown to a person: never with its password."""
    parsed = parse_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def make_engine(url: URL | str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with smcase's transaction rules installed."""
    parsed = parse_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            folder = Path(database).expanduser().resolve().parent
            if not folder.is_dir():
                raise ConfigError(f"cannot create database {database!r}: folder {folder} does not exist")
        engine = create_engine(parsed, **kwargs)
        _install_sqlite_rules(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", False)
    return create_engine(parsed, **kwargs)


def _install_sqlite_rules(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below), so the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def read_only(engine: Engine) -> Engine:
    """A view of ``engine`` for read-only transactions: deferred BEGIN on SQLite (a snapshot from the first read,
    in WAL), REPEATABLE READ on PostgreSQL (one snapshot for the whole transaction, so a long read such as
    ``audit verify`` never sees half of a write that commits meanwhile)."""
    if engine.url.get_backend_name() == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ", **{_READ_ONLY: True})
    return engine.execution_options(**{_READ_ONLY: True})


def files_dir_for(url: URL | str) -> Path:
    """Where documents are stored: ``SMCASE_FILES``, else beside an SQLite file, else ./smcase-files."""
    configured = os.environ.get("SMCASE_FILES")
    if configured:
        return Path(configured).expanduser()
    parsed = parse_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        db_path = Path(str(parsed.database)).expanduser()
        return db_path.with_name(db_path.stem + "-files")
    return Path("smcase-files")


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration this version of smcase knows, as alembic reads it from the scripts."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at; None for an empty database."""
    with connect(read_only(engine)) as conn:
        # alembic's own table, read directly: importing alembic would cost every command its start-up time.
        if not inspect(conn).has_table("alembic_version"):
            return None
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise ConfigError(f"the register's schema has several heads ({', '.join(sorted(versions))}): "
                          "it was migrated by something other than smcase")
    return versions[0] if versions else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to the newest schema; returns (from, to) revisions."""
    from alembic import command

    before = current_revision(engine)
    with connect(engine) as conn, conn.begin():
        command.upgrade(_alembic_config(conn), "head")
    return before, head_revision()


def require_current(engine: Engine) -> None:
    """Raise ConfigError unless the database schema is at this smcase's newest migration."""
    database = engine.url.database
    is_file = engine.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    if is_file and not Path(str(database)).expanduser().exists():
        # Say so rather than let SQLite create an empty file as a side effect of a read.
        raise ConfigError(f"no register in {describe(engine.url)}: the file does not exist; run 'smcase init'")
    current = current_revision(engine)
    if current is None:
        raise ConfigError(f"no register in {describe(engine.url)}: run 'smcase init' first")
    if current != SCHEMA_REVISION:
        raise ConfigError(
            f"database schema is at revision {current}, this smcase needs {SCHEMA_REVISION}: run 'smcase db upgrade'"
        )


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows with one driver ``executemany``, converting each column's values once.

    Values go through the column type's own bind processor (so they are stored
    exactly as an ORM or Core insert stores them), without the per-row
    bookkeeping of a Core ``insert()``: this is the ingest hot path.
    """
    if not rows:
        return
    dialect = conn.dialect
    columns = list(rows[0])
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})")
    # Prepared tuples: one itemgetter per row, and a conversion only for the columns whose type has one.
    values = operator.itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    converted = [(index, process) for index, process in enumerate(processors) if process is not None]
    params: list[Any] = []
    append = params.append
    for row in rows:
        if converted:
            prepared = list(values(row))
            for index, process in converted:
                prepared[index] = process(prepared[index])
            append(tuple(prepared))
        else:
            append(values(row))
    conn.exec_driver_sql(sql, params)


def connect(engine: Engine) -> Connection:
    """A connection, with an unreachable database reported as a ConfigError naming it."""
    try:
        return engine.connect()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ConfigError(f"cannot reach database {describe(engine.url)}: {reason}") from None
