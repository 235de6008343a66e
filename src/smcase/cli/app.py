"""What a command needs from its surroundings: the engine, the store, the service."""

from __future__ import annotations

from dataclasses import dataclass, field

import click
from sqlalchemy import Engine

from ..db import files_dir_for, make_engine
from ..plugins import Plugins, create_plugins
from ..register import RegisterService
from ..store import FileStore


@dataclass
class App:
    """Per-invocation state, built lazily so that ``--help`` never touches the database."""

    db_url: str
    user: str | None
    plugins: Plugins = field(default_factory=create_plugins)
    plugin_problems: list[str] = field(default_factory=list)
    _engine: Engine | None = field(default=None, repr=False)
    _service: RegisterService | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        """The engine for ``--db``."""
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        return self._engine

    @property
    def files(self) -> FileStore:
        """The document store for ``--db`` (SMCASE_FILES or beside the SQLite file)."""
        return FileStore(files_dir_for(self.db_url))

    @property
    def service(self) -> RegisterService:
        """The register service acting as ``--user``."""
        if self._service is None:
            self._service = RegisterService.open(self.engine, user=self.user, files=self.files)
        return self._service

    def close(self) -> None:
        """Release the database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._service = None


pass_app = click.make_pass_decorator(App)
