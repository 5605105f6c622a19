"""Text that office packages keep in attributes rather than in element text: who made a
Word comment or tracked change, the people of ``word/people.xml`` and of a workbook or
deck, a picture's alt text, Word's document variables.  Each is inspected, one line per
value, under its own place: it leaves with the file like any paragraph.  Files are made by
their own libraries (python-docx, python-pptx, openpyxl), their XML edited where the
library writes no such attribute."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pptx
import pytest
from openpyxl.comments import Comment
from openpyxl.drawing.image import Image as SheetImage
from PIL import Image
from pptx.util import Inches
from tests.engine.extract.test_hidden_parts import (
    HKID,
    NAME,
    PHONE,
    PII,
    expected,
    found,
    saved,
    with_parts,
    workbook,
)
from tests.factories import make_docx

from postwarden.engine import Inspector
from postwarden.engine.extract import office

EMAIL = "chan.taiman@example.com.hk"
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
W15 = 'xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml"'


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector()


def png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, "PNG")
    out.seek(0)
    return out


def edited(data: bytes, part: str, old: str, new: str) -> bytes:
    """The package with ``old`` replaced by ``new`` (once, and it must be there) in ``part``."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read(part).decode()
    assert old in xml, xml[:2000]
    return with_parts(data, {part: xml.split("?>", 1)[-1].replace(old, new, 1)})


def saved_docx(document: docx.document.Document) -> bytes:
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_picture_alt_text_in_body_and_header_is_inspected(inspector: Inspector) -> None:
    document = docx.Document()
    document.add_paragraph("Dear Ann,")
    document.add_picture(png())
    document.sections[0].header.paragraphs[0].add_run().add_picture(png())
    data = saved_docx(document)
    data = edited(data, "word/document.xml", 'name="Picture 1"', f'name="Picture 1" descr="{PII}"')
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = next(n for n in zf.namelist() if re.fullmatch(r"word/header\d*\.xml", n))
    data = edited(data, header, "<pic:cNvPr ", f'<pic:cNvPr title="{PII}" ')
    assert found(inspector, "a.docx", data) == {
        "#alt text": expected(),
        "#alt text in header": expected(),
    }


def test_docx_vml_shape_alt_text_and_picture_title_are_inspected(inspector: Inspector) -> None:
    vml = (
        '<w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" '
        'xmlns:o="urn:schemas-microsoft-com:office:office" id="s1" '
        f'alt="{NAME}" style="width:10pt;height:10pt"><v:imagedata o:title="{HKID} {PHONE}"/>'
        "</v:shape></w:pict></w:r>"
    )
    data = edited(make_docx(["Dear Ann,"]), "word/document.xml", "</w:p>", f"{vml}</w:p>")
    extraction = inspector.inspect_file("a.docx", data).extraction
    units = {u.where.removeprefix("attachment:a.docx#"): u.text for u in extraction.units}
    assert units["alt text"] == f"{NAME}\n{HKID} {PHONE}"
    assert found(inspector, "a.docx", data) == {"#alt text": expected()}


def test_docx_tracked_change_authors_are_inspected_once_each(inspector: Inspector) -> None:
    # An insertion, a deletion and a formatting change by one author: one line.
    change = (
        f'<w:ins w:id="1" w:author="{PII}" w:date="2024-01-01T00:00:00Z"><w:r><w:t>x</w:t>'
        f'</w:r></w:ins><w:del w:id="2" w:author="{PII}"><w:r><w:delText>y</w:delText></w:r>'
        f'</w:del><w:r><w:rPr><w:b/><w:rPrChange w:id="3" w:author="{PII}"><w:rPr/>'
        "</w:rPrChange></w:rPr><w:t>z</w:t></w:r></w:p>"
    )
    data = edited(make_docx(["Dear Ann,"]), "word/document.xml", "</w:p>", change)
    extraction = inspector.inspect_file("a.docx", data).extraction
    authors = [u.text for u in extraction.units if u.where.endswith("#authors")]
    assert authors == [PII]
    assert found(inspector, "a.docx", data) == {"#authors": expected()}


def test_docx_comment_author_is_inspected(inspector: Inspector) -> None:
    document = docx.Document()
    paragraph = document.add_paragraph("Dear Ann,")
    document.add_comment(paragraph.runs, text="check", author=PII, initials="CTM")
    assert found(inspector, "a.docx", saved_docx(document)) == {"#authors in comments": expected()}


def test_docx_people_part_is_inspected(inspector: Inspector) -> None:
    people = (
        f'<w15:people {W15}><w15:person w15:author="{PII}"><w15:presenceInfo '
        f'w15:providerId="AD" w15:userId="S::{EMAIL}::4f2c"/></w15:person></w15:people>'
    )
    data = with_parts(make_docx(["Dear Ann,"]), {"word/people.xml": people})
    assert found(inspector, "a.docx", data) == {"#word/people.xml": {*expected(), f"email={EMAIL}"}}


