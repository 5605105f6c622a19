"""Damaged documents are never delivered unread (issue 10): real pdf, docx, xlsx and pptx files,
made by their own libraries (fpdf2, python-docx, openpyxl, python-pptx) and taken from the
hostile corpora, are truncated and have bytes flipped deterministically; every mutant that its
own library (pypdf, python-docx, openpyxl, python-pptx) cannot open must not be delivered to an
outside recipient."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engine.extract.mutants import mutants, opens
from tests.factories import make_docx, make_eml, make_pdf, make_pptx, make_xlsx

from postwarden.engine import Inspector
from postwarden.model import Action

CORPORA = Path(__file__).resolve().parents[2] / "corpora"
DOCUMENTS = ("poi-hostile-office", "qpdf-bad-pdfs")
# One byte of a content stream's operators damaged ("72 72\x9a Td"): pypdf's text extraction
# refuses the page, PDFium reads past the bad token and its text ("Potato") is inspected.
# Parsing every operator as pypdf does would cost 4-5 times PDFium's whole reading (134 ms
# against 29 ms for 20 pages), so this class is left to PDFium (docs/extractors.md).
READ_PAST_BAD_OPERATOR = {"bad-xref-entry.pdf: byte 543 flipped"}
TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".pdf": "application/pdf",
}


def _made() -> list[tuple[str, bytes]]:
    return [
        (
            "letter.docx",
            make_docx(
                ["Dear Ann,", "CHAN Tai Man A123456(3)"],
                tables=[[["name", "phone"], ["LEE Ka Yan", "2891 1001"]]],
            ),
        ),
        (
            "list.xlsx",
            make_xlsx({"S": [["name", "phone"]] + [[f"p{i}", 91234567 + i] for i in range(40)]}),
        ),
        ("deck.pptx", make_pptx("Polling stations", "CHAN Tai Man, 2891 1001")),
        ("notes.pdf", make_pdf([["Minutes", "CHAN Tai Man 2891 1001"], ["page two"]])),
    ]


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(org_domains=("reo.gov.hk",))


def _delivered_unopenable(
    inspector: Inspector, sources: list[tuple[str, bytes]], flips: int
) -> tuple[int, list[str]]:
    """How many mutants were stopped, and which delivered ones their own library cannot open.

    The verdict comes first: the reading libraries are asked only about delivered mutants
    (python-docx and openpyxl expand the corpora's XML bombs, which we hold unread).
    """
    stopped = 0
    delivered = []
    for seed, (name, data) in enumerate(sources):
        suffix = Path(name).suffix.lower()
        for what, mutant in [("original", data), *mutants(data, seed, flips)]:
            raw = make_eml(
                sender="clerk@reo.gov.hk",
                to=["ann@lawfirm.com.hk"],
                subject="documents",
                body="attached",
                attachments=[(name, mutant, TYPES[suffix])],
            )
            verdict = inspector.check(raw)
            if verdict.action is not Action.DELIVER:
                stopped += 1
            elif not opens(suffix, mutant):
                delivered.append(f"{name}: {what}")
    return stopped, delivered


def test_mutated_documents_that_do_not_open_are_not_delivered(inspector: Inspector) -> None:
    sources = _made()
    assert all(opens(Path(n).suffix, d) for n, d in sources)
    stopped, delivered = _delivered_unopenable(inspector, sources, flips=12)
    assert stopped >= 60  # the mutations really damage the files
    assert delivered == []


@pytest.mark.slow
@pytest.mark.parametrize("folder", DOCUMENTS)
def test_mutated_hostile_documents_that_do_not_open_are_not_delivered(
    inspector: Inspector, folder: str
) -> None:
    files = sorted(
        p
        for p in (CORPORA / folder / "files").rglob("*")
        if p.is_file() and p.suffix.lower() in TYPES
    )
    assert files
    sources = [(p.name, p.read_bytes()) for p in files]
    stopped, delivered = _delivered_unopenable(inspector, sources, flips=4)
    assert stopped >= len(files)
    assert set(delivered) <= READ_PAST_BAD_OPERATOR, delivered
