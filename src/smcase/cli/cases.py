"""``smcase case …``: open, find, show, change, close and reopen cases."""

from __future__ import annotations

import click

from ..access import CaseView, RecordView, withheld
from ..register import CaseSpec
from .app import App, pass_app
from .output import choice, emit, emit_json, fields, output_formats, parse_period, table, when

DIRECTION_SHORT = {"incoming": "in", "outgoing": "out", "internal": "internal", "memo": "memo"}


def render_case(case: CaseView) -> str:
    """A case and its records as a person reads them."""
    lines = [f"{case.diary_number}  {case.title}"]
    marking = None
    if case.marking:
        marking = f"{case.marking.ground} (withholds {', '.join(case.marking.withheld)})"
    lines.append(fields([
        ("public title", case.public_title if case.public_title != case.title else None),
        ("status", case.status), ("class", f"{case.class_code} {case.class_title}"),
        ("owner unit", case.owner_unit), ("officer", case.officer), ("opened", when(case.opened_at)),
        ("closed", when(case.closed_at)), ("confidential", marking), ("disposal rule", case.disposal_rule),
        ("legal hold", "yes" if case.legal_hold else None), ("channel", case.channel),
    ]))
    if case.records:
        lines.append("Records")
        lines.append(table([_record_row(r) for r in case.records],
                           ["no.", "registered", "dir", "description", "parties", "documents"]))
    elif case.records is not None:
        lines.append("No records yet.")
    return "\n".join(lines)


def _record_row(r: RecordView) -> list[object]:
    parties = ", ".join(f"{'from' if p.role == 'sender' else 'to'} {p.name}" for p in r.correspondents)
    # A withheld title already names its ground: the marking is added only where the title is shown.
    shown = r.confidentiality and r.title != withheld(r.confidentiality)
    title = r.title + (f" [{r.confidentiality}]" if shown else "")
    return [r.running_number, r.registered_at, DIRECTION_SHORT[r.direction], title, parties,
            len(r.documents) or ""]


@click.group("case")
def case() -> None:
    """Open, find, show and close cases."""


@case.command("open")
@click.option("--title", required=True, help="What the case is about.")
@click.option("--public-title", help="Title shown publicly (default: the title, or a placeholder when confidential).")
@click.option("--class", "class_code", help="Filing-plan class code (default: the policy's default class).")
@click.option("--confidential", "ground", metavar="GROUND", help="Mark confidential under this legal ground (id or citation).")
@click.option("--unit", "owner_unit", help="Owning administrative unit.")
@click.option("--officer", help="Responsible officer (user name; default: you).")
@output_formats("text", "json")
@pass_app
def case_open(app: App, title: str, public_title: str | None, class_code: str | None, ground: str | None,
              owner_unit: str | None, officer: str | None, fmt: str) -> None:
    """Open a case and print its diary number."""
    opened = app.service.open_case(CaseSpec(title=title, public_title=public_title, class_code=class_code,
                                            confidential=ground, owner_unit=owner_unit, officer=officer))
    emit(fmt, opened, lambda c: c.diary_number)
    if ground is None and opened.confidentiality and fmt != "json":  # marked by the service: say so (stderr)
        click.echo(f"{opened.diary_number} was marked confidential under {opened.confidentiality}: it holds an "
                   "identity number", err=True)


@case.command("list")
@click.option("--status", type=choice(["open", "in_progress", "closed"]), help="Only cases with this status.")
@click.option("--text", help="Only cases whose diary number, title or public title contains this.")
@click.option("--from", "opened_from", metavar="DATE", help="Opened on or after this day (YYYY-MM-DD).")
@click.option("--to", "opened_to", metavar="DATE", help="Opened on or before this day (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many cases.")
@output_formats()
@pass_app
def case_list(app: App, status: str | None, text: str | None, opened_from: str | None, opened_to: str | None,
              limit: int | None, fmt: str) -> None:
    """List cases, oldest first."""
    first, last = parse_period(opened_from, opened_to)
    found = app.service.iter_cases(status=status, text=text, opened_from=first, opened_to=last, limit=limit)
    if fmt == "json":
        emit_json([c.to_json() for c in found])
        return
    rows = [[c.diary_number, c.status, c.opened_at.date(), c.class_code,
             c.title + (" [confidential]" if c.marking else "")] for c in found]
    if rows:
        click.echo(table(rows, ["diary number", "status", "opened", "class", "title"]))
    else:
        click.echo("No cases match.", err=True)


@case.command("show")
@click.argument("number")
@output_formats("text", "json")
@pass_app
def case_show(app: App, number: str, fmt: str) -> None:
    """Show a case with its records."""
    emit(fmt, app.service.get_case(number), render_case)


@case.command("update")
@click.argument("number")
@click.option("--title", help="New title.")
@click.option("--public-title", help="New public title.")
@click.option("--class", "class_code", help="New filing-plan class.")
@click.option("--unit", "owner_unit", help="New owning unit.")
@click.option("--officer", help="New responsible officer (user name).")
@click.option("--disposal-rule", help="New disposal rule (id from the policy).")
@click.option("--status", type=choice(["in_progress"]), help="Mark the case as being handled.")
@output_formats("text", "json")
@pass_app
def case_update(app: App, number: str, title: str | None, public_title: str | None, class_code: str | None,
                owner_unit: str | None, officer: str | None, disposal_rule: str | None, status: str | None,
                fmt: str) -> None:
    """Change a case's details; every change is audited."""
    updated = app.service.update_case(number, title=title, public_title=public_title, class_code=class_code,
                                      owner_unit=owner_unit, officer=officer, disposal_rule=disposal_rule,
                                      status=status)
    emit(fmt, updated, lambda c: f"{c.diary_number} updated")


@case.command("close")
@click.argument("number")
@pass_app
def case_close(app: App, number: str) -> None:
    """Close a case."""
    closed = app.service.close_case(number)
    click.echo(f"{closed.diary_number} closed")


@case.command("reopen")
@click.argument("number")
@click.option("--reason", required=True, help="Why the case is reopened (kept in the audit log).")
@pass_app
def case_reopen(app: App, number: str, reason: str) -> None:
    """Reopen a closed case."""
    reopened = app.service.reopen_case(number, reason)
    click.echo(f"{reopened.diary_number} reopened")


@case.command("hold")
@click.argument("number")
@click.option("--release", is_flag=True, help="Lift the legal hold instead.")
@pass_app
def case_hold(app: App, number: str, release: bool) -> None:
    """Put a legal hold on a case: nothing of it is disposed of until it is released."""
    held = app.service.hold(number, not release)
    click.echo(f"{held.diary_number} {'is on legal hold' if held.legal_hold else 'is no longer on legal hold'}")


@case.command("mark")
@click.argument("number")
@click.option("--ground", help="Legal ground (id or citation from the policy).")
@click.option("--lift", is_flag=True, help="Lift the marking instead (needs clearance and --reason).")
@click.option("--reason", help="Why a marking is changed or lifted (required then; audited).")
@pass_app
def case_mark(app: App, number: str, ground: str | None, lift: bool, reason: str | None) -> None:
    """Mark a case or record (NUMBER-n) confidential, or change or lift its marking.

    Marking needs only the permission; changing or lifting a marking needs
    clearance as well, and a reason.
    """
    if bool(ground) == lift:
        raise click.UsageError("give either --ground GROUND or --lift")
    marked = app.service.mark(number, None if lift else ground, reason)
    shown = marked.diary_number if isinstance(marked, CaseView) else marked.number
    click.echo(f"{shown} marked confidential under {marked.confidentiality}" if marked.confidentiality
               else f"{shown} is no longer marked confidential")
