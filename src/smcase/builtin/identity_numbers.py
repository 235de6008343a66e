"""Classifier: national identity numbers (confidential content; RAT-9, NOR-7, TOR-9, REN-5).

Finds Swedish personnummer and samordningsnummer and Norwegian fødselsnummer and
D-numbers in any common spelling: with or without century, with ``-``, ``+`` or
a space, or run together. Validity (check digits and a real date) comes from
python-stdnum; stdnum rejects samordningsnummer (day + 60), so those are checked
here with the same date and Luhn rules.

Precision comes from the writing and the words around a number, because a
random 10-digit string passes the Swedish checksum one time in ten:

* ``YYMMDD-NNNN``, ``YYMMDD+NNNN``, ``YYYYMMDD-NNNN`` and ``YYYYMMDDNNNN``
  (12 digits, century 18/19/20) are identity numbers when valid;
* 10 or 11 digits run together count when valid unless they look like
  something else: a Swedish phone number (leading 0), or a number introduced
  by words such as "order", "faktura", "kundnummer", "konto", "tel";
* words such as "personnummer", "pnr", "fødselsnummer" make any valid spelling
  count, whatever it looks like.

Findings say which kind of number and where (offsets), never the number.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum import luhn
from stdnum.no import fodselsnummer
from stdnum.se import personnummer

from ..events import Finding, Label, SocialEvent
from ..hookspecs import hookimpl

# Digits not touching other digits (a card or account number is not split into an id).
_SE = re.compile(r"(?<![\d\-+])(?:(\d{2})?(\d{6})\s?([-+])\s?(\d{4})|(\d{12})|(\d{10}))(?![\d\-])")
_NO = re.compile(r"(?<!\d)(?<!\d\.)(\d{6})[\s\-]?(\d{5})(?!\d|\.\d)")

_POSITIVE = re.compile(
    r"(person|samordnings|födelse|fødsels|identitets)\s*-?\s*n(umme|r)|\bp\.?\s?nr\b|\bpers\.?\s?nr\b|"
    r"\bf\.?\s?nr\b|\bd-?nummer\b|\bfödd\b|\bfødt\b|\bssn\b",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"\b(order|ordernummer|ordrenummer|ordre|faktura|fakturanummer|kundnummer|kundnr|kundenummer|kundenr|konto|kontonummer|"
    r"kontonr|beställning|bestilling|bankgiro|plusgiro|ocr|referens|referanse|ref|ärende|ärendenummer|sak|saksnummer|bokning|booking|"
    r"tel|telefon|telefonnummer|tlf|mobil|mobilnummer|ring|sms|fax|nummer\s*till|art\.?\s?nr|artikel)\b",
    re.IGNORECASE,
)
_WINDOW = 40


def _context(text: str, start: int, end: int) -> tuple[bool, bool]:
    before = text[max(0, start - _WINDOW):start]
    after = text[end:end + 12]
    positive = bool(_POSITIVE.search(before) or _POSITIVE.search(after))
    negative = bool(_NEGATIVE.search(before))
    return positive, negative


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def swedish_kind(ten: str, century: str | None = None) -> str | None:
    """'personnummer', 'samordningsnummer' or None for ten digits YYMMDDNNNN (with an optional century)."""
    if personnummer.is_valid((century or "") + ten):
        return "personnummer"
    day = int(ten[4:6])
    if day <= 60 or not luhn.is_valid(ten):
        return None
    yy, month = int(ten[:2]), int(ten[2:4])
    years = [int(century) * 100 + yy] if century else [1900 + yy, 2000 + yy]
    return "samordningsnummer" if any(_valid_date(y, month, day - 60) for y in years) else None


def norwegian_kind(eleven: str) -> str | None:
    """'fødselsnummer', 'd-nummer' or None for eleven digits."""
    if not fodselsnummer.is_valid(eleven):
        return None
    return "d-nummer" if int(eleven[0]) >= 4 else "fødselsnummer"


def find(text: str, context: bool = True) -> list[tuple[str, int, int]]:
    """Every identity number in ``text``: (kind, start, end).

    With ``context=False`` every valid number counts, whatever the words around it
    say (for withholding numbers from view, where a false alarm costs nothing).
    """
    found: list[tuple[str, int, int]] = []
    for m in _SE.finditer(text):
        century, six, sign, four, twelve, ten = m.groups()
        positive, negative = _context(text, m.start(), m.end())
        if six:
            kind = swedish_kind(six + four, century)
            if century and century not in ("18", "19", "20"):
                kind = None
            # An ordinary "YYMMDD-NNNN" spelling is an id unless words around it say otherwise.
            written_as_id = sign in "-+" and (not negative or positive)
        elif twelve:
            kind = swedish_kind(twelve[2:], twelve[:2]) if twelve[:2] in ("18", "19", "20") else None
            written_as_id = positive or not negative
        else:
            kind = swedish_kind(ten)
            # Run-together ten digits: a leading 0 is how Swedish phone numbers look.
            written_as_id = positive or (not negative and not ten.startswith("0"))
        if kind and (written_as_id or not context):
            found.append((kind, m.start(), m.end()))
    for m in _NO.finditer(text):
        if any(start <= m.start() < end for _k, start, end in found):
            continue
        kind = norwegian_kind(m[1] + m[2])
        positive, negative = _context(text, m.start(), m.end())
        if kind and (positive or not negative or not context):
            found.append((kind, m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


@hookimpl
def smcase_classify_event(event: SocialEvent) -> list[Finding]:
    """Flag an event whose text holds a valid identity number."""
    if not event.text:
        return []
    return [Finding(Label.CONFIDENTIAL, kind, f"characters {start}-{end}") for kind, start, end in find(event.text)]
