"""Plain text: charset detection and one unit per piece of running text."""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BOM_STARTS = frozenset(bom[:1] for bom, _ in _BOMS)
# charset-normalizer reads a sample; the whole of a large file costs time for no better guess.
_DETECT_SAMPLE = 64 * 1024


def decode(data: bytes, declared: str | None = None) -> str:
    """Text of ``data``: BOM, else the declared charset if it fits, else utf-8, else the
    charset-normalizer guess (big5, gb18030, ...), else latin-1; never raises."""
    if data[:1] in _BOM_STARTS:
        for bom, encoding in _BOMS:
            if data.startswith(bom):
                return data.decode(encoding, errors="replace")
    for candidate in (declared, "utf-8"):
        if not candidate:
            continue
        try:
            return data.decode(_codec(candidate))
        # ValueError: a declared charset with a NUL in it ("Windo\0ws-1252", found by the
        # fuzzer) makes the codec lookup itself raise; UnicodeDecodeError is one too.
        except (ValueError, LookupError):
            continue
    # Imported here: ~10 ms of every start, for the few texts that are neither declared nor
    # UTF-8.
    from charset_normalizer import from_bytes

    best = from_bytes(data[:_DETECT_SAMPLE]).best()
    if best is not None:
        try:
            return data.decode(best.encoding, errors="replace")
        except LookupError:
            pass
    return data.decode("latin-1")


_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "x-gbk": "gb18030"}


def _codec(name: str) -> str:
    """Mail user agents label gb2312 and big5 text that uses their supersets."""
    name = name.strip().strip('"').lower()
    return _SUPERSETS.get(name, name)


class TextExtractor:
    """Plain text (and anything textual without a better extractor): one running-text unit."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        walker.add(decode(data, sniffed.charset), where)
