"""The streaming docx reader: the places and texts python-docx would give, plus the content
it skips (content controls, insertions), the main part as Word finds it, and macro-enabled
documents."""

from __future__ import annotations

import io
import time
import zipfile

import docx
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_BREAK
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Inches
from lxml import etree
from tests.factories import DOCX_PROPERTIES, make_docx, make_eml, make_zip

from postwarden.engine.extract import Extraction, extract
from postwarden.engine.parse import parse_message
from postwarden.settings import Limits

LIMITS = Limits()
WHERE = "attachment:slip.docx"


def run(data: bytes) -> Extraction:
    raw = make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="slip",
        body="attached",
        attachments=[("slip.docx", data, "application/octet-stream")],
    )
    return extract(parse_message(raw, None, LIMITS), LIMITS, time.monotonic() + 60)


def units(extraction: Extraction) -> list[tuple[str, str, tuple[str, ...] | None]]:
    return [
        (u.where.removeprefix(WHERE), u.text, u.cells)
        for u in extraction.units
        if u.where.startswith(WHERE)
    ]


def saved(document: docx.document.Document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_runs_merged_cells_nested_tables_sections_comments() -> None:
    doc = docx.Document()
    doc.add_paragraph("Applicant CHAN Tai Man")
    para = doc.add_paragraph("HKID ")
    para.add_run("A123456(3)\tphone")
    para.add_run().add_break()
    para.add_run("after line break")
    para.add_run().add_break(WD_BREAK.PAGE)
    table = doc.add_table(rows=3, cols=3)
    for r in range(3):
        for c in range(3):
            table.cell(r, c).text = f"r{r}c{c}"
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(1, 2).merge(table.cell(2, 2))
    inner = table.cell(2, 0).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "陳大文"
    inner.cell(0, 1).text = "91234567"
    doc.add_comment(doc.paragraphs[0].runs, text="check 2891 1001", author="clerk")
    first = doc.sections[0]
    first.header.paragraphs[0].text = "Header one"
    first.different_first_page_header_footer = True
    first.first_page_header.paragraphs[0].text = "First page header"
    footer = first.footer.add_table(rows=1, cols=2, width=Inches(4))
    footer.cell(0, 0).text = "ref"
    footer.cell(0, 1).text = "A1234563"
    second = doc.add_section(WD_SECTION.NEW_PAGE)
    doc.add_paragraph("section two")
    second.header.is_linked_to_previous = False
    second.header.paragraphs[0].text = "Header two"

    assert units(run(saved(doc))) == [
        # A cell spanning two grid columns counts once; a vertically merged cell repeats.
        ("#table 1!R1", "r0c0 r0c1 | r0c2", ("r0c0 r0c1", "r0c2")),
        ("#table 1!R2", "r1c0 | r1c1 | r1c2 r2c2", ("r1c0", "r1c1", "r1c2 r2c2")),
        ("#table 2!R1", "陳大文 | 91234567", ("陳大文", "91234567")),
        ("#table 1!R3", "r2c0 | r2c1 | r1c2 r2c2", ("r2c0", "r2c1", "r1c2 r2c2")),
        (
            "#body",
            "Applicant CHAN Tai Man\nHKID A123456(3)\tphone\nafter line break\nsection two",
            None,
        ),
        ("#header", "Header one", None),
        ("#first page header", "First page header", None),
        ("#table 3 in footer!R1", "ref | A1234563", ("ref", "A1234563")),
        # Section 2 defines its own header only; its footer is the first section's.
        ("#header 2", "Header two", None),
        ("#comments", "check 2891 1001", None),
        ("#authors in comments", "clerk", None),  # who wrote the comment
        *DOCX_PROPERTIES,
    ]


def test_docx_content_controls_insertions_and_text_boxes_are_read() -> None:
    doc = docx.Document()
    doc.add_paragraph("Reply slip")
    body = doc.element.body
    # A form field (block content control) and a tracked insertion: python-docx's
    # paragraph text skips both, and so would a reader built on it.
    control = parse_xml(
        f"<w:sdt {nsdecls('w')}><w:sdtContent><w:p><w:r><w:t>Name: CHAN Tai Man</w:t>"
        "</w:r></w:p></w:sdtContent></w:sdt>"
    )
    body.insert(1, control)
    inserted = parse_xml(
        f'<w:ins {nsdecls("w")} w:id="1" w:author="x"><w:r><w:t>A123456(3)</w:t></w:r></w:ins>'
    )
    doc.paragraphs[0]._p.append(inserted)
    box = parse_xml(
        f'<w:r {nsdecls("w")} xmlns:v="urn:schemas-microsoft-com:vml"><w:pict><v:shape>'
        "<v:textbox><w:txbxContent><w:p><w:r><w:t>Tel 91234567</w:t></w:r></w:p>"
        "</w:txbxContent></v:textbox></v:shape></w:pict></w:r>"
    )
    doc.add_paragraph("see box")._p.append(box)

    assert units(run(saved(doc))) == [
        ("#body", "Reply slipA123456(3)\nName: CHAN Tai Man\nsee box", None),
        ("#text boxes", "Tel 91234567", None),
        ("#authors", "x", None),  # who made the tracked insertion
        *DOCX_PROPERTIES,
    ]


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def test_docx_main_part_is_the_one_word_opens() -> None:
    # Word follows the package relationship, not the usual name: a decoy word/document.xml
    # must not hide the document that the recipient sees.
    members = _members(make_docx(["HKID A123456(3)"]))
    decoy = _members(make_docx(["nothing to see"]))["word/document.xml"]
    members["word/main.xml"] = members.pop("word/document.xml")
    members["word/_rels/main.xml.rels"] = members.pop("word/_rels/document.xml.rels")
    members["word/document.xml"] = decoy
    members["_rels/.rels"] = members["_rels/.rels"].replace(b"word/document.xml", b"word/main.xml")
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"/word/document.xml", b"/word/main.xml"
    )
    # The decoy is read too, as a part no reader of the format reads: it leaves with the file.
    assert units(run(make_zip(members))) == [
        ("#body", "HKID A123456(3)", None),
        *DOCX_PROPERTIES,
        ("#word/document.xml", "nothing to see", None),
    ]


