"""File names are read by the detectors: an HKID or a phone number put only in the name of an
attachment, an archive member, a winmail.dat or .msg attachment, a file embedded in a
document, or the name of a scanned file, is found, at its container's ``#file names``."""

from __future__ import annotations

import base64
import gzip
import io
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.factories import make_docx, make_eml, make_msg, make_tnef, make_xlsx, make_zip

from postwarden.engine import Inspector
from postwarden.engine.extract import walker
from postwarden.engine.extract.walker import name_text
from postwarden.model import Finding
from postwarden.scan import ScanItem, Scanner
from postwarden.settings import Limits

HKID, PHONE = "A123456(3)", "91234567"
HKID_NAME = f"陳大文_{HKID} 覆診紙.txt"
PHONE_NAME = f"CHAN Tai Man tel_{PHONE}.txt"
ASCII_HKID_NAME = "CHAN Tai Man HKID A1234563.txt"
PLAIN = "Please see attached."
TEXT = b"Minutes of the meeting."
CORPORA = Path(__file__).resolve().parents[2] / "corpora"
RECURSIVE = CORPORA / "poi-hostile-office/files/test-data/integration/test_recursive_embedded.docx"


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector()


def mail(*attachments: tuple[str, bytes, str]) -> bytes:
    return make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="records",
        body=PLAIN,
        attachments=attachments,
    )


def found(findings: list[Finding]) -> set[tuple[str, str, str]]:
    """(detector, value, where) of the hkid and phone findings."""
    return {(f.detector, f.value, f.where) for f in findings if f.detector in ("hkid", "phone")}


def hkid_and_phone(where: str, hkid: str = HKID) -> set[tuple[str, str, str]]:
    return {("hkid", hkid, where), ("phone", PHONE, where)}


def raw_mail(part_headers: str) -> bytes:
    """A message with one text attachment whose MIME headers are ``part_headers``."""
    return (
        "From: clerk@org.example\r\nTo: ann@partner.example\r\nSubject: records\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain\r\n\r\n{PLAIN}\r\n"
        f"--b\r\n{part_headers}\r\n\r\nMinutes.\r\n--b--\r\n"
    ).encode()


def test_attachment_names_are_read(inspector: Inspector) -> None:
    # The email package writes the non-ASCII name in RFC 2231 sections (filename*0*=utf-8'').
    raw = mail((HKID_NAME, TEXT, "text/plain"), (PHONE_NAME, TEXT, "text/plain"))
    assert b"filename*0*=utf-8''" in raw
    assert found(inspector.check(raw).findings) == hkid_and_phone("file names")


def test_rfc_2047_attachment_names_are_read(inspector: Inspector) -> None:
    words = " ".join(
        f"=?utf-8?b?{base64.b64encode(name.encode()).decode()}?="
        for name in (HKID_NAME.removesuffix(".txt"), f" tel {PHONE}.txt")
    )
    raw = raw_mail(
        f'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="{words}"'
    )
    assert found(inspector.check(raw).findings) == hkid_and_phone("file names")


def test_content_type_name_is_read_beside_the_disposition_file_name(
    inspector: Inspector,
) -> None:
    raw = raw_mail(
        f'Content-Type: text/plain; name="{PHONE_NAME}"\r\n'
        'Content-Disposition: attachment; filename="minutes.txt"'
    )
    findings = inspector.check(raw).findings
    assert found(findings) == {("phone", PHONE, "file names")}
    # The part is still placed by its disposition's file name.
    assert {u.where for u in inspector.inspect(raw).extraction.units} >= {"attachment:minutes.txt"}


def test_names_in_a_forwarded_message_are_read(inspector: Inspector) -> None:
    inner = mail((HKID_NAME, TEXT, "text/plain"), (PHONE_NAME, TEXT, "text/plain"))
    raw = mail(("fwd.eml", inner, "message/rfc822"))
    assert found(inspector.check(raw).findings) == hkid_and_phone("attachment:fwd.eml#file names")


def _zip() -> bytes:
    return make_zip({f"voters/{HKID_NAME}": TEXT, PHONE_NAME: TEXT})


def _tar(*, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name in (f"voters/{HKID_NAME}", PHONE_NAME):
            info = tarfile.TarInfo(name)
            info.size = len(TEXT)
            tar.addfile(info, io.BytesIO(TEXT))
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "where"),
    [
        ("a.zip", _zip, "attachment:a.zip#file names"),
        ("a.tar", _tar, "attachment:a.tar#file names"),
        ("a.tar.gz", lambda: _tar(gz=True), "attachment:a.tar.gz/a.tar#file names"),
        (
            "a.zip",
            lambda: make_zip({f"voters/{HKID_NAME}": TEXT, PHONE_NAME: TEXT}, encrypt="zipcrypto"),
            "attachment:a.zip#file names",
        ),
    ],
    ids=["zip", "tar", "tar.gz", "encrypted zip"],
)
def test_archive_member_names_are_read(
    inspector: Inspector, name: str, make: Callable[[], bytes], where: str
) -> None:
    raw = mail((name, make(), "application/octet-stream"))
    assert found(inspector.check(raw).findings) == hkid_and_phone(where)


