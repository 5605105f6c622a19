"""`open_ended_limits`: which expressions get their starts found after the scan, and how
often their matches can hold each byte; `reversed_expression`: which are read backwards."""

from __future__ import annotations

import hyperscan
import pytest

from postwarden.engine.detect.matchbytes import (
    UNBOUNDED,
    fixed_width,
    open_ended_limits,
    reversed_expression,
)
from postwarden.engine.detect.scanner import NATIVE

UTF8 = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SOM_LEFTMOST


def _bytes(limits: bytes | None) -> set[int]:
    assert limits is not None
    assert len(limits) == 256
    return {b for b in range(256) if limits[b]}


def _limits(regex: str, flags: int = UTF8) -> dict[str, int]:
    """The limits of ``regex`` by character, ASCII bytes only."""
    limits = open_ended_limits(regex, flags)
    assert limits is not None
    return {chr(b): limits[b] for b in range(128) if limits[b]}


def test_an_open_ended_expression_gives_its_bytes() -> None:
    assert _bytes(open_ended_limits(r"\bMr\.? +[A-Z][a-z]+\b", UTF8)) == set(
        b"Mr. ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    )
    assert _bytes(open_ended_limits(r"\d+\s*年", UTF8)) == set(b"0123456789 \t\n\r\f\v") | set(
        "年".encode()
    )
    # Caseless: both cases; \x{...} is a code point, its UTF-8 bytes.
    assert _bytes(open_ended_limits(r"a+\x{FF10}", UTF8 | hyperscan.HS_FLAG_CASELESS)) == set(
        b"aA"
    ) | set("０".encode())


@pytest.mark.parametrize(
    ("regex", "flags"),
    [
        (r"\b\d{1,3}/F\b", UTF8),  # bounded: hyperscan's starts cost little
        (r"[^x]+y", UTF8),  # a negated class holds NUL
        (r"a.+b", UTF8),  # any character
        (r"a\v+b", UTF8),  # \v: a class in PCRE, a character in Python
        (r"a{,3}b+", UTF8),  # text in PCRE, a repeat in Python
        (r"\w+", UTF8 | hyperscan.HS_FLAG_UCP),  # Unicode classes
        (r"\w+", hyperscan.HS_FLAG_SOM_LEFTMOST),  # bytes, not UTF-8
        (r"a(?=b)+", UTF8),  # not hyperscan's (nor known here)
        (r"[a\x00]+", UTF8),  # NUL: the run could cross from one unit into the next
    ],
)
def test_what_is_not_known_for_sure_keeps_hyperscans_starts(regex: str, flags: int) -> None:
    assert open_ended_limits(regex, flags) is None


def test_limits_count_what_a_match_can_hold_at_most() -> None:
    # Literals add up, branches take the larger, bounded repeats multiply, open ones have none.
    assert _limits(r"ab?a(?:cc|c)+d{2,3}") == {"a": 2, "b": 1, "c": UNBOUNDED, "d": 3}
    assert _limits(r"(?:x\n|\n\n)[a-z]+") == {"\n": 2, "x": 1} | {
        c: UNBOUNDED for c in "abcdefghijklmnopqrstuvwxyz"
    }
    # A class holds one of its characters; caseless, each case of a literal counts.
    assert _limits(r"[ab,]+x,", UTF8 | hyperscan.HS_FLAG_CASELESS) == {
        **dict.fromkeys("abAB,", UNBOUNDED),
        "x": 1,
        "X": 1,
    }
    # More than a byte can count is no limit.
    assert _limits(r"a{300}b+")["a"] == UNBOUNDED


def test_a_non_ascii_class_bounds_its_bytes_by_its_longest_character() -> None:
    limits = open_ended_limits(r"[\x{4E00}-\x{9FFF}]{2}\s+", UTF8)
    assert limits is not None
    for byte in "中文".encode():
        assert limits[byte] >= 2 * 2  # twice a character, each holding a byte up to twice
    assert all(limits[b] <= 6 for b in range(0x80, 0x100))
    # A class of every character: any non-ASCII byte, four times a character.
    wide = open_ended_limits(r"[\x{80}-\x{10FFFF}]x+", UTF8)
    assert wide is not None
    assert all(wide[b] == 4 for b in range(0x80, 0x100))


def test_a_sign_off_holds_one_line_end() -> None:
    """The window of a closing word's start ends at the line end before its closing line
    (not the whole letter): its expression holds one."""
    from postwarden.engine.detect.name_en import NameEnDetector

    signed = next(p for p in NameEnDetector.patterns if p.name == "signed")
    assert _limits(signed.regex)["\n"] == 1


# ---- reversed_expression: bounded expressions of ASCII read backwards from each end ----

# A surname of varying length first, as name_en's upper_first.
NAME = r"\b(?:CHEUNG|AUYEUNG|CHAN|LEE|NG),? (?:Tai|Siu|Ka|Man|Ming)(?:[ -](?:Man|Wai)|-wai)?\b"


def _backwards(regex: str, text: str, flags: int = UTF8) -> list[tuple[int, int]]:
    """The starts the reversed expression finds for every end of ``regex`` in ``text``
    (ASCII), beside hyperscan's own (SOM): both lists, to compare."""
    from postwarden.engine.compiled import _hsscan

    found = reversed_expression(regex, flags)
    assert found is not None
    backwards, widest = found
    forward = _hsscan.Database([regex.encode()], [flags])
    reverse = _hsscan.Database([backwards], [0])
    blob = text.encode()
    rows = _rows(forward.scan(blob))
    starts = []
    for start, end, _ in rows:
        low = max(0, end - widest - 1)
        window = (blob[end : end + 1] or b" ") + blob[low:end][::-1]
        reach = max(e for _, e, _ in _rows(reverse.scan(window)))
        assert all(s == 0 for s, _, _ in _rows(reverse.scan(window)))  # anchored at its start
        starts.append((end - (reach - 1), start))
    return starts


def _rows(raw: bytes) -> list[tuple[int, int, int]]:
    values = memoryview(raw).cast("q").tolist()
    return [(values[i], values[i + 1], values[i + 2]) for i in range(0, len(values), 3)]


@pytest.mark.skipif(not NATIVE, reason="the _hsscan extension is not built")
@pytest.mark.parametrize(
    ("regex", "text"),
    [
        (NAME, "CHAN Tai Man, LEE Siu, CHEUNG Ka-wai|AUYEUNG Man Ming NG Tai x"),
        (NAME, "NG Tai Man"),  # at both ends of the text
        (r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)\d{2}\b", "1/2/1999 12-12-2020 3.4.1900x 1/1/2000"),
        (r"(?:(?:\+|\b00)852[ -]?|\b852[ -])[2-9]\d{3}\b", "+852 2345 00852-9999 852 3456"),
        (r"\Bab?c\b|x{1,3}yz", "zabc zac xxxyz xyz abc"),
    ],
)
def test_a_reversed_expression_finds_hyperscans_starts(regex: str, text: str) -> None:
    pairs = _backwards(regex, text)
    assert pairs
    assert [found for found, _ in pairs] == [expected for _, expected in pairs]


@pytest.mark.parametrize(
    ("regex", "flags"),
    [
        (NAME, UTF8 | hyperscan.HS_FLAG_CASELESS),  # caseless: a case may be non-ASCII
        (r"\bRm \d{1,3}\b", UTF8),  # its width varies at the end only: hyperscan's starts
        (r"\b(?:Hong Kong|Kowloon|HK)\b", UTF8),  # a list of words, likewise
        (r"\b\d{8}\b", UTF8),  # a fixed width
        (r"[A-Z]\w+ x", UTF8),  # open-ended: windows bounded by byte counts
        (r"\b(?:陳|李)\w{1,3} x", UTF8),  # not ASCII
        (r"[^x]{1,3}y", UTF8),  # a negated class matches other bytes
        (r"a.{1,3}b", UTF8),  # any character, likewise
        (r"^a{1,3}b", UTF8),  # an anchor
        (r"\x{41}{1,2}b", UTF8),  # PCRE's braced hex, not Python's
        (r"a\v{1,2}b", UTF8),  # \v: a class in PCRE, a character in Python
        (r"(?i:a){1,2}b", UTF8),  # a flag inside
        (r"(?i)a{1,2}b", UTF8),  # a flag for the whole expression
        (r"a{1,300}b", UTF8),  # wider than a window
    ],
)
def test_what_cannot_or_need_not_be_read_backwards_is_not(regex: str, flags: int) -> None:
    assert reversed_expression(regex, flags) is None


def test_an_expression_of_ascii_of_one_width_gives_its_width() -> None:
    assert fixed_width(r"\b[2-9]\d{7}\b", UTF8) == 8
    assert fixed_width(r"\b[2-9]\d{3}[ -]\d{4}\b", UTF8) == 9
    assert fixed_width(r"(?:ab|cd)\d{2}", UTF8) == 4
    assert fixed_width(NAME, UTF8) is None  # widths vary
    assert fixed_width(r"\d{8}", UTF8 | hyperscan.HS_FLAG_CASELESS) is None
    assert fixed_width(r"[\x{FF10}-\x{FF19}]{8}", UTF8) is None  # not ASCII: bytes vary
    assert fixed_width(r"[^x]{8}", UTF8) is None
    assert fixed_width(r"(?i)\d{4}k", UTF8) is None  # caseless inline: "k" may be U+212A
