"""RTF, winmail.dat (TNEF) and Word 97-2003 .doc read as text (issue 11 item 5)."""

from __future__ import annotations

import time
from pathlib import Path

import olefile
import pytest
from tests.engine.extract.legacy import libreoffice
from tests.factories import make_csv, make_eml, make_tnef
from tnefparse.tnef import TNEF

from postwarden.engine.extract import Extraction, Kind, extract, sniff
from postwarden.engine.extract.rtf import rtf_text
from postwarden.engine.extract.word import _eight_bit
from postwarden.engine.parse import parse_message
from postwarden.model import UNINSPECTABLE
from postwarden.settings import Limits

LIMITS = Limits()
PARAGRAPHS = ("Name: CHAN Tai Man 陳大文", "HKID A123456(3) 電話 9123 4567")
ROWS = (("姓名", "HKID"), ("葉劉淑儀", "B234567(8)"))


def run(*attachments: tuple[str, bytes, str], body: str = "attached") -> Extraction:
    raw = make_eml(
        sender="clerk@org.example",
        to=["ann@example.com"],
        subject="files",
        body=body,
        attachments=attachments,
    )
    return extract(parse_message(raw, None, LIMITS), LIMITS, time.monotonic() + 60)


def texts(ex: Extraction) -> dict[str, str]:
    return {u.where: u.text for u in ex.units}


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return libreoffice(tmp_path_factory.mktemp("lo"), PARAGRAPHS, ROWS)


def test_doc_written_by_libreoffice_is_read_through_its_piece_table(office: Path) -> None:
    data = (office / "doc.doc").read_bytes()
    assert sniff(data, "doc.doc").kind is Kind.DOC
    ex = run(("minutes.doc", data, "application/msword"))
    text = texts(ex)["attachment:minutes.doc#text"]
    for value in (*PARAGRAPHS, "葉劉淑儀\tB234567(8)"):
        assert value in text
    assert ex.findings == []


def test_doc_with_unreadable_piece_table_falls_back_to_strings(office: Path) -> None:
    data = bytearray((office / "doc.doc").read_bytes())
    ole = olefile.OleFileIO(bytes(data))
    word = ole.openstream("WordDocument").read()
    ole.close()
    start = bytes(data).find(word[:512])
    data[start + 0x0B] &= ~0x02  # point fWhichTblStm at the 0Table stream, which is absent
    ex = run(("minutes.doc", bytes(data), "application/msword"))
    assert "CHAN Tai Man" in texts(ex)["attachment:minutes.doc#strings"]
    assert any("piece table unreadable" in d for d in ex.defects)


def test_encrypted_doc_is_uninspectable(office: Path) -> None:
    data = bytearray((office / "doc.doc").read_bytes())
    ole = olefile.OleFileIO(bytes(data))
    word = ole.openstream("WordDocument").read()
    ole.close()
    start = bytes(data).find(word[:512])
    data[start + 0x0B] |= 0x01  # fEncrypted: the text is RC4-encrypted, strings are noise
    ex = run(("minutes.doc", bytes(data), "application/msword"))
    found = [(f.where, f.detail) for f in ex.findings if f.detector == UNINSPECTABLE]
    assert found == [("attachment:minutes.doc", "encrypted word 97-2003 document")]


def test_doc_compressed_piece_in_big5_document() -> None:
    # A compressed (8-bit) piece of a zh-HK document holds Big5 bytes, not Windows-1252.
    assert _eight_bit("陳大文 A123456(3)".encode("cp950"), "cp950") == "陳大文 A123456(3)"
    assert _eight_bit("café".encode("cp1252"), "cp950") == "café"
    assert _eight_bit("café".encode("cp1252"), None) == "café"


def test_rtf_written_by_libreoffice_is_read(office: Path) -> None:
    data = (office / "doc.rtf").read_bytes()
    assert sniff(data, "x.bin").kind is Kind.RTF
    text = texts(run(("letter.rtf", data, "application/rtf")))["attachment:letter.rtf#text"]
    for value in PARAGRAPHS:
        assert value in text
    assert "葉劉淑儀" in text


# Word writes a Big5 document's Chinese as \'hh escapes, and a trail byte that is printable
# ASCII as a literal character (陳 is b3 af, 大 is a4 6a = "\'a4j"); no library writes RTF in
# a double-byte code page, so this snippet is written out as Word writes it.
BIG5_RTF = (
    rb"{\rtf1\ansi\ansicpg950\deff0"
    rb"{\fonttbl{\f0\fnil\fcharset136 \'b7\'73\'b2\'d3\'a9\'fa\'c5\'e9;}}"
    rb"\f0 Name: \'b3\'af\'a4j\'a4\'e5 A123456(3)\par "
    rb"\'b8\'ad\'bcB\'b2Q\'bb\'f6 \uc1\u38651?\u35441? 9123 4567\par}"
)


def test_rtf_big5_codepage_and_unicode_escapes() -> None:
    assert rtf_text(BIG5_RTF).split() == [
        "Name:",
        "陳大文",
        "A123456(3)",
        "葉劉淑儀",
        "電話",
        "9123",
        "4567",
    ]


def test_rtf_message_body_is_read_as_text() -> None:
    raw = (
        b"From: clerk@org.example\r\nTo: ann@example.com\r\nSubject: rtf\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/rtf\r\n\r\n" + BIG5_RTF + b"\r\n"
    )
    ex = extract(parse_message(raw, None, LIMITS), LIMITS, time.monotonic() + 60)
    assert "陳大文 A123456(3)" in texts(ex)["body"]
    assert "ansicpg" not in texts(ex)["body"]


def test_tnef_writer_is_read_back_by_tnefparse() -> None:
    data = make_tnef("Voters", "Dear Ann", {"a.csv": b"x,y\n"})
    tnef = TNEF(data, do_checksum=True)
    assert tnef.body.rstrip(b"\x00") == b"Dear Ann"
    assert [(a.long_filename(), a.data) for a in tnef.attachments] == [("a.csv", b"x,y\n")]
    assert all(o.good_checksum for o in tnef.objects)


def test_winmail_dat_body_and_attachments_are_walked() -> None:
    csv = make_csv([["name", "hkid"], ["CHAN Tai Man", "A123456(3)"]])
    data = make_tnef("Voters", "Dear Ann, the list.", {"list.csv": csv})
    assert sniff(data, "winmail.dat").kind is Kind.TNEF
    ex = run(("winmail.dat", data, "application/ms-tnef"))
    got = texts(ex)
    assert got["attachment:winmail.dat/body"] == "Dear Ann, the list."
    assert got["attachment:winmail.dat/list.csv#R2"] == "CHAN Tai Man | A123456(3)"
    assert [a.name for a in ex.attachments] == ["winmail.dat", "list.csv"]


def test_corrupt_winmail_dat_is_uninspectable() -> None:
    data = make_tnef("Voters", "x", {"list.csv": b"a,b\n"})
    for broken in (data[:-20], data[:40] + b"\xff" * 7):
        ex = run(("winmail.dat", broken, "application/ms-tnef"))
        found = [(f.where, f.detail) for f in ex.findings if f.detector == UNINSPECTABLE]
        assert found == [("attachment:winmail.dat", "corrupt winmail.dat: truncated")]
