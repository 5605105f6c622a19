"""The office files of the tests and three made ones, and their XML parts: what the parity
tests of the compiled readers of office parts (`_hsscan.plain_texts`, `plain_prolog`,
`plain_relationships`) compare with the parse."""

from __future__ import annotations

import functools
import io
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tests.factories import make_docx, make_pptx, make_xlsx

TESTS = Path(__file__).resolve().parents[2]
_SUFFIXES = {".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".pptx", ".odt", ".ods", ".odp"}


def office_files() -> list[bytes]:
    """Every office file under tests/ (corpora included), and a made docx, xlsx and pptx."""
    found = [
        path.read_bytes()
        for path in sorted(TESTS.rglob("*"))
        if path.suffix.lower() in _SUFFIXES and path.is_file()
    ]
    made = [
        make_docx(["a paragraph"], header=["head"], footer=["foot"]),
        make_xlsx({"Sheet1": [["Name"], ["CHAN Tai Man"]]}),
        make_pptx("title", "body"),
    ]
    return found + made


def _parts(data: bytes, ends: tuple[str, ...], most: int) -> Iterator[bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.filename.lower().endswith(ends):
                    try:
                        part = zf.read(info)
                    except Exception:  # noqa: S112 - a damaged member reads nothing
                        continue
                    if len(part) <= most:
                        yield part
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return


@functools.cache
def every_part(ends: tuple[str, ...], most: int = 1 << 62) -> list[bytes]:
    """The distinct members of `office_files` whose names end in one of ``ends``, each of
    at most ``most`` bytes (the callers only read the list)."""
    return list(dict.fromkeys(part for data in office_files() for part in _parts(data, ends, most)))


def xml_parts() -> list[bytes]:
    """`every_part` of the XML parts up to 256 KiB (the most the compiled readers read)."""
    return every_part((".xml", ".rels", ".vml"), 256 * 1024)


MARKUP = ' "=\t</>&:x'
"""Characters of markup a byte of a part is made into by `one_byte_edits`."""
INSERTED = b" \"'=\t\n</>&x:;\x00\xc3\xa0"
"""Bytes `one_byte_edits` puts before a byte: markup, a NUL, the halves of UTF-8."""


def one_byte_edits(
    data: bytes, rng: random.Random, markup: str = MARKUP, inserted: bytes = INSERTED
) -> Iterator[bytes]:
    """Every byte of ``data`` flipped (to a random byte and to a character of ``markup``),
    deleted, and preceded by a byte of ``inserted``: the edits the compiled readers' parity
    tests read with and without the module."""
    for at in range(len(data)):
        flipped = bytearray(data)
        flipped[at] ^= rng.randrange(1, 256)
        yield bytes(flipped)
        marked = bytearray(data)
        marked[at] = ord(rng.choice(markup))
        yield bytes(marked)
        yield data[:at] + data[at + 1 :]
        yield data[:at] + bytes([rng.choice(inserted)]) + data[at:]
