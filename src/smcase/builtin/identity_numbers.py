"""Classifier: national identity numbers make an event confidential (RAT-9, NOR-7, TOR-9, REN-5).

The detection itself is the core's (``smcase.identity``): this plugin only asks
it about every field of the event that came from outside. The text is read
with the detector's classification mode (the words around a number decide);
the author's name and id, the address, the platform's ids and attachment names
are not prose, so any valid number in them counts (scrubbing mode): a number in
any field makes the event confidential, as one in the text does.

Findings say which kind of number and in which field, never the number.
"""

from __future__ import annotations

from ..events import Finding, Label, SocialEvent
from ..hookspecs import hookimpl
from ..identity import find

#: The fields of an event other than its text that came from outside, and what the finding calls them.
OTHER_FIELDS = (("platform", "platform"), ("author_name", "author"), ("author_id", "author id"), ("url", "address"),
                ("external_id", "post id"), ("in_reply_to", "reply-to id"), ("channel", "channel"))


def classify(event: SocialEvent) -> list[Finding]:
    """Flag an event that holds a valid identity number in its text or in any other field from outside."""
    findings = [Finding(Label.CONFIDENTIAL, hit.kind, f"text, characters {hit.start}-{hit.end}")
                for hit in find(event.text)]
    for attribute, name in OTHER_FIELDS:
        findings += [Finding(Label.CONFIDENTIAL, hit.kind, f"{name}, characters {hit.start}-{hit.end}")
                     for hit in find(getattr(event, attribute), context=False)]
    return findings


@hookimpl
def smcase_classify_events(events: list[SocialEvent]) -> list[list[Finding]]:
    """The batch form: ``classify`` for each event (one hook call per batch, not per event)."""
    return [classify(event) for event in events]
