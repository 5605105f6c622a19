"""`open_ended_limits`: which expressions get their starts found after the scan, and how
often their matches can hold each byte."""

from __future__ import annotations

import hyperscan
import pytest

from postwarden.engine.detect.matchbytes import UNBOUNDED, open_ended_limits

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
