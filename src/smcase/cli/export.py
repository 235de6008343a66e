"""``smcase export …``: archive extractions, validated against the official schemas."""

from __future__ import annotations

from pathlib import Path

import click

from ..export.noark5 import NoarkExport
from ..standards import ENV, Standards
from .app import App, pass_app
from .output import emit_json, parse_day


@click.group("export")
def export() -> None:
    """Archive extractions (Noark 5 v5.0 for Norway)."""


@export.command("noark5")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--period-start", metavar="DATE", help="First closing day to include (default: the first).")
@click.option("--period-end", metavar="DATE", help="Last closing day to include (default: the last).")
@click.option("--tar", "as_tar", is_flag=True, help="Write OUT as one uncompressed tar (<uuid>/content/...).")
@click.option("--standards", "folder", metavar="DIR", help=f"The folder of official schemas. [env: {ENV}]")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def export_noark5(app: App, out: Path, period_start: str | None, period_end: str | None, as_tar: bool,
                  folder: str | None, as_json: bool) -> None:
    """Write a Noark 5 v5.0 extraction of the closed cases into the new folder (or, --tar, file) OUT (REN-6).

    Written to a temporary folder, validated against the official schemas, then
    moved into place; a failure leaves nothing behind.
    """
    done = NoarkExport(app.service, Standards.from_option(folder)).run(
        out, parse_day(period_start, "--period-start"), parse_day(period_end, "--period-end"), tar=as_tar)
    counts = done.counts
    if as_json:
        emit_json({"folder": str(done.folder), "period": [d.isoformat() for d in done.period],
                   "tar_sha256": done.tar_sha256, **counts.to_json()})
        return
    click.echo(f"{done.folder}: Noark 5 v5.0 extraction of {done.period[0]}–{done.period[1]}, valid against the "
               "official schemas")
    click.echo(f"  {counts.cases} cases, {counts.records} journal posts, {counts.documents} documents, "
               f"{counts.changes} logged changes, {counts.screened} screened units")
    if done.tar_sha256:
        click.echo(f"  SHA-256 of the tar (for the depot's INFO file): {done.tar_sha256}")
    if counts.open_cases:
        click.echo(f"  {counts.open_cases} open cases were not extracted (only closed cases go in)", err=True)


def register(cli: click.Group) -> None:
    """Add this group to the root group."""
    cli.add_command(export)
