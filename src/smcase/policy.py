"""Policies: the municipality's rules as a versioned TOML file.

A policy is validated against ``schemas/policy.schema.json`` with a compiled
validator (fastjsonschema), then checked for what a schema cannot say: that the
default class exists, that format strings format and parse back, that every
role named in a permission is a role, that rule ids resolve. Every problem is
reported with the key and the reason.

The parsed policy is stored in the register (the policy in force), so a
register never depends on the file it was created from.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property
from hashlib import sha256
from pathlib import Path
from typing import Any

from . import schema_check
from .clock import zone
from .diary import DiaryFormat
from .errors import InvalidInput, PolicyError

DEFAULT_TIMEZONES = {"SE": "Europe/Stockholm", "NO": "Europe/Oslo"}
DEFAULT_PLACEHOLDER_TITLES = {"SE": "Sekretessmarkerat ärende", "NO": "Skjermet sak"}

#: Who may do what, unless the policy's [permissions] says otherwise.
DEFAULT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "case.open": ("registrar", "officer", "admin"),
    "case.update": ("registrar", "officer", "admin"),
    "case.close": ("registrar", "officer", "admin"),
    "case.reopen": ("registrar", "admin"),
    "case.mark": ("registrar", "officer", "admin"),
    "record.add": ("registrar", "officer", "admin"),
    "class.add": ("registrar", "archivist", "admin"),
    "user.manage": ("admin",),
    # Recording what was done with a post on its platform, and flagging what the classifiers missed.
    "inbox.resolve": ("registrar", "officer", "admin"),
    "channel.propose": ("registrar", "officer", "communications", "admin"),
    "channel.manage": ("registrar", "officer", "communications", "admin"),
    # Reading every channel (VIM-3: the communications strategist keeps the central list); anyone else reads
    # the channels they administer or write for. The public list is open to all.
    "channel.read": ("registrar", "communications", "archivist", "admin"),
    # An archive export holds every confidential value of the period.
    "archive.export": ("registrar", "archivist", "admin"),
    # Disposal destroys content for good (after its log entry is written).
    "archive.dispose": ("archivist", "admin"),
    "case.hold": ("registrar", "archivist", "admin"),
    # Storing social-media input and registering what must be (file ingest and live capture). The ``capture``
    # role holds this and nothing else: the service that receives webhooks and polls acts as such a user.
    "ingest": ("registrar", "officer", "admin", "capture"),
    # Configuring live capture names a server and a token file the service will send a token to: an admin's act.
    "capture.configure": ("admin",),
}


@dataclass(frozen=True)
class ClassSpec:
    """A class of the filing plan that the policy creates at init."""

    code: str
    title: str


@dataclass(frozen=True)
class Ground:
    """A legal ground for confidentiality and the fields it withholds."""

    id: str
    citation: str
    withheld: tuple[str, ...]
    description: str | None = None


@dataclass(frozen=True)
class DisposalRule:
    """A disposal rule (SE gallringsbeslut, NO kassasjonsvedtak)."""

    id: str
    action: str  # preserve | dispose
    description: str
    mandate: str | None = None
    after_days: int | None = None
    after_years: int | None = None
    record_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermCategory:
    """A category of prohibited content (NOR-8 a-h, VIM-4, TOR-4) and its terms in every language."""

    category: str
    description: str
    terms: tuple[str, ...]
    guideline: str | None = None


@dataclass(frozen=True)
class IngestRules:
    """Where ingest registers what it decides: the ground for identity numbers and the classes."""

    confidential_ground: str
    confidential_class: str
    complaint_class: str
    removal_class: str
    #: The reply telling the public that case handling does not happen on the platform (REN-1).
    referral_reply: str | None = None


@dataclass(frozen=True)
class ApprovalStep:
    """One step of a channel's approval: who (role) approves or is consulted, in policy order."""

    step: str
    role: str
    kind: str = "approval"  # approval | consultation
    description: str | None = None


