"""Identity numbers: the one detector every layer calls (classifier, scrubber, public-output guard).

It finds Swedish personnummer and samordningsnummer (10 or 12 digits) and
Norwegian fødselsnummer, D- and H-numbers (11 digits) with a real date and
valid check digits (python-stdnum; samordningsnummer, day + 60, checked here
with the same date and Luhn rules), however people type them:

* any Unicode decimal digit (fullwidth, Arabic-Indic, mathematical …) counts as
  its ASCII digit;
* invisible characters (zero-width space and joiners, soft hyphen, bidi marks,
  combining marks, control characters) are ignored wherever they stand;
* a separator between digit groups is a run of up to three of: any whitespace
  (no-break, thin, ideographic …), the hyphen and dash family (U+2010–2015,
  U+2212, U+FE63, U+FF0D and every other dash), dot, plus, underscore;
* a number may stand inside a word, an e-mail address, a URL or a file name:
  only a neighbouring digit ends it.

Two modes (``find(text, context=...)``):

* **scrub** (``context=False``): every valid number, split anywhere, whatever the
  words around it. Recall is what matters here: masking a look-alike that passes
  the check digits costs nothing.
* **classify** (default): the number must be split the way people split it
  (Swedish ``[CC]YYMMDD|NNNN`` and ``[CC]YY|MM|DD|NNNN``, Norwegian
  ``DDMMYY|NNNNN``, ``DD|MM|YY|NNNNN`` and ``DDMMYY|NNN|NN``, or run together)
  and stand on its own (no other digit group glued to it by a dash or dot).
  Split at those points, a valid number is one whatever the words around it.
  Run together, it could be an order, account or phone number: then the words
  before it must not say it is something else ("order", "faktura", "tel" …)
  unless words such as "personnummer" say it is one, and ten digits starting
  with 0 are a Swedish phone number. Precision is what matters here: a case is
  opened for every hit (measured on ``fixtures/classifier/identity-numbers.tsv``).

Findings say which kind of number and where (offsets into the text as given),
never the number. The cost is a digit count for texts with fewer than ten
digits (nearly all of them): see ``benchmarks/ingest.py``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from stdnum import luhn
from stdnum.no import fodselsnummer
from stdnum.se import personnummer

#: Raised whenever the detector finds more than before: registers scanned by an older one are rescanned.
DETECTOR_VERSION = 2

#: What scrubbing puts in place of a number (the access seam's ``[withheld: …]`` wording).
SCRUBBED = "[withheld: identity number]"

_INVISIBLE = "\x00"  # every ignorable character becomes this, so offsets stay those of the original text
_SEPARATORS = " -.+_"


class _Normaliser(dict[int, str]):
    """A ``str.translate`` table built as characters are met (no import-time scan of Unicode).

    Digits become ASCII digits, separators their canonical ASCII form, invisible
    characters ``\\x00``; everything else stays as it is. One character in, one
    out, so a match's offsets are the original's.
    """

    def __missing__(self, code: int) -> str:
        value = _normal(chr(code))
        self[code] = value
        return value


#: Characters that render as blank but are letters or symbols to Unicode (Hangul fillers, the Braille blank).
_BLANKS = "\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5\u180e"


def _normal(ch: str) -> str:
    digit = unicodedata.digit(ch, None)
    if digit is not None:  # decimal digits of every script, and superscript, subscript and circled ones
        return str(digit)
    if ch.isspace():
        return " "
    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me", "Cc") or ch in _BLANKS:
        return _INVISIBLE
    if ch in "\u2018\u2019\u02bc\u2032\uff07":
        return "'"
    if category == "Pd" or ch in "\u2212\u2043\u02d7\u2796":
        return "-"
    folded = unicodedata.normalize("NFKC", ch)
    if folded in ("-", ".", ":", ";", ",", "/", "(", ")", "*", "|", "#", "~", "="):
        return folded  # e.g. U+FE63 small hyphen-minus, U+FF0E fullwidth full stop, U+FF1A fullwidth colon
    if ch in "\u3002\uff61":  # ideographic full stops
        return "."
    if folded in ("+", "_", "\u2024", "\u2027", "\u00b7", "\u30fb"):  # plus, underscore, one-dot leaders, middle dots
        return {"\u2024": ".", "\u2027": ".", "\u00b7": ".", "\u30fb": "."}.get(folded, folded)
    return ch


_TABLE = _Normaliser()
_ANY_DIGIT = re.compile(r"[\d\u00b2\u00b3\u00b9\u2070-\u2079\u2080-\u2089\u2460-\u249b\u24ea-\u24ff\u2776-\u2793\uff10-\uff19]")
_GROUP = re.compile(r"(?:[0-9]\x00*)+")
# Up to five separator characters between groups: "650118  -  9069" (spaces around a dash) is how people type.
_TOKEN = re.compile(r"[0-9](?:\x00*[0-9])*(?:\x00*(?:[ \-.+_]\x00*){1,5}[0-9](?:\x00*[0-9])*)*\x00*")
# Scrubbing also splits at slashes, colons, commas, semicolons, backslashes, quotes, brackets and the symbols
# people put between groups (* | # ~ =), up to eight of them: what is published must not hold a number however
# it is split.
_WIDE_TOKEN = re.compile(
    r"[0-9](?:\x00*[0-9])*(?:\x00*(?:[ \-.+_/:;,\\'()*|#~=]\x00*){1,8}[0-9](?:\x00*[0-9])*)*\x00*")
# Spellings that stand for one character: HTML entities, URL escapes, JSON and Python escapes, and markup
# (tags, comments) between the groups. Each is read as its character followed by invisible padding.
_ENCODED = re.compile(r"&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});?|&[a-zA-Z]{2,8};|%[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}"
                      r"|\\x[0-9a-fA-F]{2}|\\[ntr]|<!--.*?-->|<[^<>]{0,200}>", re.S)

# Group lengths people write (classify mode). Swedish: 10 or 12 digits; Norwegian: 11.
_SE_SHAPES = {(10,), (12,), (6, 4), (8, 4), (2, 2, 2, 4), (4, 2, 2, 4)}
_NO_SHAPES = {(11,), (6, 5), (2, 2, 2, 5), (6, 3, 2)}

_POSITIVE = re.compile(
    r"(person|samordnings|födelse|fødsels|identitets)\s*-?\s*n(umme|r)|\bp\.?\s?nr\b|\bpers\.?\s?nr\b|"
    r"\bf\.?\s?nr\b|\bd-?nummer\b|\bh-?nummer\b|\bfödd\b|\bfødt\b|\bssn\b|\bpnr|\bfnr",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"\b(order|ordernummer|ordrenummer|ordre|faktura|fakturanummer|kundnummer|kundnr|kundenummer|kundenr|konto|"
    r"kontonummer|kontonr|beställning|bestilling|bankgiro|plusgiro|ocr|referens|referanse|ref|ärende|ärendenummer|"
    r"sak|saksnummer|bokning|booking|tel|telefon|telefonnummer|tlf|mobil|mobilnummer|ring|sms|fax|nummer\s*till|"
    r"art\.?\s?nr|artikel)\b",
    re.IGNORECASE,
)
_WINDOW = 40


@dataclass(frozen=True, slots=True)
class Found:
    """One identity number: its kind and where it stands in the text (``text[start:end]``)."""

    kind: str  # personnummer | samordningsnummer | fødselsnummer | d-nummer | h-nummer
    start: int
    end: int


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def swedish_kind(ten: str, century: str | None = None) -> str | None:
    """'personnummer', 'samordningsnummer' or None for ten digits YYMMDDNNNN (with an optional century)."""
    if not luhn.is_valid(ten):
        return None
    if century is not None and century not in ("18", "19", "20"):
        return None
    if personnummer.is_valid((century or "") + ten):
        return "personnummer"
    yy, month, day = int(ten[:2]), int(ten[2:4]), int(ten[4:6])
    years = [int(century) * 100 + yy] if century else [1800 + yy, 1900 + yy, 2000 + yy]
    if day > 60 and any(_valid_date(y, month, day - 60) for y in years):
        return "samordningsnummer"
    if century is None and day <= 31 and any(_valid_date(y, month, day) for y in years):
        return "personnummer"  # e.g. 29 February of a leap year stdnum's century guess misses
    return None


def norwegian_kind(eleven: str) -> str | None:
    """'fødselsnummer', 'd-nummer', 'h-nummer' or None for eleven digits."""
    if not fodselsnummer.is_valid(eleven):
        return None
    if int(eleven[0]) >= 4:
        return "d-nummer"
    return "h-nummer" if int(eleven[2]) >= 4 else "fødselsnummer"


def _kind(digits: str) -> str | None:
    if len(digits) == 10:
        return swedish_kind(digits)
    if len(digits) == 12:
        return swedish_kind(digits[2:], digits[:2])
    return norwegian_kind(digits)


def _context(text: str, start: int, end: int) -> tuple[bool, bool]:
    before = text[max(0, start - _WINDOW):start]
    after = text[end:end + 12]
    return bool(_POSITIVE.search(before) or _POSITIVE.search(after)), bool(_NEGATIVE.search(before))


def _counts(shape: tuple[int, ...], digits: str, text: str, start: int, end: int) -> bool:
    """Classify mode: is a valid number of this shape, between these words, an identity number?

    Split at the points where an identity number is split (its date, then its
    serial and check digits), a valid number is one whatever the words around it
    say. Run together, it could be an order, account or phone number: the words
    before it decide.
    """
    if shape not in (_NO_SHAPES if len(digits) == 11 else _SE_SHAPES):
        return False
    if len(shape) > 1:
        return True
    positive, negative = _context(text, start, end)
    if shape == (10,):
        # Run-together ten digits: a leading 0 is how Swedish phone numbers look.
        return positive or (not negative and not digits.startswith("0"))
    return positive or not negative


def find(text: str | None, context: bool = True) -> list[Found]:
    """Every identity number in ``text``, in order.

    ``context=False`` is the scrubbing mode: every valid number however it is
    split, whatever the words around it say.
    """
    if not text or len(_ANY_DIGIT.findall(text)) < 10:
        return []
    normal = _decoded(text).translate(_TABLE)
    found: list[Found] = []
    for token in (_TOKEN if context else _WIDE_TOKEN).finditer(normal):
        groups = [(g.group().replace(_INVISIBLE, ""), g.start(), g.end())
                  for g in _GROUP.finditer(normal, token.start(), token.end())]
        if sum(len(g[0]) for g in groups) < 10:
            continue
        taken_until = -1
        for i in range(len(groups)):
            if groups[i][1] < taken_until:
                continue
            digits = ""
            for j in range(i, len(groups)):
                digits += groups[j][0]
                if len(digits) > 12:
                    break
                if len(digits) < 10:
                    continue
                kind = _kind(digits)
                if kind is None:
                    continue
                start, end = groups[i][1], groups[j][2]
                if context:
                    alone = ((i == 0 or " " in normal[groups[i - 1][2]:start])
                             and (j == len(groups) - 1 or " " in normal[end:groups[j + 1][1]]))
                    shape = tuple(len(g[0]) for g in groups[i:j + 1])
                    if not alone or not _counts(shape, digits, text, start, end):
                        continue
                found.append(Found(kind, start, end))
                taken_until = end
                break
        if not context:
            found += _written_as_dates(groups, found)
    return sorted(found, key=lambda f: f.start)


# A number written with its date the European way round: DD.MM.(CC)YY-NNNN (Swedish), DD.MM.CCYY NNNNN (Norwegian).
_DATE_FIRST: dict[tuple[int, ...], Callable[[list[str]], str]] = {(2, 2, 2, 4): lambda g: g[2] + g[1] + g[0] + g[3], (2, 2, 4, 4): lambda g: g[2] + g[1] + g[0] + g[3],
               (2, 2, 4, 5): lambda g: g[0] + g[1] + g[2][2:] + g[3]}


def _written_as_dates(groups: list[tuple[str, int, int]], found: list[Found]) -> list[Found]:
    """Scrubbing mode: numbers whose date part is written day first (``17.04.1995-3213``)."""
    more = []
    for i in range(len(groups) - 3):
        window = groups[i:i + 4]
        reorder = _DATE_FIRST.get(tuple(len(g[0]) for g in window))
        start, end = window[0][1], window[-1][2]
        if reorder is None or any(f.start < end and start < f.end for f in found):
            continue
        kind = _kind(reorder([g[0] for g in window]))
        if kind:
            more.append(Found(kind, start, end))
    return more


def _decoded(text: str) -> str:
    """``text`` with each encoded character (entity, URL or string escape, markup) read as the character it
    stands for, padded with invisible characters so that offsets stay the original's."""
    if "&" not in text and "%" not in text and "\\" not in text and "<" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        code = match.group()
        if code.startswith("<"):
            return _INVISIBLE * len(code)
        if code.startswith("&"):
            char = html.unescape(code if code.endswith(";") else code + ";")
        elif code.startswith("%"):
            char = chr(int(code[1:], 16))
        elif code[1] in "ux":
            char = chr(int(code[2:], 16))
        else:
            char = " "  # \n, \t, \r
        return (char if len(char) == 1 else "a") + _INVISIBLE * (len(code) - 1)

    return _ENCODED.sub(one, text)


