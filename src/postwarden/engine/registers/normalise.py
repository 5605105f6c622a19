"""Canonical forms of register values, one per field type, so equal people hash equal.

The same functions run on the register at import and on message content at check time; a
value that does not have the shape of its field normalises to ``None`` and is not hashed.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import opencc


class Field(IntEnum):
    """A hashed field type; its value also separates the hash domains of the fields."""

    HKID = 1
    PHONE = 2
    EMAIL = 3
    NAME_EN = 4
    NAME_ZH = 5
    ADDRESS_EN = 6
    ADDRESS_ZH = 7
    DOB = 8

    @property
    def label(self) -> str:
        return self.name.lower()


UNIQUE_CHARS = 24
"""The longest text (stripped) taken for an HKID or a phone number."""
CANDIDATE_CHARS = 160
"""The longest text (stripped) taken for any field: a longer one is prose."""

CJK_RANGES = ((0x3400, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
"""Code points of the Chinese characters ``has_cjk`` finds (CJK unified and compatibility
ideographs, extensions A to G)."""
_CJK_CLASS = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK_RANGES)
_CJK = re.compile(f"[{_CJK_CLASS}]")
_CJK_ONLY = re.compile(f"[{_CJK_CLASS}]+")
_HKID_NOISE = re.compile(r"[\s()\[\]]+")
_NOT_DIGIT = re.compile(r"\D+")
_DIGIT = re.compile(r"[0-9０-９]")
_LETTER = re.compile(r"[^\W\d_]")
_HKID = re.compile(r"[A-Z]{1,2}[0-9]{6}[0-9A]")
# How HKIDs are mostly written, "A123456(7)" or "A1234567": what ``hkid`` gives is the groups.
_HKID_WRITTEN = re.compile(r"([A-Z]{1,2}[0-9]{6})\(?([0-9A])\)?")
_PHONE_SHAPE = re.compile(r"\+?\(?[0-9][0-9 ()\-.]{5,24}")
# local@domain, the domain holding a dot with a character either side.  The runs are taken
# whole and the dot is looked for ahead: ``[^@\s<>]+\.[^@\s<>]+`` tried each dot of a long
# domain against the rest (a 20 KB "a@b.b.b...@" took 0.85 s).
_EMAIL = re.compile(r"[^@\s<>]++@(?=[^@\s<>]+\.[^@\s<>])[^@\s<>]++")
_LATIN_WORD = re.compile(r"[a-z]+")
_ALNUM_WORD = re.compile(r"[a-z0-9]+")
_THREE_WORDS = re.compile(r"[A-Za-z0-9]+[^A-Za-z0-9]+[A-Za-z0-9]+[^A-Za-z0-9]+[A-Za-z0-9]")
# Punctuation and spaces inside Chinese names and addresses (NFKC already made full-width
# forms ASCII); the hyphen stays because "12-14號" is a range, not decoration.
_ZH_NOISE = re.compile(r"[\s,.;:·•‧・、。，；：()（）\[\]【】「」\"'#]+")
_ZH_HONORIFICS = ("先生", "女士", "小姐", "太太", "夫人", "博士", "醫生")
_ZH_HONORIFIC = re.compile("(" + "|".join(_ZH_HONORIFICS) + ")$")
# 九龍 is a region but also starts 九龍灣, 九龍城, 九龍塘 (districts): keep it there.
_ZH_REGION = re.compile(r"^(中國)?(香港特別行政區|香港|新界|九龍(?![灣城塘站仔]))+")
# "12/F" and "G/F": the number stays, "/F" becomes the word; "12th" loses its suffix.
# Neither pattern has a group reference: templates expand in Python, per match.
_FLOOR = re.compile(r"\s*/\s*f\b")
_ORDINAL = re.compile(r"(?<=[0-9])(?:st|nd|rd|th)\b")

_NAME_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mdm", "madam", "dr", "prof", "sir"})

# English address words and their abbreviations, one canonical token each (Hongkong Post's
# addressing guide uses these abbreviations interchangeably with the words).
_ADDRESS_WORDS = {
    "flat": "flat",
    "flt": "flat",
    "room": "flat",
    "rm": "flat",
    "unit": "flat",
    "floor": "floor",
    "fl": "floor",
    "flr": "floor",
    "block": "block",
    "blk": "block",
    "tower": "block",
    "twr": "block",
    "building": "building",
    "bldg": "building",
    "bldgs": "building",
    "road": "road",
    "rd": "road",
    "street": "street",
    "st": "street",
    "avenue": "avenue",
    "ave": "avenue",
    "av": "avenue",
    "lane": "lane",
    "ln": "lane",
    "terrace": "terrace",
    "ter": "terrace",
    "court": "court",
    "ct": "court",
    "crt": "court",
    "centre": "centre",
    "center": "centre",
    "ctr": "centre",
    "estate": "estate",
    "est": "estate",
    "house": "house",
    "hse": "house",
    "mansion": "mansion",
    "mansions": "mansion",
    "mans": "mansion",
    "garden": "garden",
    "gardens": "garden",
    "gdn": "garden",
    "gdns": "garden",
    "square": "square",
    "sq": "square",
    "path": "path",
    "drive": "drive",
    "dr": "drive",
    "plaza": "plaza",
    "industrial": "industrial",
    "ind": "industrial",
    "commercial": "commercial",
    "comm": "commercial",
    "village": "village",
    "vill": "village",
    "ground": "g",
}
_ADDRESS_DROP = frozenset({"no", "of", "the"})
_REGION_WORDS = frozenset({"kowloon", "kln", "hk", "nt"})
_REGION_PAIRS = frozenset({("hong", "kong"), ("new", "territories")})

_MONTHS = {
    m.lower(): i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DATE_YMD = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")
_DATE_DMY = re.compile(r"([0-9]{1,2})\s*[-/.]\s*([0-9]{1,2})\s*[-/.]\s*([0-9]{4})")
_DATE_TEXT = re.compile(r"([0-9]{1,2})\s+([a-z]{3})[a-z]*\.?,?\s+([0-9]{4})")
_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ t]00:00(:00)?")


def _nfkc(text: str) -> str:
    # ASCII is already NFKC: skipping the call halves the cost on Latin-only registers.
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


@functools.cache
def _fold() -> dict[int, str]:
    """A table folding every Chinese character to one Traditional form, from OpenCC's own
    character tables: first to Simplified (TSCharacters), then back to Traditional
    (STCharacters), first candidate each way.

    Character by character, not OpenCC's phrase-aware converter: that one turns 台 into 臺
    only when a simplified character stands nearby, so one address would hash two ways; it
    also costs ~15 µs a string.  Folding meets 陈/陳, 台/臺, 裡/裏 deterministically.
    """
    folder = Path(opencc.__file__).parent / "dictionary"

    def first(name: str) -> dict[str, str]:
        out = {}
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            if len(key) == 1 and values:
                out[key] = values.split()[0]
        return out

    to_simplified, to_traditional = first("TSCharacters.txt"), first("STCharacters.txt")
    table = {}
    for char in set(to_simplified) | set(to_traditional):
        simplified = to_simplified.get(char, char)
        folded = to_traditional.get(simplified, simplified)
        if folded != char:
            table[ord(char)] = folded
    return table


def traditional(text: str) -> str:
    """``text`` with each Chinese character folded to one Traditional form (see _fold)."""
    return text.translate(_fold())


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def hkid(value: str) -> str | None:
    """``A123456(7)``, ``a 123456 7``, ``Ａ１２３４５６（７）`` → ``A1234567``."""
    # Only spaces and brackets go: "V-0000001" is a record id, not an HKID.  A hyphen
    # survives folding, so such ids (a column of them in many registers) end here.
    if "-" in value:
        return None
    if (m := _HKID_WRITTEN.fullmatch(value)) is not None:
        # As _hkid_folded would give, in one step: no case to fold, only brackets to drop.
        return m[1] + m[2]
    return _hkid_folded(value)


def _hkid_folded(value: str) -> str | None:
    """``hkid`` of a value with no hyphen, written in any way."""
    s = _HKID_NOISE.sub("", _nfkc(value).upper())
    return s if _HKID.fullmatch(s) else None


def phone(value: str) -> str | None:
    """Digits only, without the +852 / 852 / 00852 country code of Hong Kong."""
    if len(value) == 8 and value.isascii() and value.isdigit():
        # The local form as it is, and the commonest: no date pattern matches it without
        # separators, so the tests below would only hand it back.
        return value
    s = _nfkc(value).strip()
    if not _PHONE_SHAPE.fullmatch(s) or _DATE_YMD.fullmatch(s) or _DATE_DMY.fullmatch(s):
        return None
    digits = _NOT_DIGIT.sub("", s)
    if len(digits) == 11 and digits.startswith("852"):
        digits = digits[3:]
    elif len(digits) == 13 and digits.startswith("00852"):
        digits = digits[5:]
    if len(digits) == 8:
        return digits
    # Outside Hong Kong only the international form is unambiguous enough to keep.
    return "+" + digits if s.startswith("+") and 8 <= len(digits) <= 15 else None


def email(value: str) -> str | None:
    s = _nfkc(value).strip().strip("<>").lower()
    if s.startswith("mailto:"):
        s = s[7:]
    return s if _EMAIL.fullmatch(s) else None


def name_en(value: str) -> str | None:
    """Order-insensitive: ``Chan Tai-man``, ``CHAN Tai Man``, ``Tai Man CHAN`` → ``chan man tai``.

    Hyphens split and case folds; titles (Mr, Ms, Dr...) are dropped.
    """
    s = _nfkc(value)
    if not s.isascii():
        if has_cjk(s):
            return None
        # Accented Latin letters: compare on the base letter, as most registers type them.
        s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    s = s.casefold().replace("'", "")
    if _DIGIT.search(s) is not None:
        return None
    tokens = [t for t in _LATIN_WORD.findall(s) if t not in _NAME_TITLES]
    if not tokens or len(tokens) > 6:
        return None
    tokens.sort()
    return " ".join(tokens)


def name_zh(value: str) -> str | None:
    """Chinese name without spaces, dots or honorific, in Traditional form."""
    s = _nfkc(value)
    if _CJK_ONLY.fullmatch(s) is None:
        s = _ZH_NOISE.sub("", s)
        if _CJK_ONLY.fullmatch(s) is None:
            return None
    if s.endswith(_ZH_HONORIFICS):
        s = _ZH_HONORIFIC.sub("", s)
    if not 2 <= len(s) <= 6:
        return None
    return traditional(s)


def address_en(value: str) -> str | None:
    """English address as a sorted bag of canonical tokens, numbers bound to their flat,
    floor and block so that ``Flat 3, 12/F`` and ``Flat 12, 3/F`` stay different."""
    s = _nfkc(value)
    if not s.isascii():
        if has_cjk(s):
            return None
        s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()
    # The comma-separated parts of addresses repeat by the thousand (streets, estates,
    # districts, "Flat A", "7/F"): each is tokenised and paired once (_address_part).  No
    # tokenising pattern reaches over a comma; a pair can, and is checked at each seam.
    parts = [_address_part(p) for p in s.split(",")]
    out: list[str] = []
    last: _Part | None = None
    for part in parts:
        if not part.tokens:
            continue
        if last is not None and (last.open_end in _PAIRING_ENDS or part.tokens[0] == "floor"):
            return _address_words(parts)
        out.extend(part.paired)
        last = part
    if last is not None and last.tokens[-1] in _REGION_ENDS:
        return _address_words(parts)
    # Fewer than three parts is a fragment ("Flat A, 12/F"), never a whole address.
    if len(out) < 3:
        return None
    out.sort()
    return " ".join(out)


@dataclass(frozen=True, slots=True)
class _Part:
    """One comma-separated part of an English address, tokenised and paired on its own."""

    tokens: tuple[str, ...]
    paired: tuple[str, ...]
    open_end: str | None
    """The last token if no pair took it: it could pair with the next part's first one."""


