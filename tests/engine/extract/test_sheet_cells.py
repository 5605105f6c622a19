"""A plain xlsx worksheet read from the guarded bytes (`_hsscan.sheet_rows`, through
`spreadsheet._plain_sheets`) gives exactly what calamine gives: the same rows and cells for
every worksheet it takes, and the very same units, findings and refusals for whole files --
generated workbooks of every cell type, the corpus files, and mutants of both, where any
worksheet it does not take is left to calamine."""

from __future__ import annotations

import datetime as dt
import io
import random
import time
import zipfile
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path

import openpyxl
import pytest
import python_calamine
import xlsxwriter
from tests.factories import make_xlsx

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import spreadsheet
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.office import VERIFIED
from postwarden.engine.extract.sniff import sniff
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

NS = (
    'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
)
CORPORA = Path(__file__).parents[2] / "corpora"


def raw_xlsx(
    sheets: list[tuple[str, str]], sst: str | None = None, styles: str | None = None
) -> bytes:
    """A minimal xlsx of worksheets written by hand: (name, the XML inside <sheetData>)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="xml" ContentType="application/'
            'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxml'
            'formats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http:'
            "//schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
            '" Target="xl/workbook.xml"/></Relationships>',
        )
        book = [f'<?xml version="1.0" encoding="UTF-8"?><workbook {NS}><sheets>']
        rels = [
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships">'
        ]
        kind = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
        for i, (name, data) in enumerate(sheets, start=1):
            book.append(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>')
            rels.append(
                f'<Relationship Id="rId{i}" Type="{kind}worksheet" '
                f'Target="worksheets/sheet{i}.xml"/>'
            )
            z.writestr(
                f"xl/worksheets/sheet{i}.xml",
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {NS}>'
                f'<dimension ref="A1"/><sheetData>{data}</sheetData>'
                '<mergeCells count="1"><mergeCell ref="A1:B2"/></mergeCells></worksheet>',
            )
        if sst is not None:
            rels.append(
                f'<Relationship Id="rIdS" Type="{kind}sharedStrings" Target="sharedStrings.xml"/>'
            )
            z.writestr(
                "xl/sharedStrings.xml",
                '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                f'openxmlformats.org/spreadsheetml/2006/main">{sst}</sst>',
            )
        if styles is not None:
            z.writestr(
                "xl/styles.xml",
                '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                f"{styles}</styleSheet>",
            )
        z.writestr("xl/workbook.xml", "".join(book) + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", "".join(rels) + "</Relationships>")
    return out.getvalue()


def typed(rows: list[list[object]]) -> list[list[tuple[type, object]]]:
    return [[(type(v), v) for v in row] for row in rows]


def sheet_inputs(z: zipfile.ZipFile) -> tuple[list[str] | None, bytes]:
    """A workbook's shared strings (None: it has none) and plain styles, as sheet_rows takes
    them."""
    names = z.namelist()
    sst = z.read("xl/sharedStrings.xml") if "xl/sharedStrings.xml" in names else None
    strings = None if sst is None else _hsscan.shared_strings(sst)
    styles = spreadsheet.plain_styles(z.read("xl/styles.xml")) if "xl/styles.xml" in names else b""
    return strings, styles


def both(data: bytes) -> Iterator[tuple[list[list[object]], list[list[object]] | None]]:
    """Each worksheet's rows by calamine and by sheet_rows (None: not taken)."""
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        strings, styles = sheet_inputs(z)
        for i, name in enumerate(workbook.sheet_names, start=1):
            calamine = list(workbook.get_sheet_by_name(name).iter_rows())
            xml = z.read(f"xl/worksheets/sheet{i}.xml")
            yield calamine, _hsscan.sheet_rows(xml, strings, styles)


def cell(ref: str, inner: str, attrs: str = "") -> str:
    return f'<c r="{ref}"{attrs}>{inner}</c>'


