"""The whole plugin contract of smcase: every hook, by stage.

Plugins implement these with ``@smcase.hookimpl`` (``from smcase.hookspecs import
hookimpl``) and register under the entry-point group ``smcase`` (or are named in
``SMCASE_PLUGINS``). The built-in adapters, classifiers and decision are
plugins too (``smcase.builtin``): replace one by disabling it by name with
``SMCASE_DISABLE_PLUGINS`` and registering your own.

Stages, in the order an event meets them:

1. parse    - ``smcase_parse_adapters``: input formats and their parsers
2. classify - ``smcase_classify_events`` (a batch) or ``smcase_classify_event`` (one): findings about events
3. decide   - ``smcase_decide_action``: what to do with it, under the policy
4. notify   - ``smcase_notify_*``: something happened in the register
5. export   - ``smcase_export_formats``: archive and list exporters
6. cli      - ``smcase_cli_commands``: extra ``click`` commands

A plugin that raises is named and contained: a classifier or decision that
raises holds the event for review (never decided as trivial), a notifier that
raises is reported as a warning, and the rest keep working. Hooks only ever
gain arguments; an implementation may accept fewer than the spec offers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from .events import Adapter, Decision, Finding, SocialEvent

if TYPE_CHECKING:
    import click

    from .access import CaseView, RecordView
    from .policy import Policy

PROJECT = "smcase"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class Exporter:
    """An export format: its name (``smcase export NAME``), a description, and the writer.

    ``run(service, out_dir, options)`` writes the export and returns the paths written.
    """

    name: str
    description: str
    run: Callable[[Any, Path, dict[str, Any]], Sequence[Path]]


# -- 1. parse ---------------------------------------------------------------------


@hookspec
def smcase_parse_adapters() -> list[Adapter]:
    """Declare input formats.

    Called once when smcase needs its adapters (``smcase ingest``, ``smcase plugins``).
    Return a list of ``Adapter`` objects, each with a ``name`` (the value of
    ``ingest --format``), a one-line ``description`` and ``parse(stream, context)``,
    which reads the binary ``stream`` and yields, for every input item, exactly one
    of ``SocialEvent``, ``Skipped`` (nothing to keep, with the reason) or
    ``Unparsable`` (quarantined with its position, raw text and reason). A parser
    must not stop at a bad item. Every plugin's adapters are collected; two enabled
    plugins declaring the same name is an error that names both.
    """


# -- 2. classify ------------------------------------------------------------------


@hookspec
def smcase_classify_event(event: SocialEvent, policy: Policy) -> list[Finding]:
    """Say what an event is.

    Called for every newly stored event, once per classifier plugin. ``event`` is
    the parsed item; ``policy`` is the register's policy in force (term lists,
    grounds). Return the findings (possibly none): labels such as ``confidential``
    (with the kind of identity number as ``category``), ``prohibited`` (with the
    policy's category), ``complaint``, ``question``, ``opinion``, ``political`` and
    ``crisis``. ``detail`` may say where or why, but must never quote confidential
    text. All classifiers' findings are combined. A classifier that raises holds
    the event for review with the plugin's name.
    """


@hookspec
def smcase_classify_events(events: list[SocialEvent], policy: Policy) -> list[list[Finding]]:
    """Say what each of a batch of events is: the batch form of ``smcase_classify_event``.

    Called once per ingest batch (up to a thousand events) instead of once per
    event, which is what makes classification cheap at volume; implement one form
    or the other, not both. Return one list of findings per event, in the order
    of ``events``, with the same rules as ``smcase_classify_event``. A classifier
    that raises, or returns a list of another length, is asked again one event at
    a time, so that only the events it fails on are held for review.
    """


# -- 3. decide --------------------------------------------------------------------


@hookspec(firstresult=True)
def smcase_decide_action(event: SocialEvent, findings: list[Finding], policy: Policy) -> Decision | None:
    """Decide what to do with an event, given every classifier's findings.

    Called once per newly stored event. Return a ``Decision`` (``confidential_case``,
    ``evidence``, ``register``, ``trivial`` or ``hold``) or None to leave it to the
    next implementation. The first non-None result wins; the built-in decision is
    registered ``trylast``, so a plugin's rule comes first. A decision that raises
    holds the event for review with the plugin's name.
    """


# -- 4. notify --------------------------------------------------------------------
#
# What a notifier receives: what a user WITHOUT clearance may see, unless the
# policy names the plugin as cleared (``[notify] cleared = ["plugin-name"]``).
# Uncleared, ``case`` and ``record`` are views built for a user without
# clearance (withheld fields as ``[withheld: <ground>]``, identity numbers
# scrubbed from every other value); ``event`` is a copy of the event whose text,
# author and address are withheld when it is confidential, whose every other
# value from outside (ids, channel, reply-to id) is scrubbed, and whose ``raw``
# payload is None; ``reason`` and ``channel`` strings are scrubbed. A cleared
# notifier receives the acting user's views and the event as ingested. Either
# way a notifier must not write confidential values where people without
# clearance read them.


@hookspec
def smcase_notify_case_opened(case: CaseView) -> None:
    """A case was opened (by ingest or by a person). ``case``: see above (uncleared unless the policy clears you)."""


@hookspec
def smcase_notify_complaint_received(event: SocialEvent, case: CaseView) -> None:
    """A complaint or question answered by the municipality was registered in ``case`` (VIM-6b, REN-1)."""


@hookspec
def smcase_notify_confidential_registered(event: SocialEvent, case: CaseView) -> None:
    """A post with confidential content was registered in the confidential ``case``.

    If the post is public it must now be unpublished on the platform (RAT-9, TOR-9).
    """


@hookspec
def smcase_notify_prohibited_captured(event: SocialEvent, case: CaseView, category: str) -> None:
    """Prohibited content of ``category`` was captured as evidence in ``case``; it must now be removed."""


@hookspec
def smcase_notify_post_resolved(event: SocialEvent, action: str, record: RecordView) -> None:
    """Someone recorded that a post was ``unpublished``, ``removed`` or ``hidden`` on the platform."""


@hookspec
def smcase_notify_event_quarantined(adapter: str, position: str, reason: str) -> None:
    """An input item could not be parsed and went to quarantine (``position`` in the input, ``reason``)."""


@hookspec
def smcase_notify_event_routed(event: SocialEvent, tags: list[str]) -> None:
    """An event carries routing tags (``political``, ``crisis``) for plugins to act on (REN-4, TOR-12)."""


@hookspec
def smcase_notify_channel_started(channel: str) -> None:
    """A channel was started; plugins may e.g. tell the webmaster (RAT-5)."""


@hookspec
def smcase_notify_channel_stopped(channel: str, reason: str) -> None:
    """A channel was stopped, with the reason (TOR-1)."""


# -- 5. export --------------------------------------------------------------------


@hookspec
def smcase_export_formats() -> list[Exporter]:
    """Declare export formats (archive packages, lists).

    Every plugin's exporters are collected; two with the same name is an error
    that names both plugins.
    """


# -- 6. cli -----------------------------------------------------------------------


@hookspec
def smcase_cli_commands() -> list[click.Command]:
    """Add ``click`` commands to ``smcase``.

    Called when the command line is built (never at import). A command whose name
    is taken is not added, and the clash is reported by ``smcase plugins``.
    """