_PAIRING_ENDS = frozenset({"flat", "block", "floor"})
# The last word of anything _drop_region drops.
_REGION_ENDS = _REGION_WORDS | {pair[-1] for pair in _REGION_PAIRS}
_PARTS: dict[str, _Part] = {}
# Bounded, since check-time text is arbitrary: ~20 MB at most, far more parts than a
# register's streets and buildings.
_PARTS_MAX = 50_000


def _address_part(text: str) -> _Part:
    part = _PARTS.get(text)
    if part is None:
        s = _ORDINAL.sub("", _FLOOR.sub(" floor", text.casefold()))
        get = _ADDRESS_WORDS.get
        tokens = tuple([get(t, t) for t in _ALNUM_WORD.findall(s) if t not in _ADDRESS_DROP])
        paired, open_end = _pair(tokens)
        part = _Part(tokens, tuple(paired), open_end)
        if len(_PARTS) >= _PARTS_MAX:
            _PARTS.clear()
        _PARTS[text] = part
    return part


def _address_words(parts: list[_Part]) -> str | None:
    """The address from all its parts' tokens at once, where a pair or the region crosses
    a comma."""
    words = [t for part in parts for t in part.tokens]
    _drop_region(words)
    out, _ = _pair(words)
    if len(out) < 3:
        return None
    out.sort()
    return " ".join(out)