def inline(ref: str, text: str, t_attrs: str = "") -> str:
    return cell(ref, f"<is><t{t_attrs}>{text}</t></is>", ' t="inlineStr"')


PRESERVE = ' xml:space="preserve"'
SST = (
    "<si><t> p </t></si><si/><si><t>q</t></si>"
    '<si><r><t>r1</t></r><r><rPr><b/><sz val="11"/></rPr><t xml:space="preserve"> r2 </t></r>'
    '<rPh sb="0" eb="1"><t>ph</t></rPh><phoneticPr fontId="1"/></si>'
    "<si><t>陳大文 CHAN Tai Man</t></si><si></si><si><t>a&amp;b &lt;c&gt;</t></si>"
    '<si><t xml:space="preserve">\u3000x\t</t></si>'
)

# Worksheets sheet_rows must take, each read as calamine reads it.
TAKEN = [
    "",
    '<row r="1"/>',
    '<row r="5">'
    + inline("C5", "x")
    + cell("E5", "<v>1</v>")
    + '</row><row r="7">'
    + cell("D7", "<v>2.5</v>")
    + "</row>",
    '<row r="2">' + inline("B2", "") + "</row>",
    '<row r="2" spans="2:7" ht="15" customHeight="1">'
    + inline("B2", " a ")
    + inline("C2", " b ", PRESERVE)
    + inline("D2", "\ta\n")
    + inline("E2", "   ")
    + inline("F2", "\u3000y\u3000")
    + inline("G2", "\xa0z\xa0")
    + "</row>",
    '<row r="1">'
    + "".join(cell(f"{col}1", f"<v>{i}</v>", ' t="s"') for i, col in enumerate("ABCDEFGH"))
    + "</row>",
    '<row r="3"><c r="B3" s="4" t="s"><v>2</v></c></row>',
    '<row r="1">'
    + "".join(
        cell(f"{col}1", f"<v>{v}</v>")
        for col, v in zip(
            "ABCDEFGHIJ",
            [
                "0",
                "-0",
                "1e3",
                "12345678901234567890",
                "0.1",
                "-1.5E-7",
                "91234567",
                "1E+2",
                "3.0000000000000004",
                "1e-320",
            ],
            strict=True,
        )
    )
    + "</row>",
    '<row r="1">'
    + cell("A1", "<f>1+1</f><v>2</v>")
    + cell("B1", "<v>3</v><f>1</f>")
    + cell("C1", '<f t="shared" ref="C1:C2" si="0">A1</f><v>4</v>')
    + cell("D1", "<f>x</f><is><t>q</t></is>", ' t="inlineStr"')
    + cell("E1", "<f/><v>5</v>")
    + "</row>",
    '<row r="1"><c r="A1"><f>1+1</f><v></v></c><c r="B1" s="2"><v/></c></row>',
    '<row r="1"><c r="A1" t="n"><v></v></c><c r="B1" t="n"><v/></c><c r="C1"/>'
    '<c r="D1" t="s"/><c r="E1" s="3"/>' + inline("F1", "x") + "</row>",
    '<row r="1"><c r="A1" t="inlineStr"><is/></c><c r="B1" t="inlineStr"><is></is></c>'
    '<c r="C1" t="inlineStr"><is><t/></is></c></row><row r="2">' + inline("D2", "x") + "</row>",
    '<row r="1">'
    + cell("A1", "<is><r><t>a</t></r><r><rPr/><t> b </t></r></is>", ' t="inlineStr"')
    + cell("B1", '<is><t>k</t><rPh sb="0" eb="1"><t>ph</t></rPh></is>', ' t="inlineStr"')
    + "</row>",
    '<row r="1">' + inline("A1", "a&amp;b&lt;&gt;&quot;&apos;c &gt;x") + "</row>",
    '<row r="1"><c r="A1" t="b"><v>1</v></c><c r="B1" t="b"><v>0</v></c><c r="C1" t="b"/>'
    '<c r="D1" t="b"><v></v></c><c r="E1" t="b" s="3"><f>TRUE()</f><v>1</v></c></row>',
    '<row r="1">'
    + "".join(
        cell(f"{col}1", f"<f>X()</f><v>{v}</v>", ' t="e"')
        for col, v in zip(
            "ABCDEFG",
            ["#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"],
            strict=True,
        )
    )
    + '</row><row r="2"><c r="B2" t="e"><v>#N/A</v></c></row>',
    '<row r="1"><c r="A1" t="str"><f>A2</f><v> ab </v></c><c r="B1" t="str"><v>12</v></c>'
    '<c r="C1" t="str"><v>inf</v></c><c r="D1" t="str"><v>x &amp; &#38515;</v></c>'
    '<c r="E1" t="str"><v></v></c><c r="F1" t="str"><v/></c></row>',
    '<row r="1">' + inline("A1", "&#38515;&#x5927;&#25991; a&#65;&#x1F600;") + "</row>",
    '<row r="3">' + inline("XFD3", "far") + "</row>",
    '<row r="1000">' + inline("B1000", "low") + "</row>",
    '\n  <row r="1">\n    ' + inline("A1", "spaced") + "\n  </row>\n",
    '<row><c r="A1"><v>1</v></c></row><row r="3"><c r="A3"><v>3</v></c></row>',
    '<row r="9" x14ac:dyDescent="0.25" xmlns:x14ac="urn:x">'
    + cell("B9", "<v>7</v>", ' t="n" cm="1"')
    + "</row>",
]

