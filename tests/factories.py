"""Real files made in memory by their own libraries, for tests across the suite.

Import as ``from tests.factories import make_xlsx``.  Every function returns the bytes of a
genuine file written by a library that writes the format (openpyxl, python-docx,
python-pptx, fpdf2, zipfile, pyzipper, email, aspose-email-foss for Outlook .msg).  Only
ZipCrypto, which no maintained Python library writes, is encrypted here by hand
(``_zipcrypto``); ``zipfile`` itself decrypts it in the tests, which proves the helper right.
"""

from __future__ import annotations

import csv
import functools
import io
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Literal

import docx
import openpyxl
import pptx
import pyzipper
from aspose.email_foss import msg as outlook
from fpdf import FPDF

__all__ = [
    "make_csv",
    "make_docx",
    "make_eml",
    "make_msg",
    "make_pdf",
    "make_tnef",
    "make_xlsx",
    "make_zip",
    "pdf_font",
]

Cell = str | int | float | None


def make_xlsx(
    sheets: Mapping[str, Sequence[Sequence[Cell]]],
    hidden: Iterable[str] = (),
    *,
    macro: bool = False,
) -> bytes:
    """An .xlsx (or .xlsm with ``macro``) with one sheet per key; sheets in ``hidden`` hidden."""
    hidden = set(hidden)
    # write_only streams rows: a 15,070-row register sheet is made in well under a second.
    wb = openpyxl.Workbook(write_only=True)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        if title in hidden:
            ws.sheet_state = "hidden"
        for row in rows:
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if macro:
        data = _retype_workbook(data)
    return data


def _retype_workbook(xlsx: bytes) -> bytes:
    """Give an .xlsx the main-part content type of an .xlsm (macro-enabled) workbook."""
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
            dst.writestr(info.filename, data)
    return out.getvalue()


