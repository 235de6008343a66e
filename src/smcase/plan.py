"""Channel plans: the form that proposes a channel (Torsby appendix 1, Vimmerby's checklist).

A plan is a TOML file validated against ``schemas/plan.schema.json``; then
``problems(plan, policy)`` lists what the policy refuses: fewer administrators
than its minimum (TOR-2, VIM-8), an owner that is a person rather than a
function (VIM-1), unanswered checklist questions (VIM-1, TOR-3), and a missing
credential custody where the policy wants one (TOR-2, RAT-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .policy import Policy, check_schema, read_toml


@dataclass(frozen=True)
class Administrator:
    """A named administrator with current contact details (RAT-2)."""

    name: str
    email: str
    phone: str
    user: str | None = None


@dataclass(frozen=True)
class Plan:
    """A validated channel plan; ``text`` is the file as it was, registered as the plan record."""

    platform: str
    url: str
    name: str
    owner: str
    owner_kind: str
    purpose: str
    target_group: str
    goals: tuple[str, ...]
    monitoring_hours: str
    weekly_hours: float
    administrators: tuple[Administrator, ...]
    checklist: dict[str, str]
    credential_custody: str | None
    contact: str | None
    document: dict[str, Any]
    text: str


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file; PolicyError names the key and the reason."""
    text, document = read_toml(path)
    check_schema("plan.schema.json", document, str(path))
    channel = document["channel"]
    return Plan(
        platform=channel["platform"], url=channel["url"], name=channel["name"], owner=channel["owner"],
        owner_kind=channel.get("owner_kind", "function"), purpose=channel["purpose"],
        target_group=channel["target_group"], goals=tuple(channel["goals"]),
        monitoring_hours=channel["monitoring_hours"], weekly_hours=channel["weekly_hours"],
        administrators=tuple(Administrator(a["name"], a["email"], a["phone"], a.get("user"))
                             for a in document["administrators"]),
        checklist={k: v.strip() for k, v in document["checklist"].items()},
        credential_custody=channel.get("credential_custody"), contact=channel.get("contact"),
        document=document, text=text,
    )


def problems(plan: Plan, policy: Policy) -> list[str]:
    """What the policy refuses in this plan, each naming the rule; empty when it may be proposed."""
    rules = policy.channels
    found = []
    if len(plan.administrators) < rules.min_administrators:
        found.append(f"the plan names {len(plan.administrators)} administrator(s); the policy needs at least "
                     f"{rules.min_administrators} (TOR-2, VIM-8)")
    names = {a.name.casefold() for a in plan.administrators}
    if rules.owner_must_be_function and (plan.owner_kind == "person" or plan.owner.casefold() in names):
        found.append(f"the owner {plan.owner!r} is a person; a channel is bound to a function, not a person (VIM-1)")
    elif rules.functions and plan.owner.casefold() not in {f.casefold() for f in rules.functions}:
        found.append(f"the owner {plan.owner!r} is not one of the municipality's functions or units: "
                     f"{', '.join(rules.functions)} (VIM-1)")
    unanswered = [c.id for c in rules.checklist if not plan.checklist.get(c.id)]
    if unanswered:
        found.append(f"checklist questions not answered: {', '.join(unanswered)} (VIM-1, TOR-3)")
    if rules.custody_required(plan.platform) and not plan.credential_custody:
        found.append(f"the plan does not say where the {plan.platform} credentials are kept (TOR-2, RAT-4)")
    return found
