"""A page's text layer is a stamp (a scan's page number) below 40 characters that are not
whitespace: counted at C speed, the same as counting ``str.isspace`` one character at a time.
A page's text read through PDFium's own functions is pypdfium2's ``get_text_range()``."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pypdfium2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.extract.pdfs import pdfs

from postwarden.engine.extract.pdf import _STAMP, _scanned, _text


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


def _outcome(read: Callable[[], str]) -> str:
    try:
        return read()
    except pypdfium2.PdfiumError as exc:
        return f"error: {exc}"


def _no_clock() -> None:
    """A page read with no deadline."""


def _by_pypdfium2(document: pypdfium2.PdfDocument, index: int) -> str:
    page = document[index]
    try:
        text: str = page.get_textpage().get_text_range()
        return text
    finally:
        page.close()


@pytest.mark.slow
def test_a_page_is_read_as_pypdfium2_reads_it() -> None:
    pages = 0
    for data in pdfs():
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError:
            continue
        try:
            for index in range(min(len(document), 50)):
                ours = _outcome(lambda: _text(document, index, _no_clock)[0])  # noqa: B023 - called at once
                theirs = _outcome(lambda: _by_pypdfium2(document, index))  # noqa: B023
                assert ours == theirs, index
                pages += 1
        finally:
            document.close()
    assert pages > 1000
