"""A fake Mastodon instance for tests: real HTTP on 127.0.0.1, in-memory state the test changes.

It speaks the REST shapes the poller reads (Account, Status, Notification,
Context, StatusEdit), pages newest first with ``max_id``/``min_id`` and ``Link``
headers as Mastodon does, sends ``X-RateLimit-*`` headers, checks the Bearer
token, and logs every request. ``FakeMastodon()`` is a context manager; the
``fake_mastodon`` fixture in conftest.py gives a running one.

    with FakeMastodon() as fake:
        post = fake.add_status("Snöröjningen börjar i natt.")
        answer = fake.reply(post, "Inte på vår gata!", author="invanare")
        fake.edit(answer, "Inte på Björkvägen!")
        fake.delete(answer)
        fake.refuse_next()            # the next request gets 429 once
        fake.requests                 # [(path, {param: [values]}), ...]
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "fake-token-s3cr3t"
OWN = "kommunen"
REMOTE = "mastodon.example"


@dataclass
class _Status:
    id: int
    account: str  # username; OWN is the local account, others are on REMOTE
    content: str
    created_at: datetime
    visibility: str = "public"
    spoiler_text: str = ""
    in_reply_to_id: int | None = None
    reblog_of: int | None = None
    edited_at: datetime | None = None
    history: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass
class _Notification:
    id: int
    type: str
    account: str
    created_at: datetime
    status_id: int | None


@dataclass
class _Refusal:
    status: int
    headers: dict[str, str]


class FakeMastodon:
    """An instance with one local account (``kommunen``) and people on another server who reply and mention it."""

    def __init__(self, token: str = TOKEN, account: str = OWN, page_size: int = 40) -> None:
        self.token = token
        self.account = account
        self.page_size = page_size  # the most items a page holds (Mastodon: the request's limit, at most 40)
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the time new items get; each item moves it a minute
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.rate_limit_remaining: int | None = None  # say this X-RateLimit-Remaining on the next response
        self._refusals: list[_Refusal] = []
        self._statuses: dict[int, _Status] = {}
        self._notifications: dict[int, _Notification] = {}
        self._next_id = 110_000_000_000_000_000
        self._account_ids = {account: 1}  # the local account is 1, the others get the next numbers
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        #: What ``POST /_demo/next`` does, one step per request (the README's walk-through changes the instance so)
        self.steps: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The instance's address, e.g. ``http://127.0.0.1:54321``."""
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int = 0) -> FakeMastodon:
        """Serve on ``port`` (default: a free one) in a thread."""
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeMastodon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what happens on the instance ----------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _tick(self, at: datetime | None) -> datetime:
        if at is not None:
            return at
        self.now += timedelta(minutes=1)
        return self.now

    def add_status(self, text: str, *, visibility: str = "public", spoiler: str = "", at: datetime | None = None,
                   author: str | None = None) -> str:
        """A new status (by the local account unless ``author`` is given); its id."""
        with self._lock:
            status = _Status(self._new_id(), author or self.account, f"<p>{text}</p>", self._tick(at),
                             visibility=visibility, spoiler_text=spoiler)
            self._statuses[status.id] = status
            return str(status.id)

    def reply(self, to: str, text: str, *, author: str = "invanare", visibility: str = "public",
              at: datetime | None = None, notify: bool = True) -> str:
        """A reply to status ``to``; a reply by someone else to the local account mentions it (a notification)."""
        with self._lock:
            parent = self._statuses[int(to)]
            status = _Status(self._new_id(), author, f"<p>@{parent.account} {text}</p>", self._tick(at),
                             visibility=visibility, in_reply_to_id=parent.id)
            self._statuses[status.id] = status
            if notify and author != self.account and parent.account == self.account:
                self._notify("mention", author, status)
            return str(status.id)

    def mention(self, text: str, *, author: str = "invanare", visibility: str = "public",
                at: datetime | None = None) -> str:
        """A new status by someone else that mentions the local account; its id."""
        with self._lock:
            status = _Status(self._new_id(), author, f"<p>@{self.account} {text}</p>", self._tick(at),
                             visibility=visibility)
            self._statuses[status.id] = status
            self._notify("mention", author, status)
            return str(status.id)

    def favourite(self, status_id: str, *, by: str = "invanare") -> None:
        """Someone favourites a status (a notification the poller does not ask for)."""
        with self._lock:
            self._notify("favourite", by, self._statuses[int(status_id)])

    def boost(self, status_id: str) -> str:
        """The local account boosts a status: a reblog in its own statuses."""
        with self._lock:
            status = _Status(self._new_id(), self.account, "", self._tick(None), reblog_of=int(status_id))
            self._statuses[status.id] = status
            return str(status.id)

    def edit(self, status_id: str, text: str, *, at: datetime | None = None) -> None:
        """Edit a status: new content, ``edited_at`` set, a version more in its history."""
        with self._lock:
            status = self._statuses[int(status_id)]
            if not status.history:
                status.history.append((status.content, status.created_at))
            status.content = f"<p>{text}</p>"
            status.edited_at = self._tick(at)
            status.history.append((status.content, status.edited_at))

    def delete(self, status_id: str) -> None:
        """Delete a status (its notifications go with it, as on Mastodon)."""
        with self._lock:
            del self._statuses[int(status_id)]
            for key in [k for k, n in self._notifications.items() if n.status_id == int(status_id)]:
                del self._notifications[key]

    def refuse_next(self, status: int = 429, retry_after: str | None = "7", reset_in: float | None = None) -> None:
        """Answer the next request with ``status`` (once), with Retry-After and/or a rate-limit reset."""
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if reset_in is not None:
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = _iso(self.now + timedelta(seconds=reset_in))
        self._refusals.append(_Refusal(status, headers))

    def _notify(self, kind: str, by: str, status: _Status) -> None:
        nid = self._new_id()
        self._notifications[nid] = _Notification(nid, kind, by, status.created_at, status.id)

    def uri(self, status_id: str) -> str:
        """The ActivityPub id of a status."""
        with self._lock:
            return self._uri(self._statuses[int(status_id)])

    # -- REST shapes ---------------------------------------------------------------------------------------

    def _base(self, username: str) -> str:
        return self.url if username == self.account else f"https://{REMOTE}"

    def _uri(self, status: _Status) -> str:
        return f"{self._base(status.account)}/users/{status.account}/statuses/{status.id}"

    def account_json(self, username: str) -> dict[str, Any]:
        base = self._base(username)
        local = username == self.account
        number = self._account_ids.setdefault(username, len(self._account_ids) + 1)
        return {"id": str(number), "username": username,
                "acct": username if local else f"{username}@{REMOTE}",
                "display_name": username.capitalize(), "url": f"{base}/@{username}",
                "uri": f"{base}/users/{username}", "locked": False, "bot": False,
                "created_at": "2025-01-01T00:00:00.000Z"}

    def status_json(self, status: _Status) -> dict[str, Any]:
        parent = self._statuses.get(status.in_reply_to_id) if status.in_reply_to_id else None
        boosted = self._statuses.get(status.reblog_of) if status.reblog_of else None
        return {
            "id": str(status.id), "uri": self._uri(status),
            "url": f"{self._base(status.account)}/@{status.account}/{status.id}",
            "created_at": _iso(status.created_at), "edited_at": _iso(status.edited_at) if status.edited_at else None,
            "account": self.account_json(status.account), "content": status.content,
            "visibility": status.visibility, "sensitive": bool(status.spoiler_text),
            "spoiler_text": status.spoiler_text, "media_attachments": [], "mentions": [], "tags": [], "emojis": [],
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": self.account_json(parent.account)["id"] if parent else None,
            "reblog": self.status_json(boosted) if boosted else None,
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0, "language": "sv",
        }

    def notification_json(self, notification: _Notification) -> dict[str, Any]:
        status = self._statuses.get(notification.status_id) if notification.status_id else None
        return {"id": str(notification.id), "type": notification.type, "created_at": _iso(notification.created_at),
                "account": self.account_json(notification.account),
                "status": self.status_json(status) if status else None}

    def _descendants(self, root: int) -> list[_Status]:
        found: list[_Status] = []
        frontier = [root]
        while frontier:
            children = sorted((s for s in self._statuses.values() if s.in_reply_to_id in frontier),
                              key=lambda s: s.id)
            found += children
            frontier = [s.id for s in children]
        return sorted(found, key=lambda s: s.id)

    def _ancestors(self, status: _Status) -> list[_Status]:
        chain = []
        while status.in_reply_to_id and status.in_reply_to_id in self._statuses:
            status = self._statuses[status.in_reply_to_id]
            chain.append(status)
        return chain[::-1]

    # -- answering -----------------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, list[str]], authorization: str | None
               ) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body for one GET."""
        with self._lock:
            self.requests.append((path, query))
            headers = self._limit_headers()
            if self._refusals:
                refusal = self._refusals.pop(0)
                return refusal.status, {**headers, **refusal.headers}, {"error": "Too many requests"}
            if authorization != f"Bearer {self.token}":
                return 401, headers, {"error": "The access token is invalid"}
            found = self._route(path, query)
            if found is None:
                return 404, headers, {"error": "Record not found"}
            body, link = found
            if link:
                headers["Link"] = link
            return 200, headers, body

    def _limit_headers(self) -> dict[str, str]:
        remaining = 299 if self.rate_limit_remaining is None else self.rate_limit_remaining
        self.rate_limit_remaining = None
        return {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": _iso(self.now + timedelta(seconds=30))}

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[Any, str | None] | None:
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", "v1"]:
            return None
        rest = parts[2:]
        if rest == ["accounts", "lookup"]:
            acct = (query.get("acct") or [""])[0]
            return (self.account_json(self.account), None) if acct == self.account else None
        if len(rest) == 3 and rest[0] == "accounts" and rest[2] == "statuses":
            if rest[1] != self.account_json(self.account)["id"]:
                return None
            own = [s for s in self._statuses.values() if s.account == self.account]
            return self._paged(path, query, own, self.status_json)
        if rest == ["notifications"]:
            types = query.get("types[]") or []
            chosen = [n for n in self._notifications.values() if not types or n.type in types]
            return self._paged(path, query, chosen, self.notification_json)
        if len(rest) >= 2 and rest[0] == "statuses" and rest[1].isdigit():
            status = self._statuses.get(int(rest[1]))
            if status is None:
                return None
            if len(rest) == 2:
                return self.status_json(status), None
            if rest[2:] == ["context"]:
                return {"ancestors": [self.status_json(s) for s in self._ancestors(status)],
                        "descendants": [self.status_json(s) for s in self._descendants(status.id)]}, None
            if rest[2:] == ["history"]:
                versions = status.history or [(status.content, status.created_at)]
                return [{"content": content, "spoiler_text": status.spoiler_text, "sensitive": False,
                         "created_at": _iso(at), "account": self.account_json(status.account),
                         "media_attachments": [], "emojis": []} for content, at in versions], None
        return None

    def _paged(self, path: str, query: dict[str, list[str]], items: list[Any], shape: Any
               ) -> tuple[list[Any], str | None]:
        """Mastodon's paging: newest first; ``max_id`` older than, ``since_id`` newest above, ``min_id`` just above."""
        limit = min(int((query.get("limit") or ["20"])[0]), 40, self.page_size)
        ordered = sorted(items, key=lambda i: i.id, reverse=True)
        if "max_id" in query:
            ordered = [i for i in ordered if i.id < int(query["max_id"][0])]
        if "since_id" in query:
            ordered = [i for i in ordered if i.id > int(query["since_id"][0])]
        if "min_id" in query:
            above = [i for i in ordered if i.id > int(query["min_id"][0])]
            page = above[-limit:]  # the ones just above min_id, still newest first
        else:
            page = ordered[:limit]
        if not page:
            return [], None
        base = {k: v for k, v in query.items() if k not in ("max_id", "min_id", "since_id")}

        def link(key: str, value: int) -> str:
            params = [(k, item) for k, values in base.items() for item in values] + [(key, str(value))]
            return f"{self.url}{path}?{urlencode(params)}"

        header = f'<{link("max_id", page[-1].id)}>; rel="next", <{link("min_id", page[0].id)}>; rel="prev"'
        return [shape(i) for i in page], header


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeMastodon

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        parts = urlsplit(self.path)
        status, headers, body = self.server_fake.answer(parts.path, parse_qs(parts.query),
                                                        self.headers.get("Authorization"))
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {**headers, "Content-Type": "application/json; charset=utf-8",
                           "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        fake = self.server_fake
        if urlsplit(self.path).path != "/_demo/next" or not fake.steps:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        fake.steps.pop(0)()
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the fake's own log is ``requests``


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")



def demo(fake: FakeMastodon) -> None:
    """The README's walk-through: the municipality's post, a question it answered, a neighbour's reply and a
    mention; ``POST /_demo/next`` then edits the question, deletes the neighbour's reply and adds a new reply."""
    fake.now = datetime.now(UTC) - timedelta(hours=1)  # within the recheck window of any policy
    post = fake.add_status("Snöröjningen börjar i natt.")
    question = fake.reply(post, "Varför plogas inte Björkvägen?")
    fake.reply(question, "Vi skickar en plogbil i morgon bitti.", author=fake.account, notify=False)
    neighbour = fake.reply(post, "Tack för beskedet!", author="granne", notify=False)
    fake.mention("När öppnar badhuset efter renoveringen?")

    def next_step() -> None:
        fake.edit(question, "Varför plogas inte Björkvägen? Det är tredje gången i år.")
        fake.delete(neighbour)
        fake.reply(post, "Kommer ni till Sjövägen också?", author="besokare", notify=False)

    fake.steps.append(next_step)


def main() -> None:
    """``python -m tests.mastodon_fake --port 8766``: the fake instance with the walk-through, until stopped."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args()
    fake = FakeMastodon(token=args.token)
    demo(fake)
    fake.start(args.port)
    print(f"a Mastodon-compatible test server at {fake.url} (account {fake.account}, token {args.token})",
          flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    fake.close()


if __name__ == "__main__":
    main()
