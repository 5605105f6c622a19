"""Text in the parts of an office package that the format's own reader does not read
(document properties, custom XML, charts, comments, pivot caches, glossary, SmartArt, a part
name nobody heard of) is read and inspected, with the part as its place: personal data put
there must not leave unseen.  Files are made by their own libraries (python-docx, openpyxl,
python-pptx), with zipfile adding the parts the libraries do not write."""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path
from xml.etree.ElementTree import ParseError

import docx
import openpyxl
import pptx
import pytest
from openpyxl.comments import Comment
from openpyxl.worksheet.table import Table
from tests.factories import make_docx, make_xlsx

from postwarden.engine import Inspector
from postwarden.engine.extract.office import TEXT_FREE, may_hold_text, part_texts

NAME, HKID, PHONE = "CHAN Tai Man", "A123456(3)", "9123 4567"
PII = f"{NAME} {HKID} {PHONE}"
FOUND = {"hkid": HKID, "phone": PHONE, "name_en": NAME}
C = 'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart"'
A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
X = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector()


def found(inspector: Inspector, name: str, data: bytes) -> dict[str, set[str]]:
    """Each detector's values, by the place they were found (after the file's name)."""
    verdict = inspector.inspect_file(name, data).verdict
    places: dict[str, set[str]] = {}
    for finding in verdict.findings:
        place = finding.where.removeprefix(f"attachment:{name}")
        places.setdefault(place, set()).add(f"{finding.detector}={finding.value}")
    return places


def expected() -> set[str]:
    return {f"{detector}={value}" for detector, value in FOUND.items()}


