"""Hong Kong identity card numbers: one or two letters, six digits, a check digit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from postwarden.engine.detect.base import (
    Candidate,
    HitBatch,
    Pattern,
    PatternDetector,
    judged,
    nfkc,
)
from postwarden.model import TextUnit

__all__ = ["HkidDetector", "hkid_check_digit"]

_LETTER = r"[A-Za-z\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}]"
_DIGIT = r"[0-9\x{FF10}-\x{FF19}]"
_CHECK = r"[0-9Aa\x{FF10}-\x{FF19}\x{FF21}\x{FF41}]"
_OPEN = r"[(\x{FF08}]"
_CLOSE = r"[)\x{FF09}]"


def _weighted(weights: tuple[int, ...]) -> dict[str, int]:
    """The weighted digit sum of every three ASCII digits, by the digits."""
    return {
        f"{a}{b}{c}": a * weights[0] + b * weights[1] + c * weights[2]
        for a in range(10)
        for b in range(10)
        for c in range(10)
    }


# The digits' part of the sum looked up three at a time: this runs once per HKID of a
# spreadsheet, and two lookups cost a third of six conversions and multiplications.
_HIGH, _LOW = _weighted((7, 6, 5)), _weighted((4, 3, 2))
_CHECKS = "0123456789A"
# Characters that glue a match into a longer token (a URL, a path, a query, an id).
_GLUE = frozenset("./=?&%#@_-\\:+")
_GLUE_AFTER = frozenset("/=?&%#@_\\")
_URL_CHARS = frozenset("/=?&%#@\\")


def hkid_check_digit(prefix: str, digits: str) -> str:
    """The check character (``0``-``9`` or ``A``) for an upper-case prefix and six digits.

    Weighted sum mod 11 over the characters, letters counting A=10 .. Z=35 and a one-letter
    prefix padded with a space counting 36 (the Immigration Department's scheme).
    """
    if len(digits) != 6:
        raise ValueError(f"six digits expected, got {len(digits)}")
    total = (36 if len(prefix) == 1 else ord(prefix[0]) - 55) * 9 + (ord(prefix[-1]) - 55) * 8
    high, low = _HIGH.get(digits[:3]), _LOW.get(digits[3:])
    if high is None or low is None:  # digits of other scripts, which int() also reads
        total += sum(map(int.__mul__, map(int, digits), (7, 6, 5, 4, 3, 2)))
    else:
        total += high + low
    return _CHECKS[(11 - total % 11) % 11]


class HkidDetector(PatternDetector):
    """HKID numbers with a valid check digit, brackets optional, full-width forms too."""

    id = "hkid"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "hkid",
            rf"{_LETTER}{{1,2}}{_DIGIT}{{6}}(?:{_CHECK}|{_OPEN}{_CHECK}{_CLOSE}|[ ]\({_CHECK}\))",
            score=0.75,
        ),
    )
    context = ("HKID", "HK ID", "ID card", "identity card", "身份證", "身分證", "證件號碼")
    context_boost = 0.2

    compiled_checks = (0, None)  # what judge asks of judged: one call settles

    def judge(self, units: Sequence[TextUnit], hits: HitBatch) -> bytes | None:
        # The check digit and the characters around in C (a spreadsheet has an HKID a row),
        # unless a subclass changed the checks.
        return judged(self, HkidDetector, 0, units, hits)

    def invalidate(self, candidate: Candidate) -> bool:
        # One time in eleven any letter-and-seven-digits run passes the check digit: inside
        # a URL, a query or a longer token (…html?tag=st.cr.mp.dpt.pr7932420, issue 11) it is
        # an id, and a lower-case prefix with no HKID word near is one too.
        text, start, end = candidate.unit.text, candidate.start, candidate.end
        if start > 0 and text[start - 1] in _GLUE:
            return True
        if end < len(text) and (
            text[end] in _GLUE_AFTER
            or (text[end] in ".-:" and end + 1 < len(text) and text[end + 1].isalnum())
        ):
            return True
        if not candidate.has_context and not candidate.text[0].isupper():
            return True
        i = start
        while i > 0 and not text[i - 1].isspace() and start - i < 200:
            i -= 1
            if text[i] in _URL_CHARS:
                return True
        return False

    def validate(self, candidate: Candidate) -> bool:
        value = nfkc(candidate.text).upper().replace(" ", "")
        if value.endswith(")"):
            value = value[:-3] + value[-2]
        prefix, digits, check = value[:-7], value[-7:-1], value[-1]
        return hkid_check_digit(prefix, digits) == check
