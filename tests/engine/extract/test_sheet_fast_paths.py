"""The fast paths of the compiled worksheet readers give what their general paths give.

``_hsscan.sheet_rows`` reads a cell written as office programs write it
(``<v>text</v></c>``, ``<is><t>text</t></is></c>``) without its tokenizer, a value with
none of the bytes that need more (``\\r``, ``&``, ``_``, non-ASCII) without its checks,
and ``_hsscan.sheet_grid`` skips such a cell's content.  The same worksheet with each
cell's end tag written ``</c >`` (the same XML) is read by the general paths only: both
must give the same rows and grid, and the grid what the Python reader (`grids._grid`)
gives."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterator

import pytest
from tests.engine.extract.test_sheet_cells import (
    NS,
    PLAIN,
    SST,
    TAKEN,
    inline,
    openpyxl_book,
    raw_xlsx,
    sheet_inputs,
    typed,
    xlsxwriter_book,
)

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import grids


def sheet(rows: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet {NS}><dimension ref="A1"/>'
        f"<sheetData>{rows}</sheetData></worksheet>"
    ).encode()


def general(xml: bytes) -> bytes:
    """The worksheet with no cell in the form the fast paths read."""
    return xml.replace(b"</c>", b"</c >")


def worksheets(data: bytes) -> Iterator[tuple[bytes, list[str] | None, bytes]]:
    """Each worksheet of a workbook with its shared strings and plain styles."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        strings, styles = sheet_inputs(z)
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                yield z.read(name), strings, styles


def assert_same(xml: bytes, strings: list[str] | None, styles: bytes) -> None:
    slow = general(xml)
    fast_rows = _hsscan.sheet_rows(xml, strings, styles)
    slow_rows = _hsscan.sheet_rows(slow, strings, styles)
    assert (None if fast_rows is None else typed(fast_rows)) == (
        None if slow_rows is None else typed(slow_rows)
    )
    grid = _hsscan.sheet_grid(xml)
    assert grid == _hsscan.sheet_grid(slow) == grids._grid(xml)


def books(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [
        openpyxl_book(rng, write_only=True),
        openpyxl_book(rng, write_only=False),
        openpyxl_book(rng, write_only=True, values=PLAIN),
        xlsxwriter_book(rng),
    ]


@pytest.mark.parametrize("seed", range(8))
def test_generated_worksheets_read_the_same_both_ways(seed: int) -> None:
    taken = 0
    for data in books(seed):
        for xml, strings, styles in worksheets(data):
            assert_same(xml, strings, styles)
            taken += b"<v>" in xml or b"<is><t>" in xml
    assert taken  # the fast paths were taken


# Cells of every form the fast paths meet, and forms next to them they leave to the tokenizer.
CELLS = [
    '<c r="A1"><v>1.5</v></c>',
    '<c r="A1"><v></v></c>',
    '<c r="A1" t="n"><v>-2e3</v></c>',
    '<c r="A1" t="s"><v>0</v></c>',
    '<c r="A1" t="s"><v>99</v></c>',
    '<c r="A1" t="b"><v>1</v></c>',
    '<c r="A1" t="b"><v></v></c>',
    '<c r="A1" t="b"><v>2</v></c>',
    '<c r="A1" t="e"><v>#N/A</v></c>',
    '<c r="A1" t="e"><v>#BAD</v></c>',
    '<c r="A1" t="str"><v> a_b </v></c>',
    '<c r="A1" t="str"><v>a&amp;b</v></c>',
    '<c r="A1" t="inlineStr"><v>1</v></c>',
    '<c r="A1" s="1"><v>44000</v></c>',
    '<c r="A1"><v>12<!-- x --></v></c>',
    inline("A1", "  CHAN Tai Man  "),
    inline("A1", ""),
    inline("A1", "陳大文"),
    inline("A1", "a\rb"),
    inline("A1", "a_x0041_b"),
    inline("A1", "x &lt; y"),
    inline("A1", "x &bogus; y"),
    inline("A1", " kept ", ' xml:space="preserve"'),
    '<c r="A1" t="inlineStr"><is><t>a</t><t>b</t></is></c>',
    '<c r="A1" t="inlineStr"><is><r><t>a</t></r></is></c>',
]


@pytest.mark.parametrize("cell", CELLS)
def test_each_cell_form_reads_the_same_both_ways(cell: str) -> None:
    later = cell.replace('r="A1"', 'r="B2"')
    for rows in (f'<row r="1">{cell}</row>', f'<row r="2"><c r="A2"><v>7</v></c>{later}</row>'):
        assert_same(sheet(rows), ["s0", "s1"], b"\x00\x00")


@pytest.mark.parametrize("depth", range(56, 64))
def test_deeply_nested_cells_read_the_same_both_ways(depth: int) -> None:
    # xs_next refuses a 65th open element; the fast path reads two elements deeper than
    # the cell, where that limit may fall.
    xml = (
        sheet(f'<row r="1"><c r="A1"><v>1</v></c>{inline("B1", "x")}</row>')
        .replace(b"<sheetData>", b"<a>" * depth + b"<sheetData>")
        .replace(b"</sheetData>", b"</sheetData>" + b"</a>" * depth)
    )
    assert_same(xml, None, b"")


def test_taken_worksheets_of_the_cells_tests_read_the_same_both_ways() -> None:
    data = raw_xlsx([(f"s{i}", rows) for i, rows in enumerate(TAKEN)], SST)
    for xml, strings, styles in worksheets(data):
        assert_same(xml, strings, styles)
