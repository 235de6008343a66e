"""``smcase class …``: the filing plan."""

from __future__ import annotations

import click

from .app import App, pass_app
from .output import emit_json, output_formats, table


@click.group("class")
def class_group() -> None:
    """The filing plan (classification) every case belongs to."""


@class_group.command("add")
@click.argument("code")
@click.argument("title")
@pass_app
def class_add(app: App, code: str, title: str) -> None:
    """Add class CODE with TITLE to the filing plan."""
    added = app.service.add_class(code, title)
    click.echo(f"class {added.code} added")


@class_group.command("list")
@output_formats()
@pass_app
def class_list(app: App, fmt: str) -> None:
    """List the filing plan."""
    found = app.service.list_classes()
    if fmt == "json":
        emit_json([c.to_json() for c in found])
    else:
        click.echo(table([[c.code, c.title] for c in found], ["code", "title"]))
