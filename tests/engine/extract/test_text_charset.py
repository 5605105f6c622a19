"""A body's declared charset comes from a header: whatever it says, decoding never raises."""

from __future__ import annotations

import time

import pytest

from postwarden.engine.extract import extract
from postwarden.engine.extract.text import decode
from postwarden.engine.parse import parse_message
from postwarden.settings import Limits


@pytest.mark.parametrize(
    "charset", ["Windo\x00ws-1252", "base64", "x-no-such", "", "utf-8\udce9", "a" * 5000]
)
def test_text_decode_any_declared_charset(charset: str) -> None:
    assert decode("café".encode(), charset) == "café"


def test_text_charset_with_nul_in_a_message_is_read() -> None:
    # Found by the fuzzer (seed 1, mutant 338): ValueError "embedded null character".
    raw = (
        b"From: a@demo.gov.hk\r\nTo: b@outside.example\r\nSubject: x\r\n"
        b'Content-Type: text/plain;\r\n\tcharset="Windo\x00ws-1252"\r\n\r\nHKID A123456(3)\r\n'
    )
    limits = Limits()
    extraction = extract(parse_message(raw, None, limits), limits, time.monotonic() + 60)
    assert any("A123456(3)" in u.text for u in extraction.units)
