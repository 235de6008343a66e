"""``smcase plugins``: what is loaded, with versions, hooks and load errors."""

from __future__ import annotations

import click

from .app import App, pass_app
from .output import emit_json, output_formats, table


@click.command("plugins")
@output_formats()
@pass_app
def plugins(app: App, fmt: str) -> None:
    """List plugins: built-in and installed, their versions, hooks and load errors."""
    infos = app.plugins.info()
    if fmt == "json":
        emit_json({"plugins": [i.to_json() for i in infos], "problems": app.plugin_problems})
        return
    click.echo(table([[i.name, i.version, i.source, i.error or ", ".join(h.removeprefix("smcase_") for h in i.hooks)]
                      for i in infos], ["plugin", "version", "source", "hooks (or error)"]))
    for problem in app.plugin_problems:
        click.echo(f"problem: {problem}", err=True)