def with_parts(data: bytes, parts: dict[str, str]) -> bytes:
    """The package with ``parts`` added (or replacing the part of the same name)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in parts:
                dst.writestr(info, src.read(info))
        for name, text in parts.items():
            dst.writestr(name, (XML + text).encode(), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def chart(values: list[str]) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{v}</c:v></c:pt>' for i, v in enumerate(values))
    return (
        f"<c:chartSpace {C}><c:chart><c:plotArea><c:barChart><c:ser><c:cat><c:strRef>"
        f"<c:f>Sheet1!$A$2:$A$4</c:f><c:strCache>{points}</c:strCache></c:strRef></c:cat>"
        "</c:ser></c:barChart></c:plotArea></c:chart></c:chartSpace>"
    )


DOCX_PARTS = {
    "docProps/app.xml": (
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'extended-properties"><Company>Ltd</Company><Manager>{PII}</Manager></Properties>'
    ),
    "docProps/custom.xml": (
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
        'docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
        f'name="Applicant"><vt:lpwstr>{PII}</vt:lpwstr></property></Properties>'
    ),
    "customXml/item1.xml": f"<form><applicant>{PII}</applicant></form>",
    "word/charts/chart1.xml": chart([NAME, HKID, PHONE]),
    "word/glossary/document.xml": (
        f"<w:glossaryDocument {W}><w:docParts><w:docPart><w:docPartBody><w:p><w:r>"
        f"<w:t>{PII}</w:t></w:r></w:p></w:docPartBody></w:docPart></w:docParts>"
        "</w:glossaryDocument>"
    ),
    "word/diagrams/data1.xml": (
        '<dgm:dataModel xmlns:dgm="http://schemas.openxmlformats.org/drawingml/2006/diagram" '
        f'{A}><dgm:ptLst><dgm:pt modelId="1"><dgm:t><a:p><a:r><a:t>{PII}</a:t></a:r></a:p>'
        "</dgm:t></dgm:pt></dgm:ptLst></dgm:dataModel>"
    ),
    "word/somethingNew.xml": f"<new><a>{NAME}</a><b>{HKID}</b> tel {PHONE}</new>",
    # A header no section references: Word does not show it, but it leaves with the file.
    "word/header9.xml": f"<w:hdr {W}><w:p><w:r><w:t>{PII}</w:t></w:r></w:p></w:hdr>",
}


@pytest.mark.parametrize("part", sorted(DOCX_PARTS))
def test_docx_part_no_story_holds_is_inspected(inspector: Inspector, part: str) -> None:
    data = with_parts(make_docx(["Dear Ann,"]), {part: DOCX_PARTS[part]})
    assert found(inspector, "a.docx", data) == {f"#{part}": expected()}


def test_docx_core_properties_are_inspected(inspector: Inspector) -> None:
    document = docx.Document()
    document.add_paragraph("Dear Ann,")
    document.core_properties.author = NAME
    document.core_properties.title = f"HKID {HKID}"
    document.core_properties.keywords = f"tel {PHONE}"
    buf = io.BytesIO()
    document.save(buf)
    assert found(inspector, "a.docx", buf.getvalue()) == {"#docProps/core.xml": expected()}


def test_docx_text_free_parts_are_not_read(inspector: Inspector) -> None:
    # Styles, settings, theme, fonts... are on the allow-list: their text is no user text.
    data = make_docx(["Dear Ann,"])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = [i.filename for i in zf.infolist()]
    extraction = inspector.inspect_file("a.docx", data).extraction
    read = {u.where.removeprefix("attachment:a.docx#") for u in extraction.units}
    assert read == {"body", "docProps/app.xml", "docProps/core.xml", "file names"}
    skipped = {n for n in names if TEXT_FREE.fullmatch(n.lower())}
    assert {"word/styles.xml", "word/settings.xml", "[Content_Types].xml"} <= skipped


def workbook(**sheets: list[list[object]]) -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    return book


def saved(book: openpyxl.Workbook) -> bytes:
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_cell_comment_and_properties_are_inspected(inspector: Inspector) -> None:
    book = workbook(S=[["id"], ["1"]])
    book["S"]["A2"].comment = Comment(PII, "clerk")
    book.properties.creator = NAME
    book.properties.title = f"HKID {HKID}"
    book.properties.keywords = PHONE
    assert found(inspector, "a.xlsx", saved(book)) == {
        "#xl/comments/comment1.xml": expected(),
        "#docProps/core.xml": expected(),
    }


def test_xlsx_table_headings_are_inspected(inspector: Inspector) -> None:
    book = workbook(S=[[NAME, HKID, PHONE], ["a", "b", "c"]])
    book["S"].add_table(Table(displayName="Register", ref="A1:C2"))
    places = found(inspector, "a.xlsx", saved(book))
    # The cells once, through calamine, and the headings the table part repeats.
    assert places == {"#S!R1": expected(), "#xl/tables/table1.xml": expected()}


PIVOT = {
    # A copy of the source data, kept when the source sheet is deleted: values are attributes.
    "xl/pivotCache/pivotCacheRecords1.xml": (
        f'<pivotCacheRecords {X} count="1"><r><s v="{NAME}"/><s v="{HKID}"/><x v="0"/>'
        f'<s v="{PHONE}"/></r></pivotCacheRecords>'
    ),
    "xl/pivotCache/pivotCacheDefinition1.xml": (
        f'<pivotCacheDefinition {X}><cacheFields count="1"><cacheField name="applicant">'
        f'<sharedItems><s v="{NAME}"/><s v="{HKID}"/><s v="{PHONE}"/></sharedItems>'
        "</cacheField></cacheFields></pivotCacheDefinition>"
    ),
    "xl/charts/chart1.xml": chart([NAME, HKID, PHONE]),
    "xl/threadedComments/threadedComment1.xml": (
        '<ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/'
        f'threadedcomments"><threadedComment ref="A1"><text>{PII}</text></threadedComment>'
        "</ThreadedComments>"
    ),
    "xl/externalLinks/externalLink1.xml": (
        f'<externalLink {X}><externalBook><sheetDataSet><sheetData sheetId="0"><row r="1">'
        f'<cell r="A1" t="str"><v>{NAME}</v></cell><cell r="B1" t="str"><v>{HKID}</v></cell>'
        f'<cell r="C1" t="str"><v>{PHONE}</v></cell></row></sheetData></sheetDataSet>'
        "</externalBook></externalLink>"
    ),
    "xl/unknown/part1.xml": f"<x><y>{PII}</y></x>",
    "customXml/item1.xml": f"<form><applicant>{PII}</applicant></form>",
    # A worksheet the workbook does not list: calamine does not read it, read_rest does.
    "xl/worksheets/sheet9.xml": (
        f'<worksheet {X}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{PII}</t>'
        "</is></c></row></sheetData></worksheet>"
    ),
}


@pytest.mark.parametrize("part", sorted(PIVOT))
def test_xlsx_part_calamine_does_not_read_is_inspected(inspector: Inspector, part: str) -> None:
    data = with_parts(make_xlsx({"S": [["id"], ["1"]]}), {part: PIVOT[part]})
    assert found(inspector, "a.xlsx", data) == {f"#{part}": expected()}


def _declared(xml: bytes) -> str:
    return xml.decode().split("?>", 1)[-1].strip()


def shared_strings_book() -> bytes:
    """An openpyxl workbook whose sheet's cells are shared strings (as Excel writes them)."""
    data = saved(workbook(S=[["x"]]))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        rels = _declared(zf.read("xl/_rels/workbook.xml.rels"))
        types = _declared(zf.read("[Content_Types].xml"))
    relation = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
    rels = rels.replace(
        "</Relationships>",
        f'<Relationship Id="rId99" Type="{relation}" Target="sharedStrings.xml"/></Relationships>',
    )
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    types = types.replace(
        "</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}"/></Types>'
    )
    strings = "".join(f"<si><t>{v}</t></si>" for v in (NAME, HKID, PHONE))
    sheet = (
        f'<worksheet {X}><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c>'
        '<c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c></row>'
        "</sheetData></worksheet>"
    )
    return with_parts(
        data,
        {
            "xl/_rels/workbook.xml.rels": rels,
            "[Content_Types].xml": types,
            "xl/sharedStrings.xml": f'<sst {X} count="3" uniqueCount="3">{strings}</sst>',
            "xl/worksheets/sheet1.xml": sheet,
        },
    )


