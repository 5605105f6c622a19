"""What a piece of content is, by magic bytes and sniffing; names and declared types only
break ties (a csv called ``voters.dat`` is a csv, a zip called ``notes.txt`` is a zip)."""

from __future__ import annotations

import re
import struct
import threading
import zipfile
from dataclasses import dataclass
from enum import StrEnum

import olefile

from postwarden.engine.extract.zipdir import Zip, read_zip

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SAMPLE = 8192


class Kind(StrEnum):
    """The registry key: one extractor per kind."""

    TEXT = "text"
    HTML = "html"
    CSV = "csv"
    EML = "eml"
    ZIP = "zip"
    COMPRESSED = "compressed"
    SPREADSHEET = "spreadsheet"
    DOCX = "docx"
    OOXML = "ooxml"
    PDF = "pdf"
    MSG = "msg"
    OLE = "ole"
    ENCRYPTED = "encrypted"
    TAR = "tar"
    ARCHIVE = "archive"
    IMAGE = "image"
    MEDIA = "media"
    """Fonts, audio and video with known magic: compressed by nature, read as strings."""
    PACKAGE = "package"
    """A file embedded in a document through the OLE packager (``\\x01Ole10Native``)."""
    UNREADABLE = "unreadable"
    """Claims a structure we know (an OLE compound file) that is damaged or not one we read."""
    BINARY = "binary"
    RTF = "rtf"
    TNEF = "tnef"
    DOC = "doc"


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: Kind
    label: str
    """What to call it in a reason: ``rar archive``, ``encrypted office document``."""
    charset: str | None = None
    """The charset its MIME part declares (message bodies only; a file's bytes decide)."""
    body: bool = False
    """A message's inline body: its units are the place itself (``body``), not
    ``body#text``."""


_COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_ARCHIVES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"Rar!\x1a\x07", "rar archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (0, b"MSCF\x00\x00\x00\x00", "cab archive"),
    (0, b"\x28\xb5\x2f\xfd", "zstd archive"),
)
_IMAGES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
    (b"\x00\x00\x01\x00", "ico"),
)
# Compressed by nature, so high byte entropy is expected of them: known by magic, they are
# never taken for encrypted data.  (offset, magic, label)
_MEDIA: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x00\x01\x00\x00", "truetype font"),
    (0, b"true", "truetype font"),
    (0, b"OTTO", "opentype font"),
    (0, b"ttcf", "font collection"),
    (0, b"wOFF", "woff font"),
    (0, b"wOF2", "woff2 font"),
    (0, b"ID3", "mp3 audio"),
    (0, b"OggS", "ogg audio"),
    (0, b"fLaC", "flac audio"),
    (0, b"#!AMR", "amr audio"),
    (0, b"\x1aE\xdf\xa3", "matroska video"),
    (4, b"ftyp", "mp4 media"),
    (0, b"FORM", "aiff audio"),
)
_RIFF_MEDIA = {b"WAVE": "wav audio", b"AVI ": "avi video"}
_HEADER_NAMES = re.compile(
    rb"^(from|to|cc|subject|date|received|return-path|message-id|mime-version|"
    rb"content-type|reply-to|sender|delivered-to|x-[a-z0-9-]+):",
    re.IGNORECASE | re.MULTILINE,
)
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<table|<div|<p[\s>])", re.I)
_OFFICE_MAIN = {
    "xl/workbook.xml": (Kind.SPREADSHEET, "xlsx workbook"),
    "xl/workbook.bin": (Kind.SPREADSHEET, "xlsb workbook"),
    "word/document.xml": (Kind.DOCX, "docx document"),
    "ppt/presentation.xml": (Kind.OOXML, "pptx presentation"),
}


