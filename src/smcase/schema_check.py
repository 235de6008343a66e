"""smcase's own JSON schemas (``schemas/``): compiled validators, and their errors in plain words.

A registrar who gets ``created_at: must match pattern ^\\d{4}-…`` learns nothing;
``created_at: '5 mars' is not a date and time with its UTC offset (e.g.
2026-03-01T12:00:00+01:00)`` says which field, what was there and what is
expected. fastjsonschema is imported on first use: reading a command line's
``--help`` does not pay for it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from .resources import schemas_dir

_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a group of keys and values",
    "null": "empty",
}


#: Python's types of parsed JSON, by JSON Schema's names for them.
_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "integer", float: "number", bool: "boolean",
               type(None): "null"}


def type_words(value: Any) -> str:
    """What kind of value ``value`` is, in the words the schema errors use ("a list", "a number")."""
    name = _JSON_NAMES.get(type(value))
    return _TYPES[name] if name else type(value).__name__


class SchemaProblem(ValueError):
    """A document does not fit its schema: ``key`` (dotted, e.g. ``author.name``) and ``reason`` in plain words."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@cache
def compiled(schema_name: str) -> Any:
    """The compiled validator of one of smcase's own schemas (``schemas/<name>``)."""
    import fastjsonschema

    schema = json.loads((schemas_dir() / schema_name).read_text(encoding="utf-8"))
    return fastjsonschema.compile(schema, formats={"date": r"^\d{4}-\d{2}-\d{2}$"})


def check(schema_name: str, document: Any) -> None:
    """Validate ``document``; SchemaProblem names the first key that is wrong and why, in plain words."""
    import fastjsonschema

    try:
        compiled(schema_name)(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise SchemaProblem(*_plain(exc)) from None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _expected(definition: dict[str, Any]) -> str:
    description, examples = definition.get("description"), definition.get("examples")
    words = f" ({description})" if description else ""
    if examples:
        words += f", e.g. {examples[0]}"
    return words


def _plain(error: Any) -> tuple[str, str]:
    # fastjsonschema names the value data.a.b[2].c; a person wants a.b[2].c.
    key = (error.name or "data").removeprefix("data").lstrip(".")
    rule, value = error.rule, error.value
    definition: dict[str, Any] = error.definition if isinstance(error.definition, dict) else {}
    rule_value = definition.get(rule) if rule else None

    def at(child: str) -> str:
        return f"{key}.{child}" if key else child

    if rule == "required" and isinstance(value, dict):
        missing = [k for k in definition.get("required", []) if k not in value]
        return (at(missing[0]) if missing else key or "(top level)"), "is missing"
    if rule == "additionalProperties" and isinstance(value, dict):
        known = sorted(definition.get("properties", {}))
        unknown = [k for k in value if k not in known]
        hint = f" (known here: {', '.join(known)})" if known and len(known) <= 12 else ""
        return (at(str(unknown[0])) if unknown else key or "(top level)"), f"is not a known key{hint}"
    key = key or "(top level)"
    if rule == "type":
        wanted = rule_value if isinstance(rule_value, list) else [rule_value]
        words = " or ".join(_TYPES.get(str(t), str(t)) for t in wanted)
        return key, f"is {_shown(value)}, expected {words}"
    if rule == "enum" and isinstance(rule_value, list):
        return key, f"is {_shown(value)}, expected one of: {', '.join(str(v) for v in rule_value)}"
    if rule == "const":
        return key, f"is {_shown(value)}, expected {rule_value!r}"
    if rule == "format" and rule_value == "date":
        return key, f"{_shown(value)} is not a date, e.g. 2026-03-01"
    if rule in ("pattern", "format"):
        return key, f"{_shown(value)} is not in the expected form{_expected(definition)}"
    if rule == "minLength":
        return key, "must not be empty" if rule_value == 1 else f"must be at least {rule_value} characters"
    if rule == "maxLength":
        return key, f"is too long: at most {rule_value} characters"
    if rule == "minItems":
        return key, "must not be an empty list" if rule_value == 1 else f"must list at least {rule_value}"
    if rule == "maxItems":
        return key, f"lists too many: at most {rule_value}"
    if rule in ("minimum", "exclusiveMinimum"):
        return key, f"is {_shown(value)}, must be at least {rule_value}" + (" and more" if rule.startswith("ex") else "")
    if rule in ("maximum", "exclusiveMaximum"):
        return key, f"is {_shown(value)}, must be at most {rule_value}" + (" and less" if rule.startswith("ex") else "")
    if rule == "uniqueItems":
        return key, "lists the same value twice"
    # anyOf, oneOf, not, dependencies...: fastjsonschema's own words, without the "data." prefix.
    message = str(error.message).removeprefix(error.name or "").strip()
    return key, f"does not fit: {message}{_expected(definition)}"
