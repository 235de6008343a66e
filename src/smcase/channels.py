"""Channels: proposal with a plan, approvals in the policy's order, start, stop, mandates.

Each step is a record in the channel's own case, written through
``RegisterService.write_batch`` together with the channel's row, in one
transaction:

* ``propose`` (plan checked against the policy: administrators, owner,
  checklist, credential custody) opens the case; the plan is its first record;
* ``approve`` takes the steps in the policy's order, each only by a user who
  holds the step's role (VIM-2, TOR-3);
* ``start`` when every step is done, ``stop`` with a reason (TOR-1); both fire
  the ``channel started``/``channel stopped`` hooks and change the public list;
* ``designate`` registers who may write for the municipality (RAT-1, RAT-3,
  RAT-4, NOR-2, REN-3); the register service refuses outgoing records from
  anyone else.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from . import audit
from .capture.config import CaptureSettings, check_settings
from .errors import InvalidInput, InvalidState, NotFound, PermissionDenied
from .identity import scrub
from .model import CaptureSource, Case, Channel, ChannelApproval, Mandate, User, UserRole, table_of
from .plan import Plan, problems
from .plugins import Plugins
from .register import CasePlan, CaseSpec, RecordSpec, RegisterService, WrittenCase

_CHANNELS = table_of(Channel)
_CAPTURE = table_of(CaptureSource)
_APPROVALS = table_of(ChannelApproval)
_MANDATES = table_of(Mandate)

_TEXTS = {
    "sv": {"case": "Kanal i sociala medier: {name} ({platform})", "plan": "Handlingsplan för {name}",
           "approval": "Godkännande: {description} ({user})", "consultation": "Samråd: {description} ({user})",
           "start": "Kanalen {name} startad", "stop": "Kanalen {name} avslutad: {reason}",
           "mandate": "Uppdrag att skriva för kommunen på {name}: {person}, beviljat av {granted_by}",
           "revoke": "Uppdraget att skriva för kommunen på {name} återkallat: {person}. Skäl: {reason}",
           "contacts": "Administratörer för {name}: {what}", "added": "{person} tillagd",
           "updated": "nya kontaktuppgifter för {person}", "removed": "{person} borttagen",
           "followers": "Antal följare på {name} den {on}: {count}",
           "follow_up": "Uppföljning av {name} efter avslutad aktivitet: {note}",
           "capture": "Direktinsamling för {name}: {platform}-id {platform_id}"},
    "nb": {"case": "Kanal i sosiale medier: {name} ({platform})", "plan": "Handlingsplan for {name}",
           "approval": "Godkjenning: {description} ({user})", "consultation": "Drøfting: {description} ({user})",
           "start": "Kanalen {name} startet", "stop": "Kanalen {name} avsluttet: {reason}",
           "mandate": "Oppnevnt til å skrive for kommunen på {name}: {person}, oppnevnt av {granted_by}",
           "revoke": "Oppnevningen til å skrive for kommunen på {name} trukket tilbake: {person}. Grunn: {reason}",
           "contacts": "Administratorer for {name}: {what}", "added": "{person} lagt til",
           "updated": "nye kontaktopplysninger for {person}", "removed": "{person} fjernet",
           "followers": "Antall følgere på {name} {on}: {count}",
           "follow_up": "Oppfølging av {name} etter avsluttet aktivitet: {note}",
           "capture": "Direkteinnsamling for {name}: {platform}-id {platform_id}"},
}


@dataclass(frozen=True)
class ChannelView:
    """A channel as the register shows it. ``public()`` is what the public list may carry."""

    id: int
    uuid: uuid.UUID
    platform: str
    url: str
    name: str
    state: str
    owner: str | None
    contact: str | None
    purpose: str | None
    case: str | None
    controller_of_visitor_content: bool
    custody_location: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    approvals: tuple[tuple[str, str], ...]  # (step, approved by)
    writers: tuple[str, ...]
    plan: dict[str, Any] | None

    def public(self) -> dict[str, Any]:
        """The public list's fields: no administrators, no personal contact details (RAT-5, NOR-3, TOR-1)."""
        return {"id": self.id, "platform": self.platform, "url": self.url, "name": self.name, "state": self.state,
                "owner": self.owner, "contact": self.contact, "purpose": self.purpose}

    def to_json(self) -> dict[str, Any]:
        """The full JSON form for registrars (``channel list --json`` without ``--public``)."""
        return {**self.public(), "uuid": str(self.uuid), "case": self.case,
                "controller_of_visitor_content": self.controller_of_visitor_content,
                "custody_location": self.custody_location,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
                "approvals": [{"step": s, "by": u} for s, u in self.approvals], "writers": list(self.writers),
                "administrators": self.administrators}

    @property
    def administrators(self) -> list[dict[str, str]]:
        """The named administrators with their current contact details (RAT-2): name, email, phone."""
        return [{k: a[k] for k in ("name", "email", "phone") if k in a}
                for a in (self.plan or {}).get("administrators", [])]


