"""Extraction per format, with the place of every unit asserted."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import time
import zipfile

import pytest
from PIL import Image
from tests.factories import (
    make_csv,
    make_docx,
    make_eml,
    make_msg,
    make_pdf,
    make_xlsx,
    make_zip,
    pdf_font,
)

from postwarden.engine.extract import Extraction, Kind, extract, sniff
from postwarden.engine.parse import parse_message
from postwarden.model import TextUnit
from postwarden.settings import Limits

LIMITS = Limits()


def run(raw: bytes, limits: Limits = LIMITS) -> Extraction:
    return extract(parse_message(raw, None, limits), limits, time.monotonic() + 60)


def mail(*attachments: tuple[str, bytes, str], body: str = "see attached") -> bytes:
    return make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="records",
        body=body,
        attachments=attachments,
    )


def at(extraction: Extraction, where: str) -> TextUnit:
    found = [u for u in extraction.units if u.where == where]
    assert len(found) == 1, (where, [u.where for u in extraction.units][:40])
    return found[0]


def uninspectable(extraction: Extraction) -> dict[str, str]:
    return {f.where: f.detail for f in extraction.findings}


def test_extract_xlsx_rows_of_every_sheet_hidden_too() -> None:
    rows: list[list[object]] = [["id", "name", "hkid", "phone", "born"]]
    rows += [[i, f"CHAN Tai Man {i}", "A1234563", 91234567, None] for i in range(2, 200)]
    rows[119][4] = dt.datetime(1980, 2, 29)
    data = make_xlsx({"Sheet1": rows, "Secret": [["x"], [None, "hidden value"]]}, hidden={"Secret"})
    ex = run(mail(("voters.xlsx", data, "application/octet-stream")))
    row = at(ex, "attachment:voters.xlsx#Sheet1!R120")
    assert row.cells == ("120", "CHAN Tai Man 120", "A1234563", "91234567", "1980-02-29")
    assert row.text == " | ".join(row.cells)
    assert at(ex, "attachment:voters.xlsx#Sheet1!R1").cells == (
        "id",
        "name",
        "hkid",
        "phone",
        "born",
    )
    assert at(ex, "attachment:voters.xlsx#Secret!R2").cells == ("", "hidden value")
    assert len([u for u in ex.units if u.where.startswith("attachment:voters.xlsx#Sheet1!")]) == 199
    assert ex.findings == []


def test_extract_xlsm_workbook() -> None:
    data = make_xlsx({"Macro": [["陳大文", "A1234563"]]}, macro=True)
    assert sniff(data, "book.xlsm").kind is Kind.SPREADSHEET
    ex = run(mail(("book.xlsm", data, "application/vnd.ms-excel.sheet.macroEnabled.12")))
    assert at(ex, "attachment:book.xlsm#Macro!R1").cells == ("陳大文", "A1234563")


def test_extract_large_xlsx_gives_one_unit_per_row() -> None:
    rows = [["id", "name"]] + [[i, "陳大文"] for i in range(15070)]
    ex = run(mail(("voters.xlsx", make_xlsx({"voters": rows}), "application/octet-stream")))
    units = [u for u in ex.units if u.source == "attachment:voters.xlsx"]
    sheet = [u for u in units if "#voters!" in u.where]
    assert len(sheet) == 15071
    # And one unit for each package part that may hold text (the sheet names in the workbook).
    assert [u.where for u in units if u not in sheet] == [
        "attachment:voters.xlsx#docProps/app.xml",
        "attachment:voters.xlsx#docProps/core.xml",
        "attachment:voters.xlsx#xl/workbook.xml",
    ]
    assert sheet[-1].where == "attachment:voters.xlsx#voters!R15071"


def test_extract_csv_in_zip_in_zip() -> None:
    csv = make_csv([["name", "phone"]] + [[f"person {i}", f"9123 45{i:02d}"] for i in range(2, 10)])
    inner = make_zip({"c.csv": csv})
    outer = make_zip({"inner.zip": inner, "b/notes.txt": b"plain notes"})
    ex = run(mail(("a.zip", outer, "application/zip")))
    assert at(ex, "attachment:a.zip/inner.zip/c.csv#R7").cells == ("person 7", "9123 4507")
    assert at(ex, "attachment:a.zip/b/notes.txt").text == "plain notes"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "big5", "gb18030"])
def test_extract_csv_encodings(encoding: str) -> None:
    name = "陳大文" if encoding != "gb18030" else "陈大文"
    rows = [["姓名", "地址", "電話" if encoding != "gb18030" else "电话"]]
    rows += [
        [f"{name}{i}", f"九龍{i}號" if encoding != "gb18030" else f"九龙{i}号", "91234567"]
        for i in range(2, 12)
    ]
    data = make_csv(rows, encoding=encoding)
    ex = run(mail(("list.csv", data, "text/csv")))
    assert at(ex, "attachment:list.csv#R3").cells == tuple(rows[2])


def test_extract_csv_named_dat_is_sniffed_as_csv() -> None:
    data = make_csv([["name", "hkid"], ["CHAN Tai Man", "A1234563"], ["LEE Siu Ming", "B2345678"]])
    assert sniff(data, "voters.dat", "application/octet-stream").kind is Kind.CSV
    ex = run(mail(("voters.dat", data, "application/octet-stream")))
    assert at(ex, "attachment:voters.dat#R2").cells == ("CHAN Tai Man", "A1234563")


def test_extract_tsv_and_semicolons() -> None:
    tsv = make_csv([["a", "b,c"], ["1", "2,3"]], delimiter="\t")
    semi = make_csv([["a", "b"], ["x", "y"], ["z", "w"]], delimiter=";")
    ex = run(mail(("t.tsv", tsv, "text/tab-separated-values"), ("s.txt", semi, "text/plain")))
    assert at(ex, "attachment:t.tsv#R2").cells == ("1", "2,3")
    assert at(ex, "attachment:s.txt#R3").cells == ("z", "w")


def test_extract_html_body_rows_and_text_script_apart() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>var secret='A1234563';</script></head>"
        "<body><p>Dear Ann,</p><table><tr><th>Name</th><th>HKID</th></tr>"
        "<tr><td>CHAN Tai Man</td><td>A123456(3)</td></tr></table><p>Regards</p></body></html>"
    )
    ex = run(
        make_eml(sender="a@o.example", to=["b@p.example"], subject="s", body="plain", html=html)
    )
    assert at(ex, "body#table 1!R2").cells == ("CHAN Tai Man", "A123456(3)")
    running = [u.text for u in ex.units if u.where == "body"]
    assert running == ["plain\n", "Dear Ann,\nRegards"]
    # Script and style stay out of the running text and the rows; they are read apart.
    shown = [u for u in ex.units if u.where == "body" or "#table" in u.where]
    assert not any("secret" in u.text or "color" in u.text for u in shown)
    assert at(ex, "body#hidden").text == "p{color:red}\nvar secret='A1234563';"


def test_extract_docx_paragraphs_tables_headers_footers() -> None:
    data = make_docx(
        ["Dear Ann,", "please find the list."],
        tables=[[["Name", "HKID"], ["CHAN Tai Man", "A1234563"]]],
        header=["Confidential: 陳大文"],
        footer=["Page footer 91234567"],
    )
    ex = run(mail(("letter.docx", data, "application/octet-stream")))
    assert at(ex, "attachment:letter.docx#body").text == "Dear Ann,\nplease find the list."
    assert at(ex, "attachment:letter.docx#table 1!R2").cells == ("CHAN Tai Man", "A1234563")
    assert at(ex, "attachment:letter.docx#header").text == "Confidential: 陳大文"
    assert at(ex, "attachment:letter.docx#footer").text == "Page footer 91234567"


def test_extract_docx_with_embedded_workbook() -> None:
    doc = make_docx(["see the table"])
    book = make_xlsx({"S": [["陳大文", "A1234563"]]})
    with zipfile.ZipFile(io.BytesIO(doc)) as src:
        members = {i.filename: src.read(i) for i in src.infolist()}
    members["word/embeddings/Microsoft_Excel_Worksheet.xlsx"] = book
    ex = run(mail(("letter.docx", make_zip(members), "application/octet-stream")))
    where = "attachment:letter.docx/word/embeddings/Microsoft_Excel_Worksheet.xlsx#S!R1"
    assert at(ex, where).cells == ("陳大文", "A1234563")


def test_extract_pdf_pages() -> None:
    data = make_pdf([["first page"], ["second page", "CHAN Tai Man A123456(3)"], ["third"]])
    ex = run(mail(("report.pdf", data, "application/pdf")))
    assert "CHAN Tai Man A123456(3)" in at(ex, "attachment:report.pdf#page 2").text
    assert "third" in at(ex, "attachment:report.pdf#page 3").text


@pytest.mark.skipif(pdf_font() is None or "CJK" not in str(pdf_font()), reason="no CJK font")
def test_extract_pdf_cjk_text() -> None:
    ex = run(mail(("r.pdf", make_pdf([["姓名：陳大文"]]), "application/pdf")))
    assert "陳大文" in at(ex, "attachment:r.pdf#page 1").text


def test_extract_forwarded_message_and_attached_eml() -> None:
    inner = make_eml(
        sender="voter@home.example",
        to=["office@org.example"],
        subject="my details",
        body="My HKID is A123456(3)",
        attachments=[("slip.csv", make_csv([["a", "b"], ["c", "d"]]), "text/csv")],
    )
    ex = run(
        mail(("fwd.eml", inner, "message/rfc822"), ("copy.eml", inner, "application/octet-stream"))
    )
    for name in ("fwd.eml", "copy.eml"):
        assert at(ex, f"attachment:{name}/body").text.startswith("My HKID is A123456(3)")
        assert "voter@home.example" in at(ex, f"attachment:{name}/headers").text
        assert at(ex, f"attachment:{name}/slip.csv#R2").cells == ("c", "d")


def test_extract_outlook_msg() -> None:
    data = make_msg(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="Voters",
        body="Dear Ann, 陳大文 A123456(3)",
        attachments=[("list.csv", make_csv([["name"], ["LEE Siu Ming"]]), "text/csv")],
    )
    assert sniff(data, "mail.bin").kind is Kind.MSG
    ex = run(mail(("mail.msg", data, "application/vnd.ms-outlook")))
    assert at(ex, "attachment:mail.msg/body").text == "Dear Ann, 陳大文 A123456(3)"
    assert "Subject: Voters" in at(ex, "attachment:mail.msg/headers").text
    assert at(ex, "attachment:mail.msg/list.csv#R2").cells == ("LEE Siu Ming",)


def test_extract_inline_image_is_an_attachment_without_text() -> None:
    # An icon is too small for OCR (issue 11): listed, no text, nothing uninspectable.
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (200, 30, 30)).save(buffer, "PNG")
    ex = run(mail(("photo.png", buffer.getvalue(), "image/png")))
    assert [a.name for a in ex.attachments] == ["photo.png"]
    assert [u.where for u in ex.units] == ["subject", "body", "file names"]
    assert at(ex, "file names").text == "photo .png"
    assert ex.findings == []


def test_extract_gzip_csv() -> None:
    data = gzip.compress(make_csv([["name"], ["CHAN Tai Man"]]))
    ex = run(mail(("list.csv.gz", data, "application/gzip")))
    assert at(ex, "attachment:list.csv.gz/list.csv#R2").cells == ("CHAN Tai Man",)


def test_extract_unknown_binary_is_noted_not_uninspectable() -> None:
    blob = bytes(range(256)) * 8 + b"\x01\x02 contact 91234567 now \x03" + bytes(range(256))
    ex = run(mail(("blob.bin", blob, "application/octet-stream")))
    assert ex.findings == []
    assert "contact 91234567 now" in at(ex, "attachment:blob.bin#strings").text


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("x.txt", make_zip({"a": b"b"}), Kind.ZIP),
        ("x.zip", b"%PDF-1.4\n", Kind.PDF),
        ("notes", b"Just a sentence, with commas, here.\nAnd another one.\n", Kind.TEXT),
        ("page.txt", b"<!DOCTYPE html><html><body>x</body></html>", Kind.HTML),
        ("a.dat", b"From: a@b.example\r\nSubject: x\r\n\r\nbody", Kind.EML),
        ("a.rar", b"Rar!\x1a\x07\x00rest", Kind.ARCHIVE),
        ("pic", b"\xff\xd8\xff\xe0" + bytes(20), Kind.IMAGE),
        ("x.csv", bytes(range(1, 40)) * 4, Kind.BINARY),
    ],
)
def test_sniff_by_content_not_name(name: str, data: bytes, kind: Kind) -> None:
    assert sniff(data, name).kind is kind
