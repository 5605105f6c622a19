"""Hong Kong phone numbers: eight digits, landline 2/3, mobile 4-9, optional +852."""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar

from postwarden.engine.detect.base import Candidate, Pattern, PatternDetector
from postwarden.engine.detect.registry import registry

__all__ = ["PhoneDetector"]

_CORE = r"[2-9]\d{3}[ -]?\d{4}\b"
# Glued to another digit group or a decimal point, after a currency sign or an order mark:
# part of a longer number, an amount or a reference, not a phone number.
_GLUED_BEFORE = re.compile(r"(?:\d[ -]|\d\.|[$#]\s?|[A-Za-z]-|\d,)$")
_GLUED_AFTER = re.compile(r"[ -]\d|[.,]\d|%")  # used with match(), so anchored
_NOT_DIGITS = str.maketrans("", "", " -+()")


def _is_date(digits: str) -> bool:
    """Eight digits that read as a plausible YYYYMMDD or DDMMYYYY date."""
    for year, month, day in (
        (digits[:4], digits[4:6], digits[6:]),
        (digits[4:], digits[2:4], digits[:2]),
    ):
        if year[:2] in ("19", "20"):
            try:
                date(int(year), int(month), int(day))
            except ValueError:
                continue
            return True
    return False


@registry.register
class PhoneDetector(PatternDetector):
    """HK numbers in the ranges the Communications Authority allocates to phones."""

    id = "phone"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern("phone_intl", r"(?:(?:\+|\b00)852[ -]?|\(\+?852\) ?|\b852[ -])" + _CORE, 0.75),
        Pattern("phone_grouped", r"\b[2-9]\d{3}[ -]\d{4}\b", 0.55),
        Pattern("phone_bare", r"\b[2-9]\d{7}\b", 0.4),
    )
    context = (
        "tel",
        "phone",
        "telephone",
        "mobile",
        "mob",
        "cell",
        "fax",
        "contact",
        "call",
        "whatsapp",
        "電話",
        "手提",
        "手機",
        "聯絡",
        "傳真",
        "致電",
    )
    context_boost = 0.4
    yields_to = ("card", "hkid", "email", "dob")

    def validate(self, candidate: Candidate) -> bool:
        digits = candidate.text.translate(_NOT_DIGITS)[-8:]
        if len(set(digits)) == 1:  # 88888888, 22222222: placeholders
            return False
        if candidate.pattern.name == "phone_bare" and not candidate.has_context:
            # An order number or a date such as 20231105 is eight digits too.
            return not _is_date(digits)
        return True

    def invalidate(self, candidate: Candidate) -> bool:
        text, start, end = candidate.unit.text, candidate.start, candidate.end
        # pos/endpos instead of slices: ``$`` and ``^`` then hold at the window's edges.
        return bool(
            _GLUED_BEFORE.search(text, max(0, start - 3), start)
            or _GLUED_AFTER.match(text, end, end + 2)
        )