def sniff(data: bytes, name: str = "", content_type: str = "", max_members: int = 1000) -> Sniffed:
    """Classify ``data``; ``name`` and ``content_type`` are hints, never the decision."""
    head = data[:_SAMPLE]
    lname = name.lower()
    _PARSED.last = None  # what was parsed for the last piece is not kept past it
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(data, max_members)
    if head.startswith(OLE_MAGIC):
        return _ole_kind(data)
    if b"%PDF-" in data[:1024]:
        return Sniffed(Kind.PDF, "pdf")
    for magic, label in _COMPRESSED:
        if head.startswith(magic):
            return Sniffed(Kind.COMPRESSED, label)
    if head[:4] == b"\x78\x9f\x3e\x22":
        return Sniffed(Kind.TNEF, "winmail.dat (TNEF)")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:5] == b"{\\rtf":
        return Sniffed(Kind.RTF, "rtf document")
    if data[257:262] == b"ustar":
        return Sniffed(Kind.TAR, "tar archive")
    for offset, magic, label in _ARCHIVES:
        if data[offset : offset + len(magic)] == magic:
            return Sniffed(Kind.ARCHIVE, label)
    for magic, label in _IMAGES:
        if head.startswith(magic):
            return Sniffed(Kind.IMAGE, f"{label} image")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(Kind.IMAGE, "webp image")
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypavif", b"ftypmif1"):
        return Sniffed(Kind.IMAGE, "heif image")
    for offset, magic, label in _MEDIA:
        if head[offset : offset + len(magic)] == magic:
            return Sniffed(Kind.MEDIA, label)
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_MEDIA:
        return Sniffed(Kind.MEDIA, _RIFF_MEDIA[head[8:12]])
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1", b"\xff\xf9"):
        return Sniffed(Kind.MEDIA, "mpeg audio")
    if not looks_textual(head):
        if content_type.startswith("image/"):
            return Sniffed(Kind.IMAGE, content_type)
        return Sniffed(Kind.BINARY, "binary data")
    return _text_kind(head, lname, content_type)


