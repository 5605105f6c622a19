"""Parts imported into a docx (``w:altChunk``: Word shows their html, rtf, mht or text where
they are referenced) are read as files of their own, not left unread."""

from __future__ import annotations

import io
import time
import zipfile

from tests.factories import DOCX_PROPERTIES, make_docx

from postwarden.engine.extract import extract_file
from postwarden.settings import Limits

PII = "CHAN Tai Man A123456(3)"
RELATIONSHIP = (
    '<Relationship Id="rIdAlt" Target="{target}" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/aFChunk"/>'
)


def _with_import(name: str, content: bytes, target: str = "") -> bytes:
    """A docx whose body imports ``content`` as part ``name`` (``target``: where its
    relationship points, the part by default)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx(["Dear Ann,"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/_rels/document.xml.rels":
                rel = RELATIONSHIP.format(target=target or name.removeprefix("word/"))
                data = data.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:sectPr", b'<w:altChunk r:id="rIdAlt"/><w:sectPr', 1)
            package.writestr(info, data)
        package.writestr(name, content)
    return out.getvalue()


def _units(data: bytes) -> list[tuple[str, str]]:
    extraction = extract_file("a.docx", data, Limits(), time.monotonic() + 60)
    assert extraction.findings == []
    return [(u.where, u.text) for u in extraction.units]


def test_an_imported_html_part_is_read() -> None:
    html = f"<html><body><p>{PII}</p></body></html>".encode()
    units = _units(_with_import("word/afchunk.htm", html))
    assert ("attachment:a.docx#body", "Dear Ann,") in units
    assert [w for w, text in units if PII in text] == ["attachment:a.docx/word/afchunk.htm"]


def test_an_imported_text_and_docx_are_read() -> None:
    text = _units(_with_import("word/import.txt", PII.encode()))
    assert any(PII in t for _w, t in text)
    nested = _units(_with_import("word/afchunk.docx", make_docx([PII])))
    assert ("attachment:a.docx/word/afchunk.docx#body", PII) in nested


def test_an_import_whose_part_is_missing_imports_nothing() -> None:
    units = _units(_with_import("word/other.htm", b"<p>x</p>", target="missing.htm"))
    # The document properties of python-docx's template are read like any part with text.
    assert units == [
        ("attachment:a.docx#body", "Dear Ann,"),
        *((f"attachment:a.docx{where}", text) for where, text, _cells in DOCX_PROPERTIES),
        ("file names", "a .docx"),  # the file's own name, read as words
    ]
