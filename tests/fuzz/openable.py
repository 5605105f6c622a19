"""An oracle independent of the walker: does each attachment open in its own library?

A part that says it is a pdf, a zip or an Office file (by type, name or magic bytes) is tried
with pypdfium2, zipfile or olefile; the places that fail are what the engine must not pass
in silence. The fuzzer counts the mutants where this oracle says "failed to open" and the
verdict has no uninspectable finding: a figure for the walker, not an assertion.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from email import policy
from email.message import Message
from email.parser import BytesParser

import olefile
import pypdfium2

_ZIP_NAMES = (".zip", ".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".odt", ".ods", ".odp")
_ZIP_TYPES = ("zip", "openxmlformats", "opendocument")
_OLE_NAMES = (".doc", ".xls", ".ppt")
_OLE_TYPES = ("application/msword", "application/vnd.ms-excel", "application/vnd.ms-outlook")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_DEPTH = 6


def failed_parts(raw: bytes) -> list[str]:
    """``"name (format: error)"`` for each attachment of ``raw`` (and of messages nested in
    it) whose declared or sniffed format does not open in that format's library."""
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:
        return []
    out: list[str] = []
    _walk(msg, out, 0)
    return out


def _walk(msg: Message, out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    for part in msg.walk():
        if part.is_multipart():
            continue
        try:
            data = part.get_payload(decode=True)
            name = str(part.get_filename() or "").lower()
            ctype = part.get_content_type()
        except Exception:  # noqa: S112 - a part the parser cannot decode has no file to open
            continue
        if not isinstance(data, bytes) or not data:
            continue
        problem = _problem(data, name, ctype)
        if problem:
            out.append(f"{name or ctype} ({problem})")
        elif ctype == "message/rfc822" or name.endswith(".eml"):
            try:
                _walk(BytesParser(policy=policy.compat32).parsebytes(data), out, depth + 1)
            except Exception:  # noqa: S112 - not a message after all: nothing to open
                continue


def _problem(data: bytes, name: str, ctype: str) -> str:
    if data.startswith(b"%PDF") or ctype == "application/pdf" or name.endswith(".pdf"):
        return _pdf(data)
    if (
        data.startswith(b"PK\x03\x04")
        or name.endswith(_ZIP_NAMES)
        or any(t in ctype for t in _ZIP_TYPES)
    ):
        return _zip(data)
    # ".msg" names both Outlook files and plain RFC 822 messages (mime4j's corpus): only the
    # type or the magic says which.
    if data.startswith(_OLE_MAGIC) or name.endswith(_OLE_NAMES) or ctype in _OLE_TYPES:
        return _ole(data)
    return ""


def _pdf(data: bytes) -> str:
    try:
        document = pypdfium2.PdfDocument(data)
    except Exception as exc:
        return f"pdf: {type(exc).__name__}"
    document.close()
    return ""


def _zip(data: bytes) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names warn; they are still read
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist()[:200]:
                    if info.flag_bits & 0x1:
                        return "zip: encrypted member"
                    if info.file_size > 50 * 1024 * 1024:
                        continue  # a bomb is the engine's limits' business, not ours
                    with archive.open(info) as member:
                        while member.read(1 << 20):
                            pass
    except Exception as exc:
        return f"zip: {type(exc).__name__}"
    return ""


def _ole(data: bytes) -> str:
    try:
        with olefile.OleFileIO(data) as ole:
            ole.listdir()
    except Exception as exc:
        return f"ole: {type(exc).__name__}"
    return ""
