"""A register row hidden in a pdf -- in an embedded file, a file-attachment annotation's file,
the document's properties, its XMP packet or a bookmark's title -- is counted like one on a
page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.engine.extract.hidden_pdfs import (
    annotated,
    fpdf_embedded,
    pypdf_embedded,
    with_bookmarks,
    with_properties,
    with_xmp,
    xmp_packet,
)
from tests.engine.registers.conftest import Imported
from tests.engine.registers.people import People
from tests.factories import make_xlsx

from postwarden.engine import Inspector

PERSON = 4321


@pytest.fixture(scope="module")
def inspector(voters: Imported) -> Inspector:
    return Inspector(org_domains=("reo.gov.hk",), registers=voters.registers())


def _line(voters: Imported) -> str:
    p = voters.people
    return f"{p.name_en[PERSON]}    {p.hkid[PERSON]}    {p.status[PERSON]}"


def _sheet(voters: Imported) -> bytes:
    rows = voters.people.rows(People.COLUMNS, [PERSON])
    return make_xlsx({"Sheet1": [list(People.COLUMNS), *rows]})


HIDING: dict[str, Callable[[Imported, Path], tuple[bytes, str]]] = {
    "xlsx in the name tree": lambda v, _: (
        fpdf_embedded({"extract.xlsx": _sheet(v)}),
        "attachment:letter.pdf/extract.xlsx",
    ),
    "txt in the name tree": lambda v, _: (
        pypdf_embedded({"note.txt": _line(v).encode()}),
        "attachment:letter.pdf/note.txt",
    ),
    "xlsx of an annotation": lambda v, tmp: (
        annotated(tmp, "extract.xlsx", _sheet(v)),
        "attachment:letter.pdf/extract.xlsx",
    ),
    "keywords": lambda v, _: (with_properties({"/Keywords": _line(v)}), "attachment:letter.pdf"),
    "custom property": lambda v, _: (
        with_properties({"/Applicant": _line(v)}),
        "attachment:letter.pdf",
    ),
    "xmp": lambda v, _: (with_xmp(xmp_packet(_line(v))), "attachment:letter.pdf"),
    "bookmark": lambda v, _: (with_bookmarks(["Index", _line(v)]), "attachment:letter.pdf"),
}


@pytest.mark.parametrize("hiding", list(HIDING))
def test_a_register_row_hidden_in_a_pdf_is_counted(
    inspector: Inspector, voters: Imported, tmp_path: Path, hiding: str
) -> None:
    data, source = HIDING[hiding](voters, tmp_path)
    report = inspector.inspect_file("letter.pdf", data)
    assert report.record_ids == {"voters": {PERSON}}
    places = {f.source for f in report.verdict.findings if f.detector == "register:voters"}
    assert places == {source}
