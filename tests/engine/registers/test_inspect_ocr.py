"""OCR through the whole engine: a photographed reply slip and a scanned register printout,
drawn at test time (tests/scans.py), matched against the generated register."""

from __future__ import annotations

import pytest
from tests.engine.registers.conftest import Imported
from tests.factories import make_eml
from tests.scans import image_pdf, photographed, register_pages, reply_slip, scanned

from postwarden.engine import Inspector
from postwarden.model import Action

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inspector(voters: Imported) -> Inspector:
    return Inspector(org_domains=("reo.gov.hk",), registers=voters.registers())


def _mail(name: str, data: bytes, ctype: str) -> bytes:
    return make_eml(
        sender="clerk@reo.gov.hk",
        to=["someone@example.com"],
        subject="as requested",
        body="Please see attached.",
        attachments=[(name, data, ctype)],
    )


def test_photographed_reply_slip_to_outside_is_held_with_its_member(
    inspector: Inspector, voters: Imported
) -> None:
    member = 4321
    name_en, name_zh, hkid, phone, email = voters.people.rows(
        ("name_en", "name_zh", "hkid", "phone", "email"), [member]
    )[0]
    photo = photographed(reply_slip(name_en, name_zh, hkid, phone, email), angle=3.5, seed=1)
    report = inspector.inspect(_mail("slip.jpg", photo, "image/jpeg"))
    verdict = report.verdict
    assert verdict.action >= Action.HOLD
    assert verdict.subjects == {"voters": 1}
    assert report.record_ids == {"voters": {member}}
    found = {f["detector"]: f for f in verdict.to_json()["findings"]}
    assert found["register:voters"]["where"] == "attachment:slip.jpg"
    assert 0.5 < found["register:voters"]["ocr_confidence"] <= 1.0
    assert 0.5 < found["hkid"]["ocr_confidence"] <= 1.0


def test_scanned_register_printout_counts_its_people(
    inspector: Inspector, voters: Imported
) -> None:
    people = list(range(200, 305))
    rows = voters.people.rows(("name_zh", "name_en", "hkid", "phone"), people)
    printed = [(zh, en, hkid, f"{phone[:4]} {phone[4:]}") for zh, en, hkid, phone in rows]
    pages = [
        scanned(page, angle=angle, seed=n)
        for n, (page, angle) in enumerate(
            zip(register_pages(printed, per_page=35), (1.5, -2.0, 0.7), strict=True)
        )
    ]
    report = inspector.inspect(_mail("scan.pdf", image_pdf(pages), "application/pdf"))
    counted = report.verdict.subjects.get("voters", 0)
    assert abs(counted - len(people)) <= 0.05 * len(people), counted
    assert report.record_ids["voters"] <= set(people)
    assert report.verdict.action >= Action.HOLD
    assert [u.where for u in report.extraction.units if u.ocr_confidence is not None] == [
        f"attachment:scan.pdf#ocr page {n}" for n in (1, 2, 3)
    ]
