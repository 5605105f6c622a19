"""Dates of birth: a date near words such as DOB, born or 出生日期."""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar

from postwarden.engine.detect.base import Candidate, Pattern, PatternDetector, nfkc

__all__ = ["DobDetector"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:19|20)\d{2}"
_D = r"[0-9\x{FF10}-\x{FF19}]"
_NUMBERS = re.compile(r"\d+")
_WORDS = re.compile(r"[A-Za-z]+")
_OLDEST = 1900


class DobDetector(PatternDetector):
    """A valid calendar date in a plausible year range, only with birth context near."""

    id = "dob"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern("dmy", rf"\b\d{{1,2}}[/.-]\d{{1,2}}[/.-]{_YEAR}\b", 0.55),
        Pattern("ymd", rf"\b{_YEAR}[/.-]\d{{1,2}}[/.-]\d{{1,2}}\b", 0.55),
        Pattern("zh", rf"{_D}{{4}}\s?年\s?{_D}{{1,2}}\s?月\s?{_D}{{1,2}}\s?日", 0.6),
        Pattern(
            "d_mon_y", rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+{_YEAR}\b", 0.55, caseless=True
        ),
        Pattern(
            "mon_d_y", rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}\b", 0.55, caseless=True
        ),
    )
    context = (
        "dob",
        "d.o.b",
        "d.o.b.",
        "date of birth",
        "birth date",
        "birthdate",
        "birthday",
        "born",
        "出生日期",
        "出生",
        "生日",
        "出生年月日",
    )
    context_window = 30
    requires_context = True
    context_boost = 0.4

    def validate(self, candidate: Candidate) -> bool:
        text = nfkc(candidate.text)
        numbers = [int(n) for n in _NUMBERS.findall(text)]
        name = candidate.pattern.name
        if name in ("d_mon_y", "mon_d_y"):
            words = [w.lower() for w in _WORDS.findall(text)]
            month = next((_MONTHS[w] for w in words if w in _MONTHS), 0)
            day, year = numbers[0], numbers[-1]
            options = [(year, month, day)]
        elif name == "dmy":
            day, month, year = numbers
            options = [(year, month, day), (year, day, month)]  # D/M/Y, else US M/D/Y
        else:
            year, month, day = numbers
            options = [(year, month, day)]
        today = date.today()
        for y, m, d in options:
            try:
                when = date(y, m, d)
            except ValueError:
                continue
            return _OLDEST <= when.year and when <= today
        return False
