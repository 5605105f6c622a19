"""A plain pdf (engine/extract/pdf_plain.py) is read without pypdf's second reading: the
verdict on every pdf of the tests (the damaged pdf corpus, pdfs mailed in the message corpora,
made ones) and on their mutants must be the same with and without that fast path, and every
file found plain must be one pypdf's strict reading accepts."""

from __future__ import annotations

import email
import random
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from fpdf import FPDF
from tests.engine.extract.mutants import mutants
from tests.factories import make_pdf

from postwarden.engine.extract import Extraction, extract_file
from postwarden.engine.extract import pdf as pdf_module
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.pdf_plain import plain
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
LIMITS = Limits()
Verdict = tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]


def _made() -> list[bytes]:
    core = FPDF()
    for text in ("A123456(3) in the core font", "page two"):
        core.add_page()
        core.set_font("helvetica", size=12)
        core.cell(text=text)
    locked = FPDF()
    locked.set_encryption(owner_password="owner", user_password="")  # noqa: S106 - a fixture
    locked.add_page()
    locked.set_font("helvetica", size=12)
    locked.cell(text="owner password only")
    return [
        make_pdf([["Minutes", "CHAN Tai Man 2891 1001"], ["page two"]]),
        make_pdf([["first page"], ["second page", "CHAN Tai Man A123456(3)"], ["third"]]),
        bytes(core.output()),
        bytes(locked.output()),
    ]


def _mailed() -> Iterator[bytes]:
    """Pdfs attached to the messages of the corpora."""
    for folder in sorted(CORPORA.iterdir()):
        if not folder.is_dir() or folder.name in ("qpdf-bad-pdfs", "poi-hostile-office"):
            continue
        for path in sorted((folder / "files").rglob("*")):
            if not path.is_file():
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=policy.compat32)
            for part in message.walk():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes) and payload.startswith(b"%PDF"):
                    yield payload


def _pdfs() -> list[bytes]:
    """Every pdf of the tests and their mutants (as test_mutated_documents makes them)."""
    corpus = sorted((CORPORA / "qpdf-bad-pdfs" / "files").rglob("*.pdf"))
    sources = [(p.read_bytes(), 4) for p in corpus]
    sources += [(data, 12) for data in [*_made(), *_mailed()]]
    out: list[bytes] = []
    for seed, (data, flips) in enumerate(sources):
        out.append(data)
        out.extend(mutant for _, mutant in mutants(data, seed, flips))
    return out


def _verdict(data: bytes) -> Verdict:
    extraction: Extraction = extract_file("x.pdf", data, LIMITS, 1e12)
    return (
        [(u.where, u.text) for u in extraction.units],
        [(f.where, f.detail) for f in extraction.findings],
        extraction.defects,
    )


def _pages(data: bytes) -> int | None:
    """PDFium's page count when the extractor would reach the second reader at all."""
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return None
    try:
        if not pdfium_c.FPDF_DocumentHasValidCrossReferenceTable(document.raw):
            return None
        return len(document)
    finally:
        document.close()


def _pypdf_accepts(data: bytes) -> bool:
    try:
        pdf_module._second_reader(data, Walker(Budget(LIMITS, len(data), 1e12)))
    except Uninspectable:
        return False
    return True


@pytest.mark.slow
def test_every_pdf_has_the_same_verdict_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdfs = _pdfs()
    assert len(pdfs) > 2000
    fast = [_verdict(data) for data in pdfs]
    monkeypatch.setattr(pdf_module, "plain", lambda data, pages: False)
    general = [_verdict(data) for data in pdfs]
    differ = [i for i, (a, b) in enumerate(zip(fast, general, strict=True)) if a != b]
    assert differ == []


def _edits(data: bytes, seed: int) -> Iterator[bytes]:
    """Every byte flipped, deleted, and preceded by an inserted byte."""
    rng = random.Random(seed)
    for at in range(len(data)):
        flipped = bytearray(data)
        flipped[at] ^= rng.randrange(1, 256)
        yield bytes(flipped)
        yield data[:at] + data[at + 1 :]
        yield data[:at] + bytes([rng.randrange(256)]) + data[at:]


@pytest.mark.slow
def test_a_plain_pdf_is_one_pypdf_reads_strictly() -> None:
    """The fast path's one claim, on every edit of a byte of made pdfs: thousands of them are
    plain (the fast path is taken), and pypdf accepts each of those."""
    made = _made()
    assert [plain(data, _pages(data) or 0) for data in made] == [True, True, True, False]
    taken = 0
    refused = []
    for seed, data in enumerate(made[:3]):
        for index, edited in enumerate(_edits(data, seed)):
            pages = _pages(edited)
            if pages is not None and plain(edited, pages):
                taken += 1
                if not _pypdf_accepts(edited):
                    refused.append((seed, index))
    assert taken > 8_000
    assert refused == []
