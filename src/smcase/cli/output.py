"""One way to print results: a human table by default, ``--json`` for scripts.

Commands take ``@output_formats()``, which adds ``--format`` and the ``--json``
shorthand and passes ``fmt``. JSON goes to stdout, indented, UTF-8, stable key
order; progress and warnings go to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def choice(values: Sequence[str]) -> click.Choice[str]:
    """One of ``values``, typed in any case (``--format JSON``, ``--country se``): every choice of the command line."""
    return click.Choice(values, case_sensitive=False)


def output_formats(*formats: str) -> Callable[[F], F]:
    """Add ``--format`` (first format is the default) and ``--json`` to a command."""
    choices = formats or ("table", "json")

    def decorate(func: F) -> F:
        @click.option("--format", "fmt", type=choice(choices), default=choices[0], show_default=True,
                      help="Output format.")
        @click.option("--json", "as_json", is_flag=True, help="Short for --format json.")
        @functools.wraps(func)
        def wrapper(*args: Any, fmt: str, as_json: bool, **kwargs: Any) -> Any:
            return func(*args, fmt="json" if as_json else fmt, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


class Viewable(Protocol):
    """Anything with a documented JSON form (the views of ``access.py`` and the register)."""

    def to_json(self) -> dict[str, Any]: ...


V = TypeVar("V", bound=Viewable)


def emit(fmt: str, value: V, text: Callable[[V], str]) -> None:
    """Print ``value`` as JSON, or as ``text(value)`` for a person."""
    if fmt == "json":
        emit_json(value.to_json())
    else:
        click.echo(text(value))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], whole: Sequence[str] = ()) -> str:
    """A plain text table with left-aligned columns; a long value is shortened in its middle (so that two
    addresses that differ at their end stay apart), except in the columns named in ``whole`` (a reason)."""
    if not rows:  # a bare header reads as a broken command; every empty list says so in the same words
        return "Nothing to show."
    keep = [h in whole for h in headers]
    cells = [[_cell(v, k) for v, k in zip(row, keep, strict=True)] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option value; a bad one is misuse (exit 2) naming the option."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None
    if not 1900 <= day.year <= 9998:  # the day after must exist too: a --to covers its whole day
        raise click.BadParameter(f"{value!r} is out of range: give a year from 1900 to 9998", param_hint=option)
    return day


def parse_period(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """``--from`` and ``--to`` as days; a ``--to`` before the ``--from`` is misuse (exit 2), in every command."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if first and last and last < first:
        raise click.UsageError(f"--to {last} is before --from {first}")
    return first, last