class Channels:
    """The channel workflow for one acting user."""

    def __init__(self, service: RegisterService, plugins: Plugins) -> None:
        self.service = service
        self.plugins = plugins
        self.rules = service.policy.channels
        self.texts = _TEXTS["nb" if service.policy.language in ("nb", "nn") else "sv"]

    # -- reads -----------------------------------------------------------------------

    def _row(self, conn: Connection, ref: str) -> dict[str, Any]:
        ref = ref.strip()
        column = _CHANNELS.c.id if ref.isdigit() else _CHANNELS.c.address
        query = select(_CHANNELS).where(column == (int(ref) if ref.isdigit() else ref))
        row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"no channel {ref!r} (give its number or its address)")
        return dict(row)

    def get(self, ref: str) -> ChannelView:
        """The channel with this number or address."""
        with self.service.reading() as conn:
            return self._view(conn, self._row(conn, ref))

    def list(self, *, public: bool = False) -> list[ChannelView]:
        """The channels the acting user may read (VIM-3), by number; ``public``: every active one, for anyone."""
        query = select(_CHANNELS).order_by(_CHANNELS.c.id)
        if public:
            query = query.where(_CHANNELS.c.state == "active")
        with self.service.reading() as conn:
            found = [self._view(conn, dict(row)) for row in conn.execute(query).mappings()]
        return found if public else [c for c in found if self.may_read(c)]

    def show(self, ref: str) -> ChannelView:
        """The channel ``ref``, if the acting user may read it (VIM-3)."""
        channel = self.get(ref)
        if not self.may_read(channel):
            allowed = self.service.policy.roles_for("channel.read")
            raise PermissionDenied(f"user {self.service.actor.username!r} may not read channel {channel.id}: it "
                                   f"takes one of the roles {', '.join(allowed)}, or administering or writing "
                                   f"for it (VIM-3)")
        return channel

    def may_read(self, channel: ChannelView) -> bool:
        """Every channel for the roles of ``channel.read``; otherwise the ones the user writes for or
        administers (named as its ``user`` in the plan)."""
        actor = self.service.actor
        if set(actor.roles) & set(self.service.policy.roles_for("channel.read")):
            return True
        admins = {a.get("user") for a in (channel.plan or {}).get("administrators", [])}
        return actor.username in channel.writers or actor.username in admins

    def _view(self, conn: Connection, row: dict[str, Any]) -> ChannelView:
        number = conn.execute(select(Case.diary_number).where(Case.id == row["case_id"])).scalar_one_or_none()
        approvals = conn.execute(select(_APPROVALS.c.step, _APPROVALS.c.approved_by)
                                 .where(_APPROVALS.c.channel_id == row["id"]).order_by(_APPROVALS.c.id)).all()
        writers = conn.execute(select(_MANDATES.c.username).where(_MANDATES.c.channel_id == row["id"],
                                                                   _MANDATES.c.revoked_at.is_(None))
                               .order_by(_MANDATES.c.id)).scalars().all()
        tz = self.service.tz
        return ChannelView(
            id=row["id"], uuid=row["uuid"], platform=row["platform"], url=row["address"], name=row["name"],
            state=row["state"], owner=row["owner"], contact=row["contact"], purpose=row["purpose"], case=number,
            controller_of_visitor_content=row["controller_of_visitor_content"],
            custody_location=row["custody_location"],
            started_at=row["started_at"].astimezone(tz) if row["started_at"] else None,
            stopped_at=row["stopped_at"].astimezone(tz) if row["stopped_at"] else None,
            approvals=tuple((s, u) for s, u in approvals), writers=tuple(writers), plan=row["plan"],
        )

    # -- the lifecycle -----------------------------------------------------------------

    def propose(self, plan: Plan) -> ChannelView:
        """Open the channel's case with the plan as its first record; refused when the policy says no."""
        found = problems(plan, self.service.policy)
        if found:
            raise InvalidInput("the plan is refused: " + "; ".join(found))
        channel_doc = plan.document["channel"]
        capture = check_settings(plan.platform, channel_doc["platform_id"], channel_doc.get("instance"),
                                 channel_doc.get("token_file")) if "platform_id" in channel_doc else None
        if capture is not None:
            self.service.require("capture.configure")
            self._refuse_taken(plan.platform, capture)
        with self.service.reading() as conn:
            if conn.execute(select(_CHANNELS.c.id).where(_CHANNELS.c.address == plan.url)).first():
                raise InvalidState(f"a channel {plan.url} is already registered")
        now = self.service.clock()
        text = {"name": plan.name, "platform": plan.platform}
        created: dict[str, int] = {}

        def create(conn: Connection) -> None:
            created["id"] = conn.execute(insert(_CHANNELS).values(
                uuid=uuid.uuid4(), platform=plan.platform, address=plan.url, name=plan.name, state="proposed",
                created_at=now, owner=plan.owner, contact=plan.contact, purpose=plan.purpose, plan=plan.document,
                custody_location=plan.credential_custody,
                controller_of_visitor_content=self.rules.controller_for(plan.platform),
            ).returning(_CHANNELS.c.id)).scalar_one()
            if capture is not None:
                self._store_capture(conn, created["id"], plan.platform, capture)

        def link(conn: Connection, written: list[WrittenCase]) -> dict[str, set[int]]:
            conn.execute(update(_CHANNELS).where(_CHANNELS.c.id == created["id"]).values(case_id=written[0].id))
            return {"channels": {created["id"]}}

        self.service.write_batch(
            [CasePlan(spec=CaseSpec(title=self.texts["case"].format(**text), class_code=self.rules.channel_class,
                                    owner_unit=plan.owner, channel=plan.url),
                      records=[RecordSpec("internal", self.texts["plan"].format(**text), kind="channel_plan",
                                          attachments=[(f"plan-{plan.platform}.toml", plan.text.encode("utf-8"))])])],
            before=create, after=link, permission="channel.propose")
        return self.get(str(created["id"]))

    def approve(self, ref: str, step: str) -> ChannelView:
        """Do approval step ``step``: the next one in the policy's order, by a holder of its role."""
        channel = self.get(ref)
        if channel.state != "proposed":
            raise InvalidState(f"channel {channel.url} is {channel.state}; only a proposed channel is approved")
        done = {s for s, _u in channel.approvals}
        pending = [s for s in self.rules.approval_steps if s.step not in done]
        wanted = next((s for s in self.rules.approval_steps if s.step == step), None)
        if wanted is None:
            raise InvalidInput(f"unknown step {step!r}; the policy's steps are "
                               f"{', '.join(s.step for s in self.rules.approval_steps)}")
        if wanted.step in done:
            raise InvalidState(f"step {step!r} of channel {channel.url} is already done")
        if pending[0].step != step:
            raise InvalidState(f"step {step!r} comes after {pending[0].step!r}, which is not done yet")
        if wanted.role not in self.service.actor.roles:
            raise PermissionDenied(f"step {step!r} is done by the role {wanted.role!r}, which "
                                   f"{self.service.actor.username!r} does not hold")
        user = self.service.actor.username
        title = self.texts[wanted.kind].format(description=wanted.description or step, user=user)
        last = len(pending) == 1
        now = self.service.clock()

        def record(conn: Connection, written: list[WrittenCase]) -> None:
            conn.execute(insert(_APPROVALS).values(channel_id=channel.id, step=step, role=wanted.role,
                                                   approved_by=user, approved_at=now,
                                                   record_id=written[0].records[0].id))
            if last:
                conn.execute(update(_CHANNELS).where(_CHANNELS.c.id == channel.id).values(state="approved"))

        self._record(channel, RecordSpec("internal", title, kind=f"channel_{wanted.kind}"), record,
                     permission="channel.approve")
        return self.get(str(channel.id))

    def start(self, ref: str) -> ChannelView:
        """Start an approved channel (a record; the public list shows it from now on)."""
        channel = self.get(ref)
        if channel.state != "approved":
            missing = [s.step for s in self.rules.approval_steps if s.step not in {a for a, _u in channel.approvals}]
            why = f"steps not done: {', '.join(missing)}" if missing else f"it is {channel.state}"
            raise InvalidState(f"channel {channel.url} cannot start: {why}")
        now = self.service.clock()
        self._record(channel, RecordSpec("memo", self.texts["start"].format(name=channel.name),
                                         kind="channel_start"),
                     lambda conn, _w: conn.execute(update(_CHANNELS).where(_CHANNELS.c.id == channel.id)
                                                   .values(state="active", started_at=now)))
        self.plugins.notify("smcase_notify_channel_started", channel=channel.url,
                            cleared=self.service.policy.notify_cleared, uncleared={"channel": scrub(channel.url)})
        return self.get(str(channel.id))

    def stop(self, ref: str, reason: str) -> ChannelView:
        """Stop an active channel, with the reason (TOR-1: the end is reported too)."""
        channel = self.get(ref)
        reason = reason.strip()
        if not reason:
            raise InvalidInput("the reason for stopping may not be empty")
        if channel.state != "active":
            raise InvalidState(f"channel {channel.url} is {channel.state}; only an active channel is stopped")
        now = self.service.clock()
        self._record(channel, RecordSpec("memo", self.texts["stop"].format(name=channel.name, reason=reason),
                                         kind="channel_stop"),
                     lambda conn, _w: conn.execute(update(_CHANNELS).where(_CHANNELS.c.id == channel.id)
                                                   .values(state="stopped", stopped_at=now, stop_reason=reason)))
        self.plugins.notify("smcase_notify_channel_stopped", channel=channel.url, reason=reason,
                            cleared=self.service.policy.notify_cleared,
                            uncleared={"channel": scrub(channel.url), "reason": scrub(reason)})
        return self.get(str(channel.id))

    def designate(self, ref: str, person: str, granted_by: str) -> ChannelView:
        """Register ``person``'s mandate to write for the channel, granted by ``granted_by`` (RAT-1, RAT-3)."""
        channel = self.get(ref)
        if channel.state == "stopped":
            raise InvalidState(f"channel {channel.url} is stopped")
        with self.service.reading() as conn:
            if conn.execute(select(User.id).where(User.username == person)).first() is None:
                raise NotFound(f"no user {person!r}: writers and those who grant mandates are users")
        self._require_mandate_role(granted_by, "grant")
        if person in channel.writers:
            raise InvalidState(f"{person!r} already has a mandate for {channel.url}")
        now = self.service.clock()
        title = self.texts["mandate"].format(name=channel.name, person=person, granted_by=granted_by)
        self._record(channel, RecordSpec("internal", title, kind="mandate"),
                     lambda conn, written: conn.execute(insert(_MANDATES).values(
                         channel_id=channel.id, username=person, granted_by=granted_by, granted_at=now,
                         record_id=written[0].records[0].id)))
        return self.get(str(channel.id))

    def revoke(self, ref: str, person: str, reason: str, revoked_by: str | None = None) -> ChannelView:
        """Withdraw ``person``'s mandate to write for the channel (RAT-1, RAT-3, NOR-2, REN-3): a record in the
        channel's case; from then on the register refuses outgoing records that ``person`` enters for it.

        ``revoked_by`` (default: the acting user) is who withdraws it, and must hold one of the policy's
        mandate roles, as whoever grants one must; the acting user needs ``channel.manage`` to enter it."""
        channel = self.get(ref)
        reason = reason.strip()
        if not reason:
            raise InvalidInput("give the reason the mandate is withdrawn (--reason)")
        if person not in channel.writers:
            raise InvalidState(f"{person!r} has no mandate for {channel.url}"
                               + (f" (writers: {', '.join(channel.writers)})" if channel.writers else ""))
        self._require_mandate_role(revoked_by or self.service.actor.username, "withdraw")
        now = self.service.clock()
        title = self.texts["revoke"].format(name=channel.name, person=person, reason=reason)
        self._record(channel, RecordSpec("internal", title, kind="mandate_revoked"),
                     lambda conn, _written: conn.execute(update(_MANDATES).where(
                         _MANDATES.c.channel_id == channel.id, _MANDATES.c.username == person,
                         _MANDATES.c.revoked_at.is_(None)).values(revoked_at=now)))
        return self.get(str(channel.id))

    def _require_mandate_role(self, username: str, act: str) -> None:
        """Granting and withdrawing mandates is for the roles the policy names (RAT-1, NOR-1)."""
        with self.service.reading() as conn:
            if conn.execute(select(User.id).where(User.username == username)).first() is None:
                raise NotFound(f"no user {username!r}: writers and those who grant mandates are users")
            roles = set(conn.execute(select(UserRole.role).join(User).where(User.username == username)).scalars())
        if not roles & set(self.rules.mandate_roles):
            raise PermissionDenied(f"{username!r} cannot {act} a mandate: it takes one of the roles "
                                   f"{', '.join(self.rules.mandate_roles)} (RAT-1, NOR-1)")

    def change_contacts(self, ref: str, *, admin: str | None = None, email: str | None = None,
                        phone: str | None = None, remove: str | None = None) -> tuple[ChannelView, str]:
        """Keep the channel's administrators current (RAT-2): add one, update one's e-mail or phone, or remove
        one, by name. A record each time in the channel's case; not a major change (no snapshot falls due).
        Returns the channel and the record's number."""
        channel = self.get(ref)
        if channel.state == "stopped":
            raise InvalidState(f"channel {channel.url} is stopped")
        if (admin is None) == (remove is None):
            raise InvalidInput("give either --admin NAME (with --email and/or --phone) or --remove-admin NAME")
        document = dict(channel.plan or {})
        admins = [dict(a) for a in document.get("administrators", [])]
        wanted = (admin or remove or "").strip()
        _check_contact(wanted, email, phone)
        found = next((a for a in admins if a["name"].casefold() == wanted.casefold()), None)
        if remove is not None:
            if found is None:
                raise NotFound(f"no administrator {wanted!r} on {channel.url} (administrators: "
                               f"{', '.join(a['name'] for a in admins) or 'none'})")
            if len(admins) - 1 < self.rules.min_administrators:
                raise InvalidState(f"{channel.url} would have {len(admins) - 1} administrator(s); the policy needs "
                                   f"at least {self.rules.min_administrators} (TOR-2, VIM-8): add one first")
            admins.remove(found)
            what = self.texts["removed"].format(person=found["name"])
        elif found is None:
            if not (email and phone):
                raise InvalidInput(f"{wanted!r} is a new administrator: give both --email and --phone")
            admins.append({"name": wanted, "email": email.strip(), "phone": phone.strip()})
            what = self.texts["added"].format(person=wanted)
        else:
            if not (email or phone):
                raise InvalidInput(f"give the new --email and/or --phone of {found['name']!r}")
            found.update({k: v.strip() for k, v in (("email", email), ("phone", phone)) if v})
            what = self.texts["updated"].format(person=found["name"])
        document["administrators"] = admins
        title = self.texts["contacts"].format(name=channel.name, what=what)
        written: list[str] = []

        def store(conn: Connection, w: list[WrittenCase]) -> None:
            conn.execute(update(_CHANNELS).where(_CHANNELS.c.id == channel.id).values(plan=document))
            written.append(w[0].records[0].number)

        self._record(channel, RecordSpec("memo", title, kind="contact_update"), store)
        return self.get(str(channel.id)), written[0]

    def configure_capture(self, ref: str, platform_id: str, instance: str | None = None,
                          token_file: str | None = None) -> str:
        """Configure live capture for the channel: the platform's own id for it (what deliveries and polls are
        matched on), and for Mastodon the server and a token file. A record in the channel's case; the number."""
        channel = self.get(ref)
        if channel.state == "stopped":
            raise InvalidState(f"channel {channel.url} is stopped")
        settings = check_settings(channel.platform, platform_id, instance, token_file)
        self._refuse_taken(channel.platform, settings, channel.id)
        written: list[str] = []

        def store(conn: Connection, w: list[WrittenCase]) -> None:
            self._store_capture(conn, channel.id, channel.platform, settings)
            written.append(w[0].records[0].number)

        title = self.texts["capture"].format(name=channel.name, platform=channel.platform,
                                             platform_id=settings.platform_id)
        self._record(channel, RecordSpec("memo", title, kind="capture_settings"), store,
                     permission="capture.configure")
        return written[0]

    def _refuse_taken(self, platform: str, settings: CaptureSettings, channel_id: int | None = None) -> None:
        """One platform id, one channel: a delivery must never be filed under two."""
        with self.service.reading() as conn:
            taken = conn.execute(select(_CHANNELS.c.address).join(_CAPTURE, _CAPTURE.c.channel_id == _CHANNELS.c.id)
                                 .where(_CAPTURE.c.platform == platform,
                                        _CAPTURE.c.platform_id == settings.platform_id,
                                        _CAPTURE.c.channel_id != (channel_id or 0))).scalar_one_or_none()
        if taken is not None:
            raise InvalidState(f"{platform} id {settings.platform_id} is already captured for channel {taken}")

    def _store_capture(self, conn: Connection, channel_id: int, platform: str, settings: CaptureSettings) -> None:
        values = {"platform": platform, "platform_id": settings.platform_id, "instance": settings.instance,
                  "token_file": settings.token_file, "configured_at": self.service.clock(),
                  "configured_by": self.service.actor.username}
        # A new account or server starts afresh: the old position (and its last error) belong to the old one.
        values.update(position=None, last_error=None)
        changed = conn.execute(update(_CAPTURE).where(_CAPTURE.c.channel_id == channel_id).values(**values)).rowcount
        if not changed:
            conn.execute(insert(_CAPTURE).values(channel_id=channel_id, **values))

    def followers(self, ref: str, count: int, on: date) -> str:
        """Enter the channel's number of followers on a day (TOR-7: the follow-up report counts them): kept with
        the channel for ``report annual``, and a record in its case. Returns the record's number."""
        if not 0 <= count <= 10**10:
            raise InvalidInput(f"a number of followers is 0 to 10,000,000,000, not {count}")
        channel = self.get(ref)
        if channel.started_at is None:
            raise InvalidState(f"channel {channel.url} has not started: it has no followers yet")
        today = self.service.clock().astimezone(self.service.tz).date()
        if not channel.started_at.date() <= on <= today:
            raise InvalidInput(f"the day counted ({on}) is not between the channel's start "
                               f"({channel.started_at.date()}) and today")
        document = dict(channel.plan or {})
        counts = [c for c in document.get("followers", []) if c["on"] != on.isoformat()]
        document["followers"] = sorted([*counts, {"on": on.isoformat(), "count": count}], key=lambda c: c["on"])
        title = self.texts["followers"].format(name=channel.name, on=on.isoformat(), count=count)
        written: list[str] = []

        def store(conn: Connection, w: list[WrittenCase]) -> None:
            conn.execute(update(_CHANNELS).where(_CHANNELS.c.id == channel.id).values(plan=document))
            written.append(w[0].records[0].number)

        self._record(channel, RecordSpec("memo", title, kind="followers", document_date=on), store)
        return written[0]

    def follow_up(self, ref: str, note: str, files: Sequence[Path] = ()) -> str:
        """Register the follow-up of a channel (TOR-7), e.g. of a short activity once it has ended."""
        channel = self.get(ref)
        note = note.strip()
        if not note:
            raise InvalidInput("say what the follow-up found (--note)")
        written: list[str] = []
        title = self.texts["follow_up"].format(name=channel.name, note=note)
        self._record(channel, RecordSpec("memo" if not files else "internal", title, kind="follow_up", files=files),
                     lambda _conn, w: written.append(w[0].records[0].number))
        return written[0]

    def log(self, ref: str, kind: str, title: str, files: Sequence[Path] = ()) -> str:
        """Register a record of ``kind`` (``snapshot``, ``monitoring``, ``major_change``) in the channel's case.

        This is how a duty is done: the next one is computed from this record.
        """
        channel = self.get(ref)
        if channel.state != "active":
            raise InvalidState(f"channel {channel.url} is {channel.state}; duties apply to active channels")
        written: list[str] = []
        self._record(channel, RecordSpec("memo" if not files else "internal", title, kind=kind, files=files),
                     lambda _conn, w: written.append(w[0].records[0].number))
        return written[0]

    def _record(self, channel: ChannelView, spec: RecordSpec, after: Any, permission: str = "channel.manage") -> None:
        if channel.case is None:
            raise InvalidState(f"channel {channel.url} has no case")
        change = audit.Change(f"channel.{spec.kind.removeprefix('channel_')}", "channel", channel.uuid, channel.url,
                              {"after": {"record": spec.title}})
        def then(conn: Connection, written: list[WrittenCase]) -> dict[str, set[int]]:
            after(conn, written)
            return {"channels": {channel.id}}  # its state, approvals and mandates: attested with the record

        self.service.write_batch([CasePlan(records=[spec], case_number=channel.case)], after=then,
                                 audit_extra=[change], permission=permission)

    # -- texts -----------------------------------------------------------------------

    def profile(self, ref: str, language: str | None = None) -> str:
        """The text the channel must show (VIM-5, TOR-6), from the policy and the plan."""
        channel = self.get(ref)
        lang = language or ("nb" if self.service.policy.language in ("nb", "nn") else "sv")
        if lang not in PROFILE:
            raise InvalidInput(f"no profile text in {lang!r}: use sv or nb")
        plan = (channel.plan or {}).get("channel", {})
        prohibited = "; ".join(c.description for c in self.service.policy.prohibited) or "-"
        return PROFILE[lang].format(
            name=channel.name, organisation=self.service.register_name, owner=channel.owner or "",
            contact=channel.contact or "", purpose=channel.purpose or "",
            hours=plan.get("monitoring_hours", ""), prohibited=prohibited,
            response=_RESPONSE[lang].format(time=plan["response_time"]) if plan.get("response_time") else "",
        ).strip() + "\n"