def contains(text: str | None) -> bool:
    """True when ``text`` holds a valid identity number in any spelling (scrubbing mode)."""
    return bool(find(text, context=False))


def scrub(text: str | None, replacement: str = SCRUBBED) -> str | None:
    """``text`` with every valid identity number (scrubbing mode) replaced by ``replacement``."""
    return PublicGuard(replacement)(text)


def digits_only(text: str) -> str:
    """The text's digits as ASCII, every other character dropped (to compare spellings of a number)."""
    return "".join(ch for ch in text.translate(_TABLE) if "0" <= ch <= "9")


class PublicGuard:
    """The last check on everything published: any identity number still in a value is masked, and counted.

    Every layer before it (views, public titles, journal rules) should already
    have kept numbers out, so ``caught`` is 0 in a healthy register: a catch
    means an earlier layer missed one, and the caller reports the count (on
    stderr and in the audit log, never the number).
    """

    def __init__(self, mask: str = SCRUBBED) -> None:
        self.mask = mask
        self.caught = 0

    def __call__(self, value: str | None) -> str | None:
        """``value`` as it may be published."""
        if not value:
            return value
        hits = find(value, context=False)
        if not hits:
            return value
        self.caught += len(hits)
        for hit in reversed(hits):
            value = value[:hit.start] + self.mask + value[hit.end:]
        return value

    def text(self, value: str | None) -> str:
        """``value`` as it may be published, an empty string for None."""
        return self(value) or ""
