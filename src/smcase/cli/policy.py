"""``smcase policy check|show``: read and explain policy files."""

from __future__ import annotations

import click

from ..policy import Policy, from_document, load_file
from ..register import RegisterService
from .app import App, pass_app
from .output import InputPath, emit_json, fields, output_formats, plural, table


@click.group("policy")
def policy() -> None:
    """Policy files: the municipality's rules as TOML."""


@policy.command("check")
@click.argument("file", type=InputPath(dir_okay=False))
@pass_app
def policy_check(app: App, file: str) -> None:
    """Validate FILE; exit 1 naming the key and the reason when it is malformed."""
    loaded = load_file(file)
    click.echo(f"{file}: OK ({loaded.name} {loaded.version}, {loaded.country})")


def _load(app: App, file: str | None) -> Policy:
    if file:
        return load_file(file)
    service: RegisterService = app.service
    return from_document(service.policy.document, source="register policy")


@policy.command("show")
@click.argument("file", required=False, type=InputPath(dir_okay=False))
@output_formats("text", "json")
@pass_app
def policy_show(app: App, file: str | None, fmt: str) -> None:
    """Show FILE, or without FILE the policy in force in the register."""
    loaded = _load(app, file)
    if fmt == "json":
        emit_json(loaded.to_json())
        return
    click.echo(f"{loaded.name} {loaded.version} ({loaded.country}, {loaded.language})")
    fmt_ = loaded.numbering
    click.echo(fields([
        ("time zone", loaded.timezone), ("default class", loaded.default_class),
        ("diary numbers", f"{fmt_.case_number(2026, 42)}, records {fmt_.record_number(fmt_.case_number(2026, 42), 3)}"
                          + (" + journal sequence" if fmt_.journal else "")),
        ("roles", ", ".join(loaded.roles)), ("sha256", loaded.sha256),
    ]))
    click.echo("Confidentiality grounds")
    click.echo(table([[g.id, g.citation, ", ".join(g.withheld)] for g in loaded.grounds], ["id", "citation", "withholds"]))
    click.echo("Disposal rules")
    click.echo(table([[r.id, r.action, _after(r.after_days, r.after_years), ", ".join(r.record_kinds), r.description]
                      for r in loaded.disposal_rules], ["id", "action", "after", "record kinds", "description"]))


def _after(days: int | None, years: int | None) -> str:
    return (plural(days, "day") if days is not None else plural(years, "year") if years is not None else "")
