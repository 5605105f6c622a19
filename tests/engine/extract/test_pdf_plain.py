"""A plain pdf (engine/extract/pdf_plain.py) is read without pypdf's second reading: the
verdict on every pdf of the tests (the damaged pdf corpus, pdfs mailed in the message corpora,
made ones) and on their mutants must be the same with and without that fast path, and every
file found plain must be one pypdf's strict reading accepts."""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Callable, Iterator

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from pypdf._configuration import get_configuration
from tests.engine.extract.pdfs import made, pdfs, written

from postwarden.engine.extract import Extraction, extract_file, pdf_plain
from postwarden.engine.extract import pdf as pdf_module
from postwarden.engine.extract.budget import Budget, BudgetExhausted, Uninspectable
from postwarden.engine.extract.pdf_hidden import EmbeddedFiles
from postwarden.engine.extract.pdf_plain import plain
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

LIMITS = Limits()


def NO_CLOCK() -> None:
    """A message's clock that never runs out."""


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
        budget = Budget(LIMITS, len(data), 1e12)
        pdf_module._second_reader(data, Walker(budget), EmbeddedFiles(budget))
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
    taken = [
        data
        for data in every
        if (pages := _pages(data)) is not None and plain(data, pages, NO_CLOCK)
    ]
    assert len(taken) > 100
    told: list[bool] = []

    def _told(data: bytes, pages: int, check_time: Callable[[], None]) -> bool:
        told.append(plain(data, pages, check_time))
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
    monkeypatch.setattr(pdf_module, "plain", lambda data, pages, check_time: False)
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
    assert [plain(data, _pages(data) or 0, NO_CLOCK) for data in documents] == [
        True,
        True,
        True,
        False,
    ]
    assert all(plain(data, _pages(data) or 0, NO_CLOCK) for data in written())
    sources = [(data, 1) for data in documents[:3]] + [(data, 3) for data in written()]
    taken = 0
    refused = []
    for seed, (data, step) in enumerate(sources):
        for index, edited in enumerate(_edits(data, seed, step)):
            pages = _pages(edited)
            if pages is not None and plain(edited, pages, NO_CLOCK):
                taken += 1
                if not _pypdf_accepts(edited):
                    refused.append((seed, index))
    assert taken > 12_000
    assert refused == []


def _built(objects: list[bytes], size: int | None = None) -> bytes:
    """A pdf of ``objects`` (numbered from 1) with one exact cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (size or len(objects) + 1)
    return bytes(out + b"startxref\n%d\n%%%%EOF\n" % table)


def _stream(data: bytes, keys: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), keys, data)


def _one_page(contents: bytes = b"5 0 R", catalog: bytes = b"", *more: bytes) -> list[bytes]:
    """Catalog, page tree, page, font, content stream 5 and ``more`` from 6 on."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R%s >>" % catalog,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %s"
        b" /Resources << /Font << /F1 4 0 R >> >> >>" % contents,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        _stream(b"BT /F1 12 Tf 72 700 Td (A123456) Tj ET"),
        *more,
    ]


def test_a_made_pdf_is_plain() -> None:
    data = _built(_one_page())
    assert plain(data, 1, NO_CLOCK)
    assert _pypdf_accepts(data)


@pytest.mark.parametrize(
    "big",
    [
        b"[" + b"0 " * 100_001 + b"]",
        b"<<" + b"".join(b"/K%d 0" % i for i in range(100_001)) + b">>",
    ],
)
def test_an_array_or_dictionary_over_pypdfs_element_limit_is_not_plain(big: bytes) -> None:
    """pypdf's strict reading refuses more than 100,000 elements in one array or dictionary."""
    data = _built(_one_page(b"5 0 R", b" /Big " + big))
    assert not _pypdf_accepts(data)
    assert not plain(data, 1, NO_CLOCK)


def test_content_streams_over_pypdfs_output_limit_are_not_plain() -> None:
    """pypdf refuses a page whose array of content streams decodes to over 75 MB: five
    streams each under the limit of one stream are over it together."""
    packed = zlib.compress(b" " * (16 * 1024 * 1024 - 100), 9)
    objects = _one_page(b"[5 0 R 6 0 R 7 0 R 8 0 R 9 0 R]")[:4]
    data = _built(objects + [_stream(packed, b" /Filter /FlateDecode")] * 5)
    assert not _pypdf_accepts(data)
    assert not plain(data, 1, NO_CLOCK)


def test_a_stream_declared_over_the_decoded_limit_is_not_plain() -> None:
    """A stream longer than pypdf's declared-length limit (75 MB) is refused by pypdf's strict
    reading before it is decoded; the fast path stops at its own, smaller limit."""
    assert pdf_plain._MAX_DECODED <= get_configuration().maximum_declared_stream_length
    objects = _one_page(b"5 0 R", b"", b"<< /Font << /F1 4 0 R >> >>")
    resources = b"/Resources << /Font << /F1 4 0 R >> >>"
    objects[2] = objects[2].replace(resources, b"/Resources 6 0 R")
    assert plain(_built(objects), 1, NO_CLOCK)
    objects[5] = _stream(b" " * (pdf_plain._MAX_DECODED + 1), b" /Font << /F1 4 0 R >>")
    assert not plain(_built(objects), 1, NO_CLOCK)


