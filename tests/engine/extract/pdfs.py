"""Every pdf of the tests and their mutants: the damaged pdf corpus, pdfs mailed in the message
corpora, and made ones (shared by the pdf extractor's parity tests)."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from pathlib import Path

from fpdf import FPDF
from tests.engine.extract.mutants import mutants
from tests.factories import make_pdf

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
WRITTEN = Path(__file__).resolve().parents[2] / "data" / "pdf"


def made() -> list[bytes]:
    """Pdfs made by fpdf2 (its own fonts, the core font, one with an owner password only)."""
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


def written() -> list[bytes]:
    """Pdfs written by other software (tests/data/pdf/SOURCE.md)."""
    return [path.read_bytes() for path in sorted(WRITTEN.glob("*.pdf"))]


def mailed() -> Iterator[bytes]:
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


def pdfs() -> list[bytes]:
    """Every pdf of the tests and their mutants (as test_mutated_documents makes them)."""
    corpus = sorted((CORPORA / "qpdf-bad-pdfs" / "files").rglob("*.pdf"))
    sources = [(p.read_bytes(), 4) for p in corpus]
    sources += [(data, 12) for data in [*made(), *written(), *mailed()]]
    out: list[bytes] = []
    for seed, (data, flips) in enumerate(sources):
        out.append(data)
        out.extend(mutant for _, mutant in mutants(data, seed, flips))
    return out
