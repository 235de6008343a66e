"""Classifier: routing tags for political inquiries and crises (REN-4, TOR-12).

A post that uses a term of ``[terms.political]`` or ``[terms.crisis]`` gets the
tag; the tags are stored with the event and announced through
``smcase_notify_event_routed`` so that a plugin can route it (to the political
level, to the crisis organisation).
"""

from __future__ import annotations

from ..events import Finding, Label, SocialEvent
from ..hookspecs import hookimpl
from ..policy import Policy
from ._terms import first_match, normalise


def classify(event: SocialEvent, policy: Policy) -> list[Finding]:
    """Findings ``political`` and ``crisis``."""
    if not event.text:
        return []
    text = normalise(event.text)
    return [
        Finding(label, detail=f"uses the term {term!r}")
        for label in (Label.POLITICAL, Label.CRISIS)
        if (term := first_match(policy.terms.get(label.value, ()), text))
    ]


@hookimpl
def smcase_classify_events(events: list[SocialEvent], policy: Policy) -> list[list[Finding]]:
    """The batch form: ``classify`` for each event (one hook call per batch, not per event)."""
    return [classify(event, policy) for event in events]
