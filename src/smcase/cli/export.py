"""``smcase export …``: archive extractions, validated against the official schemas."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import click

from ..export.fgs import FgsExport
from ..export.noark5 import NoarkExport
from ..fgs import VERSIONS, erms_version
from ..standards import ENV, Standards
from .app import App, pass_app
from .output import ProgressReporter, choice, emit_json, parse_day, plural, report_guard


def archive_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every archive export takes: the closing-day period, the standards folder, JSON output."""
    for option in reversed((
            click.option("--period-start", metavar="DATE", help="First closing day to include (default: the first)."),
            click.option("--period-end", metavar="DATE", help="Last closing day to include (default: the last)."),
            click.option("--standards", "folder", metavar="DIR", help=f"The folder of official schemas. [env: {ENV}]"),
            click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
            click.option("--quiet", "-q", is_flag=True, help="No progress on stderr."))):
        command = option(command)
    return command


@click.group("export")
def export() -> None:
    """Archive extractions: Noark 5 v5.0 for Norway, FGS 2.0 (CSIP + CITS ERMS) for Sweden."""


@export.command("noark5")
@click.argument("out", type=click.Path(path_type=Path))
@archive_options
@click.option("--tar", "as_tar", is_flag=True, help="Write OUT as one uncompressed tar (<uuid>/content/...).")
@pass_app
def export_noark5(app: App, out: Path, period_start: str | None, period_end: str | None, as_tar: bool,
                  folder: str | None, as_json: bool, quiet: bool) -> None:
    """Write a Noark 5 v5.0 extraction of the closed cases into the new folder (or, --tar, file OUT.tar) OUT (REN-6).

    Written to a temporary folder, validated against the official schemas, then
    moved into place; a failure leaves nothing behind.
    """
    if as_tar and out.suffix.lower() != ".tar":
        out = out.with_name(out.name + ".tar")  # so that 'smcase validate OUT.tar' finds it, as the summary says
    with closing(ProgressReporter(quiet)) as progress:
        done = NoarkExport(app.service, Standards.from_option(folder)).run(
            out, parse_day(period_start, "--period-start"), parse_day(period_end, "--period-end"), tar=as_tar,
            progress=progress)
    counts = done.counts
    report_guard(app.service, "offentligTittel and offentligJournal.xml", counts.guard_caught)
    if as_json:
        emit_json({"folder": str(done.folder), "period": [d.isoformat() for d in done.period],
                   "tar_sha256": done.tar_sha256, **counts.to_json()})
        return
    click.echo(f"{done.folder}: Noark 5 v5.0 extraction of {done.period[0]}–{done.period[1]}, valid against the "
               "official schemas")
    click.echo(f"  {plural(counts.cases, 'case')}, {plural(counts.records, 'journal post')}, {plural(counts.documents, 'document')}, "
               f"{plural(counts.changes, 'logged change')}, {plural(counts.screened, 'screened unit')}")
    if done.tar_sha256:
        click.echo(f"  SHA-256 of the tar (for the depot's INFO file): {done.tar_sha256}")
    if counts.open_cases:
        click.echo(f"  {plural(counts.open_cases, 'open case')} not extracted (only closed cases go in)", err=True)


@export.command("fgs")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--erms-version", "version", type=choice(sorted(VERSIONS)), default="3.0", show_default=True,
              help="CITS ERMS version inside the package (2.1 for receivers on FGS Ärendehantering 2.0 / SvKGS).")
@archive_options
@click.option("--zip", "as_zip", is_flag=True, help="Write OUT as one zip file with the package folder inside.")
@pass_app
def export_fgs(app: App, out: Path, version: str, period_start: str | None, period_end: str | None, as_zip: bool,
               folder: str | None, as_json: bool, quiet: bool) -> None:
    """Write an FGS 2.0 package (E-ARK CSIP/SIP METS with CITS ERMS) of the closed cases to the new OUT.

    OUT's name (without .zip) becomes the package identifier. Written to a
    temporary folder, validated against the official schemas and rules, then
    moved into place; a failure leaves nothing behind.
    """
    if as_zip and out.suffix.lower() != ".zip":
        out = out.with_name(out.name + ".zip")
    with closing(ProgressReporter(quiet)) as progress:
        done = FgsExport(app.service, Standards.from_option(folder), erms_version(version)).run(
            out, parse_day(period_start, "--period-start"), parse_day(period_end, "--period-end"), as_zip=as_zip,
            progress=progress)
    counts = done.counts
    report_guard(app.service, "the public titles (otherTitle)", counts.guard_caught)
    if as_json:
        emit_json({"path": str(done.path), "erms_version": done.erms_version,
                   "period": [d.isoformat() for d in done.period], "zip_sha256": done.zip_sha256, **counts.to_json()})
        return
    click.echo(f"{done.path}: FGS 2.0 package (CITS ERMS {done.erms_version}) of cases closed {done.period[0]}–"
               f"{done.period[1]}, valid against the official schemas and rules")
    click.echo(f"  {plural(counts.cases, 'case')}, {plural(counts.records, 'record')}, {plural(counts.documents, 'document')}, "
               f"{counts.confidential} marked confidential")
    if done.zip_sha256:
        click.echo(f"  SHA-256 of the zip: {done.zip_sha256}")
    if counts.open_cases:
        click.echo(f"  {plural(counts.open_cases, 'open case')} not exported (only closed cases go in)", err=True)
