"""``smcase validate``: check an archive package rule by rule."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..standards import ENV, Standards
from ..validate.noark5 import NoarkValidator
from .output import emit_json


@click.command("validate")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--standards", "folder", metavar="DIR", help=f"The folder of official schemas. [env: {ENV}]")
@click.option("--json", "as_json", is_flag=True, help="Print the per-rule report as JSON.")
def validate(path: Path, folder: str | None, as_json: bool) -> None:
    """Validate the Noark 5 extraction PATH (folder or tar) as Arkade does; exit 0 only when every rule passes."""
    report = NoarkValidator(Standards.from_option(folder)).validate(path)
    if as_json:
        emit_json(report.to_json())
    else:
        for rule in report.rules:
            click.echo(f"{rule.id}  {'OK    ' if rule.ok else 'ERROR '} {rule.name}")
            for error in rule.errors:
                click.echo(f"         {error}")
            if rule.more:
                click.echo(f"         … and {rule.more} more")
        click.echo(f"{path}: {'all rules pass' if report.ok else 'errors in ' + ', '.join(report.failed())}")
    if not report.ok:
        sys.exit(1)


def register(cli: click.Group) -> None:
    """Add this command to the root group."""
    cli.add_command(validate)
