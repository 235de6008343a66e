"""``smcase journal``: the public journal (SE postlista, NO offentlig journal)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..export.journal import FORMATS, PublicJournal
from ..standards import ENV, Standards
from .app import App, pass_app
from .output import OutputPath, choice, parse_period, plural, report_guard


@click.command("journal")
@click.option("--from", "start", required=True, metavar="DATE", help="First registration day (YYYY-MM-DD).")
@click.option("--to", "end", required=True, metavar="DATE", help="Last registration day (YYYY-MM-DD).")
@click.option("--format", "fmt", type=choice(FORMATS), default="html", show_default=True,
              help="html: an accessible page; json; xml: Noark 5 offentligJournal.xml (Norway, validated: needs the official schemas).")
@click.option("--out", type=OutputPath(path_type=Path), help="Write to FILE (atomically).")
@click.option("--standards", "folder", metavar="DIR", help=f"Official schemas, to validate the XML. [env: {ENV}]")
@pass_app
def journal(app: App, start: str, end: str, fmt: str, out: Path | None, folder: str | None) -> None:
    """Every record registered in the period, as it may be published: nothing secret, no citizen's name
    unless the policy allows it (RAT-9, TOR-9, NOR-7, REN-5)."""
    # Only the Norwegian XML is validated (a Swedish register is told so before any schema is looked for).
    standards = Standards.from_option(folder) if fmt == "xml" and app.service.policy.country == "NO" else None
    first, last = parse_period(start, end)
    assert first is not None and last is not None
    public = PublicJournal(app.service)
    count = public.write(fmt, first, last, out, sys.stdout, standards)
    report_guard(app.service, f"the {fmt} journal", public.caught)
    if out is not None:
        click.echo(f"{out}: {plural(count, 'journal entry', 'journal entries')} from {first} to {last}"
                   + (", valid against offentligJournal.xsd" if fmt == "xml" else ""))
