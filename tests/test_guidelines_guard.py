"""The guard (issue 14): every rule of ``../shared/GUIDELINES.md`` that smcase implements is proved by a scenario
test that names it (``@pytest.mark.rules("TOR-3")``) and runs under that municipality's own policy file
(``@pytest.mark.policy("torsby")``, i.e. ``fixtures/policies/torsby.toml``).

The markers are read from the test files as written (so running this file alone still sees them all), and
the ``policy`` marker is checked while each test runs: ``conftest.py`` fails a test that claims a policy it
never loaded.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from .conftest import REPO, shared_folder

MUNICIPALITY = {"RAT": "rattvik", "VIM": "vimmerby", "NOR": "norsjo", "REN": "rennebu", "TOR": "torsby"}
_ROW = re.compile(r"^\| ((?:RAT|VIM|NOR|REN|TOR)-\d+[a-z]?) \|[^|]*\|([^|]*)\|", re.MULTILINE)


def rules_for_code(guidelines: str) -> list[str]:
    """The IDs of the rules smcase implements: every row whose smcase column is not advice to people only."""
    return [rule for rule, smcase in _ROW.findall(guidelines) if not smcase.strip().startswith("*people*")]


def _marks(decorators: list[ast.expr]) -> tuple[list[str], str | None]:
    rules: list[str] = []
    policy: str | None = None
    for node in decorators:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "mark"):
            continue
        values = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if node.func.attr == "rules":
            rules += values
        elif node.func.attr == "policy" and values:
            policy = values[0]
    return rules, policy


def scenario_marks(folder: Path) -> Iterator[tuple[str, str, str | None]]:
    """(test, rule, policy) for every rule a test names, on the test itself or on one of its parameters."""
    for path in sorted(folder.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                rules, policy = _marks(node.decorator_list)
                for rule in rules:
                    yield f"{path.name}::{node.name}", rule, policy
                for call in ast.walk(node):  # pytest.param(..., marks=[...]) in its parametrize
                    if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "param":
                        for keyword in call.keywords:
                            if keyword.arg == "marks" and isinstance(keyword.value, (ast.List, ast.Tuple)):
                                param_rules, param_policy = _marks(list(keyword.value.elts))
                                for rule in param_rules:
                                    yield f"{path.name}::{node.name}", rule, param_policy


def test_every_rule_for_code_is_proved_under_its_own_municipalitys_policy() -> None:
    guidelines = (shared_folder("SMCASE_SHARED", REPO.parent / "shared") / "GUIDELINES.md").read_text(encoding="utf-8")
    rules = rules_for_code(guidelines)
    assert len(rules) >= 49, "GUIDELINES.md lost its rule rows: the guard would prove nothing"
    proved: dict[str, list[str]] = {}
    wrong: list[str] = []
    for test, rule, policy in scenario_marks(Path(__file__).parent):
        own = MUNICIPALITY.get(rule[:3])
        if policy == own:
            proved.setdefault(rule, []).append(test)
        elif own is not None and policy is not None and rule not in proved:
            wrong.append(f"{rule} in {test} runs under {policy!r}, not {own!r}")
    unknown = sorted({rule for _test, rule, _policy in scenario_marks(Path(__file__).parent)} - set(rules))
    missing = [rule for rule in rules if rule not in proved]
    assert not missing, (f"rules with no scenario test under their own policy: {', '.join(missing)}"
                         + (f"; named under another policy: {'; '.join(wrong)}" if wrong else ""))
    assert not unknown, f"tests name rules GUIDELINES.md does not have: {', '.join(unknown)}"
    for name, folder in MUNICIPALITY.items():
        assert (REPO / "fixtures" / "policies" / f"{folder}.toml").is_file(), f"no policy file for {name}"


def test_the_guard_reads_rules_and_markers_as_written(tmp_path: Path) -> None:
    table = ("| RAT-1 | text | Code. |\n| VIM-6c | text | Code. |\n| RAT-6 | text | *people* only |\n"
             "| XYZ-1 | text | Code. |\n")
    assert rules_for_code(table) == ["RAT-1", "VIM-6c"]
    source = '''
import pytest
@pytest.mark.rules("RAT-1", "RAT-2")
@pytest.mark.policy("rattvik")
def test_a(): ...
@pytest.mark.parametrize("x", [pytest.param(1, marks=[pytest.mark.rules("NOR-5"), pytest.mark.policy("norsjo")])])
def test_b(x): ...
def helper(): ...
'''
    (tmp_path / "test_sample.py").write_text(source, encoding="utf-8")
    found = sorted((rule, policy) for _test, rule, policy in scenario_marks(tmp_path))
    assert found == [("NOR-5", "norsjo"), ("RAT-1", "rattvik"), ("RAT-2", "rattvik")]
