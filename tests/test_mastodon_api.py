"""Live Mastodon capture: the ``mastodon-api`` adapter on envelopes, and the poller against a fake instance."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from smcase.builtin import mastodon, mastodon_api
from smcase.capture.mastodon import MastodonCapture, MastodonError, PassResult
from smcase.events import ParseContext, ParsedItem, Skipped, SocialEvent, Unparsable
from smcase.ingest import Ingest
from smcase.plugins import create_plugins
from smcase.register import RegisterService

from .conftest import REPO
from .mastodon_fake import FakeMastodon

EVENTS = REPO / "fixtures" / "events"
INSTANCE = "https://social.kommun.example"
OWN_URI = f"{INSTANCE}/users/kommunen"


# -- the adapter --------------------------------------------------------------------------------------------


def account(username: str = "kommunen", local_id: str = "1", host: str = "social.kommun.example") -> dict[str, Any]:
    return {"id": local_id, "username": username, "acct": username, "display_name": username.capitalize(),
            "url": f"https://{host}/@{username}", "uri": f"https://{host}/users/{username}"}


def status(number: int, content: str = "<p>Hej</p>", *, author: dict[str, Any] | None = None,
           **fields: Any) -> dict[str, Any]:
    author = author or account()
    return {"id": str(number), "uri": f"{author['uri']}/statuses/{number}", "url": f"{author['url']}/{number}",
            "created_at": "2026-03-04T08:15:00.000Z", "edited_at": None, "account": author, "content": content,
            "visibility": "public", "spoiler_text": "", "in_reply_to_id": None, "reblog": None, **fields}


def envelope(capture: str, **fields: Any) -> dict[str, Any]:
    return {"capture": capture, "instance": INSTANCE, "account": "kommunen", "account_id": "1",
            "observed_at": "2026-03-06T10:00:00Z", **fields}


def read(*lines: dict[str, Any] | bytes | str, channel: str | None = None) -> list[ParsedItem]:
    data = b"".join((line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line))
                     .encode()) + b"\n" for line in lines)
    return list(mastodon_api.parse(io.BytesIO(data), ParseContext(channel=channel)))


def one(*lines: dict[str, Any] | bytes | str) -> SocialEvent:
    (item,) = read(*lines)
    assert isinstance(item, SocialEvent), item
    return item


CITIZEN = account("invanare", "77", "mastodon.example")


def test_own_statuses_are_outgoing_posts_and_others_replies_incoming_comments() -> None:
    post = one(envelope("status", status=status(1, "<p>Snöröjningen börjar kl. 04.</p>")))
    assert (post.platform, post.external_id, post.kind, post.direction) == ("mastodon", f"{OWN_URI}/statuses/1",
                                                                            "post", "out")
    assert post.text == "Snöröjningen börjar kl. 04." and post.public and post.revision == 1
    assert (post.author_id, post.author_name, post.channel) == (OWN_URI, "Kommunen", f"{INSTANCE}/@kommunen")
    assert post.created_at.isoformat() == "2026-03-04T08:15:00+00:00"
    assert post.url == f"{INSTANCE}/@kommunen/1"
    line = json.dumps(envelope("status", status=status(9, author=CITIZEN, in_reply_to_id="1")))
    reply = one(line)
    assert (reply.kind, reply.direction, reply.author_id) == ("comment", "in", "https://mastodon.example/users/invanare")
    assert reply.raw == line  # the line as received, kept as evidence
    # Without the parent's uri the reply names the parent's address on the instance: stable, never a guess.
    assert reply.in_reply_to == f"{INSTANCE}/api/v1/statuses/1"
    linked = one(envelope("status", status=status(9, author=CITIZEN, in_reply_to_id="1"),
                          in_reply_to_uri=f"{OWN_URI}/statuses/1"))
    assert linked.in_reply_to == f"{OWN_URI}/statuses/1" == post.external_id
    (chosen,) = read(envelope("status", status=status(1)), channel="https://social.kommun.example/@kommunen")
    assert isinstance(chosen, SocialEvent) and chosen.channel == "https://social.kommun.example/@kommunen"


def test_visibility_warning_and_boosts() -> None:
    dm = one(envelope("status", status=status(2, visibility="direct")))
    assert dm.kind == "message" and not dm.public
    followers = one(envelope("status", status=status(3, visibility="private")))
    assert followers.kind == "post" and not followers.public
    assert one(envelope("status", status=status(4, visibility="unlisted"))).public
    warned = one(envelope("status", status=status(5, "<p>Detaljer</p>", spoiler_text="Olycka på E18")))
    assert warned.text == "[Olycka på E18]\nDetaljer"
    (boost,) = read(envelope("status", status=status(6, reblog=status(99, author=CITIZEN))))
    assert isinstance(boost, Skipped) and boost.kind == "boost"


def test_notifications_mentions_are_taken_other_types_skipped_with_the_reason() -> None:
    mention = one(envelope("notification", notification={
        "id": "500", "type": "mention", "created_at": "2026-03-04T09:00:00Z", "account": CITIZEN,
        "status": status(9, "<p>@kommunen hallå</p>", author=CITIZEN)}))
    assert (mention.kind, mention.direction, mention.text) == ("post", "in", "@kommunen hallå")
    items = read(*(envelope("notification", notification={"id": "5", "type": kind, "created_at":
                                                           "2026-03-04T09:00:00Z", "account": CITIZEN})
                   for kind in ("favourite", "reblog", "follow", "poll")))
    assert all(isinstance(i, Skipped) for i in items)
    assert [i.kind for i in items] == ["favourite", "reblog", "follow", "poll"]  # type: ignore[union-attr]
    assert "a favourite notification carries no post or comment" in items[0].reason  # type: ignore[union-attr]


def test_an_edit_is_a_later_revision_of_the_same_item_at_the_time_of_the_edit() -> None:
    edited = status(1, "<p>Rättad</p>", edited_at="2026-03-05T10:00:00.000Z")
    edit = one(envelope("edit", status=edited, revision=3))
    # an edit of a status captured before: Kind.EDIT, which the register adds to the original's case (TOR-5)
    assert (edit.kind, edit.external_id, edit.revision, edit.key()) == (
        "edit", f"{OWN_URI}/statuses/1", 3, f"mastodon:{OWN_URI}/statuses/1:3")
    assert edit.created_at.isoformat() == "2026-03-05T10:00:00+00:00" and edit.text == "Rättad"
    # A status seen for the first time already edited is the status itself: version 2 without its history, as
    # the outbox adapter says, or the version the poller counted.
    assert (one(envelope("status", status=edited)).kind, one(envelope("status", status=edited)).revision) == (
        "post", 2)
    assert one(envelope("status", status=edited, revision=3)).revision == 3
    for bad in (1, "2", True, 2.0, None):
        (item,) = read(envelope("edit", status=edited, revision=bad))
        assert isinstance(item, Unparsable) and "revision" in item.reason
    (unedited,) = read(envelope("edit", status=status(1), revision=2))
    assert isinstance(unedited, Unparsable) and "edited_at" in unedited.reason


def test_keys_agree_with_the_outbox_adapter_so_both_imports_are_one_item() -> None:
    with (EVENTS / "mastodon-outbox.json").open("rb") as stream:
        outbox = [i for i in mastodon.parse(stream, ParseContext()) if isinstance(i, SocialEvent)]
    post, reply, _dm, tombstone = outbox
    api_post = one(envelope("status", status=status(1, "<p>Snöröjningen börjar kl. 04 i natt.</p>",
                                                    created_at="2026-03-04T08:15:00Z")))
    assert api_post.key() == post.key() and (api_post.kind, api_post.direction) == (post.kind, post.direction)
    assert api_post.text == post.text and api_post.author_id == post.author_id
    api_reply = one(envelope("status", status=status(2, in_reply_to_id="4711"),
                             in_reply_to_uri="https://mastodon.example/users/invanare/statuses/998877"))
    assert (api_reply.key(), api_reply.kind, api_reply.in_reply_to) == (reply.key(), reply.kind, reply.in_reply_to)
    gone = one(envelope("delete", id="5", uri=f"{OWN_URI}/statuses/5", own=True))
    assert gone.key() == tombstone.key() == f"mastodon:{OWN_URI}/statuses/5:delete"
    assert (gone.kind, gone.direction, gone.text) == ("delete", "out", None)
    assert gone.created_at.isoformat() == "2026-03-06T10:00:00+00:00"
    theirs = one(envelope("delete", id="9", uri="https://mastodon.example/users/invanare/statuses/9", own=False))
    assert theirs.direction == "in"


HOSTILE = [
    (b"not json at all", "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    (b"[" * 50_000, "not JSON: nested too deeply"),
    ("[1, 2]", "not a JSON object"),
    ('"status"', "not a JSON object"),
    ('{"capture": 5}', "capture '5' is not one of"),
    ('{"capture": "like"}', "capture 'like' is not one of"),
    ({"capture": "status", "account_id": "1", "observed_at": "2026-03-06T10:00:00Z", "status": {}}, "instance"),
    (envelope("status", status=[1, 2]), "status is a list"),
    (envelope("status", status="{}"), "status is a str"),
    (envelope("status", status={**status(1), "uri": 17}), "status.uri is int"),
    (envelope("status", status={**status(1), "uri": None}), "status.uri is missing"),
    (envelope("status", status={**status(1), "account": "kommunen"}), "status.account is a str"),
    (envelope("status", status={**status(1), "account": {"id": 1}}), "status.account.id is int"),
    (envelope("status", status={**status(1), "created_at": "igår"}), "unreadable entry"),
    (envelope("status", status={**status(1), "created_at": "2026-03-04T08:15:00"}), "has no UTC offset"),
    (envelope("status", status={**status(1), "created_at": "99999-01-01T00:00:00Z"}), "unreadable entry"),
    (envelope("status", status={**status(1), "content": ["<p>"]}), "status.content is list"),
    (envelope("status", status={**status(1), "in_reply_to_id": 3}), "status.in_reply_to_id is int"),
    (envelope("status", status={**status(1), "visibility": None}), "status.visibility is missing"),
    (envelope("status", status=status(1), account_id=["1"]), "account_id is list"),
    (envelope("notification", notification={"type": ["mention"]}), "notification.type is list"),
    (envelope("notification", notification={"type": "mention", "status": None}), "notification.status is missing"),
    (envelope("delete", id="5", own=True), "uri is missing"),
    (envelope("delete", id="5", uri="x", own="yes"), "own is not true or false"),
    (envelope("delete", id="5", uri="x", own=True, observed_at=12), "observed_at is int"),
]


@pytest.mark.parametrize(("line", "reason"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_every_bad_line_is_quarantined_with_a_one_line_reason(line: Any, reason: str) -> None:
    items = read(envelope("status", status=status(1)), line, envelope("status", status=status(2)))
    assert [type(i).__name__ for i in items] == ["SocialEvent", "Unparsable", "SocialEvent"]
    bad = items[1]
    assert isinstance(bad, Unparsable) and bad.position == "line 2"
    assert reason in bad.reason and "\n" not in bad.reason, bad.reason
    assert "Traceback" not in bad.reason and "Error(" not in bad.reason


def test_recognise_claims_envelopes_only() -> None:
    plugins = create_plugins(env={})
    line = json.dumps(envelope("status", status=status(1))).encode()
    assert mastodon_api.recognise(line + b"\n") and plugins.recognise(line) == ["mastodon-api"]
    assert plugins.recognise(b"\n  \n" + json.dumps(envelope("delete", id="1", uri="u", own=True)).encode()) == [
        "mastodon-api"]
    assert plugins.recognise(b"broken line\n" + line) == ["mastodon-api"]
    for other in EVENTS.iterdir():
        assert not mastodon_api.recognise(other.read_bytes()[:65536]), other.name
    assert not mastodon_api.recognise(b'{"platform": "mastodon", "capture": "status", "kind": "post", "id": "1"}')
    assert not mastodon_api.recognise(b'{"capture": "screenshot"}') and not mastodon_api.recognise(b"")
    assert not mastodon_api.recognise(b"\xff" * 100)


# -- the poller against the fake instance -------------------------------------------------------------------


class Sleeps(list[float]):
    """The fake sleep: notes each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def poller(fake: FakeMastodon, sleeps: Sleeps | None = None, token: str | None = None, **options: Any
           ) -> MastodonCapture:
    return MastodonCapture(fake.url, "kommunen", fake.token if token is None else token,
                           sleep=sleeps if sleeps is not None else Sleeps(), now=lambda: fake.now, **options)