_RESPONSE = {"sv": " Svarstid på inlägg och kommentarer: {time}.", "nb": " Svartid på innlegg og kommentarer: {time}."}

PROFILE = {
    "sv": """
{name}
Det här är ett officiellt konto för {organisation}, som drivs av {owner}. Kontakt: {contact}.

Syfte: {purpose}.

Allt som skrivs här, av oss och av dig, blir allmänna handlingar. Inlägg och kommentarer syns för alla som besöker kontot.

Vi är aktiva och svarar: {hours}.{response}

Du får inte publicera: {prohibited}. Sådant innehåll sparas och tas bort, och kan polisanmälas; den som bryter mot reglerna kan blockeras.

Personliga ärenden (personuppgifter, ekonomiska förhållanden, sekretessbelagda uppgifter) tar vi inte här: kontakta oss via {contact}, brev eller telefon.
""",
    "nb": """
{name}
Dette er en offisiell konto for {organisation}, drevet av {owner}. Kontakt: {contact}.

Formål: {purpose}.

Alt som skrives her, av oss og av deg, kan være offentlige dokumenter. Innlegg og kommentarer er synlige for alle.

Vi er aktive og svarer: {hours}.{response}

Du kan ikke publisere: {prohibited}. Slikt innhold lagres og slettes, og kan bli anmeldt; den som bryter reglene kan bli blokkert.

Vi driver ikke saksbehandling her: personlige henvendelser sendes til {contact} eller per brev.
""",
}


