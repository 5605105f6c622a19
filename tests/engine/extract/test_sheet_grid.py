"""A worksheet's grid is judged before any reader builds it (`grids.check_grids`,
``Limits.max_sheet_cells``): calamine builds every sheet as one dense grid, so a 132-byte
part naming only A1 and XFD3051 took 1.6 GB (436 MB in ``_hsscan.sheet_rows``), and A1 and
XFD1048576 made calamine abort the whole process on a failed 550 GB allocation."""

from __future__ import annotations

import io
import random
import re
import struct
import time
import zipfile

import pytest
import python_calamine
from tests.engine.extract.children import extracted_in_child
from tests.engine.extract.test_sheet_cells import raw_xlsx

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import grids, spreadsheet
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.sniff import sniff
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits


def sparse_book(refs: list[str]) -> bytes:
    """An xlsx of one sheet holding "x" in each cell of ``refs`` (in order)."""
    rows: dict[int, list[str]] = {}
    for ref in refs:
        rows.setdefault(int(re.sub("[A-Z]", "", ref)), []).append(ref)
    data = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{c}" t="inlineStr"><is><t>x{c}</t></is></c>' for c in cells)
        + "</row>"
        for r, cells in sorted(rows.items())
    )
    return raw_xlsx([("S", data)])


def extracted(data: bytes, name: str = "x.xlsx") -> tuple[list[str], str | None]:
    walker = Walker(Budget(Limits(), len(data), time.monotonic() + 60))
    try:
        spreadsheet.SpreadsheetExtractor().extract(data, name, 0, sniff(data, name), walker)
    except Uninspectable as exc:
        return [unit.where for unit in walker.units], exc.reason
    return [unit.where for unit in walker.units], None


ODS = "urn:oasis:names:tc:opendocument:xmlns:"
ODS_CELL = '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'


