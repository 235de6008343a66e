"""Example smcase plugin: a notification log and a command to read it.

Implements the ``smcase_notify_*`` hooks and ``smcase_cli_commands`` from
``smcase.hookspecs``. Events are logged by platform, id and kind only, never by
text, so confidential content stays out of the log.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from smcase.hookspecs import hookimpl

__version__ = "1.0.0"


def log_path() -> Path:
    """Where notifications are written: ``SMCASE_NOTIFY_LOG`` or ./smcase-notifications.jsonl."""
    return Path(os.environ.get("SMCASE_NOTIFY_LOG", "smcase-notifications.jsonl"))


def _write(kind: str, **fields: Any) -> None:
    entry = {"at": datetime.now(UTC).isoformat(), "notification": kind, **fields}
    with log_path().open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _event(event: Any) -> dict[str, str]:
    return {"platform": event.platform, "id": event.external_id, "kind": event.kind}


@hookimpl
def smcase_notify_case_opened(case: Any) -> None:
    """Log a case opened (its number and public title only)."""
    _write("case_opened", case=case.diary_number, public_title=case.public_title)


@hookimpl
def smcase_notify_confidential_registered(event: Any, case: Any) -> None:
    """Log that a confidential post was registered and must be unpublished."""
    _write("confidential_registered", case=case.diary_number, event=_event(event), public=event.public)


@hookimpl
def smcase_notify_prohibited_captured(event: Any, case: Any, category: str) -> None:
    """Log captured prohibited content that must now be removed."""
    _write("prohibited_captured", case=case.diary_number, event=_event(event), category=category)


@hookimpl
def smcase_notify_complaint_received(event: Any, case: Any) -> None:
    """Log an answered complaint or question registered in a case."""
    _write("complaint_received", case=case.diary_number, event=_event(event))


@hookimpl
def smcase_notify_post_resolved(event: Any, action: str, record: Any) -> None:
    """Log that a post was unpublished, removed or hidden."""
    _write("post_resolved", event=_event(event), action=action, record=record.number)


@hookimpl
def smcase_notify_event_quarantined(adapter: str, position: str, reason: str) -> None:
    """Log input that went to quarantine."""
    _write("event_quarantined", adapter=adapter, position=position, reason=reason)


@hookimpl
def smcase_notify_event_routed(event: Any, tags: list[str]) -> None:
    """Log routing tags (political, crisis) for whoever routes them."""
    _write("event_routed", event=_event(event), tags=tags)


@hookimpl
def smcase_notify_channel_started(channel: str) -> None:
    """Log a channel start (tell the webmaster, RAT-5)."""
    _write("channel_started", channel=channel)


@hookimpl
def smcase_notify_channel_stopped(channel: str, reason: str) -> None:
    """Log a channel stop (TOR-1)."""
    _write("channel_stopped", channel=channel, reason=reason)


@click.command("notify-log")
@click.option("--last", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the latest notifications to show.")
def notify_log(last: int) -> None:
    """Show the latest notifications written by the notify-log plugin."""
    path = log_path()
    if not path.exists():
        click.echo(f"no notifications yet ({path})", err=True)
        return
    for line in path.read_text(encoding="utf-8").splitlines()[-last:]:
        click.echo(line)


@hookimpl
def smcase_cli_commands() -> list[click.Command]:
    """Add ``smcase notify-log``."""
    return [notify_log]
