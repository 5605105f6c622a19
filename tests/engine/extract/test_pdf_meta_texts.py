"""`_hsscan.pdf_meta_texts` (the six Info entries PDFium reads, in one call) against
pdf_hidden's ``properties`` through ctypes, an entry at a time: the same text for every pdf
of the tests and their mutants, and for entries of every kind of string."""

from __future__ import annotations

import pypdfium2
import pytest
from tests.engine.extract.hidden_pdfs import with_properties
from tests.engine.extract.pdfs import pdfs

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import pdf as pdf_module
from postwarden.engine.extract.pdf_hidden import properties


def _both(data: bytes) -> tuple[str, str] | None:
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return None
    try:
        return properties(document.raw, pdf_module._meta_texts), properties(document.raw)
    finally:
        document.close()


@pytest.mark.slow
def test_every_pdf_has_the_same_properties() -> None:
    read = [both for data in pdfs() if (both := _both(data)) is not None]
    assert len(read) > 1000
    assert sum(1 for compiled, _ in read if compiled) > 100
    assert [compiled for compiled, _ in read] == [python for _, python in read]


@pytest.mark.parametrize(
    "value",
    [
        "Minutes",
        "陳大文 A123456(3)",
        "two\nlines\r\nand one\rmore",
        "\ufeffwith a byte order mark",
        "😀 beyond the first plane",
        "x" * 100_000,
        "",
        " ",
    ],
)
def test_entries_of_every_kind_read_the_same(value: str) -> None:
    keys = ["/Title", "/Author", "/Subject", "/Keywords", "/Creator", "/Producer"]
    data = with_properties({key: f"{value} {key}" for key in keys})
    compiled, python = _both(data) or ("?", "!")
    assert compiled == python
    assert "/Producer" in compiled
    assert compiled == properties(pypdfium2.PdfDocument(data).raw)


def test_the_binding_is_checked() -> None:
    with pytest.raises(TypeError):
        _hsscan.pdf_meta_texts(0, [b"Title"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="null document"):
        _hsscan.pdf_meta_texts(0, (b"Title",))
    document = pypdfium2.PdfDocument(with_properties({"/Title": "x"}))
    address = pdf_module.ctypes.cast(document.raw, pdf_module.ctypes.c_void_p).value
    with pytest.raises(TypeError, match="without NUL"):
        _hsscan.pdf_meta_texts(address, (b"Ti\x00tle",))
    assert _hsscan.pdf_meta_texts(address, (b"Title", b"Nothing")) == ("x", "")
    document.close()
