"""Diary numbers as people read and type them: the policy's format, writing and parsing.

Formats are Python format strings with named fields, set by the policy:

* Swedish style: ``{prefix} {year}/{seq:04d}`` gives ``KS 2026/0042``; records
  ``{case}-{record}`` give ``KS 2026/0042-3``.
* Norwegian style (Noark 5): ``{year}/{seq}`` gives ``2026/42`` (saksaar /
  sakssekvensnummer); records ``2026/42-3`` (journalpostnummer in the case), plus
  a register-wide journal sequence per year (journalaar/journalsekvensnummer).

Pure text: no database here (allocation is ``numbering.py``), so reading a
policy does not import the database layer.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from .errors import InvalidInput, PolicyError

CASE_FIELDS = frozenset({"prefix", "year", "seq"})
RECORD_FIELDS = frozenset({"case", "record"})

_LARGEST = 2**31 - 1  # a number beyond this was never given (and would overflow the database's integers)


@dataclass(frozen=True)
class ParsedNumber:
    """A diary number read back: the case's year and sequence, and a record number if given."""

    year: int
    seq: int
    record: int | None = None


@dataclass(frozen=True)
class DiaryFormat:
    """How this register writes and reads its diary numbers."""

    case_format: str
    record_format: str
    prefix: str = ""
    journal: bool = False  # keep a Noark journal sequence beside the case sequence

    def __post_init__(self) -> None:
        _check_fields("numbering.case_format", self.case_format, CASE_FIELDS, required={"year", "seq"})
        _check_fields("numbering.record_format", self.record_format, RECORD_FIELDS, required={"case", "record"})
        if "{prefix" in self.case_format and not self.prefix:
            raise PolicyError("", "numbering.prefix", "the case format uses {prefix} but no prefix is set")
        for year, seq, record in ((2026, 1, 1), (1999, 42, 17), (2030, 123456, 999)):
            try:
                number = self.record_number(self.case_number(year, seq), record)
            except (ValueError, KeyError, IndexError) as exc:
                raise PolicyError("", "numbering.case_format", f"cannot format a number: {exc}") from None
            try:
                readable = self.parse(number) == ParsedNumber(year, seq, record)
            except InvalidInput:
                readable = False
            if not readable:
                raise PolicyError(
                    "", "numbering.case_format", f"{number!r} cannot be read back unambiguously; separate the fields"
                )

    def case_number(self, year: int, seq: int) -> str:
        """The diary number of case ``seq`` of ``year``."""
        return self.case_format.format(prefix=self.prefix, year=year, seq=seq)

    def record_number(self, case_number: str, record: int) -> str:
        """The number of record ``record`` (its running number) in a case."""
        return self.record_format.format(case=case_number, record=record)

    def parse(self, text: str) -> ParsedNumber:
        """Read a case or record number, forgiving case, spacing and leading zeros.

        Raises InvalidInput when ``text`` is neither.
        """
        cleaned = " ".join(text.split())
        parsed: ParsedNumber | None = None
        match = self._case_re().fullmatch(cleaned)
        if match:
            parsed = ParsedNumber(int(match["year"]), int(match["seq"]))
        elif match := self._record_re().fullmatch(cleaned):
            parsed = ParsedNumber(int(match["year"]), int(match["seq"]), int(match["record"]))
        if parsed is None:
            raise InvalidInput(f"{text!r} is not a diary number of this register (e.g. {self.case_number(2026, 42)!r})")
        if max(parsed.year, parsed.seq, parsed.record or 0) > _LARGEST:  # no register numbers that far
            raise InvalidInput(f"{text!r} is not a diary number of this register: its numbers are too large")
        return parsed

    def _case_pattern(self) -> str:
        parts: list[str] = []
        for literal, field, _spec, _conv in string.Formatter().parse(self.case_format):
            parts.append(_literal_pattern(literal))
            if field == "prefix":
                parts.append(re.escape(self.prefix))
            elif field == "year":
                parts.append(r"(?P<year>\d{4})")
            elif field == "seq":
                parts.append(r"(?P<seq>\d+)")
        return "".join(parts)

    def _case_re(self) -> re.Pattern[str]:
        return re.compile(self._case_pattern(), re.IGNORECASE)

    def _record_re(self) -> re.Pattern[str]:
        parts: list[str] = []
        for literal, field, _spec, _conv in string.Formatter().parse(self.record_format):
            parts.append(_literal_pattern(literal))
            if field == "case":
                parts.append(self._case_pattern())
            elif field == "record":
                parts.append(r"(?P<record>\d+)")
        return re.compile("".join(parts), re.IGNORECASE)


def _literal_pattern(literal: str) -> str:
    # People type "KS 2026/42", "ks2026/42" or "2026/42 - 3": spacing around separators is free.
    pieces = [re.escape(piece) for piece in literal.split()]
    return r"\s*" + r"\s*".join(pieces) + (r"\s*" if pieces else "")


def _check_fields(key: str, fmt: str, allowed: frozenset[str], required: set[str]) -> None:
    try:
        fields = [field for _lit, field, _spec, _conv in string.Formatter().parse(fmt) if field is not None]
    except ValueError as exc:
        raise PolicyError("", key, f"bad format string {fmt!r}: {exc}") from None
    unknown = [f for f in fields if f not in allowed]
    if unknown:
        raise PolicyError("", key, f"unknown field {{{unknown[0]}}} in {fmt!r}; allowed: {', '.join(sorted(allowed))}")
    missing = required - set(fields)
    if missing:
        raise PolicyError("", key, f"{fmt!r} lacks {', '.join('{' + m + '}' for m in sorted(missing))}")
    if len(fields) != len(set(fields)):
        raise PolicyError("", key, f"{fmt!r} repeats a field")
