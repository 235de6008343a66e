"""``smcase duties``, ``snapshot add``, ``monitor log`` and ``report annual``: what falls due, and doing it."""

from __future__ import annotations

from pathlib import Path

import click

from .. import checkpoints, reports
from .. import duties as duty_rules
from .app import App, pass_app
from .channels import channels_of
from .output import InputPath, emit_json, parse_day, table


@click.command("duties")
@click.option("--at", "at_day", metavar="DATE", help="As on this day (YYYY-MM-DD; default today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def duties(app: App, at_day: str | None, as_json: bool) -> None:
    """What is due or overdue, per channel, oldest first."""
    found = duty_rules.compute(app.service, parse_day(at_day, "--at"))
    if as_json:
        emit_json([d.to_json() for d in found])
    elif found:
        click.echo(table([[d.due, "OVERDUE" if d.overdue else "", d.kind, d.channel or "", d.detail] for d in found],
                         ["due", "", "duty", "channel", "detail"], whole=["detail"]))  # the reason is the point
    else:
        click.echo("Nothing is due.")


@click.group("snapshot")
def snapshot() -> None:
    """Snapshots of channels (RAT-8, NOR-6, TOR-8)."""


@snapshot.command("add")
@click.argument("channel_ref", metavar="CHANNEL")
@click.argument("file", type=InputPath(dir_okay=False, path_type=Path))
@pass_app
def snapshot_add(app: App, channel_ref: str, file: Path) -> None:
    """Register FILE (PNG, PDF/A...) as a snapshot of CHANNEL; stored by SHA-256."""
    service = app.service
    today = service.clock().astimezone(service.tz).date()
    title = f"{'Øyeblikksbilde' if service.policy.country == 'NO' else 'Ögonblicksbild'} {today}: {file.name}"
    number = channels_of(app).log(channel_ref, "snapshot", title, files=[file])
    click.echo(f"{number}: snapshot of channel {channel_ref} registered ({file.name})")


@click.group("monitor")
def monitor() -> None:
    """Monitoring checks of channels (RAT-10, TOR-4)."""


@monitor.command("log")
@click.argument("channel_ref", metavar="CHANNEL")
@click.option("--note", default="Kontroll av inlägg och kommentarer", show_default=True, help="What was checked.")
@pass_app
def monitor_log(app: App, channel_ref: str, note: str) -> None:
    """Register that CHANNEL was checked."""
    number = channels_of(app).log(channel_ref, "monitoring", note)
    click.echo(f"{number}: check of channel {channel_ref} registered ({note})")


@click.group("report")
def report() -> None:
    """Reports computed from the register."""


@report.command("annual")
@click.option("--year", required=True, type=click.IntRange(1990, 2999), help="The calendar year.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--register", "keep", is_flag=True, help="Also register each report in its channel's case (TOR-7).")
@pass_app
def report_annual(app: App, year: int, as_json: bool, keep: bool) -> None:
    """The follow-up report per channel (TOR-7)."""
    found = reports.annual(app.service, year)
    numbers = reports.register(app.service, found) if keep and found else []
    mark = checkpoints.take(app.service)  # published with the report: the chain's head, outside the database
    if as_json:
        emit_json([r.to_json() for r in found])
    else:
        click.echo(f"Audit checkpoint (publish it with the report): entry {mark.seq}, SHA-256 {mark.entry_hash}")
        click.echo(table([[r.channel, r.questions_answered, r.followers, r.posts_out, r.comments_in, r.comments_out,
                           r.removals, r.confidential_cases, r.median_response_hours] for r in found],
                         ["channel", "answered", "followers", "posts out", "comments in", "comments out", "removals",
                          "confidential", "median reply h"]) if found else f"No channel was active in {year}.")
    for number in numbers:
        click.echo(f"registered {number}", err=True)
