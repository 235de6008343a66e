"""Policy files: validated against schemas/policy.schema.json, errors name the key and the reason."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smcase.cli import create_cli
from smcase.errors import InvalidInput, PolicyError
from smcase.policy import from_document, load_file
from smcase.resources import default_policy, policies_dir

SHIPPED = sorted(policies_dir().glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_policy_is_valid(path: Path) -> None:
    policy = load_file(path)
    assert policy.default_class in {c.code for c in policy.classes}
    assert policy.grounds and policy.disposal_rules


def test_the_defaults_number_the_swedish_and_the_norwegian_way() -> None:
    se, no = load_file(default_policy("SE")), load_file(default_policy("NO"))
    assert se.numbering.case_number(2026, 42) == "KS 2026/0042" and not se.numbering.journal
    assert no.numbering.case_number(2026, 42) == "2026/42" and no.numbering.journal
    assert (se.timezone, no.timezone) == ("Europe/Stockholm", "Europe/Oslo")


def _doc() -> dict[str, Any]:
    return tomllib.loads(default_policy("SE").read_text(encoding="utf-8"))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = re.split(r"\.(?![^\[]*\])", path)
        target: Any = doc
        for part in parents:
            name, _, index = part.partition("[")
            target = target[name]
            if index:
                target = target[int(index.rstrip("]"))]
        target[last] = value

    return change


def _drop(section: str, key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc[section].pop(key)


BROKEN = [
    (_set("policy.country", "DK"), "policy.country", "is 'DK', expected one of: SE, NO"),
    (_set("policy.version", "one"), "policy.version", "'one' is not in the expected form"),
    (_drop("numbering", "case_format"), "numbering.case_format", "is missing"),
    (_set("numbering.colour", "blue"), "numbering.colour", "is not a known key"),
    (_set("numbering.prefix", "K S"), "numbering.prefix", "'K S' is not in the expected form"),
    (_set("numbering.case_format", "{prefix} {seq}"), "numbering.case_format", "lacks {year}"),
    (_set("numbering.case_format", "{year}/{seq}/{unit}"), "numbering.case_format", "unknown field {unit}"),
    (_set("register.default_class", "9.9"), "register.default_class", "not among register.classes"),
    (_set("register.timezone", "Europe/Stokholm"), "register.timezone", "unknown time zone"),
    (_set("roles.initial", ["admin", "boss"]), "roles.initial", "'boss' is not in roles.names"),
    (_set("permissions", {"case.open": ["boss"]}), "permissions.case.open", "none of boss is in roles.names"),
    (_set("permissions", {"case.eat": ["admin"]}), "permissions.case.eat", "is not a known key"),
    (_set("disposal.case_rule", "burn"), "disposal.case_rule", "not the id of a rule"),
    (_set("disposal.rules[1].after_days", None), "disposal.rules[1].after_days", "is None, expected a whole number"),
    (lambda d: d["disposal"]["rules"][1].pop("after_days"), "disposal.rules[1]", "neither after_days nor after_years"),
    (_set("confidentiality.grounds[0].withheld", ["secrets"]), "confidentiality.grounds[0].withheld[0]", "is 'secrets', expected one of: "),
    (lambda d: d["confidentiality"]["grounds"].append(dict(d["confidentiality"]["grounds"][0])),
     "confidentiality.grounds", "ground id 'osl-21-3' appears twice"),
]


@pytest.mark.parametrize(("change", "key", "reason"), BROKEN, ids=[f"{k}: {r}" for _, k, r in BROKEN])
def test_a_malformed_policy_is_refused_with_the_key_and_the_reason(change: Callable, key: str, reason: str) -> None:
    doc = _doc()
    change(doc)
    with pytest.raises(PolicyError) as caught:
        from_document(doc, source="p.toml")
    assert caught.value.key == key, str(caught.value)
    assert reason in caught.value.reason, str(caught.value)
    assert str(caught.value).startswith(f"p.toml: {key}: ")


def test_toml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nname = "x\n', encoding="utf-8")
    with pytest.raises(PolicyError, match=r"bad.toml: not valid TOML: .*line 2"):
        load_file(bad)
    with pytest.raises(PolicyError, match="no such file"):
        load_file(tmp_path / "missing.toml")


def test_policy_check_and_show_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(create_cli(), ["policy", "check", str(default_policy("NO"))])
    assert good.exit_code == 0 and "OK" in good.stdout
    doc = _doc()
    doc["register"]["default_class"] = "9.9"
    bad = tmp_path / "bad.toml"
    bad.write_text(_to_toml(doc), encoding="utf-8")
    refused = runner.invoke(create_cli(), ["policy", "check", str(bad)])
    assert refused.exit_code == 1
    assert "register.default_class: '9.9' is not among register.classes" in refused.stderr
    shown = runner.invoke(create_cli(), ["policy", "show", str(default_policy("SE")), "--json"])
    assert shown.exit_code == 0
    parsed = json.loads(shown.stdout)
    assert parsed["numbering"]["example_record"] == "KS 2026/0042-3"
    assert parsed["permissions"]["user.manage"] == ["admin"]
    text = runner.invoke(create_cli(), ["policy", "show", str(default_policy("SE"))])
    assert "OSL 26 kap. 1 §" in text.stdout and "trivial-social" in text.stdout


def _to_toml(doc: dict[str, Any]) -> str:
    """A minimal TOML writer for the test (the policy only uses tables, arrays of tables and scalars)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    def table(prefix: str, value: dict[str, Any], header: str) -> None:
        lines.append(header)
        for k, v in value.items():
            if not isinstance(v, (dict, list)) or (isinstance(v, list) and not any(isinstance(i, dict) for i in v)):
                lines.append(f'"{k}" = {scalar(v)}')
        for k, v in value.items():
            if isinstance(v, dict):
                table(f"{prefix}{k}.", v, f"[{prefix}{k}]")
            elif isinstance(v, list) and any(isinstance(i, dict) for i in v):
                for item in v:
                    table(f"{prefix}{k}.", item, f"[[{prefix}{k}]]")

    for key, value in doc.items():
        table(f"{key}.", value, f"[{key}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("municipality", "typed", "ground"), [
    ("rennebu", "Offl. § 13", "offl-13"), ("rennebu", "offl 13", "offl-13"), ("rennebu", "OFFL. §26", "offl-26-5"),
    ("rennebu", "offl-13", "offl-13"), ("torsby", "OSL 21:3", "osl-21-3"), ("torsby", "osl 21 kap 3", "osl-21-3"),
    ("torsby", "OSL  26 kap. 1 §", "osl-26-1"),
])
def test_a_ground_is_named_by_its_id_or_its_citation_however_typed(municipality: str, typed: str,
                                                                   ground: str) -> None:
    policy = load_file(policies_dir() / f"{municipality}.toml")
    assert policy.ground(typed).id == ground


