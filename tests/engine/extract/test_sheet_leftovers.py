"""Text a workbook keeps where no cell shows it: a shared string no cell uses any more (left
behind when the cells were cleared, or planted), a sheet's page header and footer, its data
validation lists and messages, the string literals of its formulas.  Each is read once, as a
unit of its own; a string a cell shows is never counted twice.  Both ways a worksheet is
read are tried: `_hsscan.sheet_rows` (a plain sheet) and calamine (a sheet with a date)."""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import zipfile

import pytest
import xlsxwriter

from postwarden.engine import Inspector
from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract.spreadsheet import _parsed, _resolved, sheet_lines, text_lines

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


@pytest.mark.parametrize("dated", [False, True], ids=["plain", "calamine"])
def test_header_and_footer_are_read(inspector: Inspector, dated: bool) -> None:
    data = book(dated, header=f'&L&"Arial,Bold"&12{NAME}&R{HKID}', footer=f"&C{PHONE} &P of &N")
    assert found(inspector, data) == {**ROWS, "#S header": EXPECTED}


@pytest.mark.parametrize("dated", [False, True], ids=["plain", "calamine"])
def test_validation_list_and_message_are_read(inspector: Inspector, dated: bool) -> None:
    validation = {
        "validate": "list",
        "source": [NAME, HKID],
        "input_title": "Tel",
        "input_message": f"call {PHONE}",
    }
    assert found(inspector, book(dated, validation=validation)) == {
        **ROWS,
        "#S validation": EXPECTED,
    }


@pytest.mark.parametrize("dated", [False, True], ids=["plain", "calamine"])
def test_formula_literals_are_read(inspector: Inspector, dated: bool) -> None:
    formula = f'=IF(A1="x","{NAME}",IF(A1="y","{HKID}","{PHONE}"))'
    assert found(inspector, book(dated, formula=formula)) == {**ROWS, "#S formulas": EXPECTED}


def test_text_in_an_unusual_place_is_parsed(inspector: Inspector) -> None:
    # A formula in CDATA: not what `_hsscan.sheet_texts` reads, so the part is parsed.
    data = edited(
        book(False, formula="=1"),
        "xl/worksheets/sheet1.xml",
        lambda x: x.replace("<f>1</f>", f'<f><![CDATA[IF(A1="x","{PII}","")]]></f>'),
    )
    assert found(inspector, data) == {**ROWS, "#S formulas": EXPECTED}


# ---- `_hsscan.sheet_texts` against the part parsed (`_parsed`) ----

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
XM = "http://schemas.microsoft.com/office/excel/2006/main"
WORDS = [NAME, HKID, "陳大文", "a & b", "<tag>", 'x"y', "Flat 1, 2/F", " ", "&P", "1"]


def escaped(text: str, rng: random.Random, attribute: bool = False) -> str:
    """Text as some writer escapes it: ``&amp;``, or character references, or quotes as
    ``&quot;``."""
    quote = "&quot;" if attribute or rng.random() < 0.3 else '"'
    refs = rng.random() < 0.2
    entities = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': quote}
    return "".join(
        entities.get(c, f"&#x{ord(c):X};" if refs and c.isalpha() and rng.random() < 0.3 else c)
        for c in text
    )


