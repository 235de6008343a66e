"""``smcase demo``: a demo register to look around in."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import click

from .. import audit
from ..db import make_engine
from ..demo import build_demo
from ..register import RegisterService
from ..store import FileStore
from .output import choice, plural, table


@click.command("demo")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo register (default: a new temporary folder). Must not hold one already.")
@click.option("--country", type=choice(["SE", "NO"]), default="SE", show_default=True,
              help="Swedish diary numbers (KS 2026/0001) or Norwegian Noark numbers (2026/1).")
def demo(folder: Path | None, country: str) -> None:
    """Create a demo register with a realistic handful of cases and show it."""
    country = country.upper()
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="smcase-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_file = folder / "smcase.db"
    if db_file.exists():
        raise click.ClickException(f"{db_file} exists already; give --dir a new folder")
    url = f"sqlite:///{db_file}"
    engine = make_engine(url)
    try:
        files = FileStore(folder / "smcase-files")
        steps = build_demo(engine, files, country=country)
        service = RegisterService.open(engine, user="anna", files=files)
        click.echo(f"Demo register {service.register_name!r} created in {db_file}\n")
        click.echo("What happened:")
        for step in steps:
            click.echo(f"  {step.number:<14} {step.what}")
        click.echo("\nThe register now:")
        cases = list(service.iter_cases())
        rows = [[c.diary_number, c.status, c.class_code, c.public_title, c.confidentiality or ""] for c in cases]
        secret = next((c.diary_number for c in cases if c.confidentiality), None)
        click.echo(table(rows, ["diary number", "status", "class", "public title", "confidential"]))
        result = audit.verify(engine)
        click.echo(f"\nAudit log: {plural(result.checked, 'entry', 'entries')}, {'chain verifies' if result.ok else 'BROKEN'}")
    finally:
        engine.dispose()
    click.echo("\nLook around:")
    click.echo(f"  export SMCASE_DB={url} SMCASE_USER=anna SMCASE_FILES={folder / 'smcase-files'}")
    click.echo(f"  smcase case show '{steps[0].number}'")
    click.echo("  smcase case list --json")
    click.echo("  smcase inbox list --open          # posts still to unpublish or remove")
    click.echo("  smcase audit verify")
    if secret:
        click.echo(f"  smcase --user erik case show '{secret}'   # erik has no clearance: [withheld: ...]")
    year = date.today().year
    click.echo(f"  smcase journal --from {year}-01-01 --to {year}-12-31 --format json   # what may be published")
    archive = "fgs archive.zip --zip" if country == "SE" else "noark5 uttrekk"
    click.echo(f"  smcase export {archive} --standards DIR   # the closed cases, for the archive (see README)")
