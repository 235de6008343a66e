"""``smcase dispose``: disposal under the policy's rules, and its log."""

from __future__ import annotations

import click

from .. import disposal
from .app import App, pass_app
from .output import emit_json, table


@click.group("dispose", invoke_without_command=True)
@click.option("--dry-run", is_flag=True, help="List what would be disposed of, and under which rule; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON.")
@pass_app
@click.pass_context
def dispose(ctx: click.Context, app: App, dry_run: bool, as_json: bool) -> None:
    """Dispose of what the policy's rules say may go (RAT-7, VIM-6d, NOR-5, TOR-8); see 'smcase dispose log'.

    Destroys content (text, raw payload, documents, audit payloads) in one
    transaction and logs each item; preserved items, held events and cases on
    legal hold are never touched.
    """
    if ctx.invoked_subcommand is not None:
        return
    items = list(disposal.due(app.service)) if dry_run else disposal.dispose(app.service)
    if as_json:
        emit_json([i.to_json() for i in items])
        return
    if items:
        click.echo(table([[i.entity, i.ref, i.rule, i.due.isoformat(), i.what] for i in items],
                         ["item", "reference", "rule", "due", "what"]))
    verb = "would be disposed of" if dry_run else "disposed of"
    click.echo(f"{len(items)} item{'s' if len(items) != 1 else ''} {verb}")


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
    click.echo(table([[e.at.isoformat(timespec="seconds"), e.actor, e.entity, e.ref, e.rule, e.what] for e in entries],
                     ["at", "by", "item", "reference", "rule", "what"]))