def events(result: PassResult) -> list[ParsedItem]:
    return list(mastodon_api.parse(io.BytesIO(b"".join(line + b"\n" for line in result.lines)), ParseContext()))


def requests_to(fake: FakeMastodon, path_end: str) -> list[dict[str, list[str]]]:
    return [query for path, query in fake.requests if path.endswith(path_end)]


def test_passes_capture_statuses_mentions_replies_edits_and_deletions_once(fake_mastodon: FakeMastodon) -> None:
    fake = fake_mastodon
    fake.page_size = 4  # a small page, so ten statuses take several
    posts = [fake.add_status(f"Meddelande {n}") for n in range(10)]
    noted = fake.reply(posts[2], "Varför plogas inte Björkvägen?")  # notifies: a mention
    quiet = fake.reply(noted, "Håller med!", author="granne", notify=False)  # only in the thread
    greeting = fake.mention("Hej, när öppnar badhuset?")
    fake.favourite(posts[0])
    boosted = fake.boost(greeting)

    first = poller(fake).run_pass(None)
    items = events(first)
    assert all(isinstance(i, SocialEvent) for i in items)  # the boost is left out, the favourite never asked for
    captured = [i for i in items if isinstance(i, SocialEvent)]
    outgoing = [e for e in captured if e.direction == "out"]
    assert [e.text for e in outgoing] == [f"Meddelande {n}" for n in range(10)]  # oldest first
    incoming = {e.external_id: e for e in captured if e.direction == "in"}
    assert set(incoming) == {fake.uri(noted), fake.uri(quiet), fake.uri(greeting)}
    assert incoming[fake.uri(noted)].in_reply_to == fake.uri(posts[2])  # threads link by the ActivityPub id
    assert incoming[fake.uri(quiet)].in_reply_to == fake.uri(noted)
    assert len({e.key() for e in captured}) == len(captured) == 13
    pages = requests_to(fake, "/accounts/1/statuses")
    # Pages of four (the boost is the newest), newest first, each asking for those older than its last, to an empty one.
    assert [q.get("max_id") for q in pages] == [None] + [[p] for p in (posts[7], posts[3], posts[0])]
    assert all(q["types[]"] == ["mention"] for q in requests_to(fake, "/notifications"))
    threads = [path for path, _query in fake.requests if path.endswith("/context")]
    assert threads == [f"/api/v1/statuses/{p}/context" for p in posts]  # each own status's thread; not the boost's
    assert first.requests == len(fake.requests) and first.waited_seconds == 0

    fake.requests.clear()
    fake.edit(posts[4], "Meddelande 4, rättat")
    quiet_uri = fake.uri(quiet)
    fake.delete(quiet)
    late = fake.reply(posts[9], "Tack för infon", author="besokare", notify=False)
    saved = json.loads(json.dumps(first.position))  # as the caller stores it
    second = poller(fake).run_pass(saved)  # a new poller: nothing but the position carries over
    changes = [i for i in events(second) if isinstance(i, SocialEvent)]
    assert len(changes) == len(second.lines) == 3
    edit, reply, gone = changes
    assert (edit.external_id, edit.revision, edit.text) == (fake.uri(posts[4]), 2, "Meddelande 4, rättat")
    assert (reply.external_id, reply.direction, reply.in_reply_to) == (fake.uri(late), "in", fake.uri(posts[9]))
    assert (gone.kind, gone.key(), gone.direction) == ("delete", f"mastodon:{quiet_uri}:delete", "in")
    assert requests_to(fake, "/accounts/1/statuses")[0]["min_id"] == [boosted]  # the newest of the first pass
    assert requests_to(fake, "/notifications")[0]["min_id"] == [first.position["notifications_min_id"]]

    fake.requests.clear()
    third = poller(fake).run_pass(second.position)
    assert third.lines == [] and third.position == second.position


