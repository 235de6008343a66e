"""``smcase inbox …``: stored events, quarantine, review, and what is still to do."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import click

from .. import inbox as inbox_workflow
from ..events import Kind
from .app import App, pass_app
from .ingest import format_named, render_retry
from .output import choice, emit_json, output_formats, parse_period, plural, table, when


@click.group("inbox")
def inbox() -> None:
    """Every ingested item, held or quarantined input, and open unpublish/removal work."""


@inbox.command("list")
@click.option("--quarantined", is_flag=True, help="Input that could not be parsed.")
@click.option("--review", is_flag=True, help="Events held because a plugin failed on them.")
@click.option("--open", "open_work", is_flag=True, help="Posts still to unpublish or remove on the platform.")
@click.option("--unmatched", is_flag=True, help="Events on no known channel (a webhook for a page that no channel "
                                                "captures: give that channel its --platform-id).")
@click.option("--text", "words", help="Words the text holds, all of them (the start of a word is enough).")
@click.option("--author", help="The author's name or platform id (any case).")
@click.option("--channel", help="The channel's address, as the events name it.")
@click.option("--kind", type=choice([k.value for k in Kind]), help="The kind of item.")
@click.option("--status", type=choice(["trivial", "registered", "held"]), help="What became of it.")
@click.option("--from", "start", metavar="DATE", help="Created on or after this day (YYYY-MM-DD).")
@click.option("--to", "end", metavar="DATE", help="Created on or before this day (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@output_formats()
@pass_app
def inbox_list(app: App, quarantined: bool, review: bool, open_work: bool, unmatched: bool, words: str | None,
               author: str | None,
               channel: str | None, kind: str | None, status: str | None, start: str | None,
               end: str | None, limit: int | None, fmt: str) -> None:
    """List stored events (or the quarantine); search them by text, author, channel, kind, status and date
    (NOR-4, TOR-9: every item is a public record, and findable)."""
    if sum((quarantined, review, open_work, unmatched)) > 1:
        raise click.UsageError("give at most one of --quarantined, --review, --open, --unmatched")
    first, last = parse_period(start, end)
    tz = app.service.tz
    search = inbox_workflow.Search(
        text=words, author=author, channel=channel, kind=kind, status=status,
        start=datetime.combine(first, time(), tz) if first else None,
        end=datetime.combine(last + timedelta(days=1), time(), tz) if last else None)
    if quarantined and search != inbox_workflow.Search():
        raise click.UsageError("the search options apply to events, not to the quarantine")
    if quarantined:
        items = inbox_workflow.list_quarantined(app.service)
        if fmt == "json":
            emit_json([q.to_json() for q in items])
        else:
            click.echo(table([[q.id, q.adapter, q.source, q.position, q.reason] for q in items],
                             ["#", "adapter", "source", "position", "reason"], whole=["reason"])
                       if items else "Nothing quarantined.")
        return
    events = list(inbox_workflow.list_events(app.service, review=review, open_work=open_work, unmatched=unmatched,
                                             limit=limit, search=search))
    if fmt == "json":
        emit_json([e.to_json() for e in events])
        return
    if not events:
        click.echo("Nothing to show.", err=True)
        return
    rows = [[str(e.uuid)[:8], when(e.created_at), e.platform, e.kind, e.direction, e.status,
             e.open_work or e.resolution or "", e.case or "", ", ".join(e.labels) or "",
             (e.held_by and f"held by {e.held_by}") or (e.text or "").replace("\n", " ")] for e in events]
    click.echo(table(rows, ["event", "created", "platform", "kind", "dir", "status", "work", "case", "labels",
                            "text"]))


@inbox.command("resolve")
@click.argument("event")
@click.option("--action", required=True, type=choice(inbox_workflow.RESOLUTIONS),
              help="What was done on the platform.")
@click.option("--note", help="A short note kept with the record.")
@pass_app
def inbox_resolve(app: App, event: str, action: str, note: str | None) -> None:
    """Record that EVENT (uuid, key or platform:id) was unpublished, removed or hidden."""
    done = inbox_workflow.resolve(app.service, app.plugins, event, action, note)
    for warning in done.warnings:
        click.echo(f"warning: {warning}", err=True)
    # Named as the user typed it: a platform key is not a name every user may see.
    click.echo(f"event {event.strip()}: {action}" + (f", registered as {done.record}" if done.record else ""))


@inbox.command("flag")
@click.argument("event")
@click.option("--category", required=True, help="The policy's category of prohibited content it falls under.")
@click.option("--note", help="Why it was flagged, kept with the finding.")
@pass_app
def inbox_flag(app: App, event: str, category: str, note: str | None) -> None:
    """Flag EVENT as prohibited content the classifiers missed, and capture its evidence record.

    The evidence (content, author, time, URL, SHA-256 of the captured post) goes
    into a new removal case, or into the event's own case; the post can then be
    recorded as removed or hidden with 'smcase inbox resolve'.
    """
    done = inbox_workflow.flag(app.service, app.plugins, event, category, note)
    for warning in done.warnings:
        click.echo(f"warning: {warning}", err=True)
    where = "in a new removal case" if done.opened else "in its case"
    click.echo(f"{done.event.key}: evidence captured as {done.record} {where} {done.case}; remove it on "
               f"{done.event.platform}, then: smcase inbox resolve {str(done.event.uuid)[:8]} --action removed")


@inbox.command("register")
@click.argument("event")
@pass_app
def inbox_register(app: App, event: str) -> None:
    """Register EVENT as a case: a question or message that needs case handling (REN-1, NOR-9)."""
    done = inbox_workflow.register(app.service, app.plugins, event)
    click.echo(f"{done.event.key} registered in {'new case' if done.opened else 'case'} {done.case}")


@inbox.command("reply")
@click.argument("event")
@click.option("--referral", is_flag=True, required=True,
              help="The policy's referral reply: case handling happens by e-mail or letter (REN-1).")
@pass_app
def inbox_reply(app: App, event: str, referral: bool) -> None:
    """Record the referral reply to EVENT in its case (registering it first), and print the text to post."""
    done = inbox_workflow.reply(app.service, app.plugins, event, referral=referral)
    click.echo(f"{done.event.key}: reply recorded as {done.reply_record} in case {done.case}; post this text:",
               err=True)
    click.echo(done.reply_text)


@inbox.command("retry")
@click.argument("entries", nargs=-1, type=click.IntRange(min=1), metavar="[ENTRY]...")
@click.option("--as", "as_format", metavar="FORMAT",
              help="Read the ENTRY numbers given in this format (input ingested with the wrong --format).")
@output_formats("text", "json")
@pass_app
def inbox_retry(app: App, entries: tuple[int, ...], as_format: str | None, fmt: str) -> None:
    """Run quarantined input and held events through the pipeline again (after a fix).

    With ENTRY numbers (as 'inbox list --quarantined' shows them), only those quarantine entries are tried.
    """
    if as_format is not None:
        if not entries:
            raise click.UsageError("--as needs the quarantine ENTRY numbers to read in that format")
        as_format = format_named(app, as_format, "'--as'")
    summary = inbox_workflow.retry(app.service, app.plugins, only=entries, as_format=as_format)
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    if fmt == "json":
        emit_json(summary.retry_json())
    else:
        click.echo(render_retry(summary, held=not entries))  # with entries, held events are left alone
    if entries and summary.retried and len(summary.still_quarantined) == summary.retried:
        # The entries asked for were the point of the command: none moving on is a failed operation.
        one = summary.retried == 1
        what = "the entry does not parse" if one else f"none of the {summary.retried} entries parse"
        raise click.ClickException(what + (f" as {as_format}" if as_format else "")
                                   + ("; it stays in quarantine" if one else "; they stay in quarantine"))


@inbox.command("dismiss")
@click.argument("entries", nargs=-1, required=True, type=click.IntRange(min=1), metavar="ENTRY...")
@click.option("--reason", required=True, help="Why no retry is needed (e.g. the file was ingested again, fixed).")
@pass_app
def inbox_dismiss(app: App, entries: tuple[int, ...], reason: str) -> None:
    """Close quarantine ENTRY numbers that need no retry; they are kept, with their input, and the act audited."""
    closed = inbox_workflow.dismiss(app.service, entries, reason)
    click.echo(f"{plural(len(closed), 'quarantine entry', 'quarantine entries')} dismissed: "
               + ", ".join(f"#{n}" for n in closed))
