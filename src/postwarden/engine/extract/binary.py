"""Content without a text extractor: encrypted and unsupported containers (uninspectable),
legacy OLE documents, fonts and media, and unknown binary data (printable strings).  Images
are read by OCR (:mod:`.image`).

Unknown binary data is not counted as uninspectable personal data: executables and formats we
do not parse are common attachments, and holding every one would drown the reviewers.  Its
printable strings are still scanned (a few hundred KiB at most), which also finds text in
formats we do not parse.  But unknown data that looks encrypted or compressed (byte entropy
near 8 bits) has no strings to scan: it is uninspectable, like the archives we cannot open.
Fonts, audio and video are compressed by nature; they are known by their magic bytes
(:data:`~postwarden.engine.extract.sniff.Kind.MEDIA`) and never reach the entropy test.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

import olefile
from oletools.oleobj import OleNativeStream

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.sniff import OLE_PACKAGE_STREAM, Kind
from postwarden.engine.extract.walker import FILE_NAMES, place

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_ASCII = re.compile(rb"[\x20-\x7e\t]{6,}")
_UTF16 = re.compile(rb"(?:[\x20-\x7e]\x00){6,}")
_BINARY_STRINGS = 256 * 1024
# Encrypted and compressed data has 7.9+ bits of entropy per byte on a sample of 4 KiB or more
# (uniform bytes: 8 - 255 / (2 n ln 2) bits expected, 7.96 at 4 KiB); executables, databases
# and other structured binaries stay well under 7 (measured on the corpora: docs/extractors.md).
ENTROPY_LIMIT = 7.5
ENTROPY_MIN_BYTES = 4096
_ENTROPY_WINDOW = 16 * 1024


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte of a bounded sample of ``data``: three 16 KiB windows
    (start, middle, end), so that a header or a padded tail alone cannot hide the rest."""
    if len(data) > 3 * _ENTROPY_WINDOW:
        middle = len(data) // 2 - _ENTROPY_WINDOW // 2
        data = b"".join(
            (
                data[:_ENTROPY_WINDOW],
                data[middle : middle + _ENTROPY_WINDOW],
                data[-_ENTROPY_WINDOW:],
            )
        )
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


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
        if sniffed.kind in (Kind.ENCRYPTED, Kind.UNREADABLE):
            raise Uninspectable(sniffed.label)
        raise Uninspectable(f"unsupported archive format ({sniffed.label})")


def scan_strings(data: bytes, where: str, sniffed: Sniffed, walker: Walker) -> None:
    """``where#strings``: the printable strings of ``data``; unknown binary data that looks
    encrypted or compressed is uninspectable instead.  Also the fallback of the readers of
    a format (a .doc without a readable piece table, an image type Pillow does not open)."""
    if sniffed.kind is Kind.BINARY and len(data) >= ENTROPY_MIN_BYTES:
        bits = entropy(data)
        if bits > ENTROPY_LIMIT:
            raise Uninspectable(
                f"encrypted or compressed data of unknown format (entropy {bits:.2f} bits/byte)"
            )
    limit = _BINARY_STRINGS if sniffed.kind in (Kind.BINARY, Kind.MEDIA) else None
    text, cut = strings(data, limit)
    walker.add(text, f"{where}#strings")
    if cut:
        walker.defects.append(f"{where}: {sniffed.label}, only its first strings scanned")


class StringsExtractor:
    """Legacy OLE documents (Word and PowerPoint 97-2003), fonts and media, and unknown binary
    data, unless it looks encrypted or compressed."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        scan_strings(data, where, sniffed, walker)


def _latin(raw: object) -> str:
    """A name of the packager's header: ANSI bytes, read as oletools reads them (latin-1)."""
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(raw or "")


class PackageExtractor:
    """A file embedded through the OLE packager (MS-OLEDS 2.3.6, ``\\x01Ole10Native``, an
    icon in a letter): the file's own bytes, parsed by oletools, visited under its name."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        walker.budget.check_depth(depth + 1)
        with olefile.OleFileIO(data) as ole, ole.openstream(OLE_PACKAGE_STREAM) as stream:
            native = OleNativeStream(stream.read())
        for path in (native.filename, native.src_path, native.temp_path):
            # The packager keeps the file's name and the paths it was copied from and to
            # (``C:\\Users\\chan.taiman\\Desktop\\陳大文.xlsx``): names that leave with it.
            walker.name(f"{where}#{FILE_NAMES}", _latin(path))
        content = native.data
        if native.is_link or not isinstance(content, bytes) or len(content) < native.actual_size:
            raise Uninspectable("embedded OLE package that cannot be read")
        name = _latin(native.filename).replace("\\", "/").rsplit("/", 1)[-1] or "embedded file"
        walker.visit(content, f"{where}/{place(name)}", depth + 1, name=name)
