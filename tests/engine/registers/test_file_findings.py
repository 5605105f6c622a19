"""`Inspector.file_findings` (the discovery scan's inspection of a file) gives the findings,
in the same order with the same fields, and the register subjects that
``inspect_file(decide=False)`` puts in its report: on real files of every kind a scan meets,
with register people, detector hits, unreadable parts and OCR-read text."""

from __future__ import annotations

import pytest
from tests.engine.registers.conftest import Imported
from tests.factories import make_docx, make_eml, make_pdf, make_xlsx, make_zip
from tests.scans import photographed, reply_slip

from postwarden.engine import Inspector


@pytest.fixture(scope="module")
def inspector(voters: Imported) -> Inspector:
    return Inspector(registers=voters.registers())


def _files(voters: Imported) -> dict[str, bytes]:
    people = voters.people
    rows = people.rows(("id", "name_en", "hkid", "phone"), slice(100, 160))
    lines = [" ".join(row) for row in rows[:20]]
    name_en, name_zh, hkid, phone, email = people.rows(
        ("name_en", "name_zh", "hkid", "phone", "email"), [4321]
    )[0]
    return {
        "people.xlsx": make_xlsx({"s": [["id", "name", "HKID", "phone"], *rows]}),
        "minutes.docx": make_docx(paragraphs=["Minutes of the meeting.", *lines]),
        "list.pdf": make_pdf([lines[:10], lines[10:]]),
        "notes.txt": "\n".join(lines).encode(),
        "plain.txt": b"Nothing personal here, only the agenda.\n",
        "bundle.zip": make_zip(
            {"a.csv": "\n".join(",".join(r) for r in rows[:30]).encode(), "b.bin": b"\x00" * 9}
        ),
        "sealed.zip": make_zip({"a.txt": lines[0].encode()}, encrypt="aes"),
        "broken.xlsx": b"PK\x03\x04 not really a workbook",
        "mail.eml": make_eml(
            sender="a@example.org", to=["b@example.org"], subject="list", body=lines[1]
        ),
        "slip.jpg": photographed(
            reply_slip(name_en, name_zh, hkid, phone, email), angle=2.0, seed=3
        ),
    }


@pytest.mark.slow
def test_file_findings_are_the_reports_findings_and_subjects(
    inspector: Inspector, voters: Imported
) -> None:
    seen: set[str] = set()
    for name, data in _files(voters).items():
        report = inspector.inspect_file(name, data, decide=False)
        findings, subjects = inspector.file_findings(name, data)
        assert findings == report.verdict.findings, name
        assert subjects == report.verdict.subjects, name
        seen.update(f.detector for f in findings)
        if any(f.ocr_confidence is not None for f in findings):
            seen.add("ocr")
    # The files did bring what the comparison is about.
    assert {"register:voters", "hkid", "phone", "uninspectable", "ocr"} <= seen
