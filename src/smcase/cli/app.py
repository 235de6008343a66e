"""What a command needs from its surroundings: the engine, the store, the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import click

from ..plugins import Plugins

if TYPE_CHECKING:  # imported when first used: `--help` and commands without a register never load them
    from sqlalchemy import Engine

    from ..register import RegisterService
    from ..store import FileStore


class PluginHost(Protocol):
    """Where the plugins come from: the root command group, which loads them on first use."""

    @property
    def plugins(self) -> Plugins: ...  # noqa: D102

    plugin_problems: list[str]


@dataclass
class App:
    """Per-invocation state, built lazily so that ``--help`` never touches the database."""

    db_url: str
    user: str | None
    host: PluginHost
    _engine: Engine | None = field(default=None, repr=False)
    _service: RegisterService | None = field(default=None, repr=False)

    @property
    def plugins(self) -> Plugins:
        """The plugins (loaded on first use: a command that needs none never pays for them)."""
        return self.host.plugins

    @property
    def plugin_problems(self) -> list[str]:
        """Plugins that could not give their commands, and commands that clash."""
        self.host.plugins  # noqa: B018  (loading them finds the problems)
        return self.host.plugin_problems

    @property
    def engine(self) -> Engine:
        """The engine for ``--db``."""
        if self._engine is None:
            from ..db import make_engine

            self._engine = make_engine(self.db_url)
        return self._engine

    @property
    def files(self) -> FileStore:
        """The document store for ``--db`` (SMCASE_FILES or beside the SQLite file)."""
        from ..db import files_dir_for
        from ..store import FileStore

        return FileStore(files_dir_for(self.db_url))

    @property
    def service(self) -> RegisterService:
        """The register service acting as ``--user``."""
        if self._service is None:
            from ..register import RegisterService

            self._service = RegisterService.open(self.engine, user=self.user, files=self.files)
        return self._service

    def close(self) -> None:
        """Release the database connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._service = None


pass_app = click.make_pass_decorator(App)