def public_html(channels: Sequence[ChannelView], organisation: str, language: str) -> str:
    """A small, valid, accessible HTML page of the active channels (RAT-5, NOR-3, TOR-1)."""
    sv = language == "sv"
    title = ("Våra kanaler i sociala medier" if sv else "Våre kanaler i sosiale medier") + f": {organisation}"
    head = ("Kanal", "Plattform", "Ansvarig", "Kontakt") if sv else ("Kanal", "Plattform", "Ansvarlig", "Kontakt")
    rows = "\n".join(
        f'      <tr><td><a href="{html.escape(c.url, quote=True)}">{html.escape(c.name)}</a></td>'
        f"<td>{html.escape(c.platform)}</td><td>{html.escape(c.owner or '')}</td>"
        f"<td>{html.escape(c.contact or '')}</td></tr>"
        for c in channels
    )
    empty = "Inga aktiva kanaler." if sv else "Ingen aktive kanaler."
    body = (f'    <table>\n      <caption>{html.escape(title)}</caption>\n      <thead><tr>'
            + "".join(f'<th scope="col">{h}</th>' for h in head)
            + f"</tr></thead>\n      <tbody>\n{rows}\n      </tbody>\n    </table>") if channels else f"    <p>{empty}</p>"
    # Void elements are closed (<meta ... />): valid HTML5 that is also well-formed XML.
    return (f'<!DOCTYPE html>\n<html lang="{"sv" if sv else "nb"}">\n<head>\n  <meta charset="utf-8" />\n'
            f'  <meta name="viewport" content="width=device-width, initial-scale=1" />\n'
            f"  <title>{html.escape(title)}</title>\n</head>\n<body>\n  <main>\n"
            f"    <h1>{html.escape(title)}</h1>\n{body}\n  </main>\n</body>\n</html>\n")


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # as the plan schema says
_PHONE = re.compile(r"\+?[0-9][0-9 \-]{5,19}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _check_contact(name: str, email: str | None, phone: str | None) -> None:
    """An administrator's contact details as a plan must give them (RAT-2): refused with the reason."""
    if not name or len(name) > 200 or _CONTROL.search(name):
        raise InvalidInput("an administrator's name is 1 to 200 characters, without control characters")
    if email is not None and not _EMAIL.fullmatch(email.strip()):
        raise InvalidInput(f"{scrub(email)!r} is not an e-mail address")
    if phone is not None and not _PHONE.fullmatch(phone.strip()):
        raise InvalidInput(f"{scrub(phone)!r} is not a phone number (digits, spaces, dashes, a leading +)")