# Worksheets left to calamine (each would read otherwise, or might).
LEFT = [
    '<row r="1"><c r="A1" t="b"><v>true</v></c></row>',
    '<row r="1"><c r="A1" t="b"><v>2</v></c></row>',
    '<row r="1"><c r="A1" t="e"><v>#SPILL!</v></c></row>',
    '<row r="1"><c r="A1" t="e"><v></v></c></row>',
    '<row r="1"><c r="A1" t="str"><v>a_x0041_</v></c></row>',
    '<row r="1"><c r="A1" t="d"><v>2020-01-01T00:00:00</v></c></row>',
    '<row r="1"><c r="A1" s="1"><v>44000</v></c></row>',
    '<row r="1">' + inline("A1", "&#32;a") + "</row>",
    '<row r="1">' + inline("A1", "a&#x9;") + "</row>",
    '<row r="1">' + inline("A1", "a&#0;") + "</row>",
    '<row r="1">' + inline("A1", "a&#xD800;") + "</row>",
    '<row r="1">' + inline("A1", "a&#1114112;") + "</row>",
    '<row r="1">' + inline("A1", "&#95;x000D_") + "</row>",
    '<row r="1">' + inline("A1", "a&#X41;") + "</row>",
    '<row r="1">' + inline("A1", "a_x000D_b") + "</row>",
    '<row r="1">' + inline("A1", "a\r\nb") + "</row>",
    '<row r="1"><c t="inlineStr"><is><t>x</t></is></c></row>',
    '<row r="1"><c r="B1"><v>1</v></c><c r="A1"><v>2</v></c></row>',
    '<row r="1"><c r="A1"><v>1</v></c><c r="A1"><v>2</v></c></row>',
    '<row r="1"><c r="A1"><v> 5</v></c></row>',
    '<row r="1"><c r="A1"><v>.5</v></c></row>',
    '<row r="1"><c r="A1"><v>1e999</v></c></row>',
    '<row r="1"><c r="A1"><v>inf</v></c></row>',
    '<row r="1"><c r="A1" t="s"><v>99</v></c></row>',
    '<row r="1"><c r="A1" t="s"><v>01</v></c></row>',
    '<!-- x --><row r="1"><c r="A1"><v>1</v></c></row>',
    '<row r="1"><x:c r="A1" xmlns:x="urn:x"><v>1</v></x:c></row>',
    '<row r="1"><c r="A1"><v>1</v><extLst/></c></row>',
    '<row r="1"><c r="A1"><v>1</v></c><d/></row>',
    '<row r="x1"><c r="A1"><v>1</v></c></row>',
    '<row r="1"><c r="A0"><v>1</v></c></row>',
    '<row r="1"><c r="XFE1"><v>1</v></c></row>',
    '<row r="1"><c r="A1" r="B1"><v>1</v></c></row>',
    '<row r="1"><c r="A1"><v>1</v></row>',
    '<row r="1">' + inline("A1", "x", ' foo="1"') + "</row>",
    '<row r="1">' + cell("A1", "<is><t>a</t><t>b</t></is>", ' t="inlineStr"') + "</row>",
    '<row r="1">' + cell("A1", "<v>1</v>", ' t="inlineStr"') + "</row>",
    '<row r="1">' + cell("A1", "<is><t>x</t></is>", ' t="s"') + "</row>",
    '<row r="1"><c r="A1"><v><![CDATA[1]]></v></c></row>',
]