def test_an_own_deletion_is_outgoing_and_a_status_first_seen_edited_has_its_revision(
        fake_mastodon: FakeMastodon) -> None:
    fake = fake_mastodon
    kept, dropped = fake.add_status("Stängt i dag"), fake.add_status("Fel uppgift")
    first = poller(fake).run_pass(None)
    dropped_uri = fake.uri(dropped)
    fake.delete(dropped)
    fresh = fake.add_status("Öppet i dag")
    fake.edit(fresh, "Öppet i dag till 16")
    fake.edit(fresh, "Öppet i dag till 17")
    second = events(poller(fake).run_pass(first.position))
    gone = next(e for e in second if isinstance(e, SocialEvent) and e.kind == "delete")
    assert (gone.direction, gone.external_id) == ("out", dropped_uri)
    edited = next(e for e in second if isinstance(e, SocialEvent) and e.kind == "post")
    assert (edited.external_id, edited.revision, edited.text) == (fake.uri(fresh), 3, "Öppet i dag till 17")
    assert kept in first.position["known"] and dropped not in poller(fake).run_pass(None).position["known"]


def test_the_position_forgets_what_is_older_than_the_window(fake_mastodon: FakeMastodon) -> None:
    fake = fake_mastodon
    fake.add_status("Gammalt", at=fake.now - timedelta(days=30))  # before the window: the archive's business
    post = fake.add_status("Nytt")
    fake.reply(post, "Svar")
    first = poller(fake, recheck_days=7).run_pass(None)
    assert [e.text for e in events(first) if isinstance(e, SocialEvent)] == ["Nytt", "@kommunen Svar"]
    assert len(first.position["known"]) == 2
    fake.now += timedelta(days=8)
    later = poller(fake, recheck_days=7).run_pass(first.position)
    assert later.lines == [] and later.position["known"] == {}
    assert later.position["statuses_min_id"] == post  # what is new is still found after the window