def _pair(words: Sequence[str]) -> tuple[list[str], str | None]:
    """Numbers bound to the flat, floor and block they name, and the last word if no pair
    took it."""
    # One pass over the tokens; measured 3x faster than regex substitutions with group
    # references, and this runs on every address of a 4.5 M-row register.
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        if i + 1 < n:
            nxt = words[i + 1]
            if word == "flat" or word == "block":
                out.append(word + "=" + nxt)
                i += 2
                continue
            if nxt == "floor":
                out.append("floor=" + word)
                i += 2
                continue
            if word == "floor" and nxt.isdigit():
                out.append("floor=" + nxt)
                i += 2
                continue
        out.append(word)
        i += 1
        if i == n:
            return out, word
    return out, None


def _drop_region(words: list[str]) -> None:
    """Trailing ``Hong Kong`` / ``Kowloon`` / ``N.T.``: written or left out at will."""
    while len(words) > 1:
        if words[-1] in _REGION_WORDS:
            del words[-1]
        elif len(words) > 2 and (words[-2], words[-1]) in _REGION_PAIRS:
            del words[-2:]
        else:
            return


def address_zh(value: str) -> str | None:
    """Chinese address without spaces and punctuation, Traditional, region prefix dropped."""
    s = _ZH_NOISE.sub("", _nfkc(value)).casefold()
    if not has_cjk(s):
        return None
    s = _ZH_REGION.sub("", traditional(s))
    return s if len(s) >= 4 else None


