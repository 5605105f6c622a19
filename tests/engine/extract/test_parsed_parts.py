"""A part parsed once for all its readers (`office.parsed`: a workbook and its relationships
are read by the sheets' finders and by `read_rest`) gives every file the outcome that
parsing it at each reader gives: the same units, findings and refusals, for generated
workbooks and mutants of their workbook and relationships, and the corpus's office files."""

from __future__ import annotations

import random
import time
from dataclasses import astuple
from pathlib import Path
from xml.etree.ElementTree import Element, fromstring

import pytest
from tests.engine.extract.test_sheet_cells import (
    LEFT,
    SST,
    STYLES,
    TAKEN,
    mutants,
    openpyxl_book,
    raw_xlsx,
    xlsxwriter_book,
)
from tests.factories import make_docx

from postwarden.engine.extract import office, spreadsheet
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.office import VERIFIED, Package
from postwarden.engine.extract.sniff import sniff
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

CORPORA = Path(__file__).parents[2] / "corpora"


def parsed_each_time(package: Package, name: str) -> Element:
    return fromstring(package.xml[name])  # noqa: S314 -- as the readers parsed before


def outcome(data: bytes, name: str, once: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        if not once:
            patch.setattr(office, "parsed", parsed_each_time)
            patch.setattr(spreadsheet, "parsed", parsed_each_time)
        VERIFIED.forget()
        walker = Walker(Budget(Limits(), len(data), time.monotonic() + 60))
        error = None
        try:
            walker.read(data, name, 0, sniff(data, name))
        except Uninspectable as exc:
            error = exc.reason
        except LookupError as exc:
            error = str(exc)
        return [astuple(u) for u in walker.units], walker.findings, error


def assert_same(data: bytes, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert outcome(data, name, True, monkeypatch) == outcome(data, name, False, monkeypatch)


@pytest.mark.parametrize("seed", range(6))
def test_generated_and_mutated_workbooks(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    bases = [
        raw_xlsx([("s", "".join(TAKEN[2:8])), ("t", LEFT[0])], SST, STYLES),
        openpyxl_book(rng, write_only=False),
        xlsxwriter_book(rng),
    ]
    for base in bases:
        assert_same(base, "x.xlsx", monkeypatch)
        for mutant in mutants(base, rng, 40):
            assert_same(mutant, "x.xlsx", monkeypatch)


def test_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(make_docx(["CHAN Tai Man", "A123456(3)"]), "x.docx", monkeypatch)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CORPORA.rglob("*") if p.suffix.lower() in {".xlsx", ".xlsm", ".docx"}),
    ids=lambda p: p.name,
)
def test_corpus_office_files(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(path.read_bytes(), path.name, monkeypatch)
