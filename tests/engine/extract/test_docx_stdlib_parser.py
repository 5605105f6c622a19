"""The docx reader parses the parts the package guard kept with the stdlib's C parser: every
made, hostile and mutated docx reads exactly as it reads through defusedxml's parser (the
pure-Python one it replaced), and a DTD never reaches the reader (the guard refuses it)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree as Defused
from tests.engine.extract.mutants import mutants
from tests.factories import make_docx, make_zip

from postwarden.engine.extract import document, extract_file, office
from postwarden.settings import Limits

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "poi-hostile-office" / "files"
LIMITS = Limits()


def _read(data: bytes) -> tuple[object, ...]:
    extraction = extract_file("a.docx", data, LIMITS, time.monotonic() + 60)
    return (
        [(u.where, u.text, u.cells, u.header) for u in extraction.units],
        [(f.where, f.detail) for f in extraction.findings],
        extraction.defects,
    )


def _sources() -> list[bytes]:
    made = make_docx(
        ["Dear Ann,", "CHAN Tai Man A123456(3)"],
        tables=[[["name", "phone"], ["LEE Ka Yan", "2891 1001"], ["WONG", "9123 4567"]]],
        header=["Confidential"],
        footer=["page 1"],
    )
    return [made, *(p.read_bytes() for p in sorted(CORPUS.rglob("*.docx")))]


def _defused_events(xml: bytes) -> Iterator[tuple[Any, ...]]:
    """The story reader's events (`office.pulled`) as defusedxml's ``iterparse`` gives them."""
    return Defused.iterparse(io.BytesIO(xml), ("start", "end"), forbid_dtd=True)


def test_docx_reads_as_through_defusedxml(monkeypatch: pytest.MonkeyPatch) -> None:
    read = 0
    for seed, data in enumerate(_sources()):
        for what, copy in [("original", data), *mutants(data, seed, flips=12)]:
            stdlib = _read(copy)
            with monkeypatch.context() as patched:
                patched.setattr(document, "pulled", _defused_events)
                # The relationships and the parts no story reads (`office.read_rest`).
                patched.setattr(
                    office, "checked_iterparse", partial(Defused.iterparse, forbid_dtd=True)
                )
                patched.setattr(office, "fromstring", partial(Defused.fromstring, forbid_dtd=True))
                assert _read(copy) == stdlib, what
            read += bool(stdlib[0])
    assert read > 20


@pytest.mark.parametrize("part", ["word/document.xml", "word/_rels/document.xml.rels"])
def test_a_dtd_in_a_part_the_reader_reads_is_refused_by_the_guard(part: str) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>'
    )
    members = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
        "word/document.xml": b'<?xml version="1.0"?><w:document xmlns:w="x"/>',
        part: bomb,
    }
    units, findings, _ = _read(make_zip(members))
    assert units == [("file names", "a .docx", None, None)]  # only the file's own name
    assert findings == [
        ("attachment:a.docx", "XML with a DTD in docx document (entity bomb or external entity)")
    ]