def when(value: datetime | None) -> str:
    """A local time as a person reads it: 2026-11-22 00:26."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def _cell(value: Any, whole: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return when(value)
    text = str(value)
    return text if whole or len(text) <= 60 else text[:28] + "..." + text[-29:]


def fields(pairs: Sequence[tuple[str, Any]], indent: str = "  ") -> str:
    """Aligned 'label  value' lines, skipping empty values."""
    shown = [(k, _cell(v) if not isinstance(v, str) else v) for k, v in pairs if v not in (None, "", [], ())]
    width = max((len(k) for k, _ in shown), default=0)
    return "\n".join(f"{indent}{k.ljust(width)}  {v}" for k, v in shown)


def report_guard(service: Any, output: str, caught: int) -> None:
    """Tell the person on stderr that the final guard masked identity numbers in ``output`` (already audited).

    A catch means an earlier layer let a number through; the message says how
    many and where, never the number.
    """
    if caught:
        click.echo(f"warning: the final check masked {caught} identity number{'s' if caught != 1 else ''} in "
                   f"{output} that an earlier layer let through (logged as publish.guard in the audit log)", err=True)


def publish(service: Any, output: str, text: str) -> str:
    """``text`` as it may be published: the final identity-number guard over all of it, catches audited and told."""
    from ..identity import PublicGuard

    guard = PublicGuard()
    published = guard.text(text)
    service.note_guard_catches(output, guard.caught)
    report_guard(service, output, guard.caught)
    return published


def write_atomically(path: Any, text: str) -> None:
    """Write ``text`` to ``path`` under a temporary name beside it, then rename: never half a file."""
    import os
    from pathlib import Path

    target = Path(path)
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:  # the temporary name means nothing to the user: name the file they asked for
        raise click.ClickException(f"cannot write {target}: {exc.strerror or type(exc).__name__}") from None
    finally:
        partial.unlink(missing_ok=True)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 case``, ``2 cases``; ``words`` for an irregular plural (``1 entry``, ``2 entries``)."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


class InputPath(click.Path):
    """A file or folder to read: one that does not exist is a failed operation (exit 1, ``no such file: X``),
    not misuse (exit 2), the same in every command (issue 15's exit-code convention). ``-`` passes when allowed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("exists", None)
        super().__init__(exists=False, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Check that the path exists, then convert it as click.Path does."""
        if not (self.allow_dash and value == "-") and not os.path.exists(value):
            raise click.ClickException(f"no such file: {os.fsdecode(value)}")
        if not self.dir_okay and os.path.isdir(value):  # the wrong kind of input fails the operation too
            raise click.ClickException(f"{os.fsdecode(value)} is a folder: give a file")
        return super().convert(value, param, ctx)


class OutputPath(click.Path):
    """A file to write: its folder must exist (checked before any work; exit 1 naming the folder), and it must
    not be a folder itself."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(dir_okay=False, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Check the folder, then convert as click.Path does."""
        if not os.fsdecode(value).strip():
            raise click.BadParameter("give a file name (it is empty)", ctx, param)
        folder = os.path.dirname(os.path.abspath(os.fsdecode(value)))
        if not os.path.isdir(folder):
            raise click.ClickException(f"cannot write {os.fsdecode(value)}: the folder {folder} does not exist")
        if os.path.isdir(value):
            raise click.ClickException(f"cannot write {os.fsdecode(value)}: it is a folder; give a file name")
        return super().convert(value, param, ctx)


class ProgressReporter:
    """Shows a long operation's progress on stderr (issue 15): on a terminal a bar (click's) with counts and rate,
    redrawn in place; elsewhere a plain line every ``SMCASE_PROGRESS_SECONDS`` seconds (default 10), so that a
    log shows the operation is alive; nothing when ``quiet``. Call it as a ``smcase.progress.Progress``."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.stream = sys.stderr
        self.terminal = self.stream.isatty()
        setting = os.environ.get("SMCASE_PROGRESS_SECONDS", "10")
        try:
            self.every = float(setting)
            if not 0 <= self.every < float("inf"):
                raise ValueError(setting)
        except ValueError:
            self.every = 10.0
            if not quiet:
                click.echo(f"warning: SMCASE_PROGRESS_SECONDS={setting!r} is not a number of seconds: using 10",
                           file=self.stream)
        self.stage: str | None = None
        # A stage's first report may come after its first batch: its clock starts when the one before ended.
        self.ended = time.monotonic()
        self.started = self.shown = 0.0
        self.done = 0
        self.bar: Any = None

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        """Report that ``done`` of ``total`` (None: unknown) of ``stage`` are done."""
        if self.quiet:
            return
        now = time.monotonic()
        if stage != self.stage:
            self.close()
            self.stage, self.started, self.shown, self.done = stage, self.ended, self.ended, 0
            if self.terminal and total:
                self.bar = click.progressbar(length=total, label=stage, file=self.stream, show_pos=True,
                                             item_show_func=lambda _item: self._rate())
                self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done
        line = f"{stage}: {done:,}{f' of {total:,}' if total else ''} ({self._rate()})"
        if self.bar is None and self.terminal and now - self.shown >= 0.2:
            click.echo(f"\r{line}", file=self.stream, nl=False)
            self.shown = now
        elif not self.terminal and now - self.shown >= self.every:
            click.echo(line, file=self.stream)
            self.shown = now

    def _rate(self) -> str:
        return f"{self.done / max(time.monotonic() - self.started, 1e-9):,.0f}/s"

    def close(self) -> None:
        """End the current stage's bar or line."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
        elif self.terminal and self.stage is not None:
            click.echo("", file=self.stream)
        if self.stage is not None:
            self.ended = time.monotonic()
        self.stage = None
