"""``smcase record …``: register documents and messages in a case."""

from __future__ import annotations

from pathlib import Path

import click

from ..access import RecordView
from ..register import Party, RecordSpec
from .app import App, pass_app
from .output import InputPath, choice, emit, fields, output_formats, plural, when


def render_record(r: RecordView) -> str:
    """A record as a person reads it."""
    lines = [f"{r.number}  {r.title}"]
    lines.append(fields([
        ("public title", r.public_title if r.public_title != r.title else None),
        ("direction", r.direction), ("kind", r.kind), ("registered", f"{when(r.registered_at)} by {r.registered_by}"),
        ("journal no.", f"{r.journal_seq}/{r.journal_year}" if r.journal_seq else None),
        ("confidential", f"{r.marking.ground} (withholds {', '.join(r.marking.withheld)})" if r.marking else None),
        ("source", " ".join(filter(None, (r.source.platform, r.source.url))) if r.source else None),
    ]))
    for p in r.correspondents:
        lines.append(f"  {p.role}: {p.name}" + (f", {p.address}" if p.address else ""))
    for d in r.documents:
        lines.append(f"  document {d.number}: {d.original_name} ({d.format}, {plural(d.size, 'byte')}, sha256 {d.sha256[:12]}…)")
    return "\n".join(lines)


@click.group("record")
def record() -> None:
    """Register and show records."""


@record.command("add")
@click.argument("number")
@click.option("--direction", required=True, type=choice(["in", "out", "internal", "memo"]),
              help="in: received; out: sent; internal: for follow-up; memo: note.")
@click.option("--description", "--title", "title", required=True, help="What the record is (its title).")
@click.option("--public-description", "public_title", help="Description shown publicly.")
@click.option("--from", "senders", multiple=True, metavar="PARTY", help="Sender (repeatable).")
@click.option("--to", "recipients", multiple=True, metavar="PARTY", help="Recipient (repeatable).")
@click.option("--file", "files", multiple=True, type=InputPath(dir_okay=False, path_type=Path),
              help="Attach a file (repeatable); stored by SHA-256.")
@click.option("--confidential", "ground", metavar="GROUND", help="Mark confidential under this legal ground.")
@click.option("--kind", default="document", show_default=True, help="Record kind (decides the disposal rule).")
@output_formats("text", "json")
@pass_app
def record_add(app: App, number: str, direction: str, title: str, public_title: str | None,
               senders: tuple[str, ...], recipients: tuple[str, ...], files: tuple[Path, ...],
               ground: str | None, kind: str, fmt: str) -> None:
    """Register a record in the case NUMBER and print its number."""
    parties = [Party("sender", s) for s in senders] + [Party("recipient", r) for r in recipients]
    added = app.service.add_record(number, RecordSpec(direction=direction, title=title, public_title=public_title,
                                                      kind=kind, parties=parties, files=files, confidential=ground))
    emit(fmt, added, lambda r: r.number)
    if ground is None and added.confidentiality and fmt != "json":
        # Marked by the service (an identity number in what was typed): the registrar is told, on stderr so
        # that the number alone stays on stdout for scripts.
        from ..identity import contains

        # The service's own test (the description holds a number); otherwise the record is withheld with its case.
        why = "its description holds an identity number" if contains(title) else "its case is marked"
        click.echo(f"{added.number} was marked confidential under {added.confidentiality}: {why}", err=True)


@record.command("show")
@click.argument("number")
@output_formats("text", "json")
@pass_app
def record_show(app: App, number: str, fmt: str) -> None:
    """Show one record, named by its number: 'KS 2026/0042-3'."""
    emit(fmt, app.service.get_record(number), render_record)