def looks_textual(head: bytes) -> bool:
    """Text rather than binary data, judged on a sample (a BOM, or almost no controls)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return True
    if b"\x00" in head:
        return False
    # Control characters other than tab, newlines, form feed and escape (ISO-2022) mark binary:
    # what is left once every other byte is deleted (one pass, where a count per control
    # character took 25 passes and 60 us of an 8 KB sample).
    controls = len(head.translate(None, _NOT_CONTROLS))
    return controls * 100 <= len(head)


_CONTROLS = bytes((*range(1, 9), 11, *range(14, 27), 28, 29))
_NOT_CONTROLS = bytes(sorted(set(range(256)) - set(_CONTROLS)))


def _text_kind(head: bytes, lname: str, content_type: str) -> Sniffed:
    body = head.lstrip(b"\xef\xbb\xbf")
    if b"-----BEGIN PGP MESSAGE-----" in head:
        return Sniffed(Kind.ENCRYPTED, "PGP-encrypted message")
    if b"-----BEGIN PKCS7-----" in head:
        return Sniffed(Kind.ENCRYPTED, "S/MIME (PKCS #7) message")
    if _looks_like_message(body):
        return Sniffed(Kind.EML, "email message")
    if _HTML_START.match(body) or lname.endswith((".htm", ".html")) or content_type == "text/html":
        return Sniffed(Kind.HTML, "html")
    if lname.endswith((".csv", ".tsv", ".tab")) or content_type in (
        "text/csv",
        "text/tab-separated-values",
        "application/csv",
    ):
        return Sniffed(Kind.CSV, "csv")
    if _looks_delimited(head):
        return Sniffed(Kind.CSV, "csv")
    return Sniffed(Kind.TEXT, "text")


def _looks_like_message(body: bytes) -> bool:
    """A header block at the very start with at least two well-known header names."""
    first = body.split(b"\n", 1)[0]
    if not re.match(rb"^[!-9;-~]+:", first) and not first.startswith(b"From "):
        return False
    block = re.split(rb"\r?\n\r?\n", body, maxsplit=1)[0]
    return len(_HEADER_NAMES.findall(block)) >= 2


def _looks_delimited(head: bytes) -> bool:
    """Every one of the first lines (at least two) has the same non-zero count of one of
    ``,`` tab ``;`` ``|``: prose almost never does."""
    text = head.decode("latin-1")
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if len(head) == _SAMPLE and len(lines) > 2:
        lines = lines[:-1]  # the sample may cut the last line short
    if len(lines) < 2:
        return False
    for sep in (",", "\t", ";", "|"):
        counts = {ln.count(sep) for ln in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


_PARSED = threading.local()
"""The zip `_zip_kind` parsed last on this thread, with the bytes it parsed."""


def parsed_zip(data: bytes) -> Zip | None:
    """The zip that sniffing just parsed from this very ``data`` object, handed over once
    (its reader opens it next: parsing the central directory twice cost a docx 45 us)."""
    last: tuple[bytes, Zip] | None = getattr(_PARSED, "last", None)
    _PARSED.last = None
    return last[1] if last is not None and last[0] is data else None


def _zip_kind(data: bytes, max_members: int) -> Sniffed:
    if declared_entries(data) > max_members:
        return Sniffed(Kind.ZIP, "zip archive")
    try:
        parsed = read_zip(data)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return Sniffed(Kind.ZIP, "zip archive")  # the zip extractor reports why
    _PARSED.last = data, parsed
    names = {info.filename for info in parsed.infos}
    if "[Content_Types].xml" in names:
        for part, found in _OFFICE_MAIN.items():
            if part in names:
                return Sniffed(*found)
        return Sniffed(Kind.OOXML, "office document")
    if "mimetype" in names and "content.xml" in names:
        return _odf_kind(data)
    return Sniffed(Kind.ZIP, "zip archive")


def _odf_kind(data: bytes) -> Sniffed:
    # ODF stores its media type uncompressed as the first member, right after its header.
    if b"opendocument.spreadsheet" in data[30:120]:
        return Sniffed(Kind.SPREADSHEET, "ods workbook")
    return Sniffed(Kind.OOXML, "opendocument")


def declared_entries(data: bytes) -> int:
    """How many entries the central directory can hold: the count of central-directory
    signatures in it (an upper bound that no lying count field can lower)."""
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if pos < 0 or pos + 22 > len(data):
        return data.count(b"PK\x01\x02")
    size, offset = struct.unpack_from("<II", data, pos + 12)
    if offset == 0xFFFFFFFF or offset + size > pos:
        return data.count(b"PK\x01\x02", 0, pos)  # zip64, or a prefix before the archive
    return data.count(b"PK\x01\x02", offset, offset + size)


def _ole_kind(data: bytes) -> Sniffed:
    try:
        with olefile.OleFileIO(data) as ole:
            streams = {"/".join(path) for path in ole.listdir(streams=True, storages=False)}
            word_flags = _word_flags(ole) if ole.exists("WordDocument") else 0
    except (OSError, ValueError, IndexError, struct.error) as exc:
        return Sniffed(Kind.UNREADABLE, f"corrupt OLE compound file ({exc})")
    roots = {s.split("/", 1)[0] for s in streams}
    # An encrypted OOXML file is an OLE file of EncryptionInfo + EncryptedPackage (MS-OFFCRYPTO
    # 2.3.4); with either name damaged it is still encrypted, and not something we read.
    if any("encrypt" in r.lower() for r in roots):
        return Sniffed(Kind.ENCRYPTED, "encrypted office document")
    if any(r.startswith("__substg1.0_") for r in roots):
        return Sniffed(Kind.MSG, "outlook message")
    if roots & {"Workbook", "Book"}:
        return Sniffed(Kind.SPREADSHEET, "xls workbook")
    if "WordDocument" in roots:
        if word_flags & _FIB_ENCRYPTED:
            return Sniffed(Kind.ENCRYPTED, "encrypted word 97-2003 document")
        return Sniffed(Kind.DOC, "word 97-2003 document")
    if "PowerPoint Document" in roots:
        return Sniffed(Kind.OLE, "powerpoint 97-2003 presentation")
    if OLE_PACKAGE_STREAM in roots:
        return Sniffed(Kind.PACKAGE, "embedded OLE package")
    if roots & _OLE_READ_AS_STRINGS.keys():
        return Sniffed(Kind.OLE, _OLE_READ_AS_STRINGS[min(roots & _OLE_READ_AS_STRINGS.keys())])
    # Anything else in an OLE container (a damaged stream name included) holds streams we
    # cannot tell apart from an encrypted package: not read, so not passed.
    return Sniffed(Kind.UNREADABLE, "OLE compound file that is not a known Office document")


# MS-DOC 2.5.1 FibBase: the flags word at offset 10; bit 8 is fEncrypted (password to open).
_FIB_ENCRYPTED = 0x0100
# OLE objects whose streams we scan as strings: embedded equations and drawings.
_OLE_READ_AS_STRINGS = {"Equation Native": "equation object", "VisioDocument": "visio drawing"}
OLE_PACKAGE_STREAM = "\x01Ole10Native"
"""The packager's object: a file embedded in a document (an icon in a letter), read as a file."""


