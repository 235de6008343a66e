"""``smcase capture``: poll a platform account once (or keep polling) and ingest what is new."""

from __future__ import annotations

import time

import click

from ..errors import InvalidInput, NotFound
from .app import App, pass_app
from .ingest import render_summary
from .output import emit_json, output_formats, table, when


@click.group("capture")
def capture() -> None:
    """Capture from a platform's API: what is new since the last pass, edits and deletions included."""


@capture.command("mastodon")
@click.option("--channel", "channel_ref", required=True,
              help="The channel (its number or address), configured with 'smcase channel change CHANNEL "
                   "--platform-id ACCT --instance URL'.")
@click.option("--instance", help="The Mastodon server (checked against the channel's configuration).")
@click.option("--account", help="The account as name or name@host (checked against the channel's configuration).")
@click.option("--follow", is_flag=True, help="Keep polling at the policy's interval until stopped (Ctrl-C).")
@click.option("--interval", type=click.IntRange(min=1), metavar="SECONDS",
              help="With --follow: seconds between passes. [default: the policy's capture.poll_interval_seconds]")
@pass_app
def capture_mastodon(app: App, channel_ref: str, instance: str | None, account: str | None, follow: bool,
                     interval: int | None) -> None:
    """Fetch the account's new statuses, the replies and mentions addressed to it, edits and deletions, and ingest
    them; the position is saved per channel, so the next pass resumes where this one ended.

    The token comes from the channel's token file, else SMCASE_MASTODON_TOKEN or SMCASE_MASTODON_TOKEN_FILE.
    """
    from ..capture.config import check_instance
    from ..capture.service import CaptureFailed, capture_pass

    service = app.service
    service.require("ingest")
    wanted = channel_ref.strip().casefold()
    found = [c for c in service.captures() if wanted in (str(c.channel_id), c.channel.casefold())]
    if not found:
        raise NotFound(f"no channel {channel_ref!r} has live capture configured (see 'smcase capture list'); an "
                       f"admin configures a Mastodon channel with 'smcase channel change CHANNEL --platform-id ACCT "
                       f"--instance URL'")
    chosen = found[0]
    if chosen.platform != "mastodon":
        raise InvalidInput(f"channel {chosen.channel} is a {chosen.platform} channel: 'capture mastodon' polls "
                           f"Mastodon channels" + (" (Facebook's come by webhook: smcase serve)"
                                                   if chosen.platform == "facebook" else ""))
    if chosen.channel_state != "active":
        raise InvalidInput(f"channel {chosen.channel} is {chosen.channel_state}: only an active channel is captured")
    if instance is not None and check_instance(instance) != chosen.instance:
        raise InvalidInput(f"--instance {instance} is not the channel's ({chosen.instance})")
    if account is not None and account.strip().lstrip("@").casefold() != chosen.platform_id.casefold():
        raise InvalidInput(f"--account {account} is not the channel's ({chosen.platform_id})")
    pause = interval or service.policy.capture.poll_interval_seconds
    while True:
        current = next(c for c in service.captures("mastodon") if c.channel_id == chosen.channel_id)
        try:
            summary = capture_pass(service, app.plugins, current)
        except CaptureFailed as exc:
            if not follow:
                raise click.ClickException(str(exc)) from None
            click.echo(f"error: {exc} (trying again in {pause} s)", err=True)
        else:
            click.echo(render_summary(summary, f"{current.channel} ({current.platform_id})"))
        if not follow:
            return
        try:
            time.sleep(pause)
        except KeyboardInterrupt:
            return


@capture.command("list")
@output_formats()
@pass_app
def capture_list(app: App, fmt: str) -> None:
    """Every channel with live capture: the platform's id, the server, the token file, the last success and error."""
    app.service.require("channel.read")  # which accounts are followed, from where, with which token file
    captures = app.service.captures()
    if fmt == "json":
        emit_json([{"channel_id": c.channel_id, "channel": c.channel, "state": c.channel_state,
                    "platform": c.platform, "platform_id": c.platform_id, "instance": c.instance,
                    "token_file": c.token_file,
                    "last_success_at": c.last_success_at.astimezone(app.service.tz).isoformat()
                    if c.last_success_at else None, "last_error": c.last_error} for c in captures])
        return
    if not captures:
        click.echo("Nothing to show.", err=True)
        return
    click.echo(table([[c.channel_id, c.channel, c.channel_state, c.platform, c.platform_id, c.instance or "",
                       when(c.last_success_at.astimezone(app.service.tz)) if c.last_success_at else "never",
                       c.last_error or ""]
                      for c in captures],
                     ["#", "channel", "state", "platform", "id", "instance", "last success", "last error"],
                     whole=["last error"]))