def test_xlsx_cells_are_read_once(inspector: Inspector) -> None:
    # Shared strings and the listed worksheets are calamine's: not read a second time.
    assert found(inspector, "a.xlsx", shared_strings_book()) == {
        "#S!R1": {f"name_en={NAME}", f"hkid={HKID}"},
        "#S!R2": {f"phone={PHONE}"},
    }


def test_pptx_properties_comments_and_layouts_are_inspected(inspector: Inspector) -> None:
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Agenda"
    deck.core_properties.author = PII
    buf = io.BytesIO()
    deck.save(buf)
    comment = (
        '<p:cmLst xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
        f'<p:cm authorId="0"><p:text>{PII}</p:text></p:cm></p:cmLst>'
    )
    data = with_parts(
        buf.getvalue(),
        {"ppt/comments/comment1.xml": comment, "ppt/charts/chart1.xml": chart([PII])},
    )
    assert found(inspector, "a.pptx", data) == {
        "#docProps/core.xml": expected(),
        "#ppt/comments/comment1.xml": expected(),
        "#ppt/charts/chart1.xml": expected(),
    }


def test_external_hyperlink_address_is_read(inspector: Inspector) -> None:
    # The address of a hyperlink is no element text: read from its relationship.
    address = f"https://x.example/a?who={HKID}"
    rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/hyperlink" Target="{address}" TargetMode="External"/></Relationships>'
    )
    data = with_parts(make_docx(["Dear Ann,"]), {"word/_rels/header9.xml.rels": rels})
    extraction = inspector.inspect_file("a.docx", data).extraction
    assert ("attachment:a.docx#word/_rels/header9.xml.rels", address) in [
        (u.where, u.text) for u in extraction.units
    ]


def _xml_parts() -> list[bytes]:
    """Every XML part of made office files and of the hostile-office corpus."""
    book = workbook(S=[[NAME, HKID]])
    book["S"]["A1"].comment = Comment(PII, "clerk")
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = PII
    made = [
        with_parts(make_docx(["Dear Ann,"]), DOCX_PARTS),
        with_parts(saved(book), PIVOT),
        shared_strings_book(),
    ]
    buf = io.BytesIO()
    deck.save(buf)
    made.append(buf.getvalue())
    corpus = Path(__file__).resolve().parents[2] / "corpora" / "poi-hostile-office" / "files"
    files = [*made, *(p.read_bytes() for p in sorted(corpus.rglob("*.[dxp][oplx][cst][xm]")))]
    parts = []
    for data in files:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in zf.infolist():
                    if info.filename.lower().endswith((".xml", ".rels", ".vml")):
                        parts.append(zf.read(info))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            continue
    return parts


# Read and unread attributes, with and without a prefix (``w:author`` is read, ``w:val`` not).
_ATTRIBUTE_NAMES = (
    "v name displayName id TargetMode Target descr title userId w:author w15:author w15:userId "
    "w:val"
).split()


