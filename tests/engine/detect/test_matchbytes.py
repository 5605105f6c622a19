"""`open_ended_bytes`: which expressions get their starts found after the scan, and with
which bytes."""

from __future__ import annotations

import hyperscan
import pytest

from postwarden.engine.detect.matchbytes import open_ended_bytes

UTF8 = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SOM_LEFTMOST


def _bytes(bitmap: bytes | None) -> set[int]:
    assert bitmap is not None
    assert len(bitmap) == 32
    return {b for b in range(256) if bitmap[b >> 3] >> (b & 7) & 1}


def test_an_open_ended_expression_gives_its_bytes() -> None:
    assert _bytes(open_ended_bytes(r"\bMr\.? +[A-Z][a-z]+\b", UTF8)) == set(
        b"Mr. ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    )
    assert _bytes(open_ended_bytes(r"\d+\s*年", UTF8)) == set(b"0123456789 \t\n\r\f\v") | set(
        "年".encode()
    )
    # Caseless: both cases; \x{...} is a code point, its UTF-8 bytes.
    assert _bytes(open_ended_bytes(r"a+\x{FF10}", UTF8 | hyperscan.HS_FLAG_CASELESS)) == set(
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
    assert open_ended_bytes(regex, flags) is None
