"""The filing plan's classes and the register's users: adding, changing, granting and revoking."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from .. import audit
from ..errors import InvalidInput, InvalidState, NotFound
from ..model import (
    Classification,
    User,
    UserRole,
)
from .reads import Reads
from .specs import (
    ClassView,
    UserView,
    _check_username,
    _no_identity_number,
    _person_detail,
    _text,
    _user_view,
)


class People(Reads):
    """Classes and users (an admin's work); each change audited."""

    def add_class(self, code: str, title: str) -> ClassView:
        """Add a class to the filing plan."""
        self.require("class.add")
        code = _no_identity_number(_text(code, "a class code"), "a class code")
        if any(ch.isspace() for ch in code):
            raise InvalidInput(f"class code {code!r} may not contain spaces")
        title = _no_identity_number(_text(title, "a class title"), "a class title")
        now = self.clock()
        with self._write() as session:
            if session.scalar(select(Classification.id).where(Classification.code == code)) is not None:
                raise InvalidState(f"class {code!r} already exists")
            cls = Classification(code=code, title=title, created_at=now)
            session.add(cls)
            session.flush()
            self._audit(session, [audit.Change("class.add", "class", cls.uuid, code,
                                               {"after": {"code": code, "title": title}})], now)
            return ClassView(code, title, cls.uuid)

    def add_user(self, username: str, roles: Sequence[str], *, full_name: str | None = None,
                 job_title: str | None = None, unit: str | None = None, clearance: bool = False) -> UserView:
        """Add an individual user with roles from the policy."""
        self.require("user.manage")
        username = _check_username(username)
        full_name, job_title, unit = (_person_detail(full_name, "a full name"), _person_detail(job_title, "a job title"),
                                      _person_detail(unit, "a unit"))
        roles = tuple(dict.fromkeys(roles))
        if not roles:
            raise InvalidInput("a user needs at least one role")
        unknown = [r for r in roles if r not in self.policy.roles]
        if unknown:
            raise InvalidInput(f"unknown role {unknown[0]!r}; the policy's roles are {', '.join(self.policy.roles)}")
        now = self.clock()
        with self._write() as session:
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise InvalidState(f"user {username!r} already exists")
            user = User(username=username, full_name=full_name, job_title=job_title, unit=unit,
                        clearance=clearance, created_at=now, roles=[UserRole(role=r) for r in roles])
            session.add(user)
            session.flush()
            self._audit(session, [audit.Change("user.add", "user", user.uuid, username, {"after": {
                "roles": list(roles), "full_name": full_name, "job_title": job_title, "unit": unit,
                "clearance": clearance}})], now)
            return _user_view(user)

    def update_user(self, username: str, *, full_name: str | None = None, job_title: str | None = None,
                    unit: str | None = None) -> UserView:
        """Set a user's full name, job title or unit (what outgoing replies are signed with, VIM-7); audited."""
        self.require("user.manage")
        given = {k: _person_detail(v, what) or "" for k, v, what in (
            ("full_name", full_name, "a full name"), ("job_title", job_title, "a job title"), ("unit", unit, "a unit"))
            if v is not None}
        if not given:
            raise InvalidInput("give --full-name, --title and/or --unit")
        now = self.clock()
        with self._write() as session:
            user = session.scalar(select(User).where(User.username == username.strip()))
            if user is None:
                raise NotFound(f"no user {username!r}")
            before = {k: getattr(user, k) for k in given}
            if before == given:
                raise InvalidState(f"nothing to change for {username!r}")
            for key, value in given.items():
                setattr(user, key, value)
            session.flush()
            self._audit(session, [audit.Change("user.update", "user", user.uuid, user.username,
                                               {"before": before, "after": given})], now)
            return _user_view(user)

    def change_user(self, username: str, *, grant: Sequence[str] = (), revoke: Sequence[str] = (),
                    clearance: bool | None = None) -> UserView:
        """Grant or revoke roles, and set clearance for confidential content; every change is audited.

        A user keeps at least one role, and the last admin keeps the admin role (someone
        must be able to manage users).
        """
        self.require("user.manage")
        unknown = [r for r in (*grant, *revoke) if r not in self.policy.roles]
        if unknown:
            raise InvalidInput(f"unknown role {unknown[0]!r}; the policy's roles are {', '.join(self.policy.roles)}")
        now = self.clock()
        with self._write() as session:
            user = session.scalar(select(User).where(User.username == username.strip()))
            if user is None:
                raise NotFound(f"no user {username!r}")
            before: dict[str, Any] = {"roles": sorted(user.role_names), "clearance": user.clearance}
            roles = [r for r in dict.fromkeys((*user.role_names, *grant)) if r not in revoke]
            if not roles:
                raise InvalidInput(f"{username!r} would have no role left; a user needs at least one")
            if "admin" in user.role_names and "admin" not in roles:
                admins = session.scalar(select(func.count()).select_from(UserRole).join(User).where(
                    UserRole.role == "admin", User.active.is_(True), User.id != user.id)) or 0
                if not admins:
                    raise InvalidState(f"{username!r} is the last admin and cannot be removed: "
                                       "grant another user the admin role first")
            user.roles = [r for r in user.roles if r.role in roles] + [
                UserRole(role=r) for r in roles if r not in user.role_names]
            if clearance is not None:
                user.clearance = clearance
            after: dict[str, Any] = {"roles": sorted(roles), "clearance": user.clearance}
            if after == before:
                raise InvalidState(f"nothing to change: {username!r} has the roles {', '.join(before['roles'])} "
                                   f"and {'has' if user.clearance else 'has no'} clearance")
            session.flush()
            action = "user.revoke" if revoke or clearance is False else "user.grant"
            self._audit(session, [audit.Change(action, "user", user.uuid, user.username,
                                               {"before": before, "after": after})], now)
            return _user_view(user)
