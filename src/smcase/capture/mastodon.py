"""Poll one Mastodon account through the REST API and write capture envelopes for the ``mastodon-api`` adapter.

One pass (``MastodonCapture.run_pass``):

1. finds the account's id (``/api/v1/accounts/lookup``; kept in the position);
2. reads its statuses: the new ones since the last pass (``min_id``, paging to
   newer pages by the ``Link`` header's ``rel="prev"``), then the ones of the
   recheck window, newest first (``rel="next"``), to see edits and deletions;
3. reads the mentions addressed to it (``/api/v1/notifications?types[]=mention``,
   with its own ``min_id``);
4. reads the thread (``/api/v1/statuses/:id/context``) of each of its statuses
   in the window: the descendants are the replies;
5. for a status whose ``edited_at`` changed, counts its versions
   (``/history``) and writes an ``edit``; for a remembered status of the window
   that is no longer listed, asks for it (``/api/v1/statuses/:id``) and writes a
   ``delete`` when the answer is 404.

The first pass starts at the window (``recheck_days`` back): what is older is
the account archive's business (the ``mastodon`` adapter; the keys agree). A
pass either completes or raises ``MastodonError``, and only a completed pass
gives a new position, so nothing seen is lost by a failure half-way.

The position (plain JSON) holds: ``format``, ``instance``, ``account`` (acct)
and ``account_id``; ``statuses_min_id`` and ``notifications_min_id``, the
newest ids seen; and ``known``: for every status of the window already
written, by its id on the instance, its ``uri``, ``created_at``, ``edited_at``,
whether it is the account's own (``own``) and, for someone else's reply, the
own status whose thread it was found in (``thread``). Statuses older than the
window are forgotten (a reply with its thread), so the position stays small.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..builtin._common import from_iso, parse_json
from ..clock import utcnow

POSITION_FORMAT = "smcase-mastodon-capture/1"
PAGE_LIMIT = 40  # Mastodon's most statuses per page
MAX_WAIT = 300.0  # the longest single wait for a rate limit or back-off, in seconds
MAX_PAGES = 10_000  # a server that pages for ever is stopped here


#: What a transport failure means, in words an administrator acts on.
_TRANSPORT_WORDS = {
    "ConnectError": "cannot connect to the server (is the address right, is it up?)",
    "ConnectTimeout": "the server did not answer the connection in time",
    "ReadTimeout": "the server did not answer in time",
    "RemoteProtocolError": "the server broke off the answer",
}


class MastodonError(Exception):
    """A pass that could not complete, said in one line (naming the instance; never the token)."""


@dataclass
class PassResult:
    """What one pass captured, and where the next pass starts."""

    lines: list[bytes]  # capture envelopes as JSON Lines, oldest first, ready for the mastodon-api adapter
    position: dict[str, Any]  # JSON-serialisable; give it back to the next pass
    requests: int
    waited_seconds: float  # time slept for rate limits and retries


def _id_order(status_id: str) -> tuple[int, str]:
    # Mastodon's ids are numbers in text, other servers' (GoToSocial's ULIDs) fixed-length text: both sort this way.
    return len(status_id), status_id


class MastodonCapture:
    """A poller for one account on one Mastodon instance, read with an access token (scope ``read``)."""

    def __init__(self, instance: str, account: str, token: str, *, recheck_days: int = 14,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], datetime] = utcnow, max_retries: int = 5, timeout: float = 30.0) -> None:
        parts = urlsplit(instance.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise MastodonError(f"{instance[:100]!r} is not an instance address (like https://social.example)")
        if not account.strip().lstrip("@"):
            raise MastodonError("no account given to capture")
        if recheck_days < 1:
            raise MastodonError("recheck_days must be at least 1")
        self.instance = f"{parts.scheme}://{parts.netloc}".lower()
        self.account = account.strip().lstrip("@")
        self.recheck_days = recheck_days
        self._token = token
        self._transport = transport
        self._sleep = sleep
        self._now = now
        self.max_retries = max_retries
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"MastodonCapture({self.instance!r}, {self.account!r}, recheck_days={self.recheck_days})"

    def run_pass(self, position: dict[str, Any] | None) -> PassResult:
        """Capture what is new since ``position`` (None: the first pass); raise MastodonError if the pass fails."""
        state = _Position.load(position, self.instance, self.account)
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "User-Agent": "smcase-capture"}
        with httpx.Client(base_url=self.instance, headers=headers, transport=self._transport, timeout=self.timeout,
                          follow_redirects=False) as client:
            run = _Pass(self, client, state)
            lines = run.run()
        return PassResult(lines=lines, position=state.dump(), requests=run.requests, waited_seconds=run.waited)


@dataclass
class _Position:
    instance: str
    account: str
    account_id: str | None = None
    statuses_min_id: str | None = None
    notifications_min_id: str | None = None
    known: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, saved: dict[str, Any] | None, instance: str, account: str) -> _Position:
        if saved is None:
            return cls(instance, account)
        problem: str | None = "it is not an object"
        if isinstance(saved, dict):
            problem = _position_problem(saved)
        if problem:
            raise MastodonError(f"{instance}: the saved position is not one this poller wrote ({problem})")
        if saved["instance"] != instance or saved["account"] != account:
            raise MastodonError(f"{instance}: the saved position belongs to {saved['account']} on "
                                f"{saved['instance']}, not {account}")
        return cls(instance, account, saved.get("account_id"), saved.get("statuses_min_id"),
                   saved.get("notifications_min_id"), {k: dict(v) for k, v in saved["known"].items()})

    def dump(self) -> dict[str, Any]:
        return {"format": POSITION_FORMAT, "instance": self.instance, "account": self.account,
                "account_id": self.account_id, "statuses_min_id": self.statuses_min_id,
                "notifications_min_id": self.notifications_min_id,
                "known": {k: dict(v) for k, v in sorted(self.known.items(), key=lambda kv: _id_order(kv[0]))}}


def _position_problem(saved: dict[str, Any]) -> str | None:
    if saved.get("format") != POSITION_FORMAT:
        return f"format {str(saved.get('format'))[:40]!r}, expected {POSITION_FORMAT!r}"
    for key in ("instance", "account"):
        if not isinstance(saved.get(key), str):
            return f"{key} is not text"
    for key in ("account_id", "statuses_min_id", "notifications_min_id"):
        if saved.get(key) is not None and not isinstance(saved.get(key), str):
            return f"{key} is not text"
    known = saved.get("known")
    if not isinstance(known, dict):
        return "known is not an object"
    for status_id, entry in known.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("uri"), str) and isinstance(entry.get("own"), bool)
                and isinstance(entry.get("created_at"), str) and isinstance(entry.get("edited_at"), str | None)
                and isinstance(entry.get("thread"), str | None)):
            return f"known status {str(status_id)[:40]!r} lacks uri, own, created_at, edited_at or thread"
        try:
            from_iso(entry["created_at"])
        except ValueError:
            return f"known status {str(status_id)[:40]!r} has no readable created_at"
    return None


class _Pass:
    """One pass: the requests, the envelopes they give, and the position they change."""

    def __init__(self, capture: MastodonCapture, client: httpx.Client, position: _Position) -> None:
        self.capture = capture
        self.client = client
        self.position = position
        self.instance = capture.instance
        self.requests = 0
        self.waited = 0.0
        self.since = capture._now() - timedelta(days=capture.recheck_days)
        self._not_before: datetime | None = None
        self._out: list[tuple[datetime, int, dict[str, Any]]] = []
        self._uris: dict[str, str] = {k: v["uri"] for k, v in position.known.items()}  # id -> uri, for parents

    # -- the pass --------------------------------------------------------------------------------------------

    def run(self) -> list[bytes]:
        account_id = self.position.account_id or self._lookup()
        self.position.account_id = account_id
        own = self._own_statuses(account_id)
        for status in own:
            self._take(status, own=True, thread=None)
        for notification in self._mentions():
            mentioned = notification.get("status")
            if isinstance(mentioned, dict):
                self._take(mentioned, own=mentioned["account"]["id"] == account_id, thread=None,
                           notification=notification)
        present, rechecked = self._threads(account_id, own)
        self._deletions(own, present, rechecked, account_id)
        self._forget()
        lines = []
        for _when, _order, envelope in sorted(self._out, key=lambda t: (t[0], t[1])):
            lines.append(json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode())
        return lines

    def _lookup(self) -> str:
        answer = self._json(self._get("/api/v1/accounts/lookup", {"acct": self.position.account},
                                      what=f"looking up the account {self.position.account}"),
                            f"the account {self.position.account}")
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str) or not answer["id"]:
            raise self._shape(f"the account {self.position.account}", "an account without an id")
        return str(answer["id"])

    def _own_statuses(self, account_id: str) -> list[dict[str, Any]]:
        """New statuses since the last pass and those of the window, each once, oldest first."""
        path = f"/api/v1/accounts/{account_id}/statuses"
        what = f"the statuses of {self.position.account}"
        found: dict[str, dict[str, Any]] = {}
        if self.position.statuses_min_id:
            for status in self._newer(path, {}, self.position.statuses_min_id, what):
                found[status["id"]] = status
        for status in self._back_to_window(path, {}, what, lambda s: s["created_at"]):
            found[status["id"]] = status
        if found:
            newest = max([*found, self.position.statuses_min_id or ""], key=_id_order)
            self.position.statuses_min_id = newest
        for status in found.values():
            if status["account"]["id"] != account_id:
                raise self._shape(what, f"status {status['id']} is by another account")
        # Boosts count for the paging above, but hold nothing of the account's: no thread to read, nothing to write.
        mine = [s for s in found.values() if s.get("reblog") is None]
        return sorted(mine, key=lambda s: (from_iso(s["created_at"]), _id_order(s["id"])))

    def _mentions(self) -> list[dict[str, Any]]:
        path, params = "/api/v1/notifications", {"types[]": "mention"}
        what = f"the mentions of {self.position.account}"
        if self.position.notifications_min_id:
            found = list(self._newer(path, params, self.position.notifications_min_id, what, notifications=True))
        else:
            found = list(self._back_to_window(path, params, what, lambda n: n["created_at"], notifications=True))
        if found:
            self.position.notifications_min_id = max([n["id"] for n in found]
                                                     + [self.position.notifications_min_id or ""], key=_id_order)
        return sorted(found, key=lambda n: (from_iso(n["created_at"]), _id_order(n["id"])))

    def _threads(self, account_id: str, own: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
        """Read the thread of each own status of the window; the ids present in them and the threads read."""
        present: set[str] = set()
        rechecked: set[str] = set()
        for status in own:
            if status["id"] in rechecked or from_iso(status["created_at"]) < self.since:
                continue  # its replies came with the thread it is part of, or it is out of the window
            context = self._fetch(f"/api/v1/statuses/{status['id']}/context", {},
                                what=f"the thread of status {status['id']}", missing_ok=True)
            if context is None:
                continue  # deleted since it was listed: the deletion check finds it
            thread = self._json(context, f"the thread of status {status['id']}")
            if not (isinstance(thread, dict) and isinstance(thread.get("ancestors"), list)
                    and isinstance(thread.get("descendants"), list)):
                raise self._shape(f"the thread of status {status['id']}", "no ancestors and descendants lists")
            rechecked.add(status["id"])
            for ancestor in thread["ancestors"]:
                self._check_status(ancestor, f"the thread of status {status['id']}")
                self._uris[ancestor["id"]] = ancestor["uri"]
            for reply in thread["descendants"]:
                self._check_status(reply, f"the thread of status {status['id']}")
                self._uris[reply["id"]] = reply["uri"]
                present.add(reply["id"])
                mine = reply["account"]["id"] == account_id
                if mine:
                    rechecked.add(reply["id"])  # its own replies are among these descendants
                elif reply.get("reblog") is None:
                    self._take(reply, own=False, thread=status["id"])
        return present, rechecked

    def _deletions(self, own: list[dict[str, Any]], present: set[str], rechecked: set[str], account_id: str) -> None:
        listed = {s["id"] for s in own}
        for status_id, entry in list(self.position.known.items()):
            if entry["own"]:
                if status_id in listed or from_iso(entry["created_at"]) < self.since:
                    continue
            elif entry["thread"] not in rechecked or status_id in present:
                continue
            # Missing from where it was: confirm, since a listing can leave out what still exists.
            response = self._fetch(f"/api/v1/statuses/{status_id}", {}, what=f"status {status_id}", missing_ok=True)
            if response is None:
                self._emit(self.capture._now(), {"capture": "delete", **self._about(), "id": status_id,
                                                 "uri": entry["uri"], "own": entry["own"]})
                del self.position.known[status_id]
                continue
            status = self._json(response, f"status {status_id}")
            self._check_status(status, f"status {status_id}")
            self._take(status, own=status["account"]["id"] == account_id, thread=entry["thread"])

    def _forget(self) -> None:
        known = self.position.known
        old = {k for k, v in known.items() if from_iso(v["created_at"]) < self.since}
        for status_id in old:
            entry = known[status_id]
            if entry["own"] or entry["thread"] is None or entry["thread"] not in known or entry["thread"] in old:
                del known[status_id]

    # -- envelopes -------------------------------------------------------------------------------------------

    def _about(self) -> dict[str, Any]:
        return {"instance": self.instance, "account": self.position.account, "account_id": self.position.account_id,
                "observed_at": self.capture._now().isoformat().replace("+00:00", "Z")}

    def _take(self, status: dict[str, Any], *, own: bool, thread: str | None,
              notification: dict[str, Any] | None = None) -> None:
        """Write a status seen for the first time, or an edit of a known one; a known unchanged one is left."""
        if status.get("reblog") is not None:
            return  # a boost: nothing of the account's to keep (the adapter would skip it too)
        status_id = status["id"]
        entry = self.position.known.get(status_id)
        if entry is not None:
            if thread and not entry["own"] and entry["thread"] is None:
                entry["thread"] = thread  # a mention found in a thread is rechecked with it from now on
            if entry["edited_at"] == status.get("edited_at") or status.get("edited_at") is None:
                return
        envelope: dict[str, Any]
        if status.get("edited_at") and entry is not None:
            # An edit of a status captured before: the register adds it to the original's case (TOR-5).
            envelope = {"capture": "edit", **self._about(), "status": status, "revision": self._versions(status_id)}
            when = from_iso(status["edited_at"])
        else:
            # Seen for the first time (already edited or not): the status itself, at its latest version.
            if notification is not None:
                envelope = {"capture": "notification", **self._about(), "notification": notification}
            else:
                envelope = {"capture": "status", **self._about(), "status": status}
            when = from_iso(status["created_at"])
            if status.get("edited_at"):
                envelope["revision"] = self._versions(status_id)
                when = from_iso(status["edited_at"])
        parent = status.get("in_reply_to_id")
        if parent:
            parent_uri = self._parent_uri(parent)
            if parent_uri:
                envelope["in_reply_to_uri"] = parent_uri
        self._uris[status_id] = status["uri"]
        self.position.known[status_id] = {"uri": status["uri"], "created_at": status["created_at"],
                                          "edited_at": status.get("edited_at"), "own": own,
                                          "thread": None if own else (thread or (entry or {}).get("thread"))}
        self._emit(when, envelope)

    def _emit(self, when: datetime, envelope: dict[str, Any]) -> None:
        self._out.append((when, len(self._out), envelope))

    def _versions(self, status_id: str) -> int:
        what = f"the edit history of status {status_id}"
        response = self._fetch(f"/api/v1/statuses/{status_id}/history", {}, what=what, missing_ok=True)
        if response is None:
            return 2  # gone between listing and history: it was edited at least once
        history = self._json(response, what)
        if not isinstance(history, list):
            raise self._shape(what, "not a list of versions")
        return max(2, len(history))  # the history holds the original too

    def _parent_uri(self, parent_id: str) -> str | None:
        if parent_id not in self._uris:
            response = self._fetch(f"/api/v1/statuses/{parent_id}", {}, what=f"status {parent_id}", missing_ok=True)
            if response is None:
                return None  # the parent is gone: the adapter names it by its address on the instance
            parent = self._json(response, f"status {parent_id}")
            self._check_status(parent, f"status {parent_id}")
            self._uris[parent_id] = parent["uri"]
        return self._uris[parent_id]

    # -- paging ----------------------------------------------------------------------------------------------

    def _newer(self, path: str, params: dict[str, str], min_id: str, what: str, *,
               notifications: bool = False) -> Iterator[dict[str, Any]]:
        """Everything newer than ``min_id``: Mastodon gives the page just above it, and ``rel="prev"`` the next."""
        url: str | None = path
        query: dict[str, str] | None = {**params, "min_id": min_id, "limit": str(PAGE_LIMIT)}
        for _page in range(MAX_PAGES):
            if url is None:
                return
            response = self._get(url, query, what=what)
            items = self._page(response, what, notifications)
            if not items:
                return
            yield from items
            url, query = self._link(response, "prev", what), None
        raise MastodonError(f"{self.instance}: {what}: more than {MAX_PAGES} pages; stopped")

    def _back_to_window(self, path: str, params: dict[str, str], what: str, created: Callable[[Any], str], *,
                        notifications: bool = False) -> Iterator[dict[str, Any]]:
        """Newest first, following ``rel="next"`` until the items are older than the window."""
        url: str | None = path
        query: dict[str, str] | None = {**params, "limit": str(PAGE_LIMIT)}
        for _page in range(MAX_PAGES):
            if url is None:
                return
            response = self._get(url, query, what=what)
            items = self._page(response, what, notifications)
            inside = [i for i in items if from_iso(created(i)) >= self.since]
            yield from inside
            if len(inside) < len(items) or not items:
                return
            url, query = self._link(response, "next", what), None
        raise MastodonError(f"{self.instance}: {what}: more than {MAX_PAGES} pages; stopped")

    def _page(self, response: httpx.Response, what: str, notifications: bool) -> list[dict[str, Any]]:
        items = self._json(response, what)
        if not isinstance(items, list):
            raise self._shape(what, "not a list")
        for item in items:
            if notifications:
                self._check_notification(item, what)
            else:
                self._check_status(item, what)
        return items

    def _link(self, response: httpx.Response, rel: str, what: str) -> str | None:
        url = response.links.get(rel, {}).get("url")
        if not url:
            return None
        target = httpx.URL(url)
        mine = httpx.URL(self.instance)
        if (target.scheme, target.host, target.port) != (mine.scheme, mine.host, mine.port):
            # The token goes to the instance only, never to an address a response names.
            raise MastodonError(f"{self.instance}: {what}: a paging link points to another server "
                                f"({target.host}); refused")
        return url

    # -- checking shapes -------------------------------------------------------------------------------------

    def _shape(self, what: str, why: str) -> MastodonError:
        return MastodonError(f"{self.instance}: {what} came back in an unexpected shape: {why}")

    def _check_status(self, status: Any, what: str) -> None:
        if not isinstance(status, dict):
            raise self._shape(what, "a status that is not an object")
        for key in ("id", "uri", "created_at"):
            if not isinstance(status.get(key), str) or not status[key]:
                raise self._shape(what, f"a status without {key}")
        account = status.get("account")
        if not isinstance(account, dict) or not isinstance(account.get("id"), str):
            raise self._shape(what, f"status {status['id'][:40]} has no account id")
        for key in ("edited_at", "in_reply_to_id"):
            if status.get(key) is not None and not isinstance(status[key], str):
                raise self._shape(what, f"status {status['id'][:40]} has a {key} that is not text")
        if status.get("reblog") is not None and not isinstance(status["reblog"], dict):
            raise self._shape(what, f"status {status['id'][:40]} has a reblog that is not an object")
        try:
            from_iso(status["created_at"])
            if status.get("edited_at"):
                from_iso(status["edited_at"])
        except ValueError:
            raise self._shape(what, f"status {status['id'][:40]} has a time that does not read") from None

    def _check_notification(self, notification: Any, what: str) -> None:
        if not isinstance(notification, dict):
            raise self._shape(what, "a notification that is not an object")
        for key in ("id", "type", "created_at"):
            if not isinstance(notification.get(key), str) or not notification[key]:
                raise self._shape(what, f"a notification without {key}")
        try:
            from_iso(notification["created_at"])
        except ValueError:
            raise self._shape(what, f"notification {notification['id'][:40]} has a time that does not read") from None
        if notification.get("status") is not None:
            self._check_status(notification["status"], what)

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return parse_json(response.content)
        except ValueError as exc:
            raise MastodonError(f"{self.instance}: {what} did not come back as JSON ({exc})") from None

    # -- requests, limits and retries ------------------------------------------------------------------------

    def _get(self, url: str, params: dict[str, str] | None, *, what: str) -> httpx.Response:
        """GET with rate limits respected and retries; a missing resource is an error."""
        response = self._fetch(url, params, what=what, missing_ok=False)
        assert response is not None
        return response

    def _fetch(self, url: str, params: dict[str, str] | None, *, what: str,
               missing_ok: bool) -> httpx.Response | None:
        """GET with rate limits respected and retries; None for 404/410 when ``missing_ok``."""
        attempt = 0
        while True:
            self._wait_for_limit()
            self.requests += 1
            try:
                response = self.client.get(url, params=params)
            except httpx.TransportError as exc:
                if attempt >= self.capture.max_retries:
                    words = _TRANSPORT_WORDS.get(type(exc).__name__, type(exc).__name__)
                    raise MastodonError(f"{self.instance}: {what} failed after {attempt + 1} tries: {words}") from None
                self._pause(self._backoff(attempt))
                attempt += 1
                continue
            self._note_limit(response)
            code = response.status_code
            if code == 429 or code >= 500:
                if attempt >= self.capture.max_retries:
                    raise MastodonError(f"{self.instance}: {what} failed after {attempt + 1} tries: HTTP {code}")
                self._pause(self._retry_wait(response, attempt))
                attempt += 1
                continue
            if code in (404, 410) and missing_ok:
                return None
            if code in (401, 403):
                raise MastodonError(f"{self.instance}: {what}: refused (HTTP {code}): the access token is wrong, "
                                    "revoked or lacks the read scope")
            if code in (404, 410):
                raise MastodonError(f"{self.instance}: {what}: not found (HTTP {code})")
            if code != 200:
                raise MastodonError(f"{self.instance}: {what} failed: HTTP {code}")
            return response

    def _note_limit(self, response: httpx.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining", "").strip()
        if remaining.isdigit() and int(remaining) == 0:
            self._not_before = self._reset_time(response) or self.capture._now() + timedelta(seconds=MAX_WAIT)

    def _reset_time(self, response: httpx.Response) -> datetime | None:
        try:
            return from_iso(response.headers.get("X-RateLimit-Reset", "").strip())
        except ValueError:
            return None

    def _wait_for_limit(self) -> None:
        if self._not_before is not None:
            wait = (self._not_before - self.capture._now()).total_seconds()
            self._not_before = None
            if wait > 0:
                self._pause(wait)

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float:
        after = response.headers.get("Retry-After", "").strip()
        if after:
            try:
                return max(0.0, float(after))
            except ValueError:
                pass
            try:
                return max(0.0, (email.utils.parsedate_to_datetime(after) - self.capture._now()).total_seconds())
            except (TypeError, ValueError):
                pass
        reset = self._reset_time(response) if response.status_code == 429 else None  # a 5xx says nothing of limits
        if reset is not None:
            return max(1.0, (reset - self.capture._now()).total_seconds())
        return self._backoff(attempt)

    @staticmethod
    def _backoff(attempt: int) -> float:
        return float(2 ** min(attempt, 8))

    def _pause(self, seconds: float) -> None:
        seconds = min(seconds, MAX_WAIT)
        self._not_before = None
        if seconds > 0:
            self.capture._sleep(seconds)
            self.waited += seconds