def make_csv(
    rows: Iterable[Sequence[Cell]],
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> bytes:
    """A csv (``delimiter="\\t"`` for tsv) in ``encoding``; ``utf-8-sig`` writes a BOM."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if c is None else c for c in row])
    return buf.getvalue().encode(encoding)


def make_docx(
    paragraphs: Iterable[str] = (),
    tables: Iterable[Sequence[Sequence[str]]] = (),
    header: Iterable[str] = (),
    footer: Iterable[str] = (),
) -> bytes:
    """A .docx with body paragraphs, then tables (rows of cells), a header and a footer."""
    doc = docx.Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    for rows in tables:
        width = max((len(r) for r in rows), default=1)
        table = doc.add_table(rows=len(rows), cols=width)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                table.cell(r, c).text = text
    section = doc.sections[0]
    _fill(section.header, header)
    _fill(section.footer, footer)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _fill(part: docx.section._Header | docx.section._Footer, lines: Iterable[str]) -> None:
    lines = list(lines)
    if not lines:
        return
    # A new header/footer already holds one empty paragraph; use it for the first line.
    part.paragraphs[0].text = lines[0]
    for text in lines[1:]:
        part.add_paragraph(text)


_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@functools.cache
def pdf_font() -> Path | None:
    """The first usable font for ``make_pdf``: Noto CJK (fpdf2 reads the .ttc directly),
    else DejaVu (Latin only); ``None`` means the core Helvetica font (Latin-1 only)."""
    for name in _CJK_FONTS:
        path = Path(name)
        if path.is_file():
            return path
    return None


def make_pptx(title: str, body: str) -> bytes:
    """A deck of one title-and-content slide, by python-pptx."""
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = title
    slide.placeholders[1].text = body
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def make_pdf(pages: Sequence[Sequence[str]]) -> bytes:
    """A pdf with a text layer: one page per item, one line of text per string."""
    pdf = FPDF()
    font = pdf_font()
    if font is not None:
        pdf.add_font("body", fname=str(font))
        family = "body"
    else:
        family = "helvetica"
    for lines in pages:
        pdf.add_page()
        pdf.set_font(family, size=11)
        for line in lines:
            pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_zip(
    members: Mapping[str, bytes],
    encrypt: Literal["aes", "zipcrypto"] | None = None,
    password: bytes = b"secret",
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A zip of ``members``; ``encrypt="aes"`` (WinZip AES via pyzipper) or ``"zipcrypto"``."""
    if encrypt == "zipcrypto":
        return _zipcrypto(members, password)
    buf = io.BytesIO()
    if encrypt == "aes":
        with pyzipper.AESZipFile(
            buf, "w", compression=compression, encryption=pyzipper.WZ_AES
        ) as zf:
            zf.setpassword(password)
            for name, data in members.items():
                zf.writestr(name, data)
        return buf.getvalue()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


class _ZipCryptoKeys:
    """PKWARE traditional encryption keys (APPNOTE.TXT §6.1), for writing test archives."""

    def __init__(self, password: bytes) -> None:
        self.k0, self.k1, self.k2 = 0x12345678, 0x23456789, 0x34567890
        for b in password:
            self.update(b)

    def update(self, b: int) -> None:
        self.k0 = zlib.crc32(bytes([b]), self.k0 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
        self.k1 = (self.k1 + (self.k0 & 0xFF)) & 0xFFFFFFFF
        self.k1 = (self.k1 * 134775813 + 1) & 0xFFFFFFFF
        self.k2 = zlib.crc32(bytes([self.k1 >> 24]), self.k2 ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            t = (self.k2 | 2) & 0xFFFF
            out.append(b ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self.update(b)
        return bytes(out)


def _zipcrypto(members: Mapping[str, bytes], password: bytes) -> bytes:
    """A ZipCrypto archive of stored members (no library writes this legacy format)."""
    out = io.BytesIO()
    central = io.BytesIO()
    for name, data in members.items():
        crc = zlib.crc32(data)
        # Fixed, not random, header bytes: the test archive is reproducible; the last byte is
        # the CRC's high byte, which readers use to check the password.
        header = bytes(range(11)) + bytes([crc >> 24])
        payload = _ZipCryptoKeys(password).encrypt(header + data)
        fname = name.encode()
        offset = out.tell()
        fields = (20, 0x1, 0, 0, 0x21, crc, len(payload), len(data), len(fname), 0)
        out.write(struct.pack("<4s5HIIIHH", b"PK\x03\x04", *fields) + fname + payload)
        central.write(
            struct.pack("<4s6HIIIHHHHHII", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, offset) + fname
        )
    cd = central.getvalue()
    count = len(members)
    eocd = struct.pack("<4s4HIIH", b"PK\x05\x06", 0, 0, count, count, len(cd), out.tell(), 0)
    return out.getvalue() + cd + eocd


Attachment = tuple[str, bytes, str]


def make_eml(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
) -> bytes:
    """An RFC 5322 message; each attachment is ``(file name, bytes, "type/subtype")``.

    A ``message/rfc822`` attachment is attached as a forwarded message (a MIME subpart),
    the way mail clients forward as attachment.
    """
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data, mimetype in attachments:
        maintype, _, subtype = mimetype.partition("/")
        if mimetype == "message/rfc822":
            msg.add_attachment(message_from_bytes(data, policy=policy.default), filename=name)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(msg)


def make_msg(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    attachments: Iterable[Attachment] = (),
) -> bytes:
    """An Outlook .msg (OLE compound file, MS-OXMSG) written by aspose-email-foss."""
    message = outlook.MapiMessage.create(subject, body)
    message.set_property(outlook.PropertyId.SENDER_EMAIL_ADDRESS, sender)
    for address in to:
        message.add_recipient(address)
    for name, data, mimetype in attachments:
        message.add_attachment(name, data, mime_type=mimetype)
    return bytes(outlook.MsgWriter.to_bytes(message.to_msg_document()))


# TNEF attribute ids ([MS-OXTNEF] 2.1.3.2): the type in the high word, the name in the low.
_TNEF_SIGNATURE = 0x223E9F78
_ATT = {
    "TnefVersion": (0x0008, 0x9006),
    "OemCodepage": (0x0006, 0x9007),
    "MessageClass": (0x0007, 0x8008),
    "Subject": (0x0001, 0x8004),
    "Body": (0x0002, 0x800C),
    "AttachRendData": (0x0006, 0x9002),
    "AttachTitle": (0x0001, 0x8010),
    "AttachData": (0x0006, 0x800F),
}


def _tnef_attribute(level: int, name: str, data: bytes) -> bytes:
    kind, ident = _ATT[name]
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, ident, kind, len(data)) + data + struct.pack("<H", checksum)


def make_tnef(subject: str, body: str, attachments: Mapping[str, bytes]) -> bytes:
    """A winmail.dat (TNEF) as Outlook writes for a rich-text message: message attributes,
    then per attachment its rendering, title and data.

    Written here by hand, following [MS-OXTNEF], because no maintained Python library
    writes TNEF (tnefparse and the others only read it); tnefparse reading these files back
    in the tests proves the writer right.
    """
    out = struct.pack("<IH", _TNEF_SIGNATURE, 0x0001)
    out += _tnef_attribute(1, "TnefVersion", struct.pack("<I", 0x00010000))
    out += _tnef_attribute(1, "OemCodepage", struct.pack("<II", 1252, 437))
    out += _tnef_attribute(1, "MessageClass", b"IPM.Microsoft Mail.Note\x00")
    out += _tnef_attribute(1, "Subject", subject.encode("cp1252") + b"\x00")
    out += _tnef_attribute(1, "Body", body.encode("cp1252") + b"\x00")
    for name, data in attachments.items():
        # attRendData: attachment type 1 (file), position, rendering flags ([MS-OXTNEF] 2.1.3.3.17)
        out += _tnef_attribute(2, "AttachRendData", struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))
        out += _tnef_attribute(2, "AttachTitle", name.encode("cp1252") + b"\x00")
        out += _tnef_attribute(2, "AttachData", data)
    return out
