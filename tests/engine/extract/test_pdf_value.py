"""`_hsscan.pdf_value` (the plain pdf check's tokenizer in C) against `_Plain._tokens`, its
Python version: the same value, of the same types, ending at the same place, or the same
refusal, at every object and trailer of every pdf of the tests and their mutants, at random
places in them, and on generated token soups that cross each of the tokenizer's limits; and
`_hsscan.pdf_offsets` (the cross-reference table's entries) against `pdf_plain._offsets`."""

from __future__ import annotations

import random
import re
import sys
from typing import Any

import pytest
from tests.engine.extract.pdfs import pdfs

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import pdf_plain
from postwarden.engine.extract.pdf_plain import OTHER, Ref, Value, _NotPlain, _Plain

Typed = object


def _typed(value: Value) -> Typed:
    """A value with its types spelled out (a `Ref` equals the int of its number)."""
    if isinstance(value, list):
        return ["list", [_typed(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", [(k, _typed(v)) for k, v in value.items()]]
    return [type(value).__name__, value]


def NO_CLOCK() -> None:
    """A message clock that never runs out."""


def _python(data: bytes, pos: int) -> tuple[Typed, int, int] | None:
    """The value at ``pos``, where it ends and the arrays and dictionaries it opened."""
    reader = _Plain(data, NO_CLOCK)
    try:
        value, end = reader._tokens(pos)
    except _NotPlain:
        return None
    return _typed(value), end, reader.opened


def _compiled(data: bytes, pos: int) -> tuple[Typed, int, int] | None:
    found = _hsscan.pdf_value(data, pos, Ref, OTHER, NO_CLOCK, pdf_plain._OPENS_TIMED, 0)
    if found is None:
        return None
    value, end, opened = found
    return _typed(value), end, opened


def _differ(data: bytes, positions: list[int]) -> list[int]:
    return [pos for pos in positions if _python(data, pos) != _compiled(data, pos)]


_STARTS = re.compile(rb"\d{1,10} 0 obj|trailer")


@pytest.mark.slow
def test_every_pdf_reads_the_same() -> None:
    rng = random.Random(14)
    read = 0
    differ = []
    for index, data in enumerate(pdfs()):
        positions = [m.end() for m in _STARTS.finditer(data)]
        positions += [rng.randrange(len(data) + 1) for _ in range(20)] if data else [0]
        read += sum(_python(data, pos) is not None for pos in positions)
        differ += [(index, pos) for pos in _differ(data, positions)]
    assert read > 20_000
    assert differ == []


def _name(rng: random.Random) -> bytes:
    chars = b"AZaz09_.+-"
    name = bytes(rng.choice(chars) for _ in range(rng.choice([0, 1, 5, 126, 127, 128])))
    return b"/" + name + rng.choice([b"", b"", b"#", b"("])


def _number(rng: random.Random) -> bytes:
    sign = rng.choice([b"", b"-", b"+"])
    whole = b"1" * rng.choice([0, 1, 9, 10, 11])
    if rng.random() < 0.5:
        return sign + whole
    return sign + whole + b"." + b"7" * rng.choice([0, 1, 10, 11])


def _string(rng: random.Random) -> bytes:
    pieces = [
        b"a b",
        b"\\n",
        b"\\(",
        b"\\\\",
        b"\\0",
        b"\\12",
        b"\\777",
        b"\\8",
        b"\\x",
        b"(",
        b"\x1f",
    ]
    return b"(" + b"".join(rng.choice(pieces) for _ in range(rng.randrange(4))) + b")"


def _token(rng: random.Random) -> bytes:
    kind = rng.randrange(12)
    if kind < 3:
        return _name(rng)
    if kind < 5:
        return _number(rng)
    if kind == 5:
        return b"%s 0 R" % (b"9" * rng.choice([1, 3, 10, 11])) + rng.choice([b"", b" 0 R"])
    if kind == 6:
        return _string(rng)
    if kind == 7:
        return rng.choice([b"<>", b"<0aF>", b"<0g>", b"<0a", b"< 0a>"])
    if kind == 8:
        return rng.choice([b"true", b"false", b"null", b"nul", b"truex", b"True"])
    return rng.choice([b"<<", b">>", b"[", b"]", b">", b"<", b"%", b"{", b")"])


_SPACE = [b" ", b"", b"\n", b"\r\n", b"\t", b"\x0c", b"  "]


def _soup(rng: random.Random) -> bytes:
    out = []
    for _ in range(rng.randrange(1, 30)):
        out.append(rng.choice(_SPACE))
        out.append(_token(rng))
    out.append(rng.choice([b"", b" ", b"/", b"endobj", b"]", b">>"]))
    return b"".join(out)


def _dictionary(rng: random.Random, depth: int) -> bytes:
    if depth == 0:
        return _token(rng)
    keys = [b"/A", b"/B", b"/A", b"/C", b"1"]
    entries = [
        rng.choice(keys) + b" " + _dictionary(rng, depth - 1) for _ in range(rng.randrange(3))
    ]
    if rng.random() < 0.5:
        return b"[" + b" ".join(_dictionary(rng, depth - 1) for _ in range(3)) + b"]"
    return b"<<" + b" ".join(entries) + b">>"


def test_generated_tokens_read_the_same() -> None:
    rng = random.Random(2024)
    soups = [_soup(rng) for _ in range(20_000)]
    soups += [_dictionary(rng, rng.randrange(1, 5)) + b" " for _ in range(5_000)]
    read = sum(_python(soup, 0) is not None for soup in soups)
    assert read > 5_000  # many soups are values, many are not
    differ = [soup for soup in soups if _differ(soup, [0, 1, 2, len(soup) // 2, len(soup)])]
    assert differ == []


@pytest.mark.parametrize("depth", [pdf_plain._MAX_DEPTH - 1, pdf_plain._MAX_DEPTH, 40])
def test_nesting_reads_the_same(depth: int) -> None:
    for opening, closing in ((b"[", b"]"), (b"<</K ", b">>")):
        data = opening * depth + b"0" + closing * depth + b" "
        assert _differ(data, [0]) == []
    assert (_python(b"[" * depth + b"]" * depth + b" ", 0) is None) == (
        depth > pdf_plain._MAX_DEPTH
    )


@pytest.mark.parametrize(
    "count", [pdf_plain._MAX_ELEMENTS - 1, pdf_plain._MAX_ELEMENTS, pdf_plain._MAX_ELEMENTS + 1]
)
def test_element_limits_read_the_same(count: int) -> None:
    array = b"[" + b"0 " * count + b"] "
    dictionary = b"<<" + b"".join(b"/K%d 0 " % i for i in range(count)) + b">> "
    for data in (array, dictionary):
        assert _differ(data, [0]) == []
        assert (_python(data, 0) is None) == (count > pdf_plain._MAX_ELEMENTS)


def test_an_opened_count_that_would_wrap_is_refused() -> None:
    """The count of arrays opened is a Py_ssize_t: at its largest, one more is refused, not
    wrapped to a negative count (a signed overflow)."""
    assert _hsscan.pdf_value(b"[0] ", 0, Ref, OTHER, lambda: None, 1, sys.maxsize) is None
    assert _hsscan.pdf_value(b"0 ", 0, Ref, OTHER, lambda: None, 1, sys.maxsize) == (
        0,
        1,
        sys.maxsize,
    )


def test_the_plain_check_reads_through_the_compiled_tokenizer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `plain_py` (the object-by-object check; `plain` is `_hsscan.pdf_plain` where the
    module is built, test_pdf_plain_compiled.py) decides with either tokenizer (the made
    pdfs' verdicts are in test_pdf_plain.py): a wrong value from the compiled one shows."""
    called: list[int] = []
    real = _hsscan.pdf_value

    def _spy(data: bytes, pos: int, *rest: Any) -> object:
        called.append(pos)
        return real(data, pos, *rest)

    monkeypatch.setattr(pdf_plain._hsscan, "pdf_value", _spy)
    data = (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    )
    table = len(data)
    data += b"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \n"
    data += b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % table
    assert pdf_plain.COMPILED
    assert pdf_plain.plain_py(data, 0, NO_CLOCK)
    assert len(called) == 3  # the trailer and two objects
    monkeypatch.setattr(pdf_plain, "COMPILED", False)
    called.clear()
    assert pdf_plain.plain_py(data, 0, NO_CLOCK)
    assert called == []


_TABLE = re.compile(rb"xref(?:\r\n|\n)0 (\d{1,7})(?:\r\n|\n)")


def _tables(data: bytes) -> list[tuple[int, int]]:
    """``(first, count)`` of every table of ``data`` whose entries `pdf_plain._ENTRIES`
    matches, as `_Plain._xref` hands them on."""
    found = []
    for head in _TABLE.finditer(data):
        count, first = int(head.group(1)), head.end()
        end = first + 20 * count  # within the data: `_TAIL` holds the file's last bytes
        if count >= 1 and end <= len(data) and pdf_plain._ENTRIES.fullmatch(data, first, end):
            found.append((first, count))
    return found


def _edited_tables(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` with a byte of its tables' entries changed, each to a digit or an ``f``."""
    out = []
    for first, count in _tables(data):
        for _ in range(10):
            at = first + rng.randrange(20 * count)
            edited = bytearray(data)
            edited[at] = rng.choice(b"0123456789f")
            out.append(bytes(edited))
    return out


@pytest.mark.slow
def test_every_table_reads_the_same() -> None:
    """`_hsscan.pdf_offsets` against `pdf_plain._offsets` on every table of the test pdfs
    and on edits of their entries (an offset one off, a generation, a free entry)."""
    rng = random.Random(7)
    tables = same = 0
    for data in pdfs():
        for copy in (data, *_edited_tables(data, rng)):
            for first, count in _tables(copy):
                tables += 1
                found = _hsscan.pdf_offsets(copy, first, count, NO_CLOCK, 4096)
                assert found == pdf_plain._offsets(copy, first, count, NO_CLOCK)
                same += found is not None
    assert tables > 10_000
    assert same > 2_000


def test_a_made_table_reads_the_same() -> None:
    objects = b"%PDF-1.4\n1 0 obj\n1\nendobj\n2 0 obj\n2\nendobj\n"
    table = b"0000000000 65535 f \n0000000009 00000 n \n0000000026 00000 n \n"
    data = objects + b"xref\n0 3\n" + table
    first = len(objects) + len(b"xref\n0 3\n")
    assert (
        _hsscan.pdf_offsets(data, first, 3, NO_CLOCK, 4096)
        == pdf_plain._offsets(data, first, 3, NO_CLOCK)
        == {1: 9, 2: 26}
    )
    for edit in (b"0000000010 00000 n", b"0000000026 00001 n", b"0000000026 00000 f"):
        edited = data.replace(b"0000000026 00000 n", edit)
        assert _hsscan.pdf_offsets(edited, first, 3, NO_CLOCK, 4096) == pdf_plain._offsets(
            edited, first, 3, NO_CLOCK
        )
    assert _hsscan.pdf_offsets(data, first, 4, NO_CLOCK, 4096) is None  # past the data