def ods_book(body: str) -> bytes:
    """An OpenDocument spreadsheet of one table, ``body`` its rows."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr(
            "META-INF/manifest.xml",
            f'<manifest:manifest xmlns:manifest="{ODS}manifest:1.0"><manifest:file-entry '
            'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.'
            'spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" '
            'manifest:media-type="text/xml"/></manifest:manifest>',
        )
        z.writestr(
            "content.xml",
            f'<?xml version="1.0"?><office:document-content xmlns:office="{ODS}office:1.0" '
            f'xmlns:table="{ODS}table:1.0" xmlns:text="{ODS}text:1.0"><office:body>'
            f'<office:spreadsheet><table:table table:name="S">{body}</table:table>'
            "</office:spreadsheet></office:body></office:document-content>",
        )
    return out.getvalue()


def ods_far(rows: int, columns: int) -> bytes:
    """A value at A1 and one ``rows`` empty rows down, after ``columns`` empty cells."""
    return ods_book(
        f"<table:table-row>{ODS_CELL}</table:table-row>"
        f'<table:table-row table:number-rows-repeated="{rows}"><table:table-cell/>'
        "</table:table-row><table:table-row>"
        f'<table:table-cell table:number-columns-repeated="{columns}"/>{ODS_CELL}'
        "</table:table-row>"
    )


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _record(kind: int, body: bytes = b"") -> bytes:
    return _varint(kind) + _varint(len(body)) + body


def _wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


XLSB_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/{kind}" Target="{target}"/></Relationships>'
)


def xlsb_sheet(cells: list[tuple[int, int]]) -> bytes:
    """BIFF12 records of a worksheet of a number in each (row, column), 0-based."""
    rows: dict[int, list[int]] = {}
    for row, column in cells:
        rows.setdefault(row, []).append(column)
    data = b"".join(
        _record(0, struct.pack("<IIH", row, 0, 0) + bytes(7))
        + b"".join(_record(5, struct.pack("<IId", c, 0, 1.5)) for c in sorted(columns))
        for row, columns in sorted(rows.items())
    )
    bottom, right = max(r for r, _ in cells), max(c for _, c in cells)
    dimension = _record(148, struct.pack("<IIII", 0, bottom, 0, right))
    return _record(129) + dimension + _record(145) + data + _record(146) + _record(130)


def xlsb_book(cells: list[tuple[int, int]]) -> bytes:
    """An xlsb of one sheet S (`xlsb_sheet`)."""
    sheet = _record(156, struct.pack("<II", 0, 1) + _wide("rId1") + _wide("S"))
    workbook = _record(131) + _record(143) + sheet + _record(144) + _record(132)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.'
            'macroEnabled.main"/><Override PartName="/xl/workbook.bin" ContentType="application'
            '/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>',
        )
        z.writestr("_rels/.rels", XLSB_RELS.format(kind="officeDocument", target="xl/workbook.bin"))
        z.writestr(
            "xl/_rels/workbook.bin.rels",
            XLSB_RELS.format(kind="worksheet", target="worksheets/sheet1.bin"),
        )
        z.writestr("xl/workbook.bin", workbook)
        z.writestr("xl/worksheets/sheet1.bin", xlsb_sheet(cells))
    return out.getvalue()


def book(spec: str) -> tuple[bytes, str]:
    """``xlsx:A1,B2`` (`sparse_book`), ``ods:ROWS,COLUMNS`` (`ods_far`) or
    ``xlsb:ROW.COLUMN,...`` (`xlsb_book`, 0-based), and its name."""
    kind, _, what = spec.partition(":")
    if kind == "ods":
        rows, columns = what.split(",")
        return ods_far(int(rows), int(columns)), "x.ods"
    if kind == "xlsb":
        cells = [tuple(map(int, cell.split("."))) for cell in what.split(",")]
        return xlsb_book([(r, c) for r, c in cells]), "x.xlsb"
    return sparse_book(what.split(",")), "x.xlsx"


def in_child(spec: str) -> tuple[list[str], str | None, float]:
    return extracted_in_child(__name__, spec)


@pytest.mark.parametrize(
    "refs",
    [
        ["A1", "XFD3051"],
        ["A1", "XFD1048576"],
        ["B2", "XFD7", "C900", "KZ40000", "A1048576"],
    ],
)
def test_sparse_sheets_spanning_huge_grids_are_refused_in_bounded_memory(
    refs: list[str],
) -> None:
    places, reason, grown = in_child("xlsx:" + ",".join(refs))
    assert places == []
    assert reason is not None
    assert reason.startswith("worksheet xl/worksheets/sheet1.xml of xlsx workbook spans a grid")
    assert reason.endswith("cells, over the limit of 5,000,000")
    assert grown < 50  # MiB: 436 MB in sheet_rows, 1.6 GB (or an abort) in calamine before


def test_far_apart_cells_under_the_limit_are_read_in_bounded_memory() -> None:
    refs = ["A1", "Z7", "C900", "AB40000", "D150000"]  # 150,000 x 28 = 4.2 million cells
    assert grids.sheet_grid(zipped_sheet(sparse_book(refs))) == 150_000 * 28
    places, reason, grown = in_child("xlsx:" + ",".join(refs))
    assert reason is None
    rows = [int(r[1:]) for r in re.findall(r"R\d+", " ".join(places))]
    assert rows == [1, 7, 900, 40000, 150000]
    assert grown < 300  # MiB


def zipped_sheet(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml")


def test_the_limit_is_a_setting() -> None:
    data = sparse_book(["A1", "C3"])
    walker = Walker(Budget(Limits(max_sheet_cells=8), len(data), time.monotonic() + 60))
    with pytest.raises(Uninspectable, match="a grid of 9 cells, over the limit of 8"):
        spreadsheet.SpreadsheetExtractor().extract(data, "x", 0, sniff(data, "x.xlsx"), walker)
    assert extracted(data)[1] is None


def test_a_worksheet_under_any_name_is_judged() -> None:
    # calamine reads whatever part the workbook's relationship names, an image's name too
    data = sparse_book(["A1", "XFD3051"])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as z, zipfile.ZipFile(out, "w") as w:
        for info in z.infolist():
            body = z.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                body = body.replace(b"worksheets/sheet1.xml", b"media/sheet1.png")
            name = info.filename.replace("worksheets/sheet1.xml", "media/sheet1.png")
            w.writestr(name, body)
    assert extracted(out.getvalue())[1] == (
        "worksheet xl/media/sheet1.png of xlsx workbook spans a grid of 49,987,584 cells, "
        "over the limit of 5,000,000"
    )


GRIDS: list[tuple[bytes, int]] = [
    (b"", 0),
    (b'<c r="B2"/>', 0),
    (b'<row r="3"><c r="B3"><v>1</v></c><c r="D3"><v>1</v></c></row>', 3 * 3),
    (b"<x:row><x:c><v>1</v></x:c><x:c/><c><v>2</v></c></x:row><row><c>1</c></row>", 2 * 3),
    (b'<c r="A1" t=">"><v>', 1),
    (b'<c r="a1"><v>1</v></c><c r="c2"><v>1</v></c>', 2 * 3),
    (b"<!-- <c r='XFD9'>1</c> --><c r='A1'>1</c>", 9 * 16384),
    (b'<c r="1A">x</c>', -1),
    (b'<c r="">x</c>', -1),
    (b'<row r="A5"><c>1</c></row>', -1),
    (b'<c r="ZZZZZZZZ1">x</c>', -1),
    (b'<c r="A99999999999">x</c>', -1),
    (b'<c s="1" r="B2" t="s"><v>0</v></c><c r = \'C5\' >1</c>', 5 * 2),
    (b'<c r="B2><v>1</v></c>', -1),  # no closing quote: the tag runs past a "<"
    # A "tag" in a comment whose quote the reader never sees would hide XFD100.
    (b'<!-- <c x=" --><row r="1"><c r="A1"><v>1</v></c></row><row r="100"><c r="XFD100">', -1),
    (b'<v x="<c y=\'"><row r="100"><c r="XFD100"><v>1</v></c></row>', -1),
    (b"<!-- <c> --><c r='A1'>1</c>", 1),
    (b'<c r="A1"><v>1</v></c><c r="A1" r="Z50"><v>1</v></c>', -1),  # calamine reads Z50
    (b'<c r="A1"><v>1</v></c><row r="50" r="3"><c><v>1</v></c></row>', -1),
]


@pytest.mark.parametrize(("xml", "cells"), GRIDS)
def test_grids_are_told(xml: bytes, cells: int) -> None:
    assert _hsscan.sheet_grid(xml) == cells
    assert grids._grid(xml) == cells


@pytest.mark.parametrize("seed", range(4))
def test_compiled_and_python_grids_agree(seed: int) -> None:
    rng = random.Random(seed)
    pieces = [
        b"<row>",
        b'<row r="7">',
        b"</row>",
        b'<c r="B2">',
        b"<c>",
        b"<x:c>",
        b"<c/>",
        b'<c r="XFD3"/>',
        b"<v>1</v>",
        b"</c>",
        b"<c t=\"s\" r='AA10'>",
        b'"',
        b"'",
        b">",
        b"<",
        b"/",
        b" r=",
        b"<!--",
        b"-->",
        b'<c r="q">',
        b"<row r='x'>",
    ]
    for _ in range(2000):
        xml = b"".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        assert _hsscan.sheet_grid(xml) == grids._grid(xml), xml


def test_an_opendocument_repeating_empty_rows_is_refused_in_bounded_memory() -> None:
    # 1.4 KB: calamine made 3,052 rows of 16,384 cells of it, 3 GB
    places, reason, grown = in_child("ods:3050,16383")
    assert places == []
    assert reason == (
        "worksheet content.xml of ods workbook spans a grid of 50,003,968 cells, over the "
        "limit of 5,000,000"
    )
    assert grown < 50


def test_an_opendocument_as_libreoffice_writes_it_is_read() -> None:
    # LibreOffice ends each row with its empty cells repeated to column AMJ, and each table
    # with its empty rows repeated to row 1,048,576: empty, they make no grid
    body = (
        f"<table:table-row>{ODS_CELL}"
        '<table:table-cell office:value-type="float" office:value="3"/>'
        '<table:table-cell table:number-columns-repeated="1022"/></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048575">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    )
    data = ods_book(body)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert grids.ods_grid(z.read("content.xml")) == 2
    assert extracted(data, "x.ods") == (["x.ods#S!R1"], None)


HUGE_REPEAT = ODS_CELL.replace("-cell ", '-cell table:number-columns-repeated="9999999999" ')


@pytest.mark.parametrize(
    ("body", "cells"),
    [
        ("", 0),
        (f"<table:table-row>{ODS_CELL}</table:table-row>", 1),
        (f'<table:table-row table:number-rows-repeated="5">{ODS_CELL}</table:table-row>', 5),
        (
            f'<table:table-row><table:table-cell table:number-columns-repeated="3"/>{ODS_CELL}'
            f'</table:table-row><table:table-row table:number-rows-repeated="2"/>'
            f"<table:table-row>{ODS_CELL}</table:table-row>",
            4 * 4,
        ),
        (f'<table:table-row table:number-rows-repeated="x">{ODS_CELL}</table:table-row>', -1),
        (f'<table:table-row a="<">{ODS_CELL}</table:table-row>', -1),
        (f"<table:table-row>{HUGE_REPEAT}</table:table-row>", -1),
    ],
)
def test_opendocument_grids_are_told(body: str, cells: int) -> None:
    with zipfile.ZipFile(io.BytesIO(ods_book(body))) as z:
        assert grids.ods_grid(z.read("content.xml")) == cells


@pytest.mark.parametrize("seed", range(6))
def test_opendocument_grids_hold_what_calamine_reads(seed: int) -> None:
    rng = random.Random(seed)
    rows = []
    for _ in range(rng.randrange(1, 8)):
        cells = []
        for _ in range(rng.randrange(0, 6)):
            repeat = f' table:number-columns-repeated="{rng.randrange(1, 5)}"'
            if rng.random() < 0.7:
                cells.append(rng.choice(["<table:table-cell/>", f"<table:table-cell{repeat}/>"]))
            else:
                cells.append(ODS_CELL.replace("-cell ", f"-cell{repeat} "))
        times = rng.randrange(1, 4)
        repeat = f' table:number-rows-repeated="{times}"' if rng.random() < 0.3 else ""
        rows.append(f"<table:table-row{repeat}>{''.join(cells)}</table:table-row>")
    data = ods_book("".join(rows))
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    read = list(workbook.get_sheet_by_name("S").iter_rows())
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        grid = grids.ods_grid(z.read("content.xml"))
    assert grid >= len(read) * max((len(row) for row in read), default=0)


@pytest.mark.parametrize("cells", ["0.0,3050.16383", "0.0,1048575.16383"])
def test_an_xlsb_sheet_spanning_a_huge_grid_is_refused_in_bounded_memory(cells: str) -> None:
    # calamine took 1.9 GB of the first (a 600-byte file), and aborts on the second
    places, reason, grown = in_child(f"xlsb:{cells}")
    assert places == []
    assert reason is not None
    assert reason.startswith("worksheet xl/worksheets/sheet1.bin of xlsb workbook spans a grid")
    assert grown < 50


def test_an_xlsb_sheet_is_judged_and_read() -> None:
    sheet = xlsb_sheet([(0, 0), (3, 4)])
    assert grids.xlsb_grid(sheet) == 4 * 5
    # records cut short: those before the cut (calamine refuses the part there)
    assert grids.xlsb_grid(sheet[:-6]) == 4 * 5
    assert grids.xlsb_grid(sheet[:-12]) == 1
    assert grids.xlsb_grid(b"\xff\xff\xff") == 0
    assert extracted(xlsb_book([(0, 0), (3, 4)]), "x.xlsb") == (
        ["x.xlsb#S!R1", "x.xlsb#S!R4"],
        None,
    )