def test_docx_without_its_main_part_is_uninspectable() -> None:
    members = _members(make_docx(["HKID A123456(3)"]))
    members["_rels/.rels"] = members["_rels/.rels"].replace(
        b"word/document.xml", b"word/missing.xml"
    )
    ex = run(make_zip(members))
    assert {f.where: f.detail for f in ex.findings} == {
        WHERE: "corrupt docx document: no main document part"
    }


def test_docx_macro_enabled_document_is_read() -> None:
    members = _members(make_docx(["HKID A123456(3)"], header=["陳大文"]))
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"wordprocessingml.document.main+xml", b"ms-word.document.macroEnabled.main+xml"
    )
    ex = run(make_zip(members))
    assert ex.findings == []
    assert units(ex) == [
        ("#body", "HKID A123456(3)", None),
        ("#header", "陳大文", None),
        *DOCX_PROPERTIES,
    ]


def test_docx_footnote_runs_join_into_words() -> None:
    # A name split over two runs ("CHAN" + " Tai Man") must stay one name for the detectors.
    members = _members(make_docx(["see note"]))
    note = parse_xml(
        f'<w:footnotes {nsdecls("w")}><w:footnote w:id="0" w:type="separator"><w:p><w:r>'
        '<w:separator/></w:r></w:p></w:footnote><w:footnote w:id="1"><w:p><w:r><w:t>Applicant'
        ' CHAN</w:t></w:r><w:r><w:t xml:space="preserve"> Tai Man</w:t></w:r></w:p></w:footnote>'
        "</w:footnotes>"
    )
    members["word/footnotes.xml"] = etree.tostring(note, xml_declaration=True, encoding="UTF-8")
    assert units(run(make_zip(members))) == [
        ("#body", "see note", None),
        ("#footnotes", "Applicant CHAN Tai Man", None),
        *DOCX_PROPERTIES,
    ]


def test_docx_deleted_revisions_and_comments_are_read() -> None:
    """Tracked deletions stay in the file and leave with it (issue 11)."""
    document = docx.Document()
    paragraph = document.add_paragraph("Member: ")
    paragraph._p.append(
        parse_xml(
            f'<w:del {nsdecls("w")} w:id="1" w:author="clerk" w:date="2026-03-02T09:00:00Z">'
            "<w:r><w:delText>CHAN Tai Man A123456(3)</w:delText></w:r></w:del>"
        )
    )
    paragraph.add_run("removed")
    document.add_comment(paragraph.runs[0], text="his phone is 9123 4567", author="clerk")
    got = units(run(saved(document)))
    assert ("#body", "Member: CHAN Tai Man A123456(3)removed", None) in got
    assert ("#comments", "his phone is 9123 4567", None) in got
