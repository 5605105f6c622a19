"""Content without a text extractor: encrypted and unsupported containers (uninspectable),
legacy OLE documents and unknown binary data (printable strings).  Images are read by OCR
(:mod:`.image`).

Unknown binary data is not counted as uninspectable personal data: audio, video, fonts and
executables are common attachments, and holding every one would drown the reviewers.  Its
printable strings are still scanned (a few hundred KiB at most), which also finds text in
formats we do not parse.  Archives we cannot open *are* uninspectable: they hold files.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.sniff import Kind

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_ASCII = re.compile(rb"[\x20-\x7e\t]{6,}")
_UTF16 = re.compile(rb"(?:[\x20-\x7e]\x00){6,}")
_BINARY_STRINGS = 256 * 1024


def strings(data: bytes, limit: int | None = None) -> tuple[str, bool]:
    """Printable ASCII and UTF-16LE runs of six or more characters, and whether ``limit``
    cut them short."""
    runs: list[str] = []
    total = 0
    for pattern, encoding in ((_ASCII, "ascii"), (_UTF16, "utf-16-le")):
        for match in pattern.finditer(data):
            run = match.group().decode(encoding)
            total += len(run) + 1
            if limit is not None and total > limit:
                return "\n".join(runs), True
            runs.append(run)
    return "\n".join(runs), False


class RefusedExtractor:
    """Encrypted content and archive formats we cannot open: always uninspectable."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        if sniffed.kind is Kind.ENCRYPTED:
            raise Uninspectable(sniffed.label)
        raise Uninspectable(f"unsupported archive format ({sniffed.label})")


class StringsExtractor:
    """Legacy OLE documents (Word and PowerPoint 97-2003) and unknown binary data."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        limit = _BINARY_STRINGS if sniffed.kind is Kind.BINARY else None
        text, cut = strings(data, limit)
        walker.add(text, f"{where}#strings")
        if cut:
            walker.defects.append(f"{where}: {sniffed.label}, only its first strings scanned")
