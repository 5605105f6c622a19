"""Hong Kong phone numbers: eight digits, landline 2/3, mobile 4-9, optional +852."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import ClassVar

from postwarden.engine.detect.base import Candidate, HitBatch, Pattern, PatternDetector, judged
from postwarden.model import TextUnit

__all__ = ["PhoneDetector"]

_CORE = r"[2-9]\d{3}[ -]?\d{4}\b"
# Glued to another digit group or a decimal point, after a currency sign or an order mark:
# part of a longer number, an amount or a reference, not a phone number.
_GLUED_BEFORE = re.compile(r"(?:\d[ -]|\d\.|[$#]\s?|[A-Za-z]-|\d,)$")
_GLUED_AFTER = re.compile(r"[ -]\d|[.,]\d|%")  # used with match(), so anchored
_NOT_DIGITS = str.maketrans("", "", " -+()")
# Real text is full of eight-digit numbers that are not phones: a number is a phone only
# with support (a context word or column heading, a +852 prefix, a grouping) and never
# where these say it is something else (issue 11: year ranges in LegCo speeches, message
# ranges, word and byte counts, ICQ numbers and URL ids in real mail).
# Part of a URL, a path or a query, or an id glued to one: a token, not a phone number.
_IN_TOKEN = frozenset("/=?&%#@_\\")
# A count or a quantity after the number (2012-2013年度, 12345678 bytes, 2345 6789 words).
_COUNT_AFTER = re.compile(  # used with match(), so anchored
    r"\s?(?:年|學年|財政年|個|人|元|次|字|萬|億|份|項|頁|%|bytes?\b|words?\b|lines?\b|chars?\b"
    r"|characters\b|hits\b|visits\b|visitors\b|messages?\b|posts?\b|users?\b|members\b"
    r"|times\b|downloads\b|records?\b|rows?\b|kb\b|KB\b|MB\b|bps\b)"
)
# An instant-messenger number or a range (messages 2345-2367, nos. 2001-2005) before it.
# Both, _is_date and _whole_cell are repeated in _hsscan.c (verdict_count_after ...): a
# change here goes there too (tests/engine/detect/test_verdicts.py compares them).
_LABEL_BEFORE = re.compile(
    r"(?:ICQ|UIN|QQ|uin|icq|[Mm]essages?|[Mm]sgs?|[Nn]os?\.?|[Pp]ages?|pp\.?|[Rr]ange|[Ii]ssues?"
    r"|[Vv]ol\.?|[Rr]ev(?:ision)?|[Bb]uild|[Vv]ersion|[Ii][Dd]|[Rr]ef\.?)\s?[:#]?\s?$"
)


# How the compiled checks know the patterns.
_JUDGED_KINDS = {"phone_intl": 0, "phone_grouped": 1, "phone_bare": 2}


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
        "hotline",
        "熱線",
        "電話",
        "手提",
        "手機",
        "聯絡",
        "傳真",
        "致電",
    )
    context_boost = 0.4
    yields_to = ("card", "hkid", "email", "dob")

    compiled_checks = (1, _JUDGED_KINDS)  # what judge asks of judged: one call settles

    def judge(self, units: Sequence[TextUnit], hits: HitBatch) -> bytes | None:
        # The checks in C (a spreadsheet has a phone number a row), unless a subclass
        # changed them: the cell, date, count and label checks of a number without context
        # too (a register's column of numbers under no heading); the C leaves full-width
        # forms and a few odd neighbours (a newline, other scripts just before) to the hooks.
        return judged(self, PhoneDetector, 1, units, hits, _JUDGED_KINDS)

    def validate(self, candidate: Candidate) -> bool:
        value = candidate.text
        digits = value.translate(_NOT_DIGITS)[-8:]
        if len(set(digits)) == 1:  # 88888888, 22222222: placeholders
            return False
        name = candidate.pattern.name
        if name == "phone_grouped" and _is_range(value[:4], value[5:], value[4] == "-"):
            return False
        if name == "phone_bare" and not candidate.has_context:
            # Eight bare digits are an order number, a count, a date (20231105) or an id
            # unless something says phone: a context word, a phone column, or a table cell
            # that is the number alone.
            return _whole_cell(candidate) and not _is_date(digits)
        return True

    def invalidate(self, candidate: Candidate) -> bool:
        text, start, end = candidate.unit.text, candidate.start, candidate.end
        # pos/endpos instead of slices: ``$`` and ``^`` then hold at the window's edges.
        if _GLUED_BEFORE.search(text, max(0, start - 3), start) or _GLUED_AFTER.match(
            text, end, end + 2
        ):
            return True
        if _in_token(text, start, end):
            return True
        if candidate.has_context:  # a Tel column or a phone word: no count, no ICQ number
            return False
        return bool(
            _COUNT_AFTER.match(text, end, end + 12)
            or _LABEL_BEFORE.search(text, max(0, start - 12), start)
        )


def _is_range(first: str, second: str, hyphen: bool) -> bool:
    """Two years (``2012-2013``, ``2002 2002``); with a hyphen also two numbers in order
    close together (``4852-4852``, message numbers) or two round ones (``2000-5000``)."""
    a, b = int(first), int(second)
    if 1900 <= a <= 2099 and 1900 <= b <= 2099:
        return True
    return hyphen and (a <= b <= a + 500 or (a % 100 == 0 and b % 100 == 0))


def _whole_cell(candidate: Candidate) -> bool:
    """True when the match is a table cell of its own (a phone column without a heading)."""
    cells = candidate.unit.cells
    return bool(cells) and candidate.text in {c.strip() for c in cells or ()}


# From here on CJK marks and characters: no URL or id runs through them.
_CJK = "\u2e80"


def _in_token(text: str, start: int, end: int) -> bool:
    """True when the match is glued into a URL, a path, a query or an id."""
    # Chinese text has no spaces: a CJK character or punctuation ends the token too
    # (傳真(2537 4992) after an URL earlier in the sentence is not inside it).
    i = start
    while i > 0 and text[i - 1] < _CJK and not text[i - 1].isspace() and start - i < 200:
        i -= 1
        if text[i] in _IN_TOKEN:
            return True
    j = end
    while j < len(text) and text[j] < _CJK and not text[j].isspace() and j - end < 200:
        if text[j] in _IN_TOKEN or (text[j] == "." and j + 1 < len(text) and text[j + 1].isalpha()):
            return True
        j += 1
    return False
