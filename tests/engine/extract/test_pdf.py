"""A page's text layer is a stamp (a scan's page number) below 40 characters that are not
whitespace: counted at C speed, the same as counting ``str.isspace`` one character at a time."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from postwarden.engine.extract.pdf import _STAMP, _scanned


def _counted_one_by_one(text: str) -> bool:
    return sum(not ch.isspace() for ch in text) < _STAMP


def test_split_drops_exactly_what_isspace_calls_whitespace() -> None:
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        assert (ch.split() == []) is ch.isspace(), hex(code)


@settings(max_examples=500, deadline=None)
@given(
    text=st.text(
        alphabet=st.one_of(
            st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000\u200b\ufeff"),
            st.characters(),
        ),
        max_size=120,
    )
)
def test_a_stamp_is_counted_as_one_character_at_a_time_counts_it(text: str) -> None:
    assert _scanned(text) is _counted_one_by_one(text)
