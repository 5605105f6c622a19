"""Text a workbook keeps where no cell shows it: a shared string no cell uses any more (left
behind when the cells were cleared, or planted), a sheet's page header and footer, its data
validation lists and messages, the string literals of its formulas.  Each is read once, as a
unit of its own; a string a cell shows is never counted twice.  Both ways a worksheet is
read are tried: `_hsscan.sheet_rows` (a plain sheet) and calamine (a sheet with a date)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
import xlsxwriter

from postwarden.engine import Inspector

NAME, HKID, PHONE = "CHAN Tai Man", "A123456(3)", "9123 4567"
PII = f"{NAME} {HKID} {PHONE}"
EXPECTED = {f"name_en={NAME}", f"hkid={HKID}", f"phone={PHONE}"}
OTHER_NAME, OTHER_HKID = "WONG Siu Ming", "B765431(1)"


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector()


def found(inspector: Inspector, data: bytes) -> dict[str, set[str]]:
    """Each detector's values, by the place they were found (after the file's name)."""
    verdict = inspector.inspect_file("a.xlsx", data).verdict
    places: dict[str, set[str]] = {}
    for finding in verdict.findings:
        place = finding.where.removeprefix("attachment:a.xlsx")
        places.setdefault(place, set()).add(f"{finding.detector}={finding.value}")
    return places


def book(dated: bool, **extra: object) -> bytes:
    """A workbook (xlsxwriter: shared strings, as Excel writes them) whose sheet S shows a
    name and an HKID; ``dated``: with a date cell too, so that calamine reads the sheet;
    ``extra``: `sheet` options (header, formula, validation)."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf)
    sheet = wb.add_worksheet("S")
    sheet.write_row(0, 0, ["Name", "HKID"])
    sheet.write_row(1, 0, [OTHER_NAME, OTHER_HKID])
    if dated:
        sheet.write_datetime(
            2, 0, dt.datetime(2024, 1, 2), wb.add_format({"num_format": "yyyy-mm-dd"})
        )
    for key, value in extra.items():
        if key == "header":
            sheet.set_header(str(value))
        elif key == "footer":
            sheet.set_footer(str(value))
        elif key == "formula":
            sheet.write_formula(5, 0, str(value))
        elif key == "validation":
            assert isinstance(value, dict)
            sheet.data_validation(6, 0, 6, 0, value)
    wb.close()
    return buf.getvalue()


def edited(data: bytes, name: str, edit: object) -> bytes:
    """The package with part ``name``'s text passed through ``edit``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == name:
                assert callable(edit)
                content = edit(content.decode()).encode()
            dst.writestr(info, content, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def planted(data: bytes, *texts: str) -> bytes:
    """The workbook with ``texts`` added to its shared strings, no cell using them."""
    items = "".join(f"<si><t>{t}</t></si>" for t in texts)
    return edited(data, "xl/sharedStrings.xml", lambda x: x.replace("</sst>", f"{items}</sst>"))


ROWS = {"#S!R2": {f"name_en={OTHER_NAME}", f"hkid={OTHER_HKID}"}}


@pytest.mark.parametrize("dated", [False, True], ids=["plain", "calamine"])
def test_unused_shared_string_is_read_once(inspector: Inspector, dated: bool) -> None:
    data = planted(book(dated), PII)
    assert found(inspector, data) == {**ROWS, "#xl/sharedStrings.xml": EXPECTED}


@pytest.mark.parametrize("dated", [False, True], ids=["plain", "calamine"])
def test_used_shared_string_is_not_read_twice(inspector: Inspector, dated: bool) -> None:
    # Every string used: no unit; a used string written twice (the second unused) neither.
    assert found(inspector, book(dated)) == ROWS
    assert found(inspector, planted(book(dated), OTHER_HKID, OTHER_NAME)) == ROWS


def test_cleared_cell_leaves_its_string(inspector: Inspector) -> None:
    # A sheet emptied by hand in the XML (as a careless writer leaves it): the strings stay.
    data = book(False)
    data = planted(data, PII)
    emptied = edited(
        data,
        "xl/worksheets/sheet1.xml",
        lambda x: re.sub(r'<row r="2".*?</row>', "", x, flags=re.S),
    )
    places = found(inspector, emptied)
    assert places["#xl/sharedStrings.xml"] >= EXPECTED | {f"hkid={OTHER_HKID}"}
    assert not any(p.startswith("#S!R2") for p in places)
