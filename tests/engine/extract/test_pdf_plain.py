"""A plain pdf (engine/extract/pdf_plain.py) is read without pypdf's second reading: the
verdict on every pdf of the tests (the damaged pdf corpus, pdfs mailed in the message corpora,
made ones) and on their mutants must be the same with and without that fast path, and every
file found plain must be one pypdf's strict reading accepts."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from tests.engine.extract.pdfs import made, pdfs, written

from postwarden.engine.extract import Extraction, extract_file
from postwarden.engine.extract import pdf as pdf_module
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.pdf_plain import plain
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

LIMITS = Limits()
Verdict = tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]


def _verdict(data: bytes) -> Verdict:
    extraction: Extraction = extract_file("x.pdf", data, LIMITS, 1e12)
    return (
        [(u.where, u.text) for u in extraction.units],
        [(f.where, f.detail) for f in extraction.findings],
        extraction.defects,
    )


def _pages(data: bytes) -> int | None:
    """PDFium's page count when the extractor would reach the second reader at all."""
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return None
    try:
        if not pdfium_c.FPDF_DocumentHasValidCrossReferenceTable(document.raw):
            return None
        return len(document)
    finally:
        document.close()


def _pypdf_accepts(data: bytes) -> bool:
    try:
        pdf_module._second_reader(data, Walker(Budget(LIMITS, len(data), 1e12)))
    except Uninspectable:
        return False
    return True


@pytest.mark.slow
def test_every_pdf_has_the_same_verdict_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every = pdfs()
    assert len(every) > 2000
    # A file the fast path does not take goes through pdf.py's one general path either way:
    # the engine runs both ways on the files it takes, and the spy shows it took them.
    taken = [data for data in every if (pages := _pages(data)) is not None and plain(data, pages)]
    assert len(taken) > 100
    told: list[bool] = []

    def _told(data: bytes, pages: int) -> bool:
        told.append(plain(data, pages))
        return told[-1]

    # OCR reads the same page image either way (a second a page): the image's digest
    # stands for what it would read, so a page rendered otherwise still differs.
    monkeypatch.setattr(
        pdf_module,
        "read_page",
        lambda scan, where, walker: walker.add(hashlib.sha256(scan.tobytes()).hexdigest(), where),
    )
    monkeypatch.setattr(pdf_module, "plain", _told)
    fast = [_verdict(data) for data in taken]
    assert told.count(True) == len(taken)
    monkeypatch.setattr(pdf_module, "plain", lambda data, pages: False)
    differ = [i for i, data in enumerate(taken) if _verdict(data) != fast[i]]
    assert differ == []


def _edits(data: bytes, seed: int, step: int) -> Iterator[bytes]:
    """Every ``step``-th byte flipped, deleted, and preceded by an inserted byte."""
    rng = random.Random(seed)
    for at in range(0, len(data), step):
        flipped = bytearray(data)
        flipped[at] ^= rng.randrange(1, 256)
        yield bytes(flipped)
        yield data[:at] + data[at + 1 :]
        yield data[:at] + bytes([rng.randrange(256)]) + data[at:]


@pytest.mark.slow
def test_a_plain_pdf_is_one_pypdf_reads_strictly() -> None:
    """The fast path's one claim, on edits of a byte of made and written pdfs (every byte of
    fpdf2's, every third of LibreOffice's): thousands of them are plain (the fast path is
    taken), and pypdf accepts each of those."""
    documents = made()
    assert [plain(data, _pages(data) or 0) for data in documents] == [True, True, True, False]
    assert all(plain(data, _pages(data) or 0) for data in written())
    sources = [(data, 1) for data in documents[:3]] + [(data, 3) for data in written()]
    taken = 0
    refused = []
    for seed, (data, step) in enumerate(sources):
        for index, edited in enumerate(_edits(data, seed, step)):
            pages = _pages(edited)
            if pages is not None and plain(edited, pages):
                taken += 1
                if not _pypdf_accepts(edited):
                    refused.append((seed, index))
    assert taken > 12_000
    assert refused == []
