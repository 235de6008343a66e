"""``smcase validate``: check an archive package rule by rule."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..fgs import VERSIONS, erms_version
from ..standards import ENV, Standards
from ..validate import validate as validate_package
from .output import InputPath, choice, emit_json


@click.command("validate")
@click.argument("path", type=InputPath(path_type=Path))
@click.option("--standards", "folder", metavar="DIR", help=f"The folder of official schemas. [env: {ENV}]")
@click.option("--erms-version", "version", type=choice(sorted(VERSIONS)),
              help="The CITS ERMS version a bare ERMS file claims (a package says it in METS).")
@click.option("--json", "as_json", is_flag=True, help="Print the per-rule report as JSON.")
def validate(path: Path, folder: str | None, version: str | None, as_json: bool) -> None:
    """Validate the archive package PATH rule by rule; exit 0 only when every rule passes.

    PATH is a Noark 5 extraction (folder or tar; checked as Arkade does), an FGS 2.0
    package (folder or zip; METS, CSIP/SIP, files, ERMS), or a bare ERMS file
    (with --erms-version).
    """
    report = validate_package(path, Standards.from_option(folder), erms_version(version) if version else None)
    if as_json:
        emit_json(report.to_json())
    else:
        width = max(len(rule.id) for rule in report.rules)
        indent = " " * (width + 9)
        for rule in report.rules:
            click.echo(f"{rule.id:<{width}}  {'OK    ' if rule.ok else 'ERROR '} {rule.name}")
            for error in rule.errors:
                click.echo(f"{indent}{error}")
            if rule.more:
                click.echo(f"{indent}… and {rule.more} more")
            for warning in rule.warnings:
                click.echo(f"{indent}warning: {warning}")
        click.echo(f"{path}: {'all rules pass' if report.ok else 'errors in ' + ', '.join(report.failed())}")
    if not report.ok:
        sys.exit(1)
