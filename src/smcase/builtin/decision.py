"""The default decision: what the register does with a classified event.

* confidential content → a confidential case under the policy's ground
  (``[ingest] confidential_ground``), the post as an incoming record with its
  text withheld; if the post is public it must then be unpublished (RAT-9, TOR-9);
* prohibited content → an evidence record in a removal case; the removal is
  recorded after the evidence (VIM-6c, NOR-8, REN-2);
* an item a person asked to register (manual registration, NOR-9) → a case;
* everything else stays in the inbox, stored and searchable (NOR-4, TOR-9):
  ``trivial``. Complaints and questions become cases when the municipality
  answers them (the ingest pipeline's thread rule, VIM-6b, REN-1).

Registered ``trylast``: a plugin's decision comes first.
"""

from __future__ import annotations

from ..events import Action, Decision, Finding, Label, SocialEvent
from ..hookspecs import hookimpl
from ..policy import Policy


@hookimpl(trylast=True)
def smcase_decide_action(event: SocialEvent, findings: list[Finding], policy: Policy) -> Decision:
    """Confidential beats prohibited beats a requested registration beats trivial."""
    labels = {f.label for f in findings}
    if Label.CONFIDENTIAL in labels:
        kinds = sorted({f.category or "identity number" for f in findings if f.label == Label.CONFIDENTIAL})
        return Decision(Action.CONFIDENTIAL_CASE, f"holds a {', '.join(kinds)}",
                        ground=policy.ingest.confidential_ground, findings=tuple(findings))
    if Label.PROHIBITED in labels:
        category = next(f.category for f in findings if f.label == Label.PROHIBITED)
        return Decision(Action.EVIDENCE, f"prohibited content: {category}", category=category,
                        findings=tuple(findings))
    if event.register:
        return Decision(Action.REGISTER, "registration was asked for (manual registration)", findings=tuple(findings))
    return Decision(Action.TRIVIAL, "nothing to register", findings=tuple(findings))
