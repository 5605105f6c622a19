"""`_hsscan.pdf_plain` (a plain pdf's whole check in C, engine/extract/pdf_plain.py's
``plain`` where the module is built) against `plain_py` (`_Plain.check`, object by object):
the same verdict on every pdf of the tests and their mutants, on edits of a byte of every
plain one, for every page count PDFium could give, and the same clock and limits."""

from __future__ import annotations

import zlib

import pytest
from tests.engine.extract.pdfs import made, pdfs, written
from tests.engine.extract.test_pdf_plain import (
    NO_CLOCK,
    _built,
    _Clock,
    _edits,
    _one_page,
    _stream,
)

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import pdf_plain
from postwarden.engine.extract.budget import BudgetExhausted
from postwarden.engine.extract.pdf_plain import plain, plain_py


def _both(data: bytes, pages: int) -> tuple[bool, bool]:
    return plain(data, pages, NO_CLOCK), plain_py(data, pages, NO_CLOCK)


def test_the_compiled_check_is_the_one_taken() -> None:
    assert pdf_plain.COMPILED
    assert _hsscan.pdf_plain is not None


@pytest.mark.slow
def test_every_pdf_has_the_same_verdict() -> None:
    every = pdfs()
    assert len(every) > 2000
    differ = []
    taken = 0
    for index, data in enumerate(every):
        for pages in (0, 1, 2, 3):
            compiled, python = _both(data, pages)
            taken += compiled
            if compiled != python:
                differ.append((index, pages))
    assert taken > 100
    assert differ == []


@pytest.mark.slow
def test_every_edit_of_a_plain_pdf_has_the_same_verdict() -> None:
    """Edits of a byte of the made and written plain pdfs reach every refusal of the check
    (a flipped offset, name, length, filter, page count, end of line ...)."""
    sources = [(data, 1) for data in made()[:3]] + [(data, 5) for data in written()]
    taken = 0
    differ = []
    for seed, (data, step) in enumerate(sources):
        pages = 3 if b"/Count 3" in data else 2 if b"/Count 2" in data else 1
        for index, edited in enumerate(_edits(data, seed, step)):
            compiled, python = _both(edited, pages)
            taken += compiled
            if compiled != python:
                differ.append((seed, index))
    assert taken > 5_000
    assert differ == []


_FLATE = b" /Filter /FlateDecode"


@pytest.mark.parametrize(
    "objects",
    [
        _one_page(),
        _one_page(b"[5 0 R 5 0 R]"),
        _one_page(b"[]"),
        _one_page(b"9 0 R"),
        _one_page(b"4 0 R"),
        _one_page(b"5 0 R", b" /Metadata 4 0 R"),
        _one_page(b"5 0 R", b" /AF [4 0 R]"),
        _one_page(b"5 0 R", b" /AF [[4 0 R]] /Names << /EmbeddedFiles << /Names [(a) 4 0 R] >> >>"),
        _one_page(b"5 0 R", b" /AF [4 0 R] /Names << /EmbeddedFiles << /Names [(a) 4 0 R] >> >>"),
        _one_page(b"5 0 R", b" /AF [5 0 R] /Names << /EmbeddedFiles << /Names [(a) 4 0 R] >> >>"),
        [*_one_page()[:4], _stream(zlib.compress(b"BT ET"), _FLATE)],
        [*_one_page()[:4], _stream(zlib.compress(b"BT ET") + b"xx", _FLATE)],
        [*_one_page()[:4], _stream(b"not deflated", _FLATE)],
        [*_one_page()[:4], _stream(zlib.compress(b"BT ET"), b" /Filter [/FlateDecode]")],
        [*_one_page()[:4], _stream(zlib.compress(b"BT ET"), b" /Filter /LZWDecode")],
        [*_one_page()[:4], _stream(b"BT ET", b" /DecodeParms << >>")],
        [*_one_page()[:4], b"<< /Length 6 0 R >>\nstream\nBT ET\nendstream", b"5"],
        [*_one_page()[:4], b"<< /Length 5 0 R >>\nstream\nBT ET\nendstream"],
        [*_one_page()[:4], b"<< /Length 6 0 R >>\nstream\nBT ET\nendstream", _stream(b"x")],
        [*_one_page()[:4], b"<< /Length -1 >>\nstream\nBT ET\nendstream"],
        [*_one_page()[:4], b"<< /Length 5.0 >>\nstream\nBT ET\nendstream"],
    ],
)
def test_made_files_have_the_same_verdict(objects: list[bytes]) -> None:
    data = _built(objects)
    for pages in (0, 1, 2):
        assert plain(data, pages, NO_CLOCK) == plain_py(data, pages, NO_CLOCK), pages
    assert plain(data[:-1], 1, NO_CLOCK) == plain_py(data[:-1], 1, NO_CLOCK)
    assert plain(data + b"\n", 1, NO_CLOCK) == plain_py(data + b"\n", 1, NO_CLOCK)


def test_a_plain_file_is_plain_both_ways() -> None:
    data = _built(_one_page())
    assert _both(data, 1) == (True, True)
    assert _both(data, 2) == (False, False)


def test_the_limits_are_read_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _built(_one_page())
    for name, value in [
        ("_MAX_PAGE_ENTRIES", 5 + 4 - 1),
        ("_MAX_DECODED", 2),
        ("_MAX_PAGES_NODES", 1),
        ("_MAX_DEPTH", 0),
    ]:
        with monkeypatch.context() as patched:
            patched.setattr(pdf_plain, name, value)
            assert _both(data, 1) == (False, False), name


def test_the_clock_is_read_as_often_and_what_it_raises_passes() -> None:
    filler = [b"<< /N %d >>" % i for i in range(20_000)]
    data = _built(_one_page(b"5 0 R", b"", *filler))
    compiled, python = _Clock(), _Clock()
    assert plain(data, 1, compiled)
    assert plain_py(data, 1, python)
    assert compiled.looks == python.looks > 0
    with pytest.raises(BudgetExhausted):
        plain(data, 1, _Clock(out=2))