def test_rate_limits_are_waited_out_with_the_given_sleep(fake_mastodon: FakeMastodon) -> None:
    fake = fake_mastodon
    fake.add_status("Hej")
    sleeps = Sleeps()
    fake.refuse_next(retry_after="7")  # the first request: 429 once
    result = poller(fake, sleeps).run_pass(None)
    assert sleeps == [7.0] and result.waited_seconds == 7.0 and len(result.lines) == 1
    assert fake.requests[0][0] == fake.requests[1][0] == "/api/v1/accounts/lookup"  # retried
    sleeps.clear()
    fake.rate_limit_remaining = 0  # the next answer says: none left until the reset, 30 s away
    poller(fake, sleeps).run_pass(result.position)
    assert sleeps == [30.0]
    sleeps.clear()
    fake.refuse_next(retry_after=None, reset_in=12)  # a 429 with only the reset time
    fake.refuse_next(status=503, retry_after=None)  # then a server error: exponential back-off
    poller(fake, sleeps).run_pass(result.position)
    assert sleeps == [12.0, 2.0]
    sleeps.clear()
    fake.refuse_next(retry_after="86400")  # capped: a pass never sleeps for a day
    poller(fake, sleeps).run_pass(result.position)
    assert sleeps == [300.0]


def test_retries_end_in_a_one_line_error(fake_mastodon: FakeMastodon) -> None:
    for _ in range(3):
        fake_mastodon.refuse_next(status=502, retry_after=None)
    with pytest.raises(MastodonError) as failed:
        poller(fake_mastodon, max_retries=2).run_pass(None)
    assert str(failed.value) == (f"{fake_mastodon.url}: looking up the account kommunen failed after 3 tries: "
                                 "HTTP 502")


