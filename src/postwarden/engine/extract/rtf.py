"""RTF documents and bodies (``text/rtf``, Outlook's rich text, winmail.dat bodies) read
with striprtf: ``letter.rtf#text``.

striprtf decodes ``\\uN`` and ``\\'hh`` escapes in the document's code page (``\\ansicpg950``,
``\\fcharset136``), but it decodes a run of ``\\'hh`` escapes as one byte string, and Word
writes a double-byte character whose trail byte is printable ASCII as an escape and a
literal (``陳大文`` in Big5 is ``\\'b3\\'af\\'a4j\\'a4\\'e5``): such runs are rewritten to
escapes only first (``_dbcs``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from striprtf.striprtf import rtf_to_text

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

# Double-byte code pages (Shift-JIS, GBK, Korean, Big5) and the font charsets that use them.
_DBCS_PAGES = {932: "cp932", 936: "cp936", 949: "cp949", 950: "cp950"}
_DBCS_CHARSETS = {128: "cp932", 134: "cp936", 129: "cp949", 136: "cp950"}
_ANSICPG = re.compile(rb"\\ansicpg(\d+)")
_FCHARSET = re.compile(rb"\\fcharset(\d+)")
# A trail byte written literally: printable ASCII 0x40-0x7e but for RTF's own \\ { } (a 0x5c
# trail byte is written ``\\\\``, which striprtf turns back into the byte).
_TRAIL = r"[\x40-\x5b\x5d-\x7a\x7c\x7e]"
_HEX_RUN = re.compile(rf"(?:\\'[0-9a-fA-F]{{2}}{_TRAIL}?)+")
_TOKEN = re.compile(rf"\\'([0-9a-fA-F]{{2}})|({_TRAIL})")


def _codepage(data: bytes) -> str | None:
    """The double-byte code page the document is written in, if any."""
    match = _ANSICPG.search(data, 0, 4096)
    if match and int(match.group(1)) in _DBCS_PAGES:
        return _DBCS_PAGES[int(match.group(1))]
    for charset in _FCHARSET.findall(data, 0, 65536):
        if int(charset) in _DBCS_CHARSETS:
            return _DBCS_CHARSETS[int(charset)]
    return None


def _dbcs(text: str, codec: str) -> str:
    """Runs of ``\\'hh`` escapes with literal trail bytes rewritten as escapes only."""

    def run(match: re.Match[str]) -> str:
        tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(match.group())]
        out: list[str] = []
        pending_lead = False
        for escaped, literal in tokens:
            if escaped is not None:
                out.append(f"\\'{escaped}")
                byte = int(escaped, 16)
                pending_lead = not pending_lead and byte >= 0x81
            elif pending_lead:
                out.append(f"\\'{ord(literal):02x}")  # the trail byte of a double-byte char
                pending_lead = False
            else:
                out.append(literal)
        return "".join(out)

    return _HEX_RUN.sub(run, text)


def rtf_text(data: bytes) -> str:
    """The plain text of an RTF document."""
    codec = _codepage(data)
    text = data.decode(codec or "cp1252", errors="replace")
    if codec:
        text = _dbcs(text, codec)
    converted = rtf_to_text(  # type: ignore[no-untyped-call]
        text, encoding=codec or "cp1252", errors="replace"
    )
    return str(converted)


class RtfExtractor:
    """RTF files: their text as one unit, ``letter.rtf#text`` (a ``text/rtf`` body: ``body``)."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        walker.budget.check_time()
        walker.add(rtf_text(data), where if sniffed.body else f"{where}#text")
