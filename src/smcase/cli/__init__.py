"""The ``smcase`` command line: thin commands over the register service.

``create_cli()`` builds the command tree (no module-level state, so tests and
plugins get a fresh one); ``main()`` is the console-script entry point. Errors
become a one-line message at this edge only: exit 1 for an operation that
failed, exit 2 for misuse. ``SMCASE_DEBUG=1`` re-raises for a traceback.
"""

from __future__ import annotations

import os
from typing import Any

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from .. import __version__
from ..db import DEFAULT_DB
from ..errors import SmcaseError
from ..identity import scrub
from ..plugins import Plugins, create_plugins
from . import (
    audit,
    cases,
    channels,
    classes,
    demo,
    dispose,
    duties,
    export,
    inbox,
    info,
    ingest,
    journal,
    plugins,
    policy,
    records,
    setup,
    standards,
    users,
    validate,
)
from .app import App

_GROUPS = (setup, info, cases, records, classes, users, audit, policy, ingest, inbox, channels, duties, journal, dispose, export,
           validate, plugins, standards, demo)


class SmcaseGroup(click.Group):
    """The root group: turns smcase's own errors into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            # Click quotes what was typed ("Invalid value for '--from': …"): no identity number in the message.
            message = exc.format_message()
            if scrub(message) == message:
                raise
            if isinstance(exc, click.UsageError):
                raise click.UsageError(scrub(message) or "", exc.ctx) from None
            raise click.ClickException(scrub(message) or "") from None
        except (click.exceptions.Exit, click.Abort):
            raise
        except SmcaseError as exc:
            if os.environ.get("SMCASE_DEBUG"):
                raise
            # Messages name what was typed (a user, a diary number, a file): never an identity number in them.
            raise click.ClickException(scrub(str(exc)) or "") from None
        except DBAPIError as exc:
            if os.environ.get("SMCASE_DEBUG"):
                raise
            # Only the driver's first line: the statement and its parameters may hold confidential text.
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            kind = "cannot reach the database" if isinstance(exc, OperationalError) else "database error"
            raise click.ClickException(scrub(f"{kind}: {first}") or kind) from None
        except Exception as exc:
            if os.environ.get("SMCASE_DEBUG"):
                raise
            # A bug, not bad input (bad input gets its own message): one line, never a traceback, and only the
            # error's type: its text may quote confidential content.
            raise click.ClickException(
                f"internal error ({type(exc).__name__}) in 'smcase {ctx.invoked_subcommand or ''}': run it again "
                "with SMCASE_DEBUG=1 for the details, and report it"
            ) from None


def create_cli(loaded: Plugins | None = None) -> click.Group:
    """Build the ``smcase`` command group: every built-in command, then the plugins' commands.

    ``loaded`` is the plugin set to use (default: ``create_plugins()``).
    """
    loaded = loaded if loaded is not None else create_plugins()
    problems: list[str] = []

    @click.group(cls=SmcaseGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--db", "db_url", envvar="SMCASE_DB", default=DEFAULT_DB, show_default=True,
                  help="Database URL (sqlite:///file.db, postgresql://user@host/db) or an SQLite file path. [env: SMCASE_DB]")
    @click.option("--user", "user", envvar="SMCASE_USER", default=None,
                  help="Who acts: every change is attributed to this user. [env: SMCASE_USER; default: your login]")
    @click.version_option(__version__, prog_name="smcase")
    @click.pass_context
    def cli(ctx: click.Context, db_url: str, user: str | None) -> None:
        """smcase: the case register for a municipality's social media.

        Register cases with diary numbers, add records, and keep an audit log
        that proves nothing was changed unseen.
        """
        app = App(db_url=db_url, user=user, plugins=loaded, plugin_problems=problems)
        ctx.obj = app
        ctx.call_on_close(app.close)

    for module in _GROUPS:
        module.register(cli)
    commands, failures = loaded.cli_commands()
    problems += [f"plugin {f.plugin!r} could not give its commands: {f.reason}" for f in failures]
    for plugin, command in commands:
        if command.name in cli.commands:
            problems.append(f"plugin {plugin!r} command {command.name!r} clashes with an existing command; not added")
        else:
            cli.add_command(command)
    return cli


def main() -> None:
    """Console-script entry point."""
    create_cli()(prog_name="smcase")
