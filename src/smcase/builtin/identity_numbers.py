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

import re

from ..events import Finding, Label, SocialEvent
from ..hookspecs import hookimpl
from ..identity import find
from ._common import fix_mojibake

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
    if not findings and event.raw is not None:
        # The payload as received is kept as evidence: a number in a field no adapter reads (an unknown key, a
        # number typed as a JSON number) is judged as it would be in the text, so the capture is marked too.
        findings += [Finding(Label.CONFIDENTIAL, hit.kind, "a field of the received payload that smcase does not read")
                     for hit in find(_unread_text(event))[:1]]
    return findings


# A value that is only a date and time (ISO 8601) holds no number of a person: skipping it keeps the payload check
# cheap, since every payload carries timestamps with enough digits to need a full search.
_ASCII_DIGIT = re.compile(r"[0-9]")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?")


def _unread_text(event: SocialEvent) -> str:
    """Every string and number of the payload that is not a field already checked above, one after another."""
    raw = event.raw
    read = {event.text, *(getattr(event, attribute) for attribute, _name in OTHER_FIELDS)}
    if isinstance(raw, str):
        # The text as received (a JSON line, mostly): the fields already checked and the timestamps are cut out
        # where they stand verbatim, and a separator put in their place so nothing joins across the cut.
        rest = _TIMESTAMP.sub(" | ", raw)
        for value in read:
            if value and len(value) > 1:
                rest = rest.replace(value, " | ")
        return rest
    leaves: list[str] = []
    stack = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str | int) and not isinstance(item, bool):
            leaf = str(item)
            if leaf.isascii():
                # ASCII with no digit spells no number (entities and escapes have digits); most keys are this.
                if leaf in read or not _ASCII_DIGIT.search(leaf) or _TIMESTAMP.fullmatch(leaf):
                    continue
                leaves.append(leaf)
            elif leaf not in read:
                leaves.append(leaf)
                repaired = fix_mojibake(leaf)  # Facebook's download keeps UTF-8 as Latin-1 characters
                if repaired != leaf:
                    leaves.append(repaired)
    return " | ".join(leaves)  # a separator that no number is read across


@hookimpl
def smcase_classify_events(events: list[SocialEvent]) -> list[list[Finding]]:
    """The batch form: ``classify`` for each event (one hook call per batch, not per event)."""
    return [classify(event) for event in events]
