"""``smcase channel …``: propose, approve, start, stop, designate, profile and list channels."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from ..channels import Channels, ChannelView, public_html
from ..plan import load_plan
from .app import App, pass_app
from .output import InputPath, choice, emit_json, fields, publish, table


def channels_of(app: App) -> Channels:
    """The channel workflow for the acting user."""
    return Channels(app.service, app.plugins)


def render(channel: ChannelView) -> str:
    """A channel as a registrar reads it."""
    return f"{channel.id}  {channel.name}\n" + fields([
        ("address", channel.url), ("platform", channel.platform), ("state", channel.state),
        ("owner", channel.owner), ("case", channel.case),
        ("approvals", ", ".join(f"{s} ({u})" for s, u in channel.approvals) or None),
        ("writers", ", ".join(channel.writers) or None), ("credentials kept", channel.custody_location),
        ("administrators", "; ".join(f"{a['name']} <{a.get('email', '')}>, {a.get('phone', '')}"
                                     for a in channel.administrators) or None),
        ("controller of visitor content", "yes" if channel.controller_of_visitor_content else "no (TOR-10)"),
    ])


@click.group("channel")
def channel() -> None:
    """Channels: the plan, approvals, start and stop, mandates, the public list."""


@channel.command("propose")
@click.option("--plan", "plan_file", required=True, type=InputPath(dir_okay=False), help="The channel plan (TOML).")
@pass_app
def channel_propose(app: App, plan_file: str) -> None:
    """Propose a channel: opens its case with the plan as the first record."""
    proposed = channels_of(app).propose(load_plan(plan_file))
    click.echo(f"channel {proposed.id} proposed: {proposed.url} (case {proposed.case})")


@channel.command("approve")
@click.argument("channel_ref", metavar="CHANNEL")
@click.option("--step", required=True, help="The approval step (in the policy's order).")
@pass_app
def channel_approve(app: App, channel_ref: str, step: str) -> None:
    """Do the next approval step of CHANNEL (number or address) as a holder of the step's role."""
    approved = channels_of(app).approve(channel_ref, step)
    click.echo(f"channel {approved.id}: step {step} done; now {approved.state}")


@channel.command("start")
@click.argument("channel_ref", metavar="CHANNEL")
@pass_app
def channel_start(app: App, channel_ref: str) -> None:
    """Start CHANNEL once every approval step is done."""
    click.echo(f"channel {channels_of(app).start(channel_ref).id} started")


@channel.command("stop")
@click.argument("channel_ref", metavar="CHANNEL")
@click.option("--reason", required=True, help="Why the channel stops (registered, TOR-1).")
@pass_app
def channel_stop(app: App, channel_ref: str, reason: str) -> None:
    """Stop CHANNEL."""
    click.echo(f"channel {channels_of(app).stop(channel_ref, reason).id} stopped")


@channel.command("designate")
@click.argument("channel_ref", metavar="CHANNEL")
@click.argument("person")
@click.option("--granted-by", required=True, help="The user who grants the mandate (e.g. the head of administration).")
@pass_app
def channel_designate(app: App, channel_ref: str, person: str, granted_by: str) -> None:
    """Register PERSON's mandate to write for the municipality on CHANNEL (RAT-1, RAT-3)."""
    done = channels_of(app).designate(channel_ref, person, granted_by)
    click.echo(f"{person} may write for channel {done.id} (granted by {granted_by})")


@channel.command("revoke")
@click.argument("channel_ref", metavar="CHANNEL")
@click.argument("person")
@click.option("--reason", required=True, help="Why the mandate is withdrawn (kept in the record).")
@click.option("--revoked-by", help="The user who withdraws it, holding a mandate role (default: you).")
@pass_app
def channel_revoke(app: App, channel_ref: str, person: str, reason: str, revoked_by: str | None) -> None:
    """Withdraw PERSON's mandate to write for the municipality on CHANNEL (RAT-1, RAT-3, NOR-2, REN-3)."""
    done = channels_of(app).revoke(channel_ref, person, reason, revoked_by)
    click.echo(f"{person} may no longer write for channel {done.id}")


@channel.command("change")
@click.argument("channel_ref", metavar="CHANNEL")
@click.option("--description", help="A major change: what changes (a snapshot falls due).")
@click.option("--admin", help="Add an administrator, or update one's contact details, by name (RAT-2).")
@click.option("--email", help="With --admin: the administrator's e-mail.")
@click.option("--phone", help="With --admin: the administrator's phone.")
@click.option("--remove-admin", help="Remove an administrator by name.")
@click.option("--platform-id", help="Live capture: the platform's own id for the account (a Facebook page id; a "
                                    "Mastodon account as name@host), which deliveries and polls are matched on.")
@click.option("--instance", help="With --platform-id, for Mastodon: the server's address (https://…).")
@click.option("--token-file", help="With --platform-id: a file holding this channel's access token (default: "
                                   "SMCASE_MASTODON_TOKEN or SMCASE_MASTODON_TOKEN_FILE).")