def dob(value: str | dt.date) -> str | None:
    """A date as ``YYYY-MM-DD``; ``DD/MM/YYYY`` is read day first, as Hong Kong writes it."""
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    s = _nfkc(value).strip().casefold()
    m = _DATE_TIME.fullmatch(s)
    if m:
        s = m.group(1)
    try:
        if m := _DATE_YMD.fullmatch(s):
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        elif m := _DATE_DMY.fullmatch(s):
            d, mo, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
        elif (m := _DATE_TEXT.fullmatch(s)) and m.group(2) in _MONTHS:
            d, mo, y = int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3))
        else:
            return None
        return dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


def candidates(text: str) -> list[tuple[Field, str]]:
    """Every field a free-standing value (a table cell, a line, a segment) could be: its
    unique field if it has one, else the others (as ``unique_candidates`` then
    ``other_candidates``, with the shape tests done once: this runs on every distinct cell
    of every table in a message)."""
    s = text.strip()
    n = len(s)
    if not n or n > CANDIDATE_CHARS:
        return []
    if "@" in s:
        e = email(s)
        return [(Field.EMAIL, e)] if e else []
    digits = _DIGIT.search(s) is not None
    if digits and n <= 24:
        if found := hkid_or_phone(s, n):
            return [found]
        # Every date form starts with a digit: skip the four patterns for anything else.
        if s[0].isdigit() and (d := dob(s)) is not None:
            return [(Field.DOB, d)]
    return _names_and_addresses(s, n, digits)


