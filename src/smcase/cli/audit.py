"""``smcase audit verify``: prove the audit log is whole."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from .. import audit as audit_log
from ..db import require_current
from .app import App, pass_app
from .output import emit_json, output_formats, table


@click.group("audit")
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify")
@output_formats("text", "json")
@pass_app
def audit_verify(app: App, fmt: str) -> None:
    """Check every entry of the chain; exit 1 at the first broken one."""
    require_current(app.engine)
    result = audit_log.verify(app.engine)
    if fmt == "json":
        emit_json({"ok": result.ok, "checked": result.checked,
                   "problem": {"seq": result.problem.seq, "reason": result.problem.reason} if result.problem else None})
    elif result.ok:
        click.echo(f"audit log OK: {result.checked} entries verified")
    else:
        assert result.problem is not None
        click.echo(f"audit log BROKEN at entry {result.problem.seq}: {result.problem.reason} "
                   f"({result.checked} entries before it verified)", err=True)
    if not result.ok:
        sys.exit(1)


@audit.command("log")
@click.option("--action", "prefix", metavar="PREFIX", help="Only actions starting so (e.g. 'case.read', 'user.').")
@click.option("--actor", help="Only what this user did.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="The newest N entries.")
@output_formats("table", "json")
@pass_app
def audit_log_list(app: App, prefix: str | None, actor: str | None, limit: int, fmt: str) -> None:
    """Who did (or read) what, when: the newest entries, without their payloads (which may be confidential)."""
    require_current(app.engine)
    # References name what was touched (a source file, a post's key): scrubbed for a user without clearance.
    shown = app.service.access.shown
    found = [replace(e, ref=shown(e.ref)) for e in audit_log.entries(app.engine, prefix=prefix, actor=actor,
                                                                    limit=limit)]
    if fmt == "json":
        emit_json([e.to_json() for e in found])
    else:
        click.echo(table([[e.seq, e.at.astimezone(app.service.tz).isoformat(timespec="seconds"), e.actor, e.action,
                           e.ref or ""] for e in found], ["seq", "at", "actor", "action", "reference"]))


def register(cli: click.Group) -> None:
    """Add this group to the root group."""
    cli.add_command(audit)