@pass_app
def channel_change(app: App, channel_ref: str, description: str | None, admin: str | None, email: str | None,
                   phone: str | None, remove_admin: str | None, platform_id: str | None, instance: str | None,
                   token_file: str | None) -> None:
    """Register a major change of CHANNEL (--description; RAT-8, NOR-6, TOR-8), keep its administrators'
    contact details current (--admin/--remove-admin; RAT-2), or configure its live capture (--platform-id):
    a record each time."""
    contacts = admin is not None or remove_admin is not None
    if (instance or token_file) and platform_id is None:
        raise click.UsageError("--instance and --token-file go with --platform-id ID")
    if [contacts, description is not None, platform_id is not None].count(True) != 1:
        raise click.UsageError("give --description (a major change), --admin/--remove-admin (contacts) or "
                               "--platform-id (live capture)")
    if platform_id is not None:
        click.echo(channels_of(app).configure_capture(channel_ref, platform_id, instance, token_file))
        return
    if (email or phone) and admin is None:
        raise click.UsageError("--email and --phone go with --admin NAME")
    if description is not None:
        click.echo(channels_of(app).log(channel_ref, "major_change", description))
        return
    _channel, record = channels_of(app).change_contacts(channel_ref, admin=admin, email=email, phone=phone,
                                                         remove=remove_admin)
    click.echo(record)


@channel.command("followers")
@click.argument("channel_ref", metavar="CHANNEL")
@click.argument("count", type=click.IntRange(min=0))
@click.option("--on", "on", type=click.DateTime(formats=["%Y-%m-%d"]), help="The day counted (default: today).")
@pass_app
def channel_followers(app: App, channel_ref: str, count: int, on: datetime | None) -> None:
    """Enter CHANNEL's number of followers (TOR-7: the annual follow-up report shows it)."""
    day = on.date() if on else app.service.clock().astimezone(app.service.tz).date()
    click.echo(channels_of(app).followers(channel_ref, count, day))


@channel.command("follow-up")
@click.argument("channel_ref", metavar="CHANNEL")
@click.option("--note", required=True, help="What the follow-up found.")
@click.option("--file", "files", multiple=True, type=InputPath(dir_okay=False, path_type=Path),
              help="The follow-up report (repeatable).")
@pass_app
def channel_follow_up(app: App, channel_ref: str, note: str, files: tuple[Path, ...]) -> None:
    """Register the follow-up of CHANNEL, such as that of a short activity that has ended (TOR-7)."""
    click.echo(channels_of(app).follow_up(channel_ref, note, files))


@channel.command("show")
@click.argument("channel_ref", metavar="CHANNEL")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def channel_show(app: App, channel_ref: str, as_json: bool) -> None:
    """Show CHANNEL."""
    found = channels_of(app).show(channel_ref)
    if as_json:
        emit_json(found.to_json())
    else:
        click.echo(render(found))


@channel.command("profile")
@click.argument("channel_ref", metavar="CHANNEL")
@click.option("--lang", type=choice(["sv", "nb"]), help="Language (default: the policy's).")
@pass_app
def channel_profile(app: App, channel_ref: str, lang: str | None) -> None:
    """The text CHANNEL must show (VIM-5, TOR-6)."""
    click.echo(publish(app.service, f"channel profile {channel_ref}", channels_of(app).profile(channel_ref, lang)),
               nl=False)


@channel.command("list")
@click.option("--public", is_flag=True, help="Only active channels, without personal contact details.")
@click.option("--format", "fmt", type=choice(["table", "json", "html"]), default="table", show_default=True,
              help="Output format.")
@click.option("--json", "as_json", is_flag=True, help="Short for --format json.")
@pass_app
def channel_list(app: App, public: bool, fmt: str, as_json: bool) -> None:
    """List channels; with --public, the list the website shows (RAT-5, NOR-3, TOR-1)."""
    fmt = "json" if as_json else fmt
    found = channels_of(app).list(public=public)
    if fmt == "json" and public:
        # The public list passes the final identity-number guard: it is published as it stands.
        click.echo(publish(app.service, "channel list --public",
                           json.dumps([c.public() for c in found], ensure_ascii=False, indent=2)))
    elif fmt == "json":
        emit_json([c.to_json() for c in found])
    elif fmt == "html":
        service = app.service
        click.echo(publish(service, "channel list html",
                           public_html(found if public else [c for c in found if c.state == "active"],
                                       service.register_name,
                                       "nb" if service.policy.language in ("nb", "nn") else "sv")), nl=False)
    else:
        rows = [[c.id, c.platform, c.url, c.state, c.owner] for c in found]
        shown = table(rows, ["no.", "platform", "address", "state", "owner"]) if rows else "No channels."
        click.echo(publish(app.service, "channel list --public", shown) if public else shown)