def _word_flags(ole: olefile.OleFileIO) -> int:
    with ole.openstream("WordDocument") as stream:
        fib = stream.read(12)
    return int(struct.unpack_from("<H", fib, 10)[0]) if len(fib) >= 12 else 0


# What a part's name or declared type says it is, when that is a format we read (or an
# encrypted one): content that then sniffs as no known format was damaged or disguised.
_DECLARED_SUFFIXES: dict[str, str] = {
    **dict.fromkeys((".pdf",), "pdf"),
    **dict.fromkeys(
        (".docx", ".docm", ".dotx", ".dotm", ".xlsx", ".xlsm", ".xltx", ".xltm", ".xlsb"),
        "office document",
    ),
    **dict.fromkeys((".pptx", ".pptm", ".ppsx", ".ppsm", ".potx"), "office document"),
    **dict.fromkeys((".doc", ".dot", ".xls", ".xlt", ".ppt", ".pps"), "office document"),
    **dict.fromkeys((".odt", ".ods", ".odp", ".odg", ".ott", ".ots"), "opendocument"),
    **dict.fromkeys((".msg", ".oft"), "outlook message"),
    **dict.fromkeys((".eml",), "email message"),
    **dict.fromkeys((".rtf",), "rtf"),
    **dict.fromkeys((".zip",), "zip archive"),
    **dict.fromkeys((".gz", ".tgz"), "gzip"),
    **dict.fromkeys((".bz2", ".tbz2"), "bzip2"),
    **dict.fromkeys((".xz", ".txz"), "xz"),
    **dict.fromkeys((".tar",), "tar archive"),
    **dict.fromkeys((".7z", ".rar", ".cab", ".zst"), "archive"),
    **dict.fromkeys((".gpg", ".pgp", ".p7m", ".p7e"), "encrypted file"),
}
_DECLARED_TYPES: dict[str, str] = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/msword": "office document",
    "application/vnd.ms-excel": "office document",
    "application/vnd.ms-powerpoint": "office document",
    "application/vnd.ms-outlook": "outlook message",
    "message/rfc822": "email message",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "application/zip": "zip archive",
    "application/x-zip-compressed": "zip archive",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/x-bzip2": "bzip2",
    "application/x-xz": "xz",
    "application/x-tar": "tar archive",
    "application/x-7z-compressed": "archive",
    "application/vnd.rar": "archive",
    "application/x-rar-compressed": "archive",
    "application/pgp-encrypted": "encrypted file",
    "application/pkcs7-mime": "encrypted file",
    "application/x-pkcs7-mime": "encrypted file",
}
_DECLARED_PREFIXES = (
    ("application/vnd.openxmlformats-officedocument.", "office document"),
    ("application/vnd.ms-excel.", "office document"),
    ("application/vnd.ms-word.", "office document"),
    ("application/vnd.ms-powerpoint.", "office document"),
    ("application/vnd.oasis.opendocument.", "opendocument"),
)


def declared_format(name: str = "", content_type: str = "") -> str:
    """The format a part's file name or declared content type names, when it is one we read
    or an encrypted one (``pdf``, ``office document``, ``zip archive``, ...); else ``""``."""
    ctype = content_type.lower()
    found = _DECLARED_TYPES.get(ctype)
    if found:
        return found
    for prefix, label in _DECLARED_PREFIXES:
        if ctype.startswith(prefix):
            return label
    dot = name.rfind(".")
    if dot >= 0:
        return _DECLARED_SUFFIXES.get(name[dot:].lower().rstrip(), "")
    return ""
