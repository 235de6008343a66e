"""The built-in classifiers and the default decision."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from smcase.builtin import complaints, decision, identity_numbers, prohibited, routing
from smcase.events import Action, Finding, SocialEvent
from smcase.identity import find
from smcase.policy import load_file
from smcase.resources import default_policy

from .conftest import REPO

SE = load_file(default_policy("SE"))
NO = load_file(default_policy("NO"))


def event(text: str, direction: str = "in", **extra: object) -> SocialEvent:
    return SocialEvent("facebook", "1", "comment", None, "u1", "Anna", text, datetime(2026, 1, 1, tzinfo=UTC),
                       direction=direction, **extra)  # type: ignore[arg-type]


def labelled_lines() -> list[tuple[str, str]]:
    """(label, text) of the labelled set, its \\uXXXX escapes (invisible separators) decoded."""
    lines = (REPO / "fixtures" / "classifier" / "identity-numbers.tsv").read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.split("\t") for line in lines]
    return [(label, re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m[1], 16)), text)) for label, _lang, text in rows]


@pytest.mark.rules("RAT-9", "NOR-7", "TOR-9", "REN-5")
def test_identity_numbers_precision_and_recall_on_the_labelled_set(capsys: pytest.CaptureFixture[str]) -> None:
    # Swedish and Norwegian identity numbers in every spelling people use, and look-alikes written the same ways
    lines = labelled_lines()
    assert len(lines) >= 900
    tp = fp = fn = scrub_missed = 0
    misses = []
    for label, text in lines:
        hit = bool(find(text))
        tp += hit and label == "1"
        fp += hit and label == "0"
        fn += (not hit) and label == "1"
        if hit != (label == "1"):
            misses.append(text)
        if label == "1" and not find(text, context=False):
            scrub_missed += 1
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    positives = sum(label == "1" for label, _ in lines)
    with capsys.disabled():
        print(f"\nidentity numbers: {len(lines)} lines ({positives} with a number); classification precision "
              f"{precision:.3f}, recall {recall:.3f}; scrubbing recall {(positives - scrub_missed) / positives:.3f}")
    assert recall == 1.0, misses
    assert precision >= 0.98, misses
    assert scrub_missed == 0


@pytest.mark.parametrize(("text", "kind"), [
    ("Min granne 19121212-1212 får ingen hjälp", "personnummer"),
    ("pnr 121212-1212", "personnummer"),
    ("född 121212+1212, hundraåring", "personnummer"),
    ("191212121212", "personnummer"),
    ("Samordningsnummer 701063-2391", "samordningsnummer"),
    ("fnr 01010012356", "fødselsnummer"),
    ("010100 12356 er mitt nummer", "fødselsnummer"),
    ("D-nummer 41010012340 hos NAV", None),  # fails the check digits
])
def test_identity_numbers_in_any_spelling(text: str, kind: str | None) -> None:
    found = find(text)
    assert [f.kind for f in found] == ([kind] if kind else [])


@pytest.mark.parametrize("text", [
    "Ring mig på 070-123 45 67", "Ring mig på 0701234567", "ordernummer 8112289874", "Kundnummer 8112289874",
    "konto 01010012356", "kortnummer 4111111111111111", "Mötet är 2026-03-04 kl. 10", "1212121212121212121",
])
def test_phone_order_and_account_numbers_are_not_identity_numbers(text: str) -> None:
    assert find(text) == []


def test_findings_never_quote_the_number() -> None:
    findings = identity_numbers.classify(event("Hon heter Eva, 19121212-1212, bor här"))
    assert [f.label for f in findings] == ["confidential"]
    assert "1212" not in (findings[0].detail or "")


def test_prohibited_content_is_named_by_the_policys_category() -> None:
    # covers NOR-8, VIM-4, TOR-4: the categories are policy data
    found = prohibited.classify(event("Jag vet var du bor, AKTA DIG, ni är idioter"), SE)
    assert {f.category for f in found} == {"threat", "insult"}
    assert prohibited.classify(event("Jag vet var du bor", direction="out"), SE) == []
    assert prohibited.classify(event("Idiotiskt bra idé"), SE) == []  # whole words only
    assert {f.category for f in prohibited.classify(event("Kjøp nå! Rabattkode"), NO)} == {"advertising"}


def test_complaints_questions_and_opinions() -> None:
    # covers VIM-6b, REN-1
    labels = {f.label for f in complaints.classify(event("Varför är vägen fortfarande inte plogad?"), SE)}
    assert labels == {"question", "complaint"}
    assert {f.label for f in complaints.classify(event("Jag tycker att ni borde ha fler bänkar"), SE)} == {
        "opinion"}
    assert complaints.classify(event("Bra jobbat!"), SE) == []
    assert complaints.classify(event("Kan ni svara?", direction="out"), SE) == []


def test_routing_tags_for_political_inquiries_and_crises() -> None:
    # covers REN-4, TOR-12
    found = routing.classify(event("Vad tycker kommunalrådet om översvämningen? Det är en olycka."), SE)
    assert {f.label for f in found} == {"political", "crisis"}


def test_the_default_decision() -> None:
    confidential = [Finding("confidential", "personnummer"), Finding("prohibited", "threat")]
    assert decision.smcase_decide_action(event("x"), confidential, SE).action == Action.CONFIDENTIAL_CASE
    assert decision.smcase_decide_action(event("x"), confidential, SE).ground == "osl-21-3"
    threat = decision.smcase_decide_action(event("x"), [Finding("prohibited", "threat")], SE)
    assert (threat.action, threat.category) == (Action.EVIDENCE, "threat")
    asked = decision.smcase_decide_action(event("x", register=True), [], SE)
    assert asked.action == Action.REGISTER
    assert decision.smcase_decide_action(event("x"), [Finding("question")], SE).action == Action.TRIVIAL


@pytest.mark.parametrize(("term", "text", "found"), [
    ("trakass*", "hun trakasserer meg", True),
    ("trakass*", "han ble trakassert igjen", True),
    ("trakass*", "trakassering er ikke greit", True),
    ("heng* ut", "han burde henges ut", True),
    ("heng* ut", "de hengte\n  ut naboen", True),  # a phrase's words apart by any whitespace
    ("heng* ut", "henger utenfor rådhuset", False),  # 'ut' is a whole word, not the start of 'utenfor'
    ("jeg vet hvor du bor", "JEG  VET HVOR DU BOR!", True),
    ("idiot", "idioten", False),  # without '*' a term is a whole word
    ("idiot*", "idioten", True),
    ("mobb*", "snømobben", False),  # a term starts at a word's start
])
def test_a_term_takes_its_inflections_where_it_says_so_also_inside_a_phrase(term: str, text: str, found: bool) -> None:
    from smcase.builtin._terms import first_match, normalise

    assert (first_match((term,), normalise(text)) is not None) is found