def test_the_limits_are_under_pypdfs() -> None:
    configuration = get_configuration()
    assert pdf_plain._MAX_ELEMENTS < configuration.array_maximum_element_count
    assert pdf_plain._MAX_ELEMENTS < configuration.dictionary_maximum_element_count
    assert pdf_plain._MAX_PAGE_ENTRIES <= configuration.page_tree_maximum_page_entries
    assert pdf_plain._MAX_DECODED <= configuration.zlib_maximum_output_length
    assert pdf_plain._MAX_DECODED <= configuration.array_based_stream_maximum_output_length


def test_page_entries_over_the_limit_are_not_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """pypdf counts the entries of every page with those it inherits (2,000,000 at most): a
    thousand pages of 2,000 entries each are under every other limit."""
    data = _built(_one_page())
    assert plain(data, 1, NO_CLOCK)
    monkeypatch.setattr(pdf_plain, "_MAX_PAGE_ENTRIES", 5 + 4 - 1)  # the page has 5 entries
    assert not plain(data, 1, NO_CLOCK)


def test_what_pages_share_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fonts and character maps shared by every page are gone through once, as pypdf decodes
    a stream once: 200 pages sharing one font map of 16 MB took 7 s, without a time check."""
    pages = 200
    kids = b" ".join(b"%d 0 R" % (7 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Font << %s >> >>" % b" ".join(b"/F%d 4 0 R" % i for i in range(100)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 5 0 R >>",
        _stream(zlib.compress(b"x" * 1000), b" /Filter /FlateDecode"),
        _stream(b"BT /F1 12 Tf 72 700 Td (A123456) Tj ET"),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /Resources 3 0 R /Contents 6 0 R >>"] * pages
    data = _built(objects)
    resolved: list[object] = []
    real = pdf_plain._Plain._dict

    def _dict(self: pdf_plain._Plain, value: object) -> object:
        resolved.append(value)
        return real(self, value)  # type: ignore[arg-type]

    inflated: list[int] = []
    decompressobj = zlib.decompressobj
    monkeypatch.setattr(pdf_plain._Plain, "_dict", _dict)
    monkeypatch.setattr(
        pdf_plain.zlib, "decompressobj", lambda: inflated.append(1) or decompressobj()
    )
    assert plain(data, pages, NO_CLOCK)
    assert len(inflated) == 1
    assert len(resolved) < 4 * pages


@pytest.mark.parametrize("key", [b"/Resources", b"/MediaBox", b"/CropBox", b"/Rotate"])
def test_what_a_pages_node_hands_down_must_be_there(key: bytes) -> None:
    """pypdf resolves the attributes a ``/Pages`` node hands down to its pages even when the
    page has its own: a reference to no object there is an error in its strict reading."""
    objects = _one_page()
    objects[1] = objects[1].replace(b"/Count 1", b"/Count 1 %s 9 0 R" % key)
    data = _built(objects)
    assert not _pypdf_accepts(data)
    assert not plain(data, 1, NO_CLOCK)


class _Clock:
    """A budget's clock that counts its looks, and runs out at look ``out`` (if given)."""

    def __init__(self, out: int | None = None) -> None:
        self.looks = 0
        self.out = out

    def __call__(self) -> None:
        self.looks += 1
        if self.looks == self.out:
            raise BudgetExhausted("time limit 120 s exceeded")


def test_the_clock_is_read_over_a_long_cross_reference_table() -> None:
    """A table of 100,000 entries in use (a file may list ten million) is read with a look
    at the message's clock every `_ENTRIES_TIMED` entries, and reading stops when it runs
    out: before, the table, and every object of the file, were read without one."""
    filler = [b"<< /N %d >>" % i for i in range(100_000)]
    data = _built(_one_page(b"5 0 R", b"", *filler))
    clock = _Clock()
    assert plain(data, 1, clock)
    assert clock.looks >= (len(filler) + 5) // pdf_plain._ENTRIES_TIMED
    with pytest.raises(BudgetExhausted):
        plain(data, 1, _Clock(out=3))


def test_the_clock_is_read_over_many_arrays_and_dictionaries() -> None:
    """One object of 9,000 dictionaries of 1,000 entries each is read with a look at the
    clock every `_OPENS_TIMED` of them opened."""
    inner = b"<<" + b"".join(b"/K%d 0" % i for i in range(1000)) + b">>"
    data = _built(_one_page(b"5 0 R", b" /Big [" + inner * 9_000 + b"]"))
    clock = _Clock()
    assert plain(data, 1, clock)
    assert clock.looks >= 9_000 // pdf_plain._OPENS_TIMED
    with pytest.raises(BudgetExhausted):
        plain(data, 1, _Clock(out=2))
