"""The built-in adapters, against synthetic fixtures and the real Mastodon samples."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smcase.builtin import facebook_dyi, facebook_webhook, jsonl, mastodon, x_archive
from smcase.builtin._common import fix_mojibake
from smcase.events import ParseContext, Skipped, SocialEvent, Unparsable

from .conftest import REPO, shared_folder

EVENTS = REPO / "fixtures" / "events"


def parse(module: object, path: Path, channel: str | None = None) -> list[object]:
    with path.open("rb") as stream:
        return list(module.parse(stream, ParseContext(channel=channel, source_name=path.name)))  # type: ignore[attr-defined]


def fates(items: list[object]) -> Counter[str]:
    return Counter(type(i).__name__ for i in items)


def test_jsonl_parses_events_skips_reactions_and_quarantines_bad_lines_with_their_number() -> None:
    items = parse(jsonl, EVENTS / "torsby-facebook.jsonl")
    assert fates(items) == {"SocialEvent": 7, "Skipped": 1, "Unparsable": 2}
    first = items[0]
    assert isinstance(first, SocialEvent)
    assert (first.platform, first.external_id, first.kind, first.direction) == ("facebook", "p1", "post", "out")
    assert first.created_at.utcoffset() is not None and first.key() == "facebook:p1:1"
    bad = [i for i in items if isinstance(i, Unparsable)]
    assert [(b.position, b.reason.split(":")[0]) for b in bad] == [("line 9", "created_at"), ("line 10", "not JSON")]
    assert '"id": "c8" "kind"' in bad[1].raw


def test_jsonl_refuses_a_time_without_offset_and_numeric_ids() -> None:
    lines = (b'{"platform": "x", "id": 5, "kind": "post", "created_at": "2026-01-01T10:00:00+01:00"}\n'
             b'{"platform": "x", "id": "5", "kind": "post", "created_at": "2026-01-01T10:00:00"}\n')
    items = list(jsonl.parse(io.BytesIO(lines), ParseContext()))
    assert all(isinstance(i, Unparsable) for i in items)
    # Plain words: the field, what was there, what is expected (no JSON-Schema jargon).
    assert items[0].reason == "id: is 5, expected text"  # type: ignore[union-attr]
    assert items[1].reason == (  # type: ignore[union-attr]
        "created_at: '2026-01-01T10:00:00' is not in the expected form (a date and time with its UTC offset), "
        "e.g. 2026-03-01T12:00:00+01:00")


def test_mastodon_outbox_traps() -> None:
    items = parse(mastodon, EVENTS / "mastodon-outbox.json")
    # totalItems says 99 and the first orderedItems is empty: both are ignored, the last key wins.
    assert fates(items) == {"SocialEvent": 4, "Skipped": 1}
    post, reply, dm, tombstone = [i for i in items if isinstance(i, SocialEvent)]
    assert post.text == "Snöröjningen börjar kl. 04 i natt." and post.public and post.direction == "out"
    assert reply.kind == "comment" and reply.in_reply_to.endswith("/998877")  # type: ignore[union-attr]
    assert reply.text == "@invanare Tack, vi har registrerat din synpunkt."
    assert dm.kind == "message" and not dm.public
    assert tombstone.kind == "delete" and tombstone.text is None
    boost = next(i for i in items if isinstance(i, Skipped))
    assert boost.kind == "boost" and "Announce" in boost.reason


def test_mastodon_real_samples() -> None:
    folder = shared_folder("SMCASE_SHARED", REPO.parent / "shared") / "samples" / "mastodon"
    fedi = parse(mastodon, folder / "mastodon-outbox-fedi-archive-tool-example.json")
    assert fates(fedi) == {"SocialEvent": 7}  # duplicate top-level @context does not matter
    events = [i for i in fedi if isinstance(i, SocialEvent)]
    assert sum(1 for e in events if e.kind == "message" and not e.public) == 1  # the direct message
    assert any(e.in_reply_to for e in events)
    assert all(e.text for e in events)
    legacy = parse(mastodon, folder / "mastodon-outbox-fossilizer-legacy.json")
    assert fates(legacy) == {"SocialEvent": 2}  # totalItems says 1: never trusted


def test_mastodon_reads_the_export_zip(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(EVENTS / "mastodon-outbox.json", "outbox.json")
        z.writestr("actor.json", "{}")
    assert fates(parse(mastodon, archive)) == {"SocialEvent": 4, "Skipped": 1}


def test_facebook_webhook_traps() -> None:
    items = parse(facebook_webhook, EVENTS / "facebook-webhook.json")
    events = [i for i in items if isinstance(i, SocialEvent)]
    assert [e.created_at.timestamp() for e in events] == sorted(e.created_at.timestamp() for e in events)
    add = events[0]
    assert (add.kind, add.direction, add.author_name, add.key()) == (
        "comment", "in", "Anna Ström", "facebook:1221_9901:add:1767600000")
    assert add.url == "https://www.facebook.com/kommunen/posts/pfbid0AbC"
    kinds = Counter(e.kind for e in events)
    assert kinds == {"comment": 4, "edit": 1, "delete": 2}  # the repeated add is still two items here
    remove = next(e for e in events if e.key().endswith(":remove:1767600800"))
    assert remove.text is None
    reply = next(e for e in events if e.external_id == "1221_9902")
    assert reply.direction == "out" and reply.in_reply_to == "1221_9901"
    assert len({e.key() for e in events}) == len(events) - 1  # the repeated delivery has the same identity
    unknown = next(i for i in items if isinstance(i, Unparsable))
    assert unknown.reason == "unknown verb 'pin'"
    assert next(i for i in items if isinstance(i, Skipped)).kind == "reaction"


def test_facebook_dyi_repairs_mojibake() -> None:
    posts = parse(facebook_dyi, EVENTS / "facebook-dyi-posts.json")
    assert fates(posts) == {"SocialEvent": 2, "Skipped": 1}
    first, second = [p for p in posts if isinstance(p, SocialEvent)]
    assert first.text == "Snöröjning på Storgatan i natt – kör försiktigt!"
    assert second.text == "Simhallen öppnar igen på måndag 😀"
    assert "\\u00c3" not in str(first.raw) and "Ã" in str(first.raw)  # the raw payload is kept as it came
    comments = parse(facebook_dyi, EVENTS / "facebook-dyi-comments.json")
    (comment,) = comments
    assert isinstance(comment, SocialEvent) and comment.text == "Tack för att du hörde av dig, vi återkommer."
    assert fix_mojibake("Ærlig talt 😀") == "Ærlig talt 😀"  # real UTF-8 is left alone


def test_x_archive_is_parsed_never_evaluated_and_edits_are_versions() -> None:
    items = parse(x_archive, EVENTS / "x-tweets.js")
    assert fates(items) == {"SocialEvent": 3, "Skipped": 1}
    original, edit, plain = [i for i in items if isinstance(i, SocialEvent)]
    assert (original.external_id, original.revision, original.kind) == ("1897000000000000001", 1, "comment")
    assert (edit.external_id, edit.revision, edit.kind) == ("1897000000000000001", 2, "edit")
    assert "https://www.kommun.example/snorojning" in (original.text or "")
    assert plain.created_at.isoformat() == "2026-03-05T12:00:00+01:00"
    hostile = b'window.YTD.tweets.part0 = (function(){ throw new Error("ran") })()'
    (result,) = list(x_archive.parse(io.BytesIO(hostile), ParseContext()))
    assert isinstance(result, Unparsable) and "not an X archive data file" in result.reason


@pytest.mark.parametrize("module", [jsonl, mastodon, facebook_webhook, facebook_dyi, x_archive],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_garbage_never_raises_it_is_quarantined(module: object) -> None:
    for garbage in (b"", b"\x00\xff\xfe not json", b"[1, 2, 3]", b'{"orderedItems": "nope"}'):
        items = list(module.parse(io.BytesIO(garbage), ParseContext()))  # type: ignore[attr-defined]
        assert all(isinstance(i, (Unparsable, Skipped)) for i in items)


@given(st.lists(st.one_of(
    st.binary(max_size=80),
    st.builds(lambda i, k, t: json.dumps({"platform": "x", "id": i, "kind": k, "text": t,
                                          "created_at": "2026-01-01T10:00:00+01:00"}).encode(),
              st.text(min_size=1, max_size=8), st.sampled_from(["post", "comment", "reaction", "poke"]),
              st.text(max_size=20)),
), max_size=30))
def test_every_jsonl_line_ends_in_exactly_one_place(lines: list[bytes]) -> None:
    clean = [line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines]
    data = b"\n".join(clean) + b"\n"
    items = list(jsonl.parse(io.BytesIO(data), ParseContext()))
    assert len(items) == sum(1 for line in data.split(b"\n")[:-1] if line.strip())
    assert all(isinstance(i, (SocialEvent, Skipped, Unparsable)) for i in items)


@pytest.mark.parametrize(("text", "words"), [
    ('{"a" 1}', "a colon is missing after a key at line 1, column 6"),
    ('{"a":1 "b":2}', "a comma is missing between two values at line 1, column 8"),
    ('{"a":"x', "a text is not closed with a double quote at line 1, column 6"),
    ("{} x", "there is more after the end of the JSON value"),
    ("{,}", "a key in double quotes is missing (or a comma is one too many) at line 1, column 2"),
])
def test_json_that_does_not_parse_is_explained_in_plain_words(text: str, words: str) -> None:
    from smcase.builtin._common import parse_json

    with pytest.raises(ValueError) as caught:
        parse_json(text)
    assert str(caught.value).startswith(words) and "Expecting" not in str(caught.value)
