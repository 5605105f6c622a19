"""`_hsscan.pdf_page_text` (a page's text layer in one compiled call) against `_page_text`
(the same PDFium calls through ctypes): the same text, or the Python path taken, on every
page of every pdf of the tests and their mutants; pages with annotations always go to
Python (which reads them with their notes)."""

from __future__ import annotations

import ctypes

import pypdfium2
import pytest
from tests.engine.extract.pdfs import made, pdfs
from tests.engine.extract.test_pdf_annotations import NAME, _annotated

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import pdf

pytestmark = pytest.mark.skipif(not pdf.COMPILED, reason="extension not built")

Outcome = tuple[str, str] | str


def NO_CLOCK() -> None:
    """A message clock that never runs out."""


def _outcome(read: object, document: pypdfium2.PdfDocument, index: int) -> Outcome:
    """What a page reader gives for page ``index``: its text and notes, or its error."""
    try:
        return read(document, index, NO_CLOCK, None)  # type: ignore[operator,no-any-return]
    except pypdfium2.PdfiumError as exc:
        return f"error: {exc}"


def _address(document: pypdfium2.PdfDocument) -> int | None:
    return ctypes.cast(document.raw, ctypes.c_void_p).value


@pytest.mark.slow
def test_every_page_of_every_pdf_reads_the_same() -> None:
    compiled = pages = 0
    differ = []
    for number, data in enumerate(pdfs()):
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError:
            continue
        try:
            document.init_forms()
            for index in range(min(len(document), 50)):
                pages += 1
                with pdf._PDFIUM:
                    compiled += _hsscan.pdf_page_text(_address(document), index) is not None
                    fast = _outcome(pdf._text, document, index)
                    general = _outcome(pdf._page_text, document, index)
                if fast != general:
                    differ.append((number, index))
        finally:
            document.close()
    assert pages > 2_000
    assert compiled > pages // 2
    assert differ == []


def test_made_pages_read_the_same_and_in_one_call() -> None:
    for data in made():
        document = pypdfium2.PdfDocument(data)
        try:
            for index in range(len(document)):
                with pdf._PDFIUM:
                    text = _hsscan.pdf_page_text(_address(document), index)
                    assert text is not None
                    assert (text, "") == pdf._page_text(document, index, NO_CLOCK)
                    assert _hsscan.pdf_page_text(_address(document), len(document)) is None
        finally:
            document.close()


def test_a_page_with_annotations_is_read_in_python() -> None:
    document = pypdfium2.PdfDocument(_annotated())
    try:
        with pdf._PDFIUM:
            assert _hsscan.pdf_page_text(_address(document), 0) is None
            text, notes = pdf._text(document, 0, NO_CLOCK)
        assert NAME not in text
        assert f"Applicant {NAME}" in notes.splitlines()
    finally:
        document.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="null document"):
        _hsscan.pdf_page_text(0, 0)
    with pytest.raises(TypeError):
        _hsscan.pdfium_bind((1, 2))
    with pytest.raises(ValueError, match="null function"):
        _hsscan.pdfium_bind((0,) * 8)
