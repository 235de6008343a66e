"""``smcase standards check``: are the official archive schemas there, and do they load offline?"""

from __future__ import annotations

import sys

import click

from ..standards import ENV, OFFICIAL, Standards
from .output import emit_json

_FILES = "\n".join(f"  {o.path:<40} {o.what}; {o.publisher}" for o in OFFICIAL)


@click.group("standards")
def standards() -> None:
    """The official archive schemas smcase validates exports against (not shipped with smcase)."""


@standards.command("check", epilog=f"The folder holds (relative path, what, published by):\n\n{_FILES}")
@click.option("--standards", "folder", metavar="DIR", help=f"The folder of official schemas. [env: {ENV}]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def standards_check(folder: str | None, as_json: bool) -> None:
    """Check that every official file is present and every schema compiles offline; exit 1 if not."""
    results = Standards.from_option(folder).check()
    if as_json:
        emit_json([{"file": o.path, "what": o.what, "ok": problem is None, "problem": problem}
                   for o, problem in results])
    else:
        for official, problem in results:
            click.echo(f"{official.path}: {'OK' if problem is None else problem}")
    if any(problem for _o, problem in results):
        sys.exit(1)