def test_the_name_in_a_gzip_header_is_read(inspector: Inspector) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(ASCII_HKID_NAME.replace("HKID", f"tel {PHONE}"), "wb", fileobj=buf) as gz:
        gz.write(TEXT)
    raw = mail(("data.gz", buf.getvalue(), "application/gzip"))
    assert found(inspector.check(raw).findings) == hkid_and_phone(
        "attachment:data.gz#file names", "A1234563"
    )


def test_winmail_dat_attachment_names_are_read(inspector: Inspector) -> None:
    winmail = make_tnef("records", PLAIN, {ASCII_HKID_NAME: TEXT, PHONE_NAME: TEXT})
    raw = mail(("winmail.dat", winmail, "application/ms-tnef"))
    assert found(inspector.check(raw).findings) == hkid_and_phone(
        "attachment:winmail.dat#file names", "A1234563"
    )


def test_outlook_msg_attachment_names_are_read(inspector: Inspector) -> None:
    msg = make_msg(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="records",
        body=PLAIN,
        attachments=[(HKID_NAME, TEXT, "text/plain"), (PHONE_NAME, TEXT, "text/plain")],
    )
    raw = mail(("mail.msg", msg, "application/vnd.ms-outlook"))
    assert found(inspector.check(raw).findings) == hkid_and_phone("attachment:mail.msg#file names")


def test_names_of_files_embedded_in_a_document_are_read(inspector: Inspector) -> None:
    out = io.BytesIO()
    sheet = make_xlsx({"S": [["Minutes"]]})
    with (
        zipfile.ZipFile(io.BytesIO(make_docx(["Dear Ann,"]))) as src,
        zipfile.ZipFile(out, "w") as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        for name in (HKID_NAME, PHONE_NAME):
            dst.writestr(f"word/embeddings/{name.replace('.txt', '.xlsx')}", sheet)
    report = inspector.inspect_file("letter.docx", out.getvalue())
    assert found(report.verdict.findings) == hkid_and_phone("attachment:letter.docx#file names")


def test_the_ole_packagers_names_are_read(inspector: Inspector) -> None:
    # Apache POI's docx with an OLE packager object holding a zip of zips: the packager's
    # name and paths, and each zip's member names, are units of their containers.
    units = {
        u.where: u.text
        for u in inspector.inspect_file("t.docx", RECURSIVE.read_bytes()).extraction.units
    }
    package = "attachment:t.docx/word/embeddings/oleObject1.bin"
    assert "embed1 .zip" in units[f"{package}#file names"].split("\n")
    assert "embed1 / embed2 .zip" in units[f"{package}/embed1.zip#file names"].split("\n")


def test_a_scanned_files_own_name_is_read(inspector: Inspector, tmp_path: Path) -> None:
    report = inspector.inspect_file(HKID_NAME.replace(".txt", f" tel {PHONE}.txt"), TEXT)
    assert found(report.verdict.findings) == hkid_and_phone("file names")
    path = tmp_path / PHONE_NAME
    path.write_bytes(TEXT)
    result = Scanner(Limits(), None).scan(ScanItem(str(path), str(path), 0.0, len(TEXT)))
    assert result.findings.get("phone") == 1


@pytest.mark.parametrize(
    "name",
    [
        "image001.png",
        "IMG_20240315_123456.jpg",
        "report_2024-03-15_v1.2.3.pdf",
        "scan 20240315 101530.pdf",
        "WhatsApp Image 2024-03-15 at 10.15.30.jpeg",
        "Invoice 12345678.pdf",
        "2024-2025 budget.xlsx",
        "DSC01234.JPG",
        "minutes 2024-03-15.csv",
    ],
)
def test_names_that_hold_no_personal_data_find_nothing(inspector: Inspector, name: str) -> None:
    report = inspector.inspect_file(name, TEXT)
    assert [f for f in report.verdict.findings if f.where == "file names"] == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("陳大文_A123456(3).xlsx", "陳大文 A123456(3) .xlsx"),
        ("voters\\陳大文-A123456(3).xlsx", "voters / 陳大文 A123456(3) .xlsx"),
        ("tel 9123-4567.pdf", "tel 9123-4567 .pdf"),
        ("a\u202eb.txt", "a b .txt"),
        ("README", "README"),
    ],
)
def test_name_text_sets_words_apart(name: str, text: str) -> None:
    assert name_text(name) == text


def test_plain_names_read_as_the_expressions_read_them() -> None:
    """`name_text` and `place` of a word and its extension (their shortcut) give what the
    general ways give, for names of every shape built from the characters that matter."""
    import random

    rng = random.Random(11)
    pieces = (
        "f0", "Report", "2024", "a", ".", ".docx", ".xlsx7", ".tar", ".gz", "_", "-", "/",
        "\\", " ", "#", "\t", "\x00", "\u202e", "陳", "Ä", "ｆ", "\n", "", "123456",
    )  # fmt: skip
    names = ["f0.docx", "README", "a.b", "f0.", ".bashrc", "x.docxxx", "9123-4567.pdf", "a" * 300]
    names += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 6))) for _ in range(3000)]
    for name in names:
        assert name_text(name) == walker._name_words(name), name
        assert walker.place(name) == walker._placed_chars(name), name
