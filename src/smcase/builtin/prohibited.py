"""Classifier: prohibited content by the policy's categories (NOR-8 a-g, VIM-4, TOR-4, RAT-10, REN-2).

Each category of ``[[terms.prohibited]]`` in the policy is a term list; a post
that uses one of its terms is flagged with that category. Only content from
the public is judged (the municipality's own posts are not removed as evidence).
"""

from __future__ import annotations

from ..events import Finding, Label, SocialEvent
from ..hookspecs import hookimpl
from ..policy import Policy
from ._terms import first_match, normalise


def classify(event: SocialEvent, policy: Policy) -> list[Finding]:
    """One finding per prohibited category whose terms the post uses."""
    if not event.text or event.direction != "in":
        return []
    text = normalise(event.text)
    return [
        Finding(Label.PROHIBITED, category.category, f"matches a term of {category.category!r}")
        for category in policy.prohibited
        if first_match(category.terms, text)
    ]


@hookimpl
def smcase_classify_events(events: list[SocialEvent], policy: Policy) -> list[list[Finding]]:
    """The batch form: ``classify`` for each event (one hook call per batch, not per event)."""
    return [classify(event, policy) for event in events]