def test_a_citation_that_names_several_grounds_lists_them_and_a_part_of_a_number_names_none() -> None:
    policy = load_file(policies_dir() / "torsby.toml")
    with pytest.raises(InvalidInput, match=r"'osl' stops before a section number, so it names no single provision; "
                                           r"grounds that begin so: osl-21-3 \(OSL 21 kap. 3 §\); osl-26-1 "
                                           r"\(OSL 26 kap. 1 §\): give the whole citation or the id"):
        policy.ground("osl")
    for chapter in ("OSL 21", "osl 26 kap."):  # a chapter alone is not a ground, even when one ground is in it
        with pytest.raises(InvalidInput, match="stops before a section number"):
            policy.ground(chapter)
    with pytest.raises(InvalidInput, match="unknown confidentiality ground 'OSL 2'"):
        policy.ground("OSL 2")  # '2' is not the start of 21 or 26: words, not characters


def test_a_shortened_citation_that_fits_two_provisions_lists_both() -> None:
    import dataclasses

    from smcase.policy import Ground

    policy = load_file(policies_dir() / "rennebu.toml")
    two = (Ground("offl-13-a", "Offl. § 13 første ledd", ("text",)), Ground("offl-13-b", "Offl. § 13 annet ledd",
                                                                            ("text",)))
    policy = dataclasses.replace(policy, grounds=two)
    with pytest.raises(InvalidInput, match=r"'Offl. § 13' could be more than one confidentiality ground: offl-13-a "
                                           r"\(Offl. § 13 første ledd\); offl-13-b \(Offl. § 13 annet ledd\)"):
        policy.ground("Offl. § 13")
    assert policy.ground("offl 13 annet ledd").id == "offl-13-b"