def test_a_wrong_token_or_account_is_a_one_line_error_without_the_token(fake_mastodon: FakeMastodon) -> None:
    secret = "wrong-token-do-not-print"
    capture = poller(fake_mastodon, token=secret)
    with pytest.raises(MastodonError) as refused:
        capture.run_pass(None)
    message = str(refused.value)
    assert message.startswith(fake_mastodon.url) and "refused (HTTP 401)" in message and "\n" not in message
    assert secret not in message and secret not in repr(capture) and secret not in repr(refused.value)
    assert fake_mastodon.token not in repr(poller(fake_mastodon))
    missing = MastodonCapture(fake_mastodon.url, "ingen", fake_mastodon.token, now=lambda: fake_mastodon.now)
    with pytest.raises(MastodonError, match=r"looking up the account ingen: not found \(HTTP 404\)"):
        missing.run_pass(None)


def test_a_position_of_another_account_or_a_damaged_one_is_refused(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.add_status("Hej")
    position = poller(fake_mastodon).run_pass(None).position
    other = MastodonCapture(fake_mastodon.url, "nagon", "t", now=lambda: fake_mastodon.now)
    with pytest.raises(MastodonError, match="belongs to kommunen"):
        other.run_pass(position)
    for damaged in ({}, {**position, "known": []}, {**position, "known": {"1": {"uri": 5}}}, [1]):
        with pytest.raises(MastodonError, match="not one this poller wrote"):
            poller(fake_mastodon).run_pass(damaged)  # type: ignore[arg-type]


def answering(*bodies: tuple[int, Any, dict[str, str]]) -> httpx.MockTransport:
    """A transport that answers each request with the next (status, body, headers): for answers no server gives."""
    queue = list(bodies)

    def handler(request: httpx.Request) -> httpx.Response:
        status_code, body, headers = queue.pop(0) if queue else (200, [], {})
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status_code, content=content, headers=headers)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(("answer", "words"), [
    ((200, b"<html>maintenance</html>", {}), "the account kommunen did not come back as JSON"),
    ((200, {"username": "kommunen"}, {}), "an account without an id"),
    ((200, [{"id": "1"}], {}), "the account kommunen came back in an unexpected shape"),
])
def test_an_answer_of_the_wrong_shape_is_a_one_line_error(answer: tuple[int, Any, dict[str, str]],
                                                          words: str) -> None:
    capture = MastodonCapture("https://social.example", "kommunen", "t", transport=answering(answer))
    with pytest.raises(MastodonError, match=words):
        capture.run_pass(None)


