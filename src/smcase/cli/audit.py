"""``smcase audit verify``: prove the audit log is whole."""

from __future__ import annotations

import sys

import click

from .. import audit as audit_log
from ..db import require_current
from .app import App, pass_app
from .output import emit_json, output_formats


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


def register(cli: click.Group) -> None:
    """Add this group to the root group."""
    cli.add_command(audit)