@dataclass(frozen=True)
class ChecklistItem:
    """A question a channel plan must answer (VIM-1, TOR-3)."""

    id: str
    question: str
    guideline: str | None = None


@dataclass(frozen=True)
class ChannelRules:
    """How channels are proposed, approved and run under this policy."""

    min_administrators: int
    approval_steps: tuple[ApprovalStep, ...]
    checklist: tuple[ChecklistItem, ...] = ()
    owner_must_be_function: bool = True
    channel_class: str = ""
    mandate_roles: tuple[str, ...] = ()
    controller_of_visitor_content: Mapping[str, bool] = field(default_factory=dict)
    credential_custody_required: Mapping[str, bool] = field(default_factory=dict)
    #: The municipality's functions and units a channel may be owned by (VIM-1); empty: any function.
    functions: tuple[str, ...] = ()
    #: Must whoever answers on a channel state name and title (VIM-7)? Then a user without them cannot.
    signed_answers: bool = False

    def controller_for(self, platform: str) -> bool:
        """Does the municipality answer for visitors' content on ``platform`` (TOR-10)? Default: yes."""
        return self.controller_of_visitor_content.get(platform, self.controller_of_visitor_content.get("*", True))

    def custody_required(self, platform: str) -> bool:
        """Must a plan for ``platform`` say where the credentials are kept (TOR-2, RAT-4)?"""
        return self.credential_custody_required.get(platform, self.credential_custody_required.get("*", False))


@dataclass(frozen=True)
class DutyRules:
    """What falls due for every active channel (RAT-8, RAT-10, NOR-6, TOR-4, TOR-7, TOR-8, TOR-13)."""

    monitoring: str | None = None  # daily | twice_weekly | weekly | weekdays
    snapshot_every_months: int | None = None
    snapshot_dates: tuple[str, ...] = ()  # "MM-DD"
    snapshot_on_major_change: bool = False
    annual_report_quarter: int | None = None
    policy_review_months: int | None = None
    checkpoint_every_days: int | None = None  # an audit checkpoint is written out at least this often
    #: A question from the public is answered or registered within this many days, or it is overdue
    #: (REN-1, NOR-9, VIM-6b): nothing that needs case handling is disposed of as trivial unseen.
    inquiries_within_days: int | None = None


@dataclass(frozen=True)
class CaptureRules:
    """Live capture (``smcase serve``, ``smcase capture``): how often, how far back, and when it has stalled."""

    #: An active channel with live capture whose last delivery or poll succeeded longer ago is a "capture
    #: stalled" duty: monitoring that has silently stopped surfaces in ``smcase duties``.
    stalled_after_hours: int = 24
    #: How often ``--follow`` and ``smcase serve`` poll a Mastodon account.
    poll_interval_seconds: int = 300
    #: Threads and statuses of the last this many days are checked again on each poll for edits and deletions.
    recheck_days: int = 14