def test_statuses_of_the_wrong_shape_and_links_away_are_refused() -> None:
    lookup = (200, {"id": "1"}, {})
    broken = MastodonCapture("https://social.example", "kommunen", "t", transport=answering(
        lookup, (200, [{"id": "1", "uri": "u", "created_at": "2026-01-01T00:00:00Z", "account": "x"}], {})))
    with pytest.raises(MastodonError, match="status 1 has no account id"):
        broken.run_pass(None)
    page = [status(1, created_at="2099-01-01T00:00:00Z")]  # inside the window of any real clock
    away = MastodonCapture("https://social.example", "kommunen", "t", transport=answering(
        lookup, (200, page, {"Link": '<https://evil.example/api/v1/accounts/1/statuses?max_id=1>; rel="next"'})))
    with pytest.raises(MastodonError, match=r"a paging link points to another server \(evil.example\); refused"):
        away.run_pass(None)


def test_a_pass_is_accepted_by_ingest(fake_mastodon: FakeMastodon, se: RegisterService) -> None:
    fake = fake_mastodon
    post = fake.add_status("Vattenavstängning på Storgatan i morgon")
    fake.reply(post, "Hur länge?")
    fake.mention("Var hämtar man sandsäckar?")
    result = poller(fake).run_pass(None)
    data = b"".join(line + b"\n" for line in result.lines)
    ingest = Ingest(se, create_plugins(env={}), batch_size=10)
    summary = ingest.run(io.BytesIO(data), None, ParseContext(source_name="mastodon capture"))
    assert summary.format == "mastodon-api"  # recognised from its content
    assert (summary.stored, summary.quarantined, summary.skipped) == (3, 0, 0)
    again = ingest.run(io.BytesIO(data), "mastodon-api", ParseContext(source_name="mastodon capture"))
    assert (again.stored, again.duplicates) == (0, 3)
