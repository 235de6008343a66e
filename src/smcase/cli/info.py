"""``smcase info``: the register at a glance."""

from __future__ import annotations

import click

from ..db import describe
from .app import App, pass_app
from .output import emit_json, fields, output_formats


@click.command("info")
@output_formats()
@pass_app
def info(app: App, fmt: str) -> None:
    """Show the register: organisation, policy in force, and counts."""
    data = app.service.info()
    if fmt == "json":
        emit_json({**data.to_json(), "database": describe(app.engine.url)})
        return
    click.echo(data.name)
    click.echo(fields([
        ("organisation no.", data.org_number), ("country", data.country), ("time zone", data.timezone),
        ("policy", f"{data.policy_name} {data.policy_version}"), ("database", describe(app.engine.url)),
        ("cases", str(data.cases)), ("records", str(data.records)), ("users", str(data.users)),
    ]))
