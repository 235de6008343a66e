"""The ``smcase`` command line: thin commands over the register service.

``create_cli()`` builds the command tree (no module-level state, so tests and
plugins get a fresh one); ``main()`` is the console-script entry point. Errors
become a one-line message at this edge only: exit 1 for an operation that
failed, exit 2 for misuse. ``SMCASE_DEBUG=1`` re-raises for a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ..errors import SmcaseError
from ..identity import scrub
from ..plugins import Plugins, create_plugins
from ..settings import DEFAULT_DB
from .app import App

# Built-in commands: name -> (module in smcase.cli, attribute, short help). A command's module, and the register,
# SQLAlchemy or lxml behind it, is imported only when that command runs, so that `smcase --help` and every command
# start quickly (issue 15). The short help is what `--help` lists without importing; test_cli keeps it equal to
# each command's own.
BUILTIN_COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("setup", "init",
             "Create a register in an empty database."),
    "db": ("setup", "db",
           "Database maintenance."),
    "rescan": ("setup", "rescan",
               "Scan every case, record, counterpart and event for identity numbers and withhold what holds one."),
    "info": ("info", "info",
             "Show the register: organisation, policy in force, and counts."),
    "case": ("cases", "case",
             "Open, find, show and close cases."),
    "record": ("records", "record",
               "Register and show records."),
    "class": ("classes", "class_group",
              "The filing plan (classification) every case belongs to."),
    "users": ("users", "users",
              "Users: individuals with roles from the policy."),
    "audit": ("audit", "audit",
              "The append-only, hash-chained audit log."),
    "policy": ("policy", "policy",
               "Policy files: the municipality's rules as TOML."),
    "ingest": ("ingest", "ingest",
               "Store every item of SOURCE (a file, or - for standard input) and register what must be."),
    "serve": ("serve", "serve",
              "Run the capture service: Facebook Page webhooks at /webhooks/facebook, /healthz and /metrics."),
    "capture": ("capture", "capture",
                "Capture from a platform's API: what is new since the last pass, edits and deletions included."),
    "inbox": ("inbox", "inbox",
              "Every ingested item, held or quarantined input, and open unpublish/removal work."),
    "channel": ("channels", "channel",
                "Channels: the plan, approvals, start and stop, mandates, the public list."),
    "duties": ("duties", "duties",
               "What is due or overdue, per channel, oldest first."),
    "snapshot": ("duties", "snapshot",
                 "Snapshots of channels (RAT-8, NOR-6, TOR-8)."),
    "monitor": ("duties", "monitor",
                "Monitoring checks of channels (RAT-10, TOR-4)."),
    "report": ("duties", "report",
               "Reports computed from the register."),
    "journal": ("journal", "journal",
                "Every record registered in the period, as it may be published: nothing secret, no citizen's name unless the policy allows it (RAT-9, TOR-9, NOR-7, REN-5)."),
    "dispose": ("dispose", "dispose",
                "Dispose of what the policy's rules say may go (RAT-7, VIM-6d, NOR-5, TOR-8); see 'smcase dispose log'."),
    "export": ("export", "export",
               "Archive extractions: Noark 5 v5.0 for Norway, FGS 2.0 (CSIP + CITS ERMS) for Sweden."),
    "validate": ("validate", "validate",
                 "Validate the archive package PATH rule by rule; exit 0 only when every rule passes."),
    "plugins": ("plugins", "plugins",
                "List plugins: built-in and installed, their versions, hooks and load errors."),
    "standards": ("standards", "standards",
                  "The official archive schemas smcase validates exports against (not shipped with smcase)."),
    "demo": ("demo", "demo",
             "Create a demo register with a realistic handful of cases and show it."),
}


class SmcaseGroup(click.Group):
    """The root group: loads built-in commands and plugins on first use, and turns errors into one-line messages.

    ``loaded`` is the plugin set to use (default: ``create_plugins()`` when first needed: by a command that uses
    plugins, by ``--help``, or by a command name that is not built in).
    """

    def __init__(self, *args: Any, loaded: Plugins | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugins = loaded
        self._plugin_commands_added = False
        self.plugin_problems: list[str] = []

    @property
    def plugins(self) -> Plugins:
        """The plugins, loaded on first use, with their commands added to the group."""
        if self._plugins is None:
            self._plugins = create_plugins()
        if not self._plugin_commands_added:
            self._plugin_commands_added = True
            commands, failures = self._plugins.cli_commands()
            self.plugin_problems += [f"plugin {f.plugin!r} could not give its commands: {f.reason}" for f in failures]
            for plugin, command in commands:
                if command.name in self.commands or command.name in BUILTIN_COMMANDS:
                    self.plugin_problems.append(
                        f"plugin {plugin!r} command {command.name!r} clashes with an existing command; not added")
                else:
                    self.add_command(command)
        return self._plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in and plugin commands, sorted."""
        self.plugins  # noqa: B018  (loading them adds their commands)
        return sorted(set(BUILTIN_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module if it is a built-in not yet loaded."""
        if cmd_name not in self.commands:
            if cmd_name in BUILTIN_COMMANDS:
                module, attribute, _help = BUILTIN_COMMANDS[cmd_name]
                self.add_command(getattr(importlib.import_module(f"{__name__}.{module}"), attribute), cmd_name)
            else:
                self.plugins  # noqa: B018  (perhaps a plugin's command)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, but a misspelt command is answered with the nearest names (``No such command 'inobx'.
        Did you mean 'inbox'?``)."""
        name = click.utils.make_str(args[0]) if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            import difflib

            near = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if near:
                ctx.fail(f"No such command {name!r}. Did you mean " + " or ".join(repr(n) for n in near) + "?")
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their short help, without importing the built-ins to read it."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
            else:
                # A stand-in holding the listed text, so that click shortens it as it shortens its own.
                rows.append((name, click.Command(name, help=BUILTIN_COMMANDS[name][2]).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
        except OverflowError:
            if os.environ.get("SMCASE_DEBUG"):
                raise
            # A number typed far beyond any id or count (99999999999999999999): the database cannot hold it.
            raise click.ClickException("a number given is too large: no id or count is that big") from None
        except OSError as exc:
            if os.environ.get("SMCASE_DEBUG"):
                raise
            # A file or folder the system refused (a missing folder for --out, no permission, a full disk): the
            # operation failed, exit 1, with the path the user typed and the system's reason.
            where = f" {os.fsdecode(exc.filename)}" if exc.filename else ""
            raise click.ClickException(scrub(f"cannot use{where}: {exc.strerror or type(exc).__name__}") or "") \
                from None
        except Exception as exc:
            if os.environ.get("SMCASE_DEBUG"):
                raise
            database_error = _database_error(exc)
            if database_error is not None:
                raise database_error from None
            # A bug, not bad input (bad input gets its own message): one line, never a traceback, and only the
            # error's type: its text may quote confidential content.
            raise click.ClickException(
                f"internal error ({type(exc).__name__}) in 'smcase {ctx.invoked_subcommand or ''}': run it again "
                "with SMCASE_DEBUG=1 for the details, and report it"
            ) from None


def _database_error(exc: Exception) -> click.ClickException | None:
    # SQLAlchemy is loaded only by commands that use the database: an error of its kind implies it is imported.
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError):
        return None
    # Only the driver's first line: the statement and its parameters may hold confidential text.
    first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
    kind = "cannot reach the database" if isinstance(exc, OperationalError) else "database error"
    return click.ClickException(scrub(f"{kind}: {first}") or kind)


def create_cli(loaded: Plugins | None = None) -> click.Group:
    """Build the ``smcase`` command group: every built-in command, and the plugins' commands.

    ``loaded`` is the plugin set to use (default: ``create_plugins()``, when first needed).
    """

    @click.group(cls=SmcaseGroup, loaded=loaded, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--db", "db_url", envvar="SMCASE_DB", default=DEFAULT_DB, show_default=True,
                  help="Database URL (sqlite:///file.db, postgresql://user@host/db) or an SQLite file path. [env: SMCASE_DB]")
    @click.option("--user", "user", envvar="SMCASE_USER", default=None,
                  help="Who acts: every change is attributed to this user. [env: SMCASE_USER; default: your login]")
    @click.version_option(package_name="smcase", prog_name="smcase")  # the version is read when asked for
    @click.pass_context
    def cli(ctx: click.Context, db_url: str, user: str | None) -> None:
        """smcase: the case register for a municipality's social media.

        Register cases with diary numbers, add records, and keep an audit log
        that proves nothing was changed unseen.
        """
        assert isinstance(ctx.command, SmcaseGroup)
        app = App(db_url=db_url, user=user, host=ctx.command)
        ctx.obj = app
        ctx.call_on_close(app.close)

    return cli


def main() -> None:
    """Console-script entry point."""
    create_cli()(prog_name="smcase")
