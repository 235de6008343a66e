"""Channel policies and plans: the five municipalities' rules as data (issue 4, policy files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smcase.cli import create_cli
from smcase.errors import PolicyError
from smcase.plan import load_plan, problems
from smcase.policy import load_file

from .conftest import REPO

POLICIES = REPO / "fixtures" / "policies"
PLANS = REPO / "fixtures" / "plans"
MUNICIPALITIES = {"rattvik": "rattvik-facebook", "vimmerby": "vimmerby-instagram", "norsjo": "norsjo-facebook",
                  "rennebu": "rennebu-facebook", "torsby": "torsby-facebook"}


@pytest.mark.parametrize(("municipality", "plan"), MUNICIPALITIES.items())
def test_each_municipalitys_plan_is_valid_under_its_policy(municipality: str, plan: str) -> None:
    policy = load_file(POLICIES / f"{municipality}.toml")
    assert problems(load_plan(PLANS / f"{plan}.toml"), policy) == []
    text = (POLICIES / f"{municipality}.toml").read_text(encoding="utf-8")
    prefix = {"rattvik": "RAT", "vimmerby": "VIM", "norsjo": "NOR", "rennebu": "REN", "torsby": "TOR"}[municipality]
    assert text.count(f"{prefix}-") >= 4  # rules are commented with their guideline IDs


def test_tor3_torsby_has_three_approval_steps_in_order() -> None:
    result = CliRunner().invoke(create_cli(), ["policy", "show", str(POLICIES / "torsby.toml"), "--json"])
    steps = json.loads(result.stdout)["approval_steps"]
    assert [(s["step"], s["role"], s["kind"]) for s in steps] == [
        ("unit_manager", "unit_manager", "approval"),
        ("head_of_administration", "head_of_administration", "approval"),
        ("strategy_consultation", "strategy", "consultation")]


def test_the_duties_of_each_policy() -> None:
    torsby, rattvik, norsjo = (load_file(POLICIES / f"{m}.toml") for m in ("torsby", "rattvik", "norsjo"))
    assert (torsby.duties.monitoring, torsby.duties.snapshot_dates, torsby.duties.annual_report_quarter,
            torsby.duties.policy_review_months) == ("twice_weekly", ("06-30", "12-31"), 3, 12)  # TOR-4, -7, -8, -13
    assert (rattvik.duties.monitoring, rattvik.duties.snapshot_every_months) == ("daily", 6)  # RAT-8, RAT-10
    assert norsjo.duties.snapshot_every_months == 12 and norsjo.duties.snapshot_on_major_change  # NOR-6
    assert torsby.channels.controller_for("facebook") and not torsby.channels.controller_for("twitter")  # TOR-10
    assert not torsby.channels.custody_required("facebook") and torsby.channels.custody_required("youtube")  # TOR-2


def _plan(tmp_path: Path, edit: callable) -> Path:  # type: ignore[valid-type]
    text = edit((PLANS / "torsby-facebook.toml").read_text(encoding="utf-8"))
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_tor2_vim8_vim1_a_plan_is_refused_with_the_rule_it_breaks(tmp_path: Path) -> None:
    torsby = load_file(POLICIES / "torsby.toml")
    one_admin = _plan(tmp_path, lambda t: t[:t.index("[[administrators]]\nname = \"Per Ek\"")] + t[t.index("[checklist]"):])
    assert problems(load_plan(one_admin), torsby) == [
        "the plan names 1 administrator(s); the policy needs at least 2 (TOR-2, VIM-8)"]
    person = _plan(tmp_path, lambda t: t.replace('owner = "Kommunikationsenheten"', 'owner = "Karin Dahl"'))
    assert "is a person; a channel is bound to a function, not a person (VIM-1)" in problems(load_plan(person),
                                                                                            torsby)[0]
    unanswered = _plan(tmp_path, lambda t: t.replace('terms_read = "Avtalsvillkoren är lästa och bedömda som rimliga."',
                                                     'terms_read = " "'))
    assert problems(load_plan(unanswered), torsby) == ["checklist questions not answered: terms_read (VIM-1, TOR-3)"]
    youtube = _plan(tmp_path, lambda t: t.replace('platform = "facebook"', 'platform = "youtube"'))
    assert "where the youtube credentials are kept (TOR-2, RAT-4)" in problems(load_plan(youtube), torsby)[0]


def test_a_malformed_plan_names_the_key(tmp_path: Path) -> None:
    bad = _plan(tmp_path, lambda t: t.replace('email = "karin.dahl@torsby.example"', 'email = "karin"'))
    with pytest.raises(PolicyError, match=r"administrators\[0\]\.email: 'karin' is not in the expected form \(an e-mail address\)"):
        load_plan(bad)
    missing = _plan(tmp_path, lambda t: t.replace('target_group = "Invånare och besökare i Torsby kommun"\n', ""))
    with pytest.raises(PolicyError, match="channel.target_group: is missing"):
        load_plan(missing)


def test_a_malformed_channel_policy_names_the_key(tmp_path: Path) -> None:
    text = (POLICIES / "torsby.toml").read_text(encoding="utf-8").replace('role = "strategy"', 'role = "mayor"')
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"channels.approval_steps\[2\].role: 'mayor' is not in roles.names"):
        load_file(path)
