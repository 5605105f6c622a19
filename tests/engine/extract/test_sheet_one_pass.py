"""One pass over a worksheet for its grid and its rows (``_hsscan.sheet_cells``).

``sheet_cells`` gives the count ``sheet_grid`` gives and the rows ``sheet_rows`` gives, or
None, and stops reading once the grid is over its limit; the extractor, reading each plain
worksheet so, keeps every unit, place and refusal (message too) of judging and reading it
apart."""

from __future__ import annotations

import io
import random
import time
import zipfile
from dataclasses import astuple

import pytest
from tests.engine.extract.office_parts import one_byte_edits
from tests.engine.extract.test_sheet_cells import (
    SST,
    TAKEN,
    inline,
    raw_xlsx,
    typed,
)
from tests.engine.extract.test_sheet_fast_paths import books, sheet, worksheets

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import spreadsheet
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.office import VERIFIED
from postwarden.engine.extract.sniff import sniff
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

UNLIMITED = 1 << 62
SHEET_CELLS = _hsscan.sheet_cells


def assert_one_pass(xml: bytes, strings: list[str] | None) -> bool:
    """sheet_cells of a worksheet against sheet_grid and sheet_rows, at no limit and at
    limits either side of its grid; whether it read the worksheet."""
    grid = _hsscan.sheet_grid(xml)
    rows = _hsscan.sheet_rows(xml, strings, b"")
    found = _hsscan.sheet_cells(xml, strings, b"", UNLIMITED)
    if found is None:
        # only where sheet_rows reads nothing, or sheet_grid cannot place the cells
        assert rows is None or grid < 0
        return False
    cells, read = found
    assert rows is not None
    assert cells == grid
    assert typed(read) == typed(rows)
    # Over the limit: nothing given (the caller judges the part by sheet_grid).
    if grid > 0:
        assert _hsscan.sheet_cells(xml, strings, b"", grid - 1) is None
    at_limit = _hsscan.sheet_cells(xml, strings, b"", grid)
    assert at_limit is not None
    assert at_limit[0] == grid
    return True


@pytest.mark.parametrize("seed", range(6))
def test_generated_worksheets_are_read_in_one_pass(seed: int) -> None:
    read = 0
    for data in books(seed):
        for xml, strings, _styles in worksheets(data):
            read += assert_one_pass(xml, strings)
    assert read


def test_taken_worksheets_of_the_cells_tests_are_read_in_one_pass() -> None:
    data = raw_xlsx([(f"s{i}", rows) for i, rows in enumerate(TAKEN)], SST)
    assert sum(assert_one_pass(xml, strings) for xml, strings, _ in worksheets(data))


# Row and cell tags sheet_grid counts outside the cells sheet_rows reads: after <sheetData>,
# with a prefix, inside a formula, empty, without a reference or with one not plainly written.
HOSTILE = [
    sheet('<row r="1"><c r="A1"><v>1</v></c></row>').replace(
        b"</worksheet>", b'<extLst><x:c xmlns:x="urn:x" r="XFD1048576">1</x:c></extLst></worksheet>'
    ),
    sheet('<row r="1"><c r="A1"><v>1</v></c></row>').replace(
        b"</worksheet>", b'<extLst><c r="Z9000">1</c><row r="99"/></extLst></worksheet>'
    ),
    sheet('<row r="1"><c r="A1"><v>1</v></c></row>').replace(
        b"</worksheet>", b"<extLst><row><c>x</c><c/><c>y</c></row></extLst></worksheet>"
    ),
    sheet('<row r="1"><c r="A1"><v>1</v></c></row>').replace(
        b"</worksheet>", b'<extLst><c r="A&#49;">x</c></extLst></worksheet>'
    ),
    sheet('<row r="1"><c r="A1"><v>1</v></c></row>').replace(
        b"</worksheet>", b'<extLst><row r="B2"/></extLst></worksheet>'
    ),
    sheet('<row r="1"><c r="A1"><f><c r="XFD70000">1</c></f><v>2</v></c></row>'),
    sheet(
        '<row r="1"><c r="A1"></c><c r="Q1"><v>1</v></c></row><row r="2"><c r="ZZ900"></c></row>'
    ),
    sheet('<row r="3"><c r="C3"/><c r="D3"><v>1</v></c></row>'),
    sheet(f'<row r="5">{inline("E5", "x")}{inline("XFD5", "y")}</row>'),
]


@pytest.mark.parametrize("xml", HOSTILE)
def test_tags_beside_the_cells_are_counted_as_sheet_grid_counts_them(xml: bytes) -> None:
    assert_one_pass(xml, None)


def test_one_byte_edits_are_read_in_one_pass_as_apart() -> None:
    rng = random.Random(7)
    base = sheet(
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>2.5</v></c></row>'
        f'<row r="3">{inline("C3", "CHAN Tai Man")}<c r="D3"/></row>'
    ).replace(b"</worksheet>", b'<extLst><c r="E4">1</c></extLst></worksheet>')
    read = sum(assert_one_pass(edit, ["s0"]) for edit in one_byte_edits(base, rng))
    assert read > 100  # many edits leave a worksheet sheet_rows reads