def unique_candidates(text: str) -> list[tuple[Field, str]]:
    """The unique field (email, HKID, phone) ``text`` is, if any; cheap shape tests first
    (length, ``@``, a digit), since this runs on every cell of every table in a message."""
    s = text.strip()
    n = len(s)
    if not n or n > CANDIDATE_CHARS:
        return []
    if "@" in s:
        e = email(s)
        return [(Field.EMAIL, e)] if e else []
    if n <= UNIQUE_CHARS and _DIGIT.search(s) is not None and (found := hkid_or_phone(s, n)):
        return [found]
    return []


_NUMERIC_STARTS = frozenset("+0123456789")


def hkid_or_phone(s: str, n: int) -> tuple[Field, str] | None:
    """``s`` (stripped, ``n`` long, with a digit) as an HKID or a phone number."""
    # ASCII is its own NFKC form: an HKID cannot start with a digit or "+", a phone
    # number must (or with "("), so each test is skipped where it cannot succeed.
    numeric = plain = s.isascii()
    if plain:
        numeric = s[0] in _NUMERIC_STARTS
    if n <= 16 and not numeric and (h := hkid(s)) is not None:
        return Field.HKID, h
    if (numeric or not plain or s[0] == "(") and (p := phone(s)) is not None:
        return Field.PHONE, p
    return None


def hkids_or_phones(texts: Sequence[str]) -> list[tuple[Field, str] | None]:
    """``hkid_or_phone`` of each of ``texts`` stripped (each with a digit): the two shapes
    of a leaked table's columns, eight ASCII digits and an HKID as mostly written, read
    without a call each (45,000 cells for a 15,070-row sheet)."""
    out: list[tuple[Field, str] | None] = []
    add = out.append
    written = _HKID_WRITTEN.fullmatch
    for text in texts:
        if len(text) == 8 and text.isdigit() and text.isascii():
            add((Field.PHONE, text))  # phone() hands such a number back as it is
        elif "-" not in text and (m := written(text)) is not None:  # a hyphen: a record id
            add((Field.HKID, m[1] + m[2]))  # no spaces: hkid() reads it so
        else:
            s = text.strip()
            add(hkid_or_phone(s, len(s)))
    return out


def other_candidates(text: str) -> list[tuple[Field, str]]:
    """The other fields (date of birth, names, addresses) ``text`` could be."""
    s = text.strip()
    n = len(s)
    if not n or n > CANDIDATE_CHARS or "@" in s:
        return []
    digits = _DIGIT.search(s) is not None
    if digits and n <= 24 and s[0].isdigit() and (d := dob(s)) is not None:
        return [(Field.DOB, d)]
    return _names_and_addresses(s, n, digits)


def _names_and_addresses(s: str, n: int, digits: bool) -> list[tuple[Field, str]]:
    out: list[tuple[Field, str]] = []
    if _CJK.search(s) is not None:
        if not digits and n <= 12 and (name := name_zh(s)) is not None:
            out.append((Field.NAME_ZH, name))
        if n >= 5 and (a := address_zh(s)) is not None:
            out.append((Field.ADDRESS_ZH, a))
    elif _LETTER.search(s) is not None:
        if not digits and n <= 60 and (name := name_en(s)) is not None:
            out.append((Field.NAME_EN, name))
        # An address has a number (flat, floor or street) or several words, and at least
        # three words in all (ASCII text tokenises the same before and after folding).
        if (
            (digits or s.count(" ") >= 3)
            and (not s.isascii() or _THREE_WORDS.search(s) is not None)
            and (a := address_en(s)) is not None
        ):
            out.append((Field.ADDRESS_EN, a))
    return out
