"""``smcase audit …``: verify the chain and the rows it covers, write a checkpoint, read the log."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import click

from .. import audit as audit_log
from .. import checkpoints
from ..db import require_current
from .app import App, pass_app
from .output import InputPath, OutputPath, ProgressReporter, emit_json, output_formats, plural, table, write_atomically


@click.group("audit")
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=InputPath(dir_okay=False, path_type=Path),
              help="A checkpoint written by 'smcase audit checkpoint': the chain must still hold that head unchanged.")
@click.option("--files", "check_files", is_flag=True,
              help="Also re-hash every registered document's file in the file store (reads them all).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@output_formats("text", "json")
@pass_app
def audit_verify(app: App, checkpoint_file: Path | None, check_files: bool, quiet: bool, fmt: str) -> None:
    """Check every entry of the chain and every audited row against its last attested state; exit 1 on a problem.

    Each problem names the table, the row and the entry that attested it last.
    With --checkpoint, also prove that the chain still holds the head the
    checkpoint recorded (entries deleted or rewritten since are caught).
    With --files, also prove that every registered document's file is in the
    file store with the content registered (its SHA-256).
    """
    require_current(app.engine)
    anchor = checkpoints.read(checkpoint_file) if checkpoint_file else None
    files_checked = 0
    file_problems: Sequence[object] = ()
    with closing(ProgressReporter(quiet)) as progress:
        result = audit_log.verify(app.engine, progress=progress)
        if check_files:
            from ..document_check import verify_files

            files_checked, file_problems = verify_files(app.engine, app.files,
                                                        app.service.numbering.record_number, progress)
    anchored = checkpoints.holds(app.engine, anchor, app.service.register_uuid) if anchor else None
    ok = result.ok and not anchored and not file_problems
    if fmt == "json":
        emit_json({"ok": ok, "checked": result.checked, "rows_checked": result.rows_checked,
                   "problem": {"seq": result.problem.seq, "reason": result.problem.reason} if result.problem else None,
                   "row_problems": [{"table": p.table, "row": p.row_id, "entry": p.seq, "reason": p.reason}
                                    for p in result.row_problems],
                   "checkpoint": None if anchor is None else {"seq": anchor.seq, "problem": anchored},
                   **({"files_checked": files_checked, "file_problems": [str(p) for p in file_problems]}
                      if check_files else {})})
    else:
        if result.problem is not None:
            click.echo(f"audit log BROKEN at entry {result.problem.seq}: {result.problem.reason} "
                       f"({plural(result.checked, 'entry', 'entries')} before it verified)", err=True)
        for problem in result.row_problems:
            click.echo(f"register row not accounted for: {problem}", err=True)
        if anchored:
            click.echo(f"checkpoint {checkpoint_file} does not hold: {anchored}", err=True)
        for file_problem in file_problems:
            click.echo(f"document file not as registered: {file_problem}", err=True)
        if ok:
            click.echo(f"audit log OK: {plural(result.checked, 'entry', 'entries')} and "
                       f"{plural(result.rows_checked, 'row')} verified"
                       + (f", checkpoint at entry {anchor.seq} holds" if anchor else "")
                       + (f", {plural(files_checked, 'document file')} as registered" if check_files else ""))
    if not ok:
        sys.exit(1)


@audit.command("checkpoint")
@click.option("--out", type=OutputPath(path_type=Path),
              help="Write the checkpoint to FILE (default: print it).")
@pass_app
def audit_checkpoint(app: App, out: Path | None) -> None:
    """Write the chain's head (register, entry number, hash, time) as JSON, to keep outside the database.

    Later, 'smcase audit verify --checkpoint FILE' proves the chain still holds it.
    """
    require_current(app.engine)
    mark = checkpoints.take(app.service)
    text = mark.to_text()
    if out is None:
        click.echo(text, nl=False)
    else:
        write_atomically(out, text)
        click.echo(f"{out}: checkpoint at entry {mark.seq}")
    checkpoints.record(app.service, mark, str(out) if out else "standard output")


@audit.command("log")
@click.option("--action", "prefix", metavar="PREFIX", help="Only actions starting so (e.g. 'case.read', 'user.').")
@click.option("--actor", help="Only what this user did.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="The newest N entries.")
@output_formats("table", "json")
@pass_app
def audit_log_list(app: App, prefix: str | None, actor: str | None, limit: int, fmt: str) -> None:
    """Who did (or read) what, when: the newest entries, without their payloads (which may be confidential)."""
    require_current(app.engine)
    # References name what was touched (a source file, a post's key): scrubbed for a user without clearance.
    shown = app.service.access.shown
    found = [replace(e, ref=shown(e.ref)) for e in audit_log.entries(app.engine, prefix=prefix, actor=actor,
                                                                    limit=limit)]
    if fmt == "json":
        emit_json([e.to_json() for e in found])
    else:
        click.echo(table([[e.seq, e.at.astimezone(app.service.tz).isoformat(timespec="seconds"), e.actor, e.action,
                           e.ref or ""] for e in found], ["seq", "at", "actor", "action", "reference"]))