@pytest.mark.parametrize("data", TAKEN)
def test_taken_worksheets_read_as_calamine_reads_them(data: str) -> None:
    for calamine, fast in both(raw_xlsx([("s", data)], SST)):
        assert fast is not None
        assert typed(fast) == typed(calamine)


@pytest.mark.parametrize("data", LEFT)
def test_other_worksheets_are_left_to_calamine(data: str) -> None:
    for _calamine, fast in _both_or_refused(raw_xlsx([("s", data)], SST)):
        assert fast is None


@pytest.mark.parametrize(
    "xml",
    [
        b'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>\xff</t></is></c>'
        b"</row></sheetData></worksheet>",
        b"\xef\xbb\xbf<worksheet><sheetData/></worksheet>",
        b'<?xml version="1.0" encoding="UTF-16"?><worksheet><sheetData/></worksheet>',
        b'<?xml-stylesheet href="x"?><worksheet><sheetData/></worksheet>',
        b"<!DOCTYPE w><worksheet><sheetData/></worksheet>",
        b"<worksheet><sheetData/>",
        b"<worksheet><sheetData/></worksheet><more/>",
        b"<worksheet><x:sheetData xmlns:x='urn:x'/><sheetData/></worksheet>",
        b"<worksheet><dimension/><sheetData/></worksheet>",
        b'<worksheet><dimension ref="A1:"/><sheetData/></worksheet>',
        b"<worksheet><sheetData></sheetData><a>&unknown</a></worksheet>",
        b"<worksheet><sheetData></sheetData><a b='<'/></worksheet>",
        b"<worksheet><sheetData></sheetData></worksheet",
        b'<worksheet a="\xff"><sheetData/></worksheet>',
        b'<worksheet><sheetData/><mergeCells><mergeCell ref="A1:"/></mergeCells></worksheet>',
        b"<worksheet><sheetData/><mergeCells><mergeCell/></mergeCells></worksheet>",
        b"<worksheet><sheetData/><x:mergeCells xmlns:x='urn:x'/></worksheet>",
        b"<worksheet>" + b"<a>" * 80 + b"<sheetData/>" + b"</a>" * 80 + b"</worksheet>",
        b"",
    ],
)
def test_other_bytes_are_left_to_calamine(xml: bytes) -> None:
    assert _hsscan.sheet_rows(xml, None, b"") is None


def _both_or_refused(data: bytes) -> list[tuple[object, object]]:
    try:
        return list(both(data))
    except python_calamine.CalamineError:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            strings = _hsscan.shared_strings(z.read("xl/sharedStrings.xml"))
            return [(None, _hsscan.sheet_rows(z.read("xl/worksheets/sheet1.xml"), strings, b""))]


@pytest.mark.parametrize(
    "sst",
    [
        "<si><t>a</t></si><extLst/>",
        "<si><t>a&#1;</t></si>",
        "<si><x:t xmlns:x='urn:x'>a</x:t></si>",
        "<si><rPh><t>only phonetic</t></rPh></si>",
        "<si><r><t>a</t><t>b</t></r></si>",
        "<si>loose text</si>",
    ],
)
def test_other_shared_strings_are_left_to_calamine(sst: str) -> None:
    xml = (
        '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main">{sst}</sst>'
    ).encode()
    assert _hsscan.shared_strings(xml) is None


