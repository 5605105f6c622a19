"""What a person types into a pdf's annotations is inspected: a sticky note's or a free-text
box's text, its author, and a filled-in form field's value (a reply slip's name and phone).
PDFium's text layer holds none of them, yet every viewer shows them."""

from __future__ import annotations

import io

import pypdfium2
import pytest
from fpdf import FPDF
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    TextStringObject,
)

from postwarden.engine import Inspector
from postwarden.engine.extract import extract_file
from postwarden.engine.extract.pdf import _text
from postwarden.settings import Limits

NAME, HKID, PHONE = "CHAN Tai Man", "A123456(3)", "9123 4567"


def _annotated() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Committee reply slip")
    pdf.text_annotation(x=20, y=40, text=f"Applicant {NAME}", title="Clerk WONG Siu Ming")
    pdf.free_text_annotation(text=f"HKID {HKID}", x=20, y=60, w=80, h=10)
    return bytes(pdf.output())


def _form(parent: bool) -> bytes:
    """A one-page pdf with a filled text field: its value on the widget, or (``parent``) on
    a field with the widget as its kid, as a field with several widgets keeps it."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Reply slip: phone")
    writer = PdfWriter(clone_from=io.BytesIO(bytes(pdf.output())))
    page = writer.pages[0]
    widget = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Widget"),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (50, 700, 250, 720)]),
            NameObject("/F"): NumberObject(4),
        }
    )
    field = DictionaryObject(
        {
            NameObject("/FT"): NameObject("/Tx"),
            NameObject("/T"): TextStringObject("phone"),
            NameObject("/V"): TextStringObject(PHONE),
        }
    )
    if parent:
        widget_ref = writer._add_object(widget)
        field[NameObject("/Kids")] = ArrayObject([widget_ref])
        field_ref = writer._add_object(field)
        widget[NameObject("/Parent")] = field_ref
    else:
        widget.update(field)
        widget_ref = field_ref = writer._add_object(widget)
    page[NameObject("/Annots")] = ArrayObject([widget_ref])
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject([field_ref])}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _texts(data: bytes) -> dict[str, str]:
    return {u.where: u.text for u in extract_file("x.pdf", data, Limits(), 1e12).units}


def test_notes_free_text_and_their_authors_are_read() -> None:
    texts = _texts(_annotated())
    assert NAME not in texts["attachment:x.pdf#page 1"]
    notes = texts["attachment:x.pdf#annotations page 1"].splitlines()
    assert f"Applicant {NAME}" in notes
    assert f"HKID {HKID}" in notes
    assert "Clerk WONG Siu Ming" in notes


@pytest.mark.parametrize("parent", [False, True], ids=["on the widget", "on its field"])
def test_a_filled_form_fields_value_is_read(parent: bool) -> None:
    notes = _texts(_form(parent))["attachment:x.pdf#annotations page 1"].splitlines()
    assert PHONE in notes


def test_a_filled_reply_slip_is_found() -> None:
    verdict = Inspector().inspect_file("slip.pdf", _annotated()).verdict
    found = {f.detector for f in verdict.findings}
    assert {"hkid", "name_en"} <= found


def test_a_page_without_annotations_has_no_annotation_unit() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Nothing else")
    assert list(_texts(bytes(pdf.output()))) == ["attachment:x.pdf#page 1", "file names"]


def test_a_page_listing_an_annotation_thousands_of_times_looks_at_the_clock() -> None:
    # One small object listed 5,000 times: a 50 MB file could list it millions of times, and
    # reading them must stop at the message's deadline, not at the end of the page.
    pdf = FPDF()
    pdf.add_page()
    writer = PdfWriter(clone_from=io.BytesIO(bytes(pdf.output())))
    note = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Text"),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (0, 0, 10, 10)]),
            NameObject("/Contents"): TextStringObject(NAME),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(note)] * 5_000)
    out = io.BytesIO()
    writer.write(out)
    looks: list[None] = []
    document = pypdfium2.PdfDocument(out.getvalue())
    try:
        _, notes = _text(document, 0, lambda: looks.append(None))
    finally:
        document.close()
    assert notes == NAME
    assert len(looks) >= 5_000 // 1024
