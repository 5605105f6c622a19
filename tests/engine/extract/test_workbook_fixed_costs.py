"""What reading a workbook no longer pays for, and that it reads the same without it.

The office guard chooses the parts it keeps by the sets the spreadsheet reader gives (`to_read`
asked once a part); the styles are taken from the package only when a sheet's numbers need
them; calamine's refusals are told by a class, not a generator.  Each keeps the parts, units,
places and refusals of before: the parts kept are those the former chooser kept, on real
workbooks (openpyxl, xlsxwriter, the hostile corpus, and one-byte edits)."""

from __future__ import annotations

import io
import random
import time
import zipfile

import openpyxl
import pytest
import python_calamine
from tests.engine.extract.mutants import mutants
from tests.engine.extract.test_sheet_cells import corpus_workbooks, openpyxl_book, xlsxwriter_book

from postwarden.engine.extract import spreadsheet
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.office import (
    EMBEDDED,
    VERIFIED,
    Package,
    open_package,
    to_read,
)
from postwarden.engine.extract.sniff import sniff
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits


def former_choice(name: str) -> bool:
    """The chooser the spreadsheet reader gave the guard before (``spreadsheet._kept``)."""
    return (to_read(name) and name != "content.xml") or name == "xl/styles.xml"


def opened(data: bytes) -> Package | None:
    walker = Walker(Budget(Limits(), len(data), time.monotonic() + 60))
    try:
        return open_package(
            data,
            "xlsx workbook",
            "a.xlsx",
            0,
            walker,
            keep_also=spreadsheet._KEEP_ALSO,
            keep_not=spreadsheet._KEEP_NOT,
        )
    except Uninspectable:
        return None


def workbooks() -> list[bytes]:
    rng = random.Random(8)
    found = [openpyxl_book(rng, write_only=False), xlsxwriter_book(rng)]
    found += [path.read_bytes() for path in corpus_workbooks()]
    return found


def assert_kept_as_before(data: bytes) -> None:
    for _round in range(2):  # afresh, then with every sound part remembered (kept packed)
        package = opened(data)
        if package is None:
            continue
        xml = [
            info.filename.lower()
            for info in package.infos
            if not info.is_dir()
            and not info.filename.startswith(EMBEDDED)
            and info.filename.lower().endswith((".xml", ".rels", ".vml"))
        ]
        assert set(package.xml) == {name for name in xml if former_choice(name)}
        package.zf.close()


@pytest.mark.parametrize("index", range(len(workbooks())))
def test_the_guard_keeps_the_parts_the_former_chooser_kept(index: int) -> None:
    VERIFIED.forget()
    assert_kept_as_before(workbooks()[index])


def test_edited_workbooks_keep_the_parts_the_former_chooser_kept() -> None:
    data = workbooks()[0]
    for _name, mutant in mutants(data, seed=3, flips=8):
        VERIFIED.forget()
        assert_kept_as_before(mutant)


def extracted(data: bytes) -> tuple[list[tuple[object, ...]], list[str]]:
    walker = Walker(Budget(Limits(), len(data), time.monotonic() + 60))
    sniffed = sniff(data, "a.xlsx")
    try:
        spreadsheet.SpreadsheetExtractor().extract(data, "a.xlsx", 0, sniffed, walker)
    except Uninspectable as exc:
        return [], [exc.reason]
    return [(u.text, u.where, u.cells, u.header) for u in walker.units], []


def styled_book() -> bytes:
    """Numbers with a style (a date among them): the styles are asked for."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Joined", "Amount"])
    sheet.append(["Chan Tai Man", 45000, 12.5])
    sheet["B2"].number_format = "yyyy-mm-dd"
    sheet["C2"].number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_styles_are_taken_when_a_sheets_numbers_need_them() -> None:
    data = styled_book()
    units, refused = extracted(data)
    assert not refused
    rows = {u[1]: u[2] for u in units if "!R" in str(u[1])}
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    expected = [
        tuple(map(spreadsheet.cell_text, row)) for row in book.get_sheet_by_index(0).iter_rows()
    ]
    # The date calamine makes of the styled number (read with the styles), as calamine reads it.
    assert rows["a.xlsx#Sheet!R2"] == expected[1]
    assert expected[1][1].startswith("2023-03-15")


def test_styles_left_packed_when_no_number_needs_them() -> None:
    data = openpyxl_book(random.Random(2), write_only=True, values=["text only"])
    VERIFIED.forget()
    extracted(data)  # every sound part remembered: the next package keeps them packed
    package = opened(data)
    assert package is not None
    names = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).sheet_names
    plain = spreadsheet._plain_sheets(package, names, None, True)
    assert plain is not None
    assert package.xml._packed.keys() >= {"xl/styles.xml"}  # not inflated for nothing
    package.zf.close()


def test_calamine_errors_are_refusals() -> None:
    with pytest.raises(Uninspectable) as refused, spreadsheet._CalamineRefusals("xlsx workbook"):
        python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(b"PK\x03\x04 not a workbook"))
    assert refused.value.reason == "corrupt xlsx workbook: Cannot detect file format"


def test_calamine_panics_are_refusals() -> None:
    panic = type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})
    with pytest.raises(Uninspectable) as refused, spreadsheet._CalamineRefusals("xls workbook"):
        raise panic("index out of bounds")
    assert refused.value.reason == "corrupt xls workbook: index out of bounds"


def test_other_exceptions_pass() -> None:
    with pytest.raises(KeyError), spreadsheet._CalamineRefusals("xlsx workbook"):
        raise KeyError("x")
    with pytest.raises(Uninspectable) as refused, spreadsheet._CalamineRefusals("xlsx workbook"):
        raise Uninspectable("encrypted xlsx workbook")
    assert refused.value.reason == "encrypted xlsx workbook"
    with spreadsheet._CalamineRefusals("xlsx workbook"):
        pass


def test_workbooks_read_the_same_kept_packed_or_not() -> None:
    """A workbook read afresh and with its template's parts remembered gives the same."""
    rng = random.Random(5)
    data = openpyxl_book(rng, write_only=False)
    VERIFIED.forget()
    first = extracted(data)
    second = extracted(data)
    assert first == second
    assert first[0]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "xl/styles.xml" in z.namelist()
