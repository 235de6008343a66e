"""``smcase dispose``: disposal under the policy's rules, and its log."""

from __future__ import annotations

import sys
from contextlib import closing

import click

from .. import disposal
from .app import App, pass_app
from .output import ProgressReporter, emit_json, plural, table


@click.group("dispose", invoke_without_command=True)
@click.option("--dry-run", is_flag=True, help="List what would be disposed of, and under which rule; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask: the items listed are destroyed (needed when not on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@pass_app
@click.pass_context
def dispose(ctx: click.Context, app: App, dry_run: bool, yes: bool, as_json: bool, quiet: bool) -> None:
    """Dispose of what the policy's rules say may go (RAT-7, VIM-6d, NOR-5, TOR-8); see 'smcase dispose log'.

    Destroys content (text, raw payload, documents, audit payloads) in one
    transaction and logs each item; preserved items, held events and cases on
    legal hold are never touched. On a terminal it lists what is due and asks
    first; elsewhere it needs --yes.
    """
    if ctx.invoked_subcommand is not None:
        return
    service = app.service
    if not dry_run:
        service.require("archive.dispose")  # refused before anything is listed or asked
    items = list(disposal.due(service))
    if not dry_run and items and not yes:
        if not _on_terminal():
            raise click.UsageError("dispose destroys content for good: give --yes (or run it on a terminal to be "
                                   "asked first); --dry-run lists what is due")
        click.echo(_table(items), err=True)
        click.confirm(f"Destroy the content of {plural(len(items), 'item')}? This cannot be undone", abort=True,
                      err=True)
    if not dry_run and items:
        with closing(ProgressReporter(quiet)) as progress:
            items = disposal.dispose(service, only={i.uuid for i in items}, progress=progress)
    if as_json:
        emit_json([i.to_json() for i in items])
        return
    if not items:
        click.echo("Nothing is due for disposal.")
        return
    click.echo(_table(items))
    click.echo(f"{plural(len(items), 'item')} {'would be disposed of' if dry_run else 'disposed of'}")


def _on_terminal() -> bool:
    return sys.stdin.isatty()


def _table(items: list[disposal.DueItem]) -> str:
    return table([[i.entity, i.ref, i.rule, i.due.isoformat(), i.what] for i in items],
                 ["item", "reference", "rule", "due", "what"])


@dispose.command("log")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print the log as JSON.")
@pass_app
def dispose_log(app: App, limit: int | None, as_json: bool) -> None:
    """The disposal log: what was disposed of, under which rule, when and by whom."""
    entries = disposal.log(app.service, limit)
    if as_json:
        emit_json([e.to_json() for e in entries])
        return
    if not entries:
        click.echo("Nothing has been disposed of.")
        return
    click.echo(table([[e.at.isoformat(timespec="seconds"), e.actor, e.entity, e.ref, e.rule, e.what] for e in entries],
                     ["at", "by", "item", "reference", "rule", "what"]))