def _generated(rng: random.Random) -> bytes:
    """A random part: nesting, tails, CDATA, entities, read and unread attributes."""
    words = [NAME, HKID, PHONE, "12", "false", " ", "a&amp;b", "x > y"]

    def element(depth: int) -> str:
        tag = rng.choice(["a", "s", "x", "c:v"])
        names = rng.sample(_ATTRIBUTE_NAMES, 2)
        attrs = "".join(
            f' {n}="{rng.choice([*words, "External"])}"' for n in names[: rng.randrange(3)]
        )
        body = rng.choice(["", rng.choice(words), f"<![CDATA[{rng.choice(words)}]]>"])
        if depth < 4:
            for _ in range(rng.randrange(3)):
                body += element(depth + 1) + rng.choice(["", "", rng.choice(words)])
        return f"<{tag}{attrs}>{body}</{tag}>"

    namespaces = (
        'xmlns:c="urn:c" xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
        ' xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml"'
    )
    return f"<root {namespaces}>{element(0)}</root>".encode()


def test_parsed_whole_or_streamed_a_part_reads_the_same() -> None:
    rng = random.Random(14)
    parts = [*_xml_parts(), *(_generated(rng) for _ in range(400))]
    read = skipped = 0
    for xml in parts:
        try:
            streamed = list(part_texts(io.BytesIO(xml)))
        except ParseError:
            # A part with no text at all is not parsed whole, so not found malformed either.
            try:
                assert list(part_texts(xml)) == [], xml[:300]
            except ParseError:
                pass
            continue
        whole = list(part_texts(xml))
        assert whole == streamed, xml[:300]
        read += bool(streamed)
        skipped += not may_hold_text(xml)
    assert read > 300
    assert skipped > 20


def test_excel_vml_with_html_breaks_is_read(inspector: Inspector) -> None:
    # Excel 2007 writes HTML's <br> into VML: read as <br/>, as Excel and Apache POI do.
    vml = (
        '<xml xmlns:v="urn:schemas-microsoft-com:vml"><v:shape><v:textbox><div>'
        f"{NAME}<br>{HKID}<br>{PHONE}</div></v:textbox></v:shape></xml>"
    )
    data = with_parts(make_xlsx({"S": [["id"]]}), {"xl/drawings/vmlDrawing1.vml": vml})
    assert found(inspector, "a.xlsx", data) == {"#xl/drawings/vmlDrawing1.vml": expected()}


def test_opendocument_metadata_is_inspected(inspector: Inspector) -> None:
    office = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    manifest = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr(
            "content.xml",
            f"{XML}<office:document-content {office}><office:body><office:text>Dear Ann,"
            "</office:text></office:body></office:document-content>",
        )
        zf.writestr(
            "meta.xml",
            f'{XML}<office:document-meta {office} xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<office:meta><dc:creator>{PII}</dc:creator></office:meta></office:document-meta>",
        )
        zf.writestr(
            "META-INF/manifest.xml",
            f'{XML}<manifest:manifest xmlns:manifest="{manifest}"><manifest:file-entry '
            'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"'
            "/></manifest:manifest>",
        )
    assert found(inspector, "a.odt", out.getvalue()) == {"#meta.xml": expected()}


# `may_hold_text` as two patterns said it before its searches began with literals.
_TEXT_OR_CDATA = re.compile(rb">\s*+[^<\s]|<!\[CDATA\[")
_READ_ATTRIBUTE = re.compile(
    rb"\s(?:v|name|displayName|descr|title|alt|TargetMode)\s*+=|[\s:](?:author|userId)\s*+="
)


def test_literal_searches_tell_text_as_the_patterns_told_it() -> None:
    rng = random.Random(15)
    parts = [*_xml_parts(), *(_generated(rng) for _ in range(400))]
    pieces = [b" ", b"\t", b"\n", b"=", b" =", b"v", b"name", b"Name", b"displayName", b">", b"<"]
    pieces += [b"TargetMode", b"<![CDATA[", b"x", b"vv", b"nname", b"\x0b", b"\xe4"]
    pieces += [b"descr", b"title", b"tititle", b"alt", b"author", b"userId", b":", b"w:"]
    made = [b"".join(rng.choices(pieces, k=rng.randrange(1, 12))) for _ in range(20_000)]
    # Each answer, where some whitespace stands before an ``=`` (names searched one by one)
    # and where none does (the attributes found at their ``=``).
    told = dict.fromkeys([(True, True), (True, False), (False, True), (False, False)], 0)
    for xml in [*parts, *made]:
        expected = bool(_TEXT_OR_CDATA.search(xml) or _READ_ATTRIBUTE.search(xml))
        assert may_hold_text(xml) is expected, xml[:300]
        told[expected, re.search(rb"\s=", xml) is not None] += 1
    assert min(told.values()) > 1_000, told