def test_docx_document_variables_are_inspected(inspector: Inspector) -> None:
    variables = f'<w:docVars><w:docVar w:name="Client" w:val="{PII}"/></w:docVars></w:settings>'
    data = edited(make_docx(["Dear Ann,"]), "word/settings.xml", "</w:settings>", variables)
    extraction = inspector.inspect_file("a.docx", data).extraction
    units = {u.where.removeprefix("attachment:a.docx#"): u.text for u in extraction.units}
    assert units["document variables"] == f"Client\n{PII}"
    assert found(inspector, "a.docx", data) == {"#document variables": expected()}


def test_docx_settings_without_variables_make_no_unit(inspector: Inspector) -> None:
    extraction = inspector.inspect_file("a.docx", make_docx(["Dear Ann,"])).extraction
    assert not [u for u in extraction.units if "variables" in u.where]


def test_pptx_picture_alt_text_and_author_ids_are_inspected(inspector: Inspector) -> None:
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    picture = slide.shapes.add_picture(png(), Inches(1), Inches(1))
    picture._element.nvPicPr.cNvPr.set("descr", PII)
    buf = io.BytesIO()
    deck.save(buf)
    authors = (
        '<p188:authorLst xmlns:p188="http://schemas.microsoft.com/office/powerpoint/2018/8/main">'
        f'<p188:author id="{{1}}" name="Ann" initials="A" userId="{EMAIL}" providerId="AD"/>'
        "</p188:authorLst>"
    )
    data = with_parts(buf.getvalue(), {"ppt/authors.xml": authors})
    assert found(inspector, "a.pptx", data) == {
        "#ppt/slides/slide1.xml": expected(),
        "#ppt/authors.xml": {f"email={EMAIL}"},
    }


def test_xlsx_drawing_alt_text_and_person_ids_are_inspected(inspector: Inspector) -> None:
    book = workbook(S=[["id"], ["1"]])
    book["S"].add_image(SheetImage(png()), "C3")
    data = saved(book)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        drawing = next(n for n in zf.namelist() if n.startswith("xl/drawings/drawing"))
    data = edited(data, drawing, 'descr="Picture"', f'descr="{PII}"')  # xdr:cNvPr
    persons = (
        '<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        f'<person displayName="Ann" id="{{1}}" userId="{EMAIL}" providerId="AD"/></personList>'
    )
    data = with_parts(data, {"xl/persons/person.xml": persons})
    assert found(inspector, "a.xlsx", data) == {
        f"#{drawing}": expected(),
        "#xl/persons/person.xml": {f"email={EMAIL}"},
    }


def test_xlsx_legacy_comment_author_is_inspected(inspector: Inspector) -> None:
    # The author of a note is element text (``<authors><author>``), read with the part.
    book = workbook(S=[["id"], ["1"]])
    book["S"]["A2"].comment = Comment("checked", PII)
    assert found(inspector, "a.xlsx", saved(book)) == {"#xl/comments/comment1.xml": expected()}


def test_pptx_comment_author_name_is_inspected(inspector: Inspector) -> None:
    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[6])
    buf = io.BytesIO()
    deck.save(buf)
    authors = (
        '<p:cmAuthorLst xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
        f'<p:cmAuthor id="0" name="{PII}" initials="CTM" lastIdx="1" clrIdx="0"/>'
        "</p:cmAuthorLst>"
    )
    data = with_parts(buf.getvalue(), {"ppt/commentAuthors.xml": authors})
    assert found(inspector, "a.pptx", data) == {"#ppt/commentAuthors.xml": expected()}


def test_docx_document_variables_are_read_in_every_file(
    inspector: Inspector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings without variables are remembered so (not inflated again); settings with
    # them are read each time, and a template's plain settings do not hide a filled one.
    remembered = office.Verified(10_000)
    monkeypatch.setattr(office, "VERIFIED", remembered)
    plain = make_docx(["Dear Ann,"])
    variables = f'<w:docVars><w:docVar w:name="Client" w:val="{PII}"/></w:docVars></w:settings>'
    filled = edited(plain, "word/settings.xml", "</w:settings>", variables)
    for data, places in [(plain, {}), (filled, {"#document variables": expected()})] * 2:
        assert found(inspector, "a.docx", data) == places
    assert remembered.hits > 0


def test_docx_settings_of_another_name_give_their_variables(inspector: Inspector) -> None:
    # Word finds the settings through the main document's relationship, whatever its name.
    variables = f'<w:docVars><w:docVar w:name="Client" w:val="{PII}"/></w:docVars></w:settings>'
    data = edited(make_docx(["Dear Ann,"]), "word/settings.xml", "</w:settings>", variables)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    parts["word/mySettings.xml"] = parts.pop("word/settings.xml")
    rels = "word/_rels/document.xml.rels"
    parts[rels] = parts[rels].replace(b'Target="settings.xml"', b'Target="mySettings.xml"')
    types = "[Content_Types].xml"
    parts[types] = parts[types].replace(b"/word/settings.xml", b"/word/mySettings.xml")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    places = found(inspector, "a.docx", out.getvalue())
    assert places["#document variables"] == expected()
