"""Legacy Word documents (.doc, Word 97-2003 and Word 6/95) read through their piece table:
``letter.doc#text``.

Written by hand because no maintained pure-Python library reads .doc text (antiword,
catdoc and wvWare are C programs; textract and python-docx do not read it; LibreOffice is a
500 MB process per file).  The format is public ([MS-DOC]): the File Information Block (FIB)
at the start of the ``WordDocument`` stream gives the offset of the ``Clx`` in the table
stream (``fcClx``); its piece table lists the runs of text, each stored either as UTF-16LE or
"compressed" as 8-bit characters (Windows-1252 per the spec; the document's own code page --
Big5 / CP950 for a Hong Kong or Taiwan document -- when that reads and 1252 cannot be meant).
Word 6/95 files (no piece table in that form) keep their text between ``fcMin`` and
``fcMac`` in the document's code page.  When none of that can be read, the printable strings
are scanned, as before, and a defect says so.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import olefile

from postwarden.engine.extract.binary import scan_strings
from postwarden.engine.extract.budget import Uninspectable
from postwarden.errors import Invalid

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_WORD_IDENT = 0xA5EC
_NFIB_97 = 0x00C1
_FC_CLX = 33
"""Index of the fcClx / lcbClx pair in FibRgFcLcb97."""
# Language ids (FIB lid) whose documents are written in a double-byte code page.
_CODEPAGES = {
    0x0404: "cp950",  # Chinese (Taiwan)
    0x0C04: "cp950",  # Chinese (Hong Kong SAR)
    0x1404: "cp950",  # Chinese (Macao SAR)
    0x0804: "cp936",  # Chinese (PRC)
    0x1004: "cp936",  # Chinese (Singapore)
    0x0411: "cp932",  # Japanese
    0x0412: "cp949",  # Korean
}
_MAX_PIECES = 1_000_000


class DocFormatError(Invalid):
    """The piece table cannot be read."""


def _u16(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _eight_bit(raw: bytes, codepage: str | None) -> str:
    """A compressed piece: Windows-1252 per [MS-DOC], unless the document's code page reads
    it (Big5 bytes are not meaningful 1252 text)."""
    if codepage and any(b >= 0x80 for b in raw):
        try:
            return raw.decode(codepage)
        except UnicodeDecodeError:
            pass
    return raw.decode("cp1252", errors="replace")


def _pieces(word: bytes, table: bytes, codepage: str | None) -> str:
    """The text of every piece in the piece table, in character-position order."""
    csw = _u16(word, 32)
    lw = 34 + csw * 2
    cslw = _u16(word, lw)
    fclcb = lw + 2 + cslw * 4
    if _u16(word, fclcb) <= _FC_CLX:
        raise DocFormatError("FIB without fcClx")
    fc_clx, lcb_clx = struct.unpack_from("<II", word, fclcb + 2 + _FC_CLX * 8)
    if not lcb_clx or fc_clx + lcb_clx > len(table):
        raise DocFormatError("Clx outside the table stream")
    clx = table[fc_clx : fc_clx + lcb_clx]
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc: formatting, skipped
        pos += 3 + struct.unpack_from("<h", clx, pos + 1)[0]
    if pos >= len(clx) or clx[pos] != 0x02:
        raise DocFormatError("no Pcdt in the Clx")
    lcb = _u32(clx, pos + 1)
    plc = clx[pos + 5 : pos + 5 + lcb]
    count = (len(plc) - 4) // 12
    if count <= 0 or count > _MAX_PIECES or len(plc) != 4 + 12 * count:
        raise DocFormatError("malformed piece table")
    cps = struct.unpack_from(f"<{count + 1}I", plc)
    out: list[str] = []
    for i in range(count):
        length = cps[i + 1] - cps[i]
        if length <= 0:
            continue
        fc = _u32(plc, 4 * (count + 1) + 12 * i + 2)
        if fc & 0x40000000:
            start = (fc & 0x3FFFFFFF) // 2
            raw = word[start : start + length]
            out.append(_eight_bit(raw, codepage))
        else:
            raw = word[fc : fc + 2 * length]
            out.append(raw.decode("utf-16-le", errors="replace"))
        if len(raw) < length:
            raise DocFormatError("piece past the end of the WordDocument stream")
    return "".join(out)


def doc_text(data: bytes) -> str:
    """The text of a .doc file; raises :class:`DocFormatError` when it cannot be read and
    :class:`Uninspectable` when it is encrypted."""
    try:
        with olefile.OleFileIO(data) as ole:
            word = ole.openstream("WordDocument").read()
            if len(word) < 0x20 or _u16(word, 0) != _WORD_IDENT:
                raise DocFormatError("no Word FIB")
            flags = _u16(word, 0x0A)
            if flags & 0x0100:  # fEncrypted (RC4 or XOR obfuscation)
                raise Uninspectable("encrypted word 97-2003 document")
            codepage = _CODEPAGES.get(_u16(word, 6))
            if _u16(word, 2) < _NFIB_97:
                return _word95(word, flags, codepage)
            name = "1Table" if flags & 0x0200 else "0Table"
            if not ole.exists(name):
                raise DocFormatError(f"no {name} stream")
            table = ole.openstream(name).read()
    except (OSError, struct.error, ValueError, IndexError) as exc:
        raise DocFormatError(str(exc)) from None
    try:
        return _pieces(word, table, codepage)
    except (struct.error, IndexError) as exc:
        raise DocFormatError(str(exc)) from None


def _word95(word: bytes, flags: int, codepage: str | None) -> str:
    """Word 6/95: one run of 8-bit text in the document's code page, unless saved "fast"
    (fComplex), which keeps edits in a piece table of another form."""
    if flags & 0x0004:
        raise DocFormatError("Word 6/95 fast-saved document")
    fc_min, fc_mac = _u32(word, 0x18), _u32(word, 0x1C)
    if not 0 < fc_min <= fc_mac <= len(word):
        raise DocFormatError("text outside the WordDocument stream")
    return word[fc_min:fc_mac].decode(codepage or "cp1252", errors="replace")


def _readable(text: str) -> str:
    """Word's marks turned into plain text: paragraph and cell ends become line breaks."""
    return (
        text.replace("\r", "\n")
        .replace("\x07", "\t")
        .replace("\x0b", "\n")
        .replace("\x0c", "\n")
        .translate({c: None for c in (*range(0, 9), 0x01, 0x08, 0x13, 0x14, 0x15)})
    )


class DocExtractor:
    """Word 97-2003 (and 6/95) documents: ``letter.doc#text``, strings when unreadable."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        walker.budget.check_time()
        try:
            text = doc_text(data)
        except DocFormatError as exc:
            walker.defects.append(f"{where}: piece table unreadable ({exc}), strings scanned")
            scan_strings(data, where, sniffed, walker)
            return
        walker.add(_readable(text), f"{where}#text")
