"""`_hsscan.pdf_object` (a plain pdf's object and what follows it, in C) against what
`_Plain._object` reads without it (`_Plain._tokens`, then `_AFTER_VALUE`): the same value, of
the same types, the same start of its stream (or none), or the same refusal, at every
object of every pdf of the tests and their mutants, at random places in them, and at
hand-made ends; and `plain` gives the same verdict with the module as without it."""

from __future__ import annotations

import functools
import random
import re
from typing import Any

import pytest
from tests.engine.extract.pdfs import made, pdfs
from tests.engine.extract.test_pdf_value import NO_CLOCK, Typed, _typed

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import pdf_plain
from postwarden.engine.extract.pdf_plain import OTHER, Ref, _NotPlain, _Plain, plain

Read = tuple[Typed, int, int] | None


def _python(data: bytes, pos: int) -> Read:
    """The value at ``pos``, where its stream begins (-1: ``endobj`` follows), and the arrays
    and dictionaries it opened; None where `_object` refuses."""
    reader = _Plain(data, NO_CLOCK)
    try:
        value, end = reader._tokens(pos)
    except _NotPlain:
        return None
    after = pdf_plain._AFTER_VALUE.match(data, end)
    if after is None:
        return None
    return _typed(value), -1 if after.group(1) else after.end(), reader.opened


def _compiled(data: bytes, pos: int) -> Read:
    found = _hsscan.pdf_object(
        _hsscan.pdf_value, data, pos, Ref, OTHER, NO_CLOCK, pdf_plain._OPENS_TIMED, 0
    )
    if found is None:
        return None
    value, stream, opened = found
    return _typed(value), stream, opened


_STARTS = re.compile(rb"\d{1,10} 0 obj")


@pytest.mark.slow
def test_every_object_of_every_pdf_reads_the_same() -> None:
    rng = random.Random(7)
    read = streams = 0
    differ = []
    for index, data in enumerate(pdfs()):
        positions = [m.end() for m in _STARTS.finditer(data)]
        positions += [rng.randrange(len(data) + 1) for _ in range(10)] if data else [0]
        for pos in positions:
            python = _python(data, pos)
            read += python is not None
            streams += python is not None and python[1] >= 0
            if python != _compiled(data, pos):
                differ.append((index, pos))
    assert read > 10_000
    assert streams > 1_000
    assert differ == []


@pytest.mark.parametrize(
    "data",
    [
        b"<< /A 1 >>endobj",
        b"<< /A 1 >> \r\n\t endobj",
        b"<< /A 1 >>\nendob",
        b"<< /A 1 >>\nstream\nxyz",
        b"<< /A 1 >>\nstream\r\nxyz",
        b"<< /A 1 >>\nstream\rxyz",
        b"<< /A 1 >>\nstream",
        b"<< /A 1 >>\nstream\r",
        b"<< /A 1 >>\nstreamx",
        b"<< /A 1 >> xendobj",
        b"[1 2 0 R] endobj",
        b"12 endobj",
        b"12",
        b"",
        b"<< /A >> endobj",
    ],
)
def test_what_follows_a_value_reads_the_same(data: bytes) -> None:
    for pos in range(len(data) + 2):
        assert _compiled(data, pos) == _python(data, pos), pos


def _given(given: Any, *_: object) -> Any:
    return given


def test_a_reader_that_gives_no_value_and_end_is_refused() -> None:
    for given in [(b"/A", 3), (b"/A", 10, 0), (b"/A", -1, 0), [b"/A", 2, 0], "x"]:
        with pytest.raises((ValueError, TypeError)):
            _hsscan.pdf_object(
                functools.partial(_given, given), b"/A endobj", 0, Ref, OTHER, NO_CLOCK, 1, 0
            )
    assert _hsscan.pdf_object(lambda *_: None, b"/A endobj", 0, Ref, OTHER, NO_CLOCK, 1, 0) is None
    with pytest.raises(TypeError):
        _hsscan.pdf_object(_hsscan.pdf_value, "/A endobj", 0, Ref, OTHER, NO_CLOCK, 1, 0)  # type: ignore[arg-type]


def test_plain_gives_the_same_verdict_without_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = made()
    compiled = [plain(data, pages, NO_CLOCK) for data in files for pages in (1, 2, 3)]
    monkeypatch.setattr(pdf_plain, "COMPILED", False)
    assert [plain(data, pages, NO_CLOCK) for data in files for pages in (1, 2, 3)] == compiled
    assert any(compiled)
