"""Whole-word, case-insensitive matching of a policy's term lists."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def normalise(text: str) -> str:
    """NFKC and casefold, so 'JÄVLA' and 'ja\u0308vla' match 'jävla'."""
    return unicodedata.normalize("NFKC", text).casefold()


def _pattern(term: str) -> str:
    # A term matches whole words. A word ending in '*' takes any ending, also inside a phrase, so that one
    # term covers the inflections ("trakass*": trakassere, trakassering, trakassert; "heng* ut": henge ut,
    # henges ut, hengt ut). The words of a phrase may be apart by any whitespace, line breaks included.
    words = []
    for word in normalise(term).split():
        words.append(re.escape(word[:-1]) + r"\w*" if word.endswith("*") else re.escape(word))
    return r"\s+".join(words) + ("" if term.endswith("*") else r"(?!\w)")


@lru_cache(maxsize=256)
def matcher(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One compiled pattern for a term list (longest terms first); None for an empty list."""
    if not terms:
        return None
    alternatives = "|".join(_pattern(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})")


def first_match(terms: tuple[str, ...], text: str) -> str | None:
    """The first term of ``terms`` found in ``text`` (already normalised), or None."""
    pattern = matcher(terms)
    if pattern is None:
        return None
    found = pattern.search(text)
    return found.group(0) if found else None