def outcome(data: bytes, plain: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[object, ...]:
    """What the extractor keeps from a whole file, plain worksheets read by sheet_rows or
    (``plain`` False) every worksheet by calamine."""
    with monkeypatch.context() as patch:
        if not plain:
            patch.setattr(spreadsheet, "_plain_sheets", lambda *args: None)
        VERIFIED.forget()
        walker = Walker(Budget(Limits(), len(data), time.monotonic() + 60))
        error = None
        try:
            spreadsheet.SpreadsheetExtractor().extract(
                data, "x.xlsx", 0, sniff(data, "x.xlsx"), walker
            )
        except Uninspectable as exc:
            error = (type(exc), exc.reason)
        except LookupError as exc:  # the guard's XML check meets an unknown encoding
            error = (type(exc), str(exc))
        units = [astuple(unit) for unit in walker.units]
        return units, walker.findings, walker.budget.text_bytes, error


class Counted:
    """sheet_rows, counting the worksheets it took."""

    def __init__(self) -> None:
        self.taken = 0

    def __call__(self, xml: bytes, strings: list[str] | None, styles: bytes) -> object:
        rows = _hsscan.sheet_rows(xml, strings, styles)
        self.taken += rows is not None
        return rows


def assert_same(data: bytes, monkeypatch: pytest.MonkeyPatch) -> int:
    """The file's outcome both ways; how many worksheets sheet_rows took."""
    counted = Counted()
    monkeypatch.setattr(spreadsheet, "_hsscan", _Compiled(counted))
    fast = outcome(data, True, monkeypatch)
    assert fast == outcome(data, False, monkeypatch)
    return counted.taken


class _Compiled:
    def __init__(self, counted: Counted) -> None:
        self.sheet_rows = counted
        self.shared_strings = _hsscan.shared_strings
        self.sheet_texts = _hsscan.sheet_texts
        self.row_units = _hsscan.row_units


VALUES: list[object] = [
    "",
    " ",
    "  padded  ",
    "CHAN Tai Man",
    "陳大文",
    "A123456(3)",
    "9123 4567",
    "a | b",
    "x & y <z>",
    "line\nbreak",
    "tab\tinside",
    0,
    0.0,
    -1.5,
    91234567,
    1e-7,
    123456789012345678,
    True,
    False,
    None,
    dt.datetime(1980, 2, 29, 10, 30),
    dt.date(1999, 12, 31),
    dt.time(8, 15),
]
PLAIN = [v for v in VALUES if isinstance(v, str | float | int) and not isinstance(v, bool)]


def openpyxl_book(rng: random.Random, write_only: bool, values: list[object] = VALUES) -> bytes:
    """Random sheets (visible, hidden, very hidden) of every value type; write-only books
    keep strings inline, the others in shared strings, with merged cells and formulas."""
    book = openpyxl.Workbook(write_only=write_only)
    if not write_only:
        book.remove(book.active)
    for number in range(rng.randint(1, 4)):
        sheet = book.create_sheet(f"S{number}")
        sheet.sheet_state = rng.choice(["visible", "hidden", "veryHidden"])
        if number == 0:
            sheet.sheet_state = "visible"
        for _ in range(rng.choice([0, 1, 3, 40, 300])):
            row = [rng.choice(values) for _ in range(rng.randint(0, 7))]
            sheet.append(row)
        if not write_only and sheet.max_row > 2 and rng.random() < 0.5:
            sheet.merge_cells("A1:B2")
            sheet["C1"] = "=1+1"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsxwriter_book(rng: random.Random) -> bytes:
    """Shared strings, rich strings, formulas with values, booleans, errors, dates, merged
    ranges, a hidden sheet, as Excel-like writers write them."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    for number in range(rng.randint(1, 3)):
        sheet = book.add_worksheet(f"Sheet {number}")
        if number == 2:
            sheet.hide()
        for r in range(rng.choice([1, 5, 60])):
            for c in range(rng.randint(0, 5)):
                value = rng.choice(VALUES)
                choice = rng.random()
                if choice < 0.05:
                    sheet.write_rich_string(r, c, "CHAN ", bold, "Tai", " Man")
                elif choice < 0.1:
                    sheet.write_formula(r, c, "=1+2", None, 3)
                elif choice < 0.13:
                    sheet.write_formula(r, c, '="x"&"y"', None, "xy")
                elif choice < 0.15:
                    sheet.write_boolean(r, c, rng.random() < 0.5)
                elif choice < 0.17:
                    sheet.write_formula(r, c, "=1/0", None, "#DIV/0!")
                elif choice < 0.2:
                    sheet.write_number(r, c, 91234567, bold)
                elif isinstance(value, dt.datetime | dt.date):
                    sheet.write_datetime(r, c, value, date)
                elif isinstance(value, dt.time):
                    continue
                elif value is None:
                    sheet.write_blank(r, c, None, bold)
                else:
                    sheet.write(r, c, value)
        if rng.random() < 0.5:
            sheet.merge_range(10, 0, 11, 2, "merged", bold)
    book.close()
    return out.getvalue()


@pytest.mark.parametrize("seed", range(16))
def test_generated_workbooks_read_the_same(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    assert_same(openpyxl_book(rng, write_only=True), monkeypatch)
    assert_same(openpyxl_book(rng, write_only=False), monkeypatch)
    assert_same(xlsxwriter_book(rng), monkeypatch)
    # Books of strings and numbers only: their worksheets are taken, every one.
    for write_only in (True, False):
        plain = openpyxl_book(rng, write_only, PLAIN)
        sheets = len(python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(plain)).sheet_names)
        assert assert_same(plain, monkeypatch) == sheets


def test_factory_workbooks_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[list[object]] = [["id", "name", "HKID", "phone"]]
    rows += [[f"V-{i:07d}", "CHAN Tai Man", "A123456(3)", 91234567 + i] for i in range(15_070)]
    large = make_xlsx({"Register": rows, "Hidden": [["x", 1.5]]}, hidden=["Hidden"])  # type: ignore[arg-type]
    assert assert_same(large, monkeypatch) == 2
    many = make_xlsx({f"S{i}": [[f"cell {i}", i]] for i in range(30)})  # type: ignore[arg-type]
    assert assert_same(many, monkeypatch) == 30
    raw = raw_xlsx([("a", TAKEN[2]), ("a", TAKEN[5]), ("b &amp; c", LEFT[0])], SST)
    assert assert_same(raw, monkeypatch) == 2


def corpus_workbooks() -> list[Path]:
    return sorted(p for p in CORPORA.rglob("*") if p.suffix.lower() in {".xlsx", ".xlsm"})


@pytest.mark.parametrize("path", corpus_workbooks(), ids=lambda p: p.name)
def test_corpus_workbooks_read_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(path.read_bytes(), monkeypatch)


# Bytes a mutation writes into a worksheet or the shared strings: XML's own characters,
# names the reader knows, and numbers.
PIECES = [b"<", b">", b"/", b'"', b"'", b"&", b"&amp;", b";", b"=", b" ", b"\r", b"_x", b"c",
          b"r", b"t", b"v", b"s", b"is", b"si", b"<t>", b"</t>", b"<v>", b"</v>", b"1", b"0",
          b"A", b"Z", b"e", b"-", b".", b"<!--", b"-->", b"\xe9", b"\x00", b":"]  # fmt: skip


def mutants(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """``data`` with one part (a worksheet, the shared strings, the styles, the workbook or
    its relationships) mutated a few times."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {info.filename: z.read(info) for info in z.infolist()}
    targets = [
        n
        for n in parts
        if n.startswith(("xl/worksheets/", "xl/workbook.xml", "xl/_rels/", "xl/styles.xml"))
        or n.endswith("Strings.xml")
    ]
    for _ in range(count):
        name = rng.choice(targets)
        xml = bytearray(parts[name])
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(xml))
            piece = rng.choice(PIECES)
            cut = rng.choice([0, 0, 1, len(piece)])
            xml[at : at + cut] = piece
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for other, content in parts.items():
                z.writestr(other, bytes(xml) if other == name else content)
        yield out.getvalue()