@dataclass(frozen=True)
class Policy:
    """A validated policy. ``document`` is the normalised file content, as stored in the register."""

    name: str
    version: str
    country: str
    language: str
    timezone: str
    default_class: str
    placeholder_title: str
    classes: tuple[ClassSpec, ...]
    numbering: DiaryFormat
    roles: tuple[str, ...]
    initial_roles: tuple[str, ...]
    permissions: Mapping[str, tuple[str, ...]]
    grounds: tuple[Ground, ...]
    case_disposal_rule: str
    record_disposal_rule: str
    disposal_rules: tuple[DisposalRule, ...]
    terms: Mapping[str, tuple[str, ...]]
    prohibited: tuple[TermCategory, ...]
    ingest: IngestRules
    channels: ChannelRules
    duties: DutyRules
    reviewed: str | None
    #: The public journal shows the names of citizens whose posts were registered (default: withheld, GDPR).
    show_citizen_names: bool
    #: The FGS package also holds open cases, as they stand (default: closed cases only).
    archive_open_cases: bool
    #: Notifier plugins that receive cleared views (``[notify] cleared``); every other one gets uncleared views.
    notify_cleared: tuple[str, ...]
    document: dict[str, Any] = field(repr=False)
    capture: CaptureRules = CaptureRules()

    @property
    def sha256(self) -> str:
        """Digest of the canonical policy document: which policy a register runs."""
        return sha256(canonical_json(self.document).encode()).hexdigest()

    def ground(self, text: str) -> Ground:
        """The ground whose id or citation is ``text``, or whose citation ``text`` begins.

        Case, spacing, punctuation and the words ``§``/``kap.`` are forgiven (``OSL 21:3``, ``osl 21 kap 3 §``),
        and a citation may be shortened at a word after a number: ``Offl. § 13`` names ``Offl. § 13 jf. fvl. § 13
        første ledd nr. 1`` when no other ground's citation begins so; when several do, they are listed. A
        shortening that stops before a number (``OSL 21`` for ``OSL 21 kap. 3 §``) names a chapter, not a
        provision, and is refused.
        """
        wanted = " ".join(text.split()).casefold()
        known = "; ".join(f"{g.id} ({g.citation})" for g in self.grounds)
        if not wanted:  # an empty --confidential must never pass as "not confidential"
            raise InvalidInput(f"no confidentiality ground given (the value is empty); the policy knows: {known}")
        for ground in self.grounds:
            if wanted == ground.id.casefold():
                return ground
        words = _citation_words(text)
        if words:
            exact = [g for g in self.grounds if _citation_words(g.citation) == words]
            if exact:
                return exact[0]
            begun = [g for g in self.grounds if _citation_words(g.citation)[:len(words)] == words]
            whole = [g for g in begun if _ends_a_provision(_citation_words(g.citation), words)]
            if len(whole) == 1:
                return whole[0]
            if begun:
                listed = "; ".join(f"{g.id} ({g.citation})" for g in (whole or begun))
                if whole:
                    raise InvalidInput(f"{text!r} could be more than one confidentiality ground: {listed}: give its id")
                raise InvalidInput(f"{text!r} stops before a section number, so it names no single provision; "
                                   f"grounds that begin so: {listed}: give the whole citation or the id")
        raise InvalidInput(f"unknown confidentiality ground {text!r}; the policy knows: {known}")

    @cached_property
    def _rules(self) -> dict[str, DisposalRule]:
        # The exports ask for every record's rule: a dict, built once (cached_property works on a frozen dataclass).
        return {rule.id: rule for rule in self.disposal_rules}

    @cached_property
    def _kind_rules(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for rule in self.disposal_rules:
            for kind in rule.record_kinds:
                found.setdefault(kind, rule.id)  # the first rule naming a kind wins
        return found

    def disposal_rule(self, rule_id: str) -> DisposalRule:
        """The disposal rule with this id."""
        rule = self._rules.get(rule_id)
        if rule is None:
            raise InvalidInput(f"unknown disposal rule {rule_id!r}")
        return rule

    def record_rule_for(self, kind: str) -> str:
        """The disposal rule id that applies to records of ``kind``."""
        return self._kind_rules.get(kind, self.record_disposal_rule)

    def rule_for_record(self, kind: str, case_rule: str) -> DisposalRule:
        """The disposal rule that applies to a record of ``kind`` in a case under ``case_rule``.

        The rule for the record's kind, unless it preserves and the case's rule
        disposes: then the case's rule takes its records with it.
        """
        rule = self.disposal_rule(self.record_rule_for(kind))
        if rule.action != "dispose":
            case = self.disposal_rule(case_rule)
            if case.action == "dispose":
                return case
        return rule

    def roles_for(self, action: str) -> tuple[str, ...]:
        """The roles allowed to perform ``action`` (e.g. ``case.open``).

        ``channel.approve`` belongs to the roles of the policy's approval steps.
        """
        if action == "channel.approve":
            return tuple(dict.fromkeys(step.role for step in self.channels.approval_steps))
        return self.permissions[action]

    def to_json(self) -> dict[str, Any]:
        """The parsed policy with every default filled in (``smcase policy show --json``)."""
        fmt = self.numbering
        example = fmt.case_number(2026, 42)
        return {
            "name": self.name,
            "version": self.version,
            "country": self.country,
            "language": self.language,
            "timezone": self.timezone,
            "default_class": self.default_class,
            "placeholder_title": self.placeholder_title,
            "classes": [{"code": c.code, "title": c.title} for c in self.classes],
            "numbering": {
                "style": "noark" if fmt.journal else "diary",
                "prefix": fmt.prefix or None,
                "case_format": fmt.case_format,
                "record_format": fmt.record_format,
                "example_case": example,
                "example_record": fmt.record_number(example, 3),
            },
            "roles": list(self.roles),
            "initial_roles": list(self.initial_roles),
            "permissions": {action: list(roles) for action, roles in sorted(self.permissions.items())},
            "confidentiality_grounds": [
                {"id": g.id, "citation": g.citation, "description": g.description, "withheld": list(g.withheld)}
                for g in self.grounds
            ],
            "disposal": {
                "case_rule": self.case_disposal_rule,
                "record_rule": self.record_disposal_rule,
                "rules": [
                    {"id": r.id, "action": r.action, "description": r.description, "mandate": r.mandate,
                     "after_days": r.after_days, "after_years": r.after_years, "record_kinds": list(r.record_kinds)}
                    for r in self.disposal_rules
                ],
            },
            "terms": {key: list(values) for key, values in self.terms.items()},
            "prohibited": [
                {"category": c.category, "description": c.description, "guideline": c.guideline, "terms": list(c.terms)}
                for c in self.prohibited
            ],
            "approval_steps": [
                {"step": s.step, "role": s.role, "kind": s.kind, "description": s.description}
                for s in self.channels.approval_steps
            ],
            "channels": {
                "min_administrators": self.channels.min_administrators,
                "owner_must_be_function": self.channels.owner_must_be_function,
                "functions": list(self.channels.functions), "signed_answers": self.channels.signed_answers,
                "class": self.channels.channel_class,
                "checklist": [{"id": c.id, "question": c.question, "guideline": c.guideline}
                              for c in self.channels.checklist],
                "mandate_roles": list(self.channels.mandate_roles),
                "controller_of_visitor_content": dict(self.channels.controller_of_visitor_content),
                "credential_custody_required": dict(self.channels.credential_custody_required),
            },
            "duties": {
                "monitoring": self.duties.monitoring,
                "snapshot_every_months": self.duties.snapshot_every_months,
                "snapshot_dates": list(self.duties.snapshot_dates),
                "snapshot_on_major_change": self.duties.snapshot_on_major_change,
                "annual_report_quarter": self.duties.annual_report_quarter,
                "policy_review_months": self.duties.policy_review_months,
                "checkpoint_every_days": self.duties.checkpoint_every_days,
                "inquiries_within_days": self.duties.inquiries_within_days,
            },
            "capture": {"stalled_after_hours": self.capture.stalled_after_hours,
                        "poll_interval_seconds": self.capture.poll_interval_seconds,
                        "recheck_days": self.capture.recheck_days},
            "reviewed": self.reviewed,
            "journal": {"show_citizen_names": self.show_citizen_names},
            "archive": {"include_open_cases": self.archive_open_cases},
            "notify": {"cleared": list(self.notify_cleared)},
            "ingest": {
                "confidential_ground": self.ingest.confidential_ground,
                "confidential_class": self.ingest.confidential_class,
                "complaint_class": self.ingest.complaint_class,
                "removal_class": self.ingest.removal_class,
                "referral_reply": self.ingest.referral_reply,
            },
            "sha256": self.sha256,
        }


_CITATION_NOISE = re.compile(r"§|\bkap\b\.?|\bkapitlet\b|[.,:;()]", re.IGNORECASE)


def _ends_a_provision(citation: list[str], words: list[str]) -> bool:
    # Typed words that begin a citation stop at a provision's end when the next word, if any, is not a number.
    rest = citation[len(words):]
    return not (rest and rest[0][:1].isdigit())


def _citation_words(citation: str) -> list[str]:
    # "OSL 21 kap. 3 §", "osl 21:3" and "OSL 21 kap 3" are one citation: the words that carry its meaning.
    return _CITATION_NOISE.sub(" ", citation).casefold().split()


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def read_toml(path: str | Path) -> tuple[str, dict[str, Any]]:
    """A TOML file's text and content; PolicyError says what is wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(str(path), "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(str(path), "", f"cannot read: {exc}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(str(path), "", f"not valid TOML: {exc}") from None


def check_schema(schema_name: str, document: Any, source: str) -> None:
    """Validate ``document`` against ``schemas/<schema_name>``; PolicyError names the key and the reason."""
    try:
        schema_check.check(schema_name, document)
    except schema_check.SchemaProblem as exc:
        raise PolicyError(source, exc.key, exc.reason) from None


def _normalise(value: Any) -> Any:
    # TOML has native dates; the stored policy is JSON, so dates become ISO strings.
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return value


def load_file(path: str | Path) -> Policy:
    """Read, validate and check a policy file; PolicyError names the key and the reason."""
    _text, raw = read_toml(path)
    return from_document(raw, source=str(path))


def from_document(raw: Mapping[str, Any], source: str = "", stored: bool = False) -> Policy:
    """Validate a policy document (parsed TOML or the JSON stored in a register).

    ``stored``: the document is the register's own, schema-checked when it was stored and attested since (``audit
    verify`` proves it unchanged). The schema is then not compiled again (a tenth of a second every command would
    pay); the rules a schema cannot say are still checked, and a damaged document is an error that says so.
    """
    document = _normalise(dict(raw))
    if not stored:
        check_schema("policy.schema.json", document, source)
    try:
        return _build(document)
    except PolicyError as exc:
        raise PolicyError(source, exc.key, exc.reason) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if not stored:
            raise
        raise PolicyError(source, "", f"the stored policy is damaged ({type(exc).__name__}): "
                                      "run 'smcase audit verify'") from None


def _build(doc: dict[str, Any]) -> Policy:
    meta, reg, num = doc["policy"], doc["register"], doc["numbering"]
    country = meta["country"]

    timezone = reg.get("timezone", DEFAULT_TIMEZONES[country])
    try:
        zone(timezone)
    except InvalidInput as exc:
        raise PolicyError("", "register.timezone", str(exc)) from None

    classes = tuple(ClassSpec(c["code"], c["title"]) for c in reg["classes"])
    codes = [c.code for c in classes]
    _unique("register.classes", codes, "class code")
    if reg["default_class"] not in codes:
        raise PolicyError("", "register.default_class", f"{reg['default_class']!r} is not among register.classes")

    fmt = DiaryFormat(
        case_format=num["case_format"],
        record_format=num["record_format"],
        prefix=num.get("prefix", ""),
        journal=num["style"] == "noark",
    )

    roles = tuple(doc["roles"]["names"])
    initial = tuple(doc["roles"]["initial"])
    _known_roles("roles.initial", initial, roles)
    permissions = {**DEFAULT_PERMISSIONS, **{k: tuple(v) for k, v in doc.get("permissions", {}).items()}}
    for action, allowed in permissions.items():
        if not set(allowed) & set(roles):
            raise PolicyError("", f"permissions.{action}", f"none of {', '.join(allowed)} is in roles.names")
        if action in doc.get("permissions", {}):
            _known_roles(f"permissions.{action}", allowed, roles)

    grounds = tuple(
        Ground(g["id"], g["citation"], tuple(g["withheld"]), g.get("description"))
        for g in doc["confidentiality"]["grounds"]
    )
    _unique("confidentiality.grounds", [g.id for g in grounds], "ground id")

    disposal = doc["disposal"]
    rules = tuple(
        DisposalRule(
            id=r["id"],
            action=r["action"],
            description=r["description"],
            mandate=r.get("mandate"),
            after_days=r.get("after_days"),
            after_years=r.get("after_years"),
            record_kinds=tuple(r.get("record_kinds", ())),
        )
        for r in disposal["rules"]
    )
    ids = [r.id for r in rules]
    _unique("disposal.rules", ids, "rule id")
    for i, rule in enumerate(rules):
        timed = rule.after_days is not None or rule.after_years is not None
        if rule.action == "dispose" and not timed:
            raise PolicyError("", f"disposal.rules[{i}]", f"rule {rule.id!r} disposes but sets neither after_days nor after_years")
        if rule.action == "preserve" and timed:
            raise PolicyError("", f"disposal.rules[{i}]", f"rule {rule.id!r} preserves, so it takes no after_days/after_years")
    _unique("disposal.rules", [k for r in rules for k in r.record_kinds], "record kind")

    term_doc = doc.get("terms", {})
    terms = {key: _all_languages(term_doc.get(key, {})) for key in ("complaint", "opinion", "political", "crisis")}
    prohibited = tuple(
        TermCategory(c["category"], c["description"], _all_languages(c), c.get("guideline"))
        for c in term_doc.get("prohibited", [])
    )
    _unique("terms.prohibited", [c.category for c in prohibited], "category")
    rules_doc = doc.get("ingest", {})
    ingest = IngestRules(
        confidential_ground=rules_doc.get("confidential_ground", grounds[0].id),
        confidential_class=rules_doc.get("confidential_class", reg["default_class"]),
        complaint_class=rules_doc.get("complaint_class", reg["default_class"]),
        removal_class=rules_doc.get("removal_class", reg["default_class"]),
        referral_reply=rules_doc.get("referral_reply"),
    )
    if ingest.confidential_ground not in {g.id for g in grounds}:
        raise PolicyError("", "ingest.confidential_ground", f"{ingest.confidential_ground!r} is not the id of a ground")
    for key in ("confidential_class", "complaint_class", "removal_class"):
        if getattr(ingest, key) not in codes:
            raise PolicyError("", f"ingest.{key}", f"{getattr(ingest, key)!r} is not among register.classes")
    channels = _channel_rules(doc.get("channels"), roles, codes, reg["default_class"])
    duty_doc = doc.get("duties", {})
    duties = DutyRules(
        monitoring=duty_doc.get("monitoring"),
        snapshot_every_months=duty_doc.get("snapshot_every_months"),
        snapshot_dates=tuple(duty_doc.get("snapshot_dates", ())),
        snapshot_on_major_change=duty_doc.get("snapshot_on_major_change", False),
        annual_report_quarter=duty_doc.get("annual_report_quarter"),
        policy_review_months=duty_doc.get("policy_review_months"),
        checkpoint_every_days=duty_doc.get("checkpoint_every_days"),
        inquiries_within_days=duty_doc.get("inquiries_within_days"),
    )
    for i, day in enumerate(duties.snapshot_dates):
        if not _valid_month_day(day):
            raise PolicyError("", f"duties.snapshot_dates[{i}]", f"{day!r} is not a day of the year")
    for key in ("case_rule", "record_rule"):
        if disposal[key] not in ids:
            raise PolicyError("", f"disposal.{key}", f"{disposal[key]!r} is not the id of a rule in disposal.rules")

    return Policy(
        name=meta["name"],
        version=meta["version"],
        country=country,
        language=meta.get("language", "sv" if country == "SE" else "nb"),
        timezone=timezone,
        default_class=reg["default_class"],
        placeholder_title=reg.get("placeholder_title", DEFAULT_PLACEHOLDER_TITLES[country]),
        classes=classes,
        numbering=fmt,
        roles=roles,
        initial_roles=initial,
        permissions=permissions,
        grounds=grounds,
        case_disposal_rule=disposal["case_rule"],
        record_disposal_rule=disposal["record_rule"],
        disposal_rules=rules,
        terms=terms,
        prohibited=prohibited,
        ingest=ingest,
        channels=channels,
        duties=duties,
        reviewed=meta.get("reviewed"),
        show_citizen_names=doc.get("journal", {}).get("show_citizen_names", False),
        archive_open_cases=doc.get("archive", {}).get("include_open_cases", False),
        notify_cleared=tuple(doc.get("notify", {}).get("cleared", ())),
        document=doc,
        capture=CaptureRules(**doc.get("capture", {})),  # the schema admits only its keys, each bounded
    )


def _channel_rules(section: Mapping[str, Any] | None, roles: tuple[str, ...], codes: list[str],
                   default_class: str) -> ChannelRules:
    if section is None:  # a policy without channel rules: one approval by an admin, two administrators
        return ChannelRules(min_administrators=2, approval_steps=(ApprovalStep("approval", "admin"),),
                            channel_class=default_class, mandate_roles=("admin",))
    steps = tuple(ApprovalStep(s["step"], s["role"], s.get("kind", "approval"), s.get("description"))
                  for s in section["approval_steps"])
    _unique("channels.approval_steps", [s.step for s in steps], "step")
    for i, step in enumerate(steps):
        _known_roles(f"channels.approval_steps[{i}].role", (step.role,), roles)
    mandate_roles = tuple(section.get("mandate_roles", ()))
    _known_roles("channels.mandate_roles", mandate_roles, roles)
    _known_roles("channels.approver_roles", tuple(section.get("approver_roles", ())), roles)
    checklist = tuple(ChecklistItem(c["id"], c["question"], c.get("guideline")) for c in section.get("checklist", []))
    _unique("channels.checklist", [c.id for c in checklist], "question id")
    channel_class = section.get("class", default_class)
    if channel_class not in codes:
        raise PolicyError("", "channels.class", f"{channel_class!r} is not among register.classes")
    return ChannelRules(
        min_administrators=section["min_administrators"], approval_steps=steps, checklist=checklist,
        owner_must_be_function=section.get("owner_must_be_function", True), channel_class=channel_class,
        mandate_roles=mandate_roles or tuple(dict.fromkeys(s.role for s in steps if s.kind == "approval")),
        controller_of_visitor_content=dict(section.get("controller_of_visitor_content", {})),
        credential_custody_required=dict(section.get("credential_custody_required", {})),
        functions=tuple(section.get("functions", ())), signed_answers=section.get("signed_answers", False),
    )


def _valid_month_day(text: str) -> bool:
    try:
        date.fromisoformat(f"2024-{text}")  # a leap year, so 02-29 is a day of the year
    except ValueError:
        return False
    return True


def _all_languages(section: Mapping[str, Any]) -> tuple[str, ...]:
    # Events carry no reliable language tag, so every language's terms apply to every event.
    return tuple(dict.fromkeys(t for lang in ("sv", "nb", "nn", "en") for t in section.get(lang, ())))


def _unique(key: str, values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PolicyError("", key, f"{what} {value!r} appears twice")
        seen.add(value)


def _known_roles(key: str, names: tuple[str, ...], roles: tuple[str, ...]) -> None:
    for name in names:
        if name not in roles:
            raise PolicyError("", key, f"{name!r} is not in roles.names ({', '.join(roles)})")


def with_overrides(policy: Policy, *, prefix: str | None = None, timezone: str | None = None) -> Policy:
    """The policy with a numbering prefix and/or time zone filled in by the person running init."""
    doc = json.loads(canonical_json(policy.document))
    if prefix is not None:
        doc["numbering"]["prefix"] = prefix
    if timezone is not None:
        doc["register"]["timezone"] = timezone
    return from_document(doc, source="")
