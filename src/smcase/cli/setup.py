"""``smcase init`` and ``smcase db upgrade``: create and migrate a register."""

from __future__ import annotations

import click
from stdnum import exceptions as stdnum_errors
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr

from .. import rescan as rescan_module
from ..clock import zone
from ..db import describe, upgrade
from ..errors import InvalidInput, PermissionDenied, PolicyError
from ..identity import DETECTOR_VERSION
from ..policy import Policy, load_file, with_overrides
from ..register import acting_username, create_register
from ..resources import default_policy
from .app import App, pass_app
from .output import InputPath, choice, emit_json, output_formats, plural

_ORGNR = {"SE": (se_orgnr, "Swedish organisationsnummer"), "NO": (no_orgnr, "Norwegian organisasjonsnummer")}


def _org_number(value: str | None, country: str) -> str | None:
    if value is None:
        return None
    module, label = _ORGNR[country]
    try:
        return str(module.format(module.validate(value)))
    except stdnum_errors.ValidationError:
        raise click.BadParameter(f"{value!r} is not a valid {label}", param_hint="--org-number") from None


def _choose_policy(policy_file: str | None, country: str | None, prefix: str | None, timezone: str | None) -> Policy:
    if policy_file is None and country is None:
        raise click.UsageError("give --policy FILE, or --country SE|NO for the default policy")
    if timezone is not None:
        try:
            zone(timezone)
        except InvalidInput as exc:
            raise click.BadParameter(str(exc), param_hint="--timezone") from None
    if policy_file is None:
        assert country is not None
        policy = load_file(default_policy(country))
        try:
            return with_overrides(policy, prefix=prefix, timezone=timezone)
        except PolicyError as exc:
            raise click.BadParameter(exc.reason, param_hint="--prefix") from None
    policy = load_file(policy_file)
    # Flags may fill in what the policy leaves open, never contradict what it says.
    if country is not None and country != policy.country:
        raise click.UsageError(f"--country {country} contradicts the policy {policy_file}, which is for {policy.country}")
    stated = policy.document
    if prefix is not None:
        if "{prefix" not in policy.numbering.case_format:
            raise click.UsageError(f"--prefix {prefix}: the policy's case format {policy.numbering.case_format!r} has no prefix")
        if stated["numbering"].get("prefix") not in (None, prefix):
            raise click.UsageError(f"--prefix {prefix} contradicts the policy's prefix {stated['numbering']['prefix']!r}")
    if timezone is not None and stated["register"].get("timezone") not in (None, timezone):
        raise click.UsageError(f"--timezone {timezone} contradicts the policy's time zone {stated['register']['timezone']}")
    return with_overrides(policy, prefix=prefix, timezone=timezone)


@click.command("init")
@click.option("--name", required=True, help="The organisation's name, e.g. 'Torsby kommun'.")
@click.option("--org-number", help="Organisation number (SE organisationsnummer, NO organisasjonsnummer).")
@click.option("--policy", "policy_file", type=InputPath(dir_okay=False), help="Policy file (TOML).")
@click.option("--country", type=choice(["SE", "NO"]), help="Use the default policy of SE or NO.")
@click.option("--prefix", help="Diary-number prefix, e.g. KS (for policies whose format has {prefix}).")
@click.option("--timezone", help="IANA time zone, where the policy leaves it open (e.g. Europe/Stockholm).")
@click.option("--full-name", help="Your full name, which the records you sign are published under (not your login).")
@pass_app
def init(app: App, name: str, org_number: str | None, policy_file: str | None, country: str | None,
         prefix: str | None, timezone: str | None, full_name: str | None) -> None:
    """Create a register in an empty database."""
    policy = _choose_policy(policy_file, country.upper() if country else None, prefix, timezone)
    user = acting_username(app.user)
    info = create_register(app.engine, name=name, policy=policy, user=user,
                           org_number=_org_number(org_number, policy.country), full_name=full_name)
    example = policy.numbering.case_number(2026, 1)
    click.echo(f"Created register {info.name!r} ({info.country}, {info.timezone}) in {describe(app.engine.url)}")
    click.echo(f"Policy: {policy.name} {policy.version}; diary numbers look like {example}")
    click.echo(f"You ({user}) are its first user, with the {'role' if len(policy.initial_roles) == 1 else 'roles'} "
               f"{', '.join(policy.initial_roles)}.")
    click.echo("Next: smcase case open --title '...'")


@click.group("db")
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Migrate the database schema to this version of smcase.

    A register last scanned by an older identity-number detector is then
    rescanned once (as ``smcase rescan`` does).
    """
    before, after = upgrade(app.engine)
    if before == after:
        click.echo(f"{describe(app.engine.url)} is up to date (revision {after})")
    else:
        click.echo(f"{describe(app.engine.url)} upgraded from {before or 'empty'} to {after}")
    if before is None:
        return  # a new, empty database: no register to scan yet
    service = app.service
    if rescan_module.last_version(service) >= DETECTOR_VERSION:
        return
    try:
        report = rescan_module.rescan(service)
    except PermissionDenied as exc:
        click.echo(f"warning: the register was not rescanned for identity numbers ({exc}); "
                   "a registrar runs 'smcase rescan'", err=True)
        return
    click.echo(render_rescan(report))


def render_rescan(report: rescan_module.Report) -> str:
    """A rescan's counts as a person reads them (never the numbers)."""
    return (f"rescanned for identity numbers (detector {report.detector_version}): "
            f"{plural(report.cases_marked, 'case')} and "
            f"{plural(report.records_marked, 'record')} marked confidential, "
            f"{plural(report.public_titles_scrubbed, 'public title')} "
            f"scrubbed, {plural(report.events_held, 'inbox event')} held for review"
            + (" (run 'smcase inbox retry' to register them)" if report.events_held else ""))


@click.command("rescan")
@output_formats("text", "json")
@pass_app
def rescan(app: App, fmt: str) -> None:
    """Scan every case, record, counterpart and event for identity numbers and withhold what holds one.

    What is found is marked confidential under the policy's ingest ground (or,
    for inbox events, held for review); the counts are printed, never the numbers.
    """
    report = rescan_module.rescan(app.service)
    if fmt == "json":
        emit_json(report.to_json())
    else:
        click.echo(render_rescan(report))