@pytest.mark.parametrize("seed", range(8))
def test_mutated_workbooks_read_the_same(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    bases = [
        raw_xlsx([("s", "".join(TAKEN[2:8])), ("t", TAKEN[12])], SST, STYLES),
        openpyxl_book(rng, write_only=False),
        openpyxl_book(rng, write_only=True),
    ]
    for base in bases:
        for mutant in mutants(base, rng, 60):
            assert_same(mutant, monkeypatch)


@pytest.mark.parametrize(
    ("target", "taken"),
    [
        ("worksheets/sheet1.xml", 1),
        ("/xl/worksheets/sheet1.xml", 1),
        ("xl/worksheets/sheet1.xml", 0),
        ("./worksheets/sheet1.xml", 0),
        ("../xl/worksheets/sheet1.xml", 0),
        ("/worksheets/sheet1.xml", 0),
        ("worksheets/sheet1.XML", 0),
        ("worksheets/&#115;heet1.xml", 0),
    ],
)
def test_worksheets_are_found_where_calamine_finds_them(
    target: str, taken: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = raw_xlsx([("&#38515;表 &amp; x", TAKEN[2])], SST)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(b'"worksheets/sheet1.xml"', f'"{target}"'.encode())
            dst.writestr(info.filename, content)
    assert assert_same(out.getvalue(), monkeypatch) == taken


STYLES = (
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="0.00"/>'
    '<numFmt numFmtId="3" formatCode="yyyy-mm-dd"/></numFmts>'
    '<cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs><cellXfs count="63">'
    + "".join(f'<xf numFmtId="{i}"><alignment/></xf>' for i in range(60))
    + '<xf/><xf numFmtId="164"/><xf numFmtId=" 1"/></cellXfs>'
)


@pytest.mark.parametrize("style", range(64))
def test_styled_numbers_read_as_calamine_reads_them(style: int) -> None:
    """A number with a style whose format is a built-in one that is no date is a number;
    every other style is left to calamine (it makes dates of some)."""
    sheet = f'<row r="1"><c r="A1" s="{style}"><v>44000.5</v></c><c r="B1"><v>7</v></c></row>'
    ((calamine, fast),) = both(raw_xlsx([("s", sheet)], styles=STYLES))
    # 3 is given a date format of the file's own; 61 a format of its own; 62 " 1".
    plain = style in (0, 1, 2, *range(4, 14), *range(37, 45), 48, 49, 60)
    assert (fast is not None) == plain
    if fast is not None:
        assert typed(fast) == typed(calamine)
    if style in (3, *range(14, 23)):
        assert type(calamine[0][0]) is dt.datetime  # calamine reads a date there


@pytest.mark.parametrize(
    "styles",
    [
        "<cellXfs><xf/></cellXfs><cellXfs><xf/></cellXfs>",
        "<extLst><cellXfs><xf/></cellXfs></extLst><cellXfs><xf/></cellXfs>",
        '<cellXfs><xf><extLst><xf numFmtId="14"/></extLst></xf><xf/></cellXfs>',
        "<cellXfs><x:xf xmlns:x='urn:x'/><xf/></cellXfs>",
        "<cellXfs><xf/>",
    ],
)
def test_other_styles_are_left_to_calamine(styles: str) -> None:
    assert (
        spreadsheet.plain_styles(
            b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + styles.encode()
            + b"</styleSheet>"
        )
        == b""
    )