def test_no_value_is_read_past_the_cell_that_makes_the_grid_too_large() -> None:
    many = "".join(f'<row r="{r}">{inline(f"A{r}", "x" * 10)}</row>' for r in range(1, 2001))
    xml = sheet(many + '<row r="2001"><c r="XFD2001"><v>1</v></c></row>')
    assert _hsscan.sheet_grid(xml) > 2000
    assert _hsscan.sheet_cells(xml, None, b"", 2000) is None
    assert _hsscan.sheet_cells(xml, None, b"", UNLIMITED) is not None


def with_worksheets(data: bytes, sheets: list[bytes]) -> bytes:
    """A workbook of `raw_xlsx` with its worksheets 1, 2... replaced by ``sheets``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            number = info.filename.removeprefix("xl/worksheets/sheet").removesuffix(".xml")
            replaced = number.isdigit() and info.filename.startswith("xl/worksheets/")
            dst.writestr(info, sheets[int(number) - 1] if replaced else src.read(info))
    return out.getvalue()


class Spy:
    """sheet_cells, counting the worksheets it read."""

    def __init__(self) -> None:
        self.read = 0

    def __call__(
        self, xml: bytes, strings: list[str] | None, styles: bytes, max_cells: int
    ) -> object:
        found = SHEET_CELLS(xml, strings, styles, max_cells)
        self.read += found is not None
        return found


class _Apart:
    """The compiled module without sheet_cells: each worksheet judged and read apart."""

    sheet_rows = staticmethod(_hsscan.sheet_rows)
    shared_strings = staticmethod(_hsscan.shared_strings)
    sheet_texts = staticmethod(_hsscan.sheet_texts)
    row_units = staticmethod(_hsscan.row_units)


def outcome(
    data: bytes, one_pass: bool, limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> tuple[object, ...]:
    """What the extractor keeps of a file, its worksheets read in one pass or apart."""
    with monkeypatch.context() as patch:
        if not one_pass:
            patch.setattr(spreadsheet, "_hsscan", _Apart())
        VERIFIED.forget()
        walker = Walker(Budget(limits, len(data), time.monotonic() + 60))
        error = None
        try:
            spreadsheet.SpreadsheetExtractor().extract(
                data, "x.xlsx", 0, sniff(data, "x.xlsx"), walker
            )
        except Uninspectable as exc:
            error = exc.reason
        units = [astuple(unit) for unit in walker.units]
        return units, walker.findings, walker.budget.text_bytes, error


def assert_same(data: bytes, monkeypatch: pytest.MonkeyPatch, limits: Limits | None = None) -> int:
    """The file's outcome both ways; how many worksheets were read in one pass."""
    limits = Limits() if limits is None else limits
    spy = Spy()
    monkeypatch.setattr(_hsscan, "sheet_cells", spy)
    assert outcome(data, True, limits, monkeypatch) == outcome(data, False, limits, monkeypatch)
    return spy.read


@pytest.mark.parametrize("seed", range(4))
def test_generated_workbooks_read_the_same_in_one_pass(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = 0
    for data in books(seed):
        read += assert_same(data, monkeypatch)
    assert read


def test_hostile_workbooks_read_and_refused_the_same_in_one_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = with_worksheets(raw_xlsx([(f"s{i}", "") for i in range(len(HOSTILE))], SST), HOSTILE)
    # Every limit about each worksheet's grid: refused at the same worksheet, with the same
    # message, or read the same.
    for cells in sorted({0, 1, 2, 17, 99, 16384, 5_000_000, *(5 * 16384 * k for k in (1, 2))}):
        assert_same(data, monkeypatch, Limits(max_sheet_cells=cells))


def test_a_worksheet_over_the_limit_is_refused_with_its_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = f'<row r="1">{inline("A1", "CHAN Tai Man")}</row><row r="9"><c r="Z9"><v>1</v></c></row>'
    data = raw_xlsx([("a", rows)])
    limits = Limits(max_sheet_cells=9 * 26 - 1)
    assert outcome(data, True, limits, monkeypatch)[3] == (
        "worksheet xl/worksheets/sheet1.xml of xlsx workbook spans a grid of 234 cells, over the "
        "limit of 233"
    )
    assert assert_same(data, monkeypatch, limits) == 0
    assert assert_same(data, monkeypatch, Limits(max_sheet_cells=9 * 26)) == 1


def test_a_worksheet_met_again_is_judged_by_its_remembered_grid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = raw_xlsx([("a", f'<row r="1">{inline("A1", "x")}</row>')])
    spy = Spy()
    monkeypatch.setattr(_hsscan, "sheet_cells", spy)
    VERIFIED.forget()
    for _ in range(2):
        walker = Walker(Budget(Limits(), len(data), time.monotonic() + 60))
        spreadsheet.SpreadsheetExtractor().extract(data, "x.xlsx", 0, sniff(data, "x.xlsx"), walker)
        assert [u.text for u in walker.units if "!R" in u.where] == ["x"]
    assert spy.read == 1  # the second time, its grid was known: sheet_rows read it
