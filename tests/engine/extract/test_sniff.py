"""Sniffing's text test counts control characters in one pass: the same verdict as counting
each control character on its own, on generated samples near the 1 % threshold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postwarden.engine.extract.sniff import looks_textual

_CONTROLS = (*range(1, 9), 11, *range(14, 27), 28, 29)


def _counted_one_by_one(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return True
    if b"\x00" in head:
        return False
    controls = sum(head.count(bytes([c])) for c in _CONTROLS)
    return controls * 100 <= len(head)


# Mostly printable text with a few bytes of any kind: samples on both sides of 1 %.
_SAMPLES = st.builds(
    lambda text, extra, cut: (text + extra)[:cut],
    st.binary(min_size=0, max_size=400).map(lambda b: bytes(32 + x % 95 for x in b)),
    st.binary(min_size=0, max_size=12),
    st.integers(0, 420),
)


@settings(max_examples=500, deadline=None)
@given(head=st.one_of(_SAMPLES, st.binary(max_size=64)))
def test_one_pass_count_agrees_with_a_count_per_control(head: bytes) -> None:
    assert looks_textual(head) is _counted_one_by_one(head)


def test_every_control_byte_counts_and_no_other_does() -> None:
    for byte in range(1, 256):
        sample = bytes([byte]) + b"a" * 50  # one byte in 51: about 2 %, over the limit
        assert looks_textual(sample) is (byte not in _CONTROLS), byte
