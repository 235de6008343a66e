"""Classifier: complaints, questions and opinions from the public (VIM-6b, REN-1).

Transparent rules: a question is a sentence ending in '?' or opening with a
question word; a complaint or an opinion uses a term of the policy's
``[terms.complaint]`` or ``[terms.opinion]`` lists. Whether such a comment is
registered depends on the municipality answering it: the ingest pipeline
registers a citizen comment, with the answer, when a reply from the
municipality's own account (direction ``out``) arrives.
"""

from __future__ import annotations

import re

from ..events import Finding, Label, SocialEvent
from ..hookspecs import hookimpl
from ..policy import Policy
from ._terms import first_match, normalise

_QUESTION_WORDS = re.compile(
    r"(?:^|[.!?]\s+)(varför|när|hur|vem|vad|vilken|vilka|var|kan ni|kan man|går det|finns det|får man|"
    r"hvorfor|når|hvordan|hvem|hva|hvilken|hvor|kan dere|kan man|går det|finnes det|får man)\b",
    re.IGNORECASE,
)


def classify(event: SocialEvent, policy: Policy) -> list[Finding]:
    """Findings ``question``, ``complaint`` and ``opinion`` for posts and comments from the public."""
    if not event.text or event.direction != "in":
        return []
    text = normalise(event.text)
    findings = []
    if "?" in text or _QUESTION_WORDS.search(text):
        findings.append(Finding(Label.QUESTION, detail="question form"))
    for label in (Label.COMPLAINT, Label.OPINION):
        term = first_match(policy.terms.get(label.value, ()), text)
        if term:
            findings.append(Finding(label, detail=f"uses the term {term!r}"))
    return findings


@hookimpl
def smcase_classify_events(events: list[SocialEvent], policy: Policy) -> list[list[Finding]]:
    """The batch form: ``classify`` for each event (one hook call per batch, not per event)."""
    return [classify(event, policy) for event in events]