def random_sheet(rng: random.Random) -> str:
    p = rng.choice(["", "x:"])
    ns = f'xmlns{":x" if p else ""}="{MAIN}"'
    word = lambda: rng.choice(WORDS)  # noqa: E731
    code = lambda: rng.choice(["&L", "&C", "&R", "&B"])  # noqa: E731
    end = lambda name: f"</{p}{name}{rng.choice(['', ' ', chr(10)])}>"  # noqa: E731
    cells = []
    for r in range(1, rng.randint(1, 4)):
        formula = f'IF(A1="{word()}","{word()}",B{r})' if rng.random() < 0.6 else f"SUM(A{r}:B{r})"
        f = (
            f"<{p}f>{escaped(formula, rng)}{end('f')}"
            if rng.random() < 0.7
            else f'<{p}f t="shared" si="0"/>'
        )
        cells.append(f'<{p}row r="{r}"><{p}c r="A{r}">{f}<{p}v>1</{p}v></{p}c></{p}row>')
    after = []
    if rng.random() < 0.7:
        attrs = "".join(
            f' {k}="{escaped(word() + chr(10) * rng.randint(0, 1), rng, True)}"'
            for k in ("promptTitle", "prompt", "errorTitle", "error", "sqref")
            if rng.random() < 0.5
        )
        listed = ",".join(word().replace('"', '""') for _ in range(rng.randint(1, 3)))
        after.append(
            f'<{p}dataValidations count="1"><{p}dataValidation type="list"{attrs}>'
            f"<{p}formula1>{escaped(chr(34) + listed + chr(34), rng)}{end('formula1')}"
            f"</{p}dataValidation></{p}dataValidations>"
        )
    if rng.random() < 0.5:
        after.append(
            f'<{p}conditionalFormatting sqref="A1"><{p}cfRule type="expression" priority="1">'
            f"<{p}formula>{escaped(f'A1={chr(34)}{word()}{chr(34)}', rng)}{end('formula')}"
            f"</{p}cfRule></{p}conditionalFormatting>"
        )
    if rng.random() < 0.7:
        parts = [
            f"<{p}{kind}>{escaped(code() + word() + '&12' + word(), rng)}{end(kind)}"
            for kind in (
                "oddHeader",
                "oddFooter",
                "evenHeader",
                "evenFooter",
                "firstHeader",
                "firstFooter",
            )
            if rng.random() < 0.5
        ]
        after.append(f"<{p}headerFooter>{''.join(parts)}</{p}headerFooter>")
    if rng.random() < 0.4:
        after.append(
            f'<{p}extLst><{p}ext uri="x" xmlns:x14="{X14}"><x14:dataValidations xmlns:xm="{XM}">'
            f'<x14:dataValidation type="list"><x14:formula1>\n  '
            f'<xm:f>"{escaped(word(), rng)}"</xm:f>'
            "</x14:formula1><xm:sqref>A1</xm:sqref></x14:dataValidation></x14:dataValidations>"
            f"</{p}ext></{p}extLst>"
        )
    rng.shuffle(after)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{p}worksheet {ns}><{p}sheetData>{"".join(cells)}'
        f"</{p}sheetData>{''.join(after)}</{p}worksheet>"
    )


def test_sheet_texts_parity() -> None:
    rng = random.Random(14)
    read = 0
    for _ in range(400):
        xml = random_sheet(rng).encode()
        found = _hsscan.sheet_texts(xml)
        assert found is not None, xml
        resolved = _resolved(found)
        assert resolved is not None, xml
        fast = text_lines(resolved)
        assert fast == text_lines(_parsed(xml, "a.xlsx")), xml
        read += sum(map(len, fast))
    assert read > 1000


def worksheet(inner: str, declaration: str = "") -> str:
    return f'{declaration}<worksheet xmlns="{MAIN}">{inner}</worksheet>'


def header(inner: str) -> str:
    return f"<headerFooter><oddHeader>{inner}</oddHeader></headerFooter>"


@pytest.mark.parametrize(
    "xml",
    [
        worksheet(header(f"<!-- -->&amp;L{NAME}")),
        worksheet(f'<sheetData><row><c><f><![CDATA["{NAME}"]]></f></c></row></sheetData>'),
        worksheet(header(NAME), '<?xml version="1.0" encoding="ISO-8859-1"?>'),
        worksheet(header(f"{NAME}<b/>")),
    ],
)
def test_sheet_texts_leaves_the_unusual_to_the_parser(xml: str) -> None:
    encoding = "latin-1" if "ISO" in xml else "utf-8"
    assert _hsscan.sheet_texts(xml.encode(encoding)) is None
    lines = text_lines(_parsed(xml.encode(encoding), "a.xlsx"))
    assert any(NAME in line for kind in lines for line in kind)


def test_sheet_texts_of_utf16_is_parsed() -> None:
    xml = worksheet(header(NAME), '<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")
    assert _hsscan.sheet_texts(xml) is None
    assert sheet_lines(xml, "a.xlsx")[0] == [NAME]


@pytest.mark.parametrize(
    "declaration", ['encoding="ISO-8859-1"', 'encoding="windows-1252"', "encoding='latin-1'"]
)
def test_unused_shared_string_in_another_encoding_is_read(
    inspector: Inspector, declaration: str
) -> None:
    # _hsscan.shared_strings gave [] (not None: "parse it") for a part naming another
    # encoding, and a string no cell shows went unread
    data = edited(
        planted(book(False), PII),
        "xl/sharedStrings.xml",
        lambda x: x.replace('encoding="UTF-8"', declaration),
    )
    assert found(inspector, data) == {**ROWS, "#xl/sharedStrings.xml": EXPECTED}


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0" encoding="ISO-8859-1"?><sst><si><t>a</t></si></sst>',
        b"<sst><si><t>a \xff</t></si></sst>",
        b"<?xml <sst><si><t>a</t></si></sst>",
    ],
)
def test_shared_strings_not_read_here_are_left_to_the_parser(xml: bytes) -> None:
    assert _hsscan.shared_strings(xml) is None
