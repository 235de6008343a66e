"""``smcase ingest``: social-media input into the inbox and the register."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click

from ..errors import InvalidInput
from ..events import ParseContext
from ..ingest import Ingest, Summary
from .app import App, pass_app
from .output import InputPath, ProgressReporter, emit_json, plural

FORMATS = ("jsonl", "mastodon", "facebook-webhook", "facebook-dyi", "x-archive")


def render_summary(summary: Summary, source: str) -> str:
    """The summary a person reads at the end of a run."""
    lines = [
        f"{source}: {summary.received} received, {summary.stored} stored, "
        f"{plural(summary.duplicates, 'duplicate')}, {summary.skipped} skipped, {summary.quarantined} quarantined",
        f"  {plural(summary.cases_opened, 'case')} opened, {plural(summary.records_added, 'record')} added, "
        f"{summary.held_for_review} held for review",
    ]
    lines += _details(summary)
    if summary.stored == 0 and summary.duplicates and not summary.quarantined:
        lines.append("  nothing new: every item was stored before")
    if summary.quarantined:
        lines.append("  see them with: smcase inbox list --quarantined")
    if summary.held_for_review:
        lines.append("  see them with: smcase inbox list --review")
    return "\n".join(lines)


def render_retry(summary: Summary, held: bool = True) -> str:
    """What ``inbox retry`` did: quarantined items now stored or still refused, and (``held``: they were tried)
    held events decided."""
    if not summary.retried and not summary.held_retried:
        return "Nothing to retry: the quarantine is empty and no event is held for review."
    still = summary.still_quarantined
    lines = [f"{plural(summary.retried, 'quarantined item')} tried: {summary.stored} stored now, "
             f"{len(still)} still {'does' if len(still) == 1 else 'do'} not parse"
             + (f" ({', '.join(f'#{n}' for n in still)}: fix the input or the adapter, then retry)" if still else ""),
             *([f"{plural(summary.held_retried, 'held event')} decided again: {summary.held_for_review} still held"]
               if held else []),
             f"  {plural(summary.cases_opened, 'case')} opened, {plural(summary.records_added, 'record')} added"]
    lines += _details(summary)
    if still:
        lines.append("  see them with: smcase inbox list --quarantined")
    if summary.held_for_review:
        lines.append("  see them with: smcase inbox list --review")
    return "\n".join(lines)


def _details(summary: Summary) -> list[str]:
    lines = []
    if summary.by_kind:
        lines.append("  stored by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(summary.by_kind.items())))
    for reason, count in sorted(summary.skipped_reasons.items()):
        lines.append(f"  skipped {count}: {reason}")
    return lines


def format_named(app: App, typed: str, option: str = "'--format'") -> str:
    """A format's name as typed, in any case (``JSONL``); an unknown name is misuse (exit 2), like a bad choice."""
    try:
        return app.plugins.format_name(typed)
    except InvalidInput as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command("ingest")
@click.argument("source", type=InputPath(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt_name", metavar="FORMAT",
              help=f"Input format: {', '.join(FORMATS)}, or one a plugin adds. [default: recognised from the "
                   "content]")
@click.option("--channel", help="The channel (URL or handle) the items were on, where the input does not say.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@pass_app
def ingest(app: App, source: str, fmt_name: str | None, channel: str | None, as_json: bool, quiet: bool) -> None:
    """Store every item of SOURCE (a file, or - for standard input) and register what must be.

    Exits 0 when every item is accounted for (stored, duplicate, skipped or
    quarantined), even if some were quarantined; exits 1 when not one item
    parses in the format given (each is still kept in quarantine).
    """
    if fmt_name is not None:
        fmt_name = format_named(app, fmt_name)
    service = app.service
    progress = ProgressReporter(quiet)
    stream: IO[bytes]
    if source == "-":
        stream, name = sys.stdin.buffer, "standard input"
    else:
        path = Path(source)
        if not path.is_file():  # a missing input is a failed operation (exit 1), not a usage error
            raise click.ClickException(f"no such file: {source}")
        stream, name = path.open("rb"), str(path)
    try:
        summary = Ingest(service, app.plugins, progress=progress).run(
            stream, fmt_name, ParseContext(channel=channel, source_name=name))
    finally:
        progress.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        emit_json(summary.to_json())
    else:
        click.echo(render_summary(summary, name))
    if summary.nothing_parsed:
        kept = (f"{plural(summary.unparsable, 'item')} kept in quarantine with the reason "
                "(smcase inbox list --quarantined)")
        hint = (f"it looks like {' or '.join(summary.fits)}: run 'smcase ingest' again with --format "
                f"{summary.fits[0]}" if summary.fits else "is it another format?")
        raise click.ClickException(f"nothing in {name} parses as {summary.format}: {kept}; {hint}")
    if not summary.accounted:  # never expected: it would mean an item was lost
        raise click.ClickException(f"{plural(summary.received, 'item')} received but only "
                                   f"{summary.received - summary.duplicates} accounted for")
