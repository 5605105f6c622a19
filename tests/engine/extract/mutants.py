"""Deterministic mutants of real documents, and whether each document's own library opens them
(shared by the mutated-documents test and its measurement)."""

from __future__ import annotations

import io
import random
import warnings
from collections.abc import Callable, Iterator

import docx
import openpyxl
import pptx
import pypdf

Opener = Callable[[bytes], object]


def _docx(data: bytes) -> object:
    document = docx.Document(io.BytesIO(data))
    text = [p.text for p in document.paragraphs]
    text += [c.text for t in document.tables for r in t.rows for c in r.cells]
    return text


def _xlsx(data: bytes) -> object:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets]


def _pptx(data: bytes) -> object:
    deck = pptx.Presentation(io.BytesIO(data))
    return [s.text_frame.text for slide in deck.slides for s in slide.shapes if s.has_text_frame]


def _pdf(data: bytes) -> object:
    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise ValueError("encrypted")
    return [page.extract_text() for page in reader.pages]


OPENERS: dict[str, Opener] = {".docx": _docx, ".xlsx": _xlsx, ".pptx": _pptx, ".pdf": _pdf}


def opens(suffix: str, data: bytes) -> bool:
    """Whether the format's own library (python-docx, openpyxl, python-pptx, pypdf) reads it
    through to its text; any exception means it does not."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            OPENERS[suffix](data)
        # Any failure of the reading library counts as "does not open".
        except Exception:
            return False
    return True


def _flip(data: bytes, at: int, rng: random.Random) -> bytes:
    out = bytearray(data)
    out[at] ^= rng.randrange(1, 256)
    return bytes(out)


def mutants(data: bytes, seed: int, flips: int = 12) -> Iterator[tuple[str, bytes]]:
    """(name, bytes): truncations, byte flips in the header, in the tail (a zip's central
    directory, a pdf's xref and trailer) and in the middle; the same for the same seed."""
    rng = random.Random(seed)
    n = len(data)
    for fraction in (0.05, 0.25, 0.5, 0.75, 0.95):
        yield f"truncated at {fraction:.0%}", data[: int(n * fraction)]
    for cut in (1, 22, 100):
        if cut < n:
            yield f"last {cut} bytes cut", data[:-cut]
    for _ in range(flips):
        at = rng.randrange(min(64, n))
        yield f"header byte {at} flipped", _flip(data, at, rng)
    tail = _tail(data)
    for _ in range(flips):
        at = rng.randrange(tail, n)
        yield f"tail byte {at} flipped", _flip(data, at, rng)
    for _ in range(flips):
        at = rng.randrange(n)
        yield f"byte {at} flipped", _flip(data, at, rng)


def _tail(data: bytes) -> int:
    """Where the structure readers go to first begins: a zip's central directory, else the
    last kilobyte (a pdf's xref table and trailer)."""
    central = data.find(b"PK\x01\x02")
    if data.startswith(b"PK") and central > 0:
        return central
    return max(0, len(data) - 1024)
