"""Whole-engine verdicts on content that cannot be read (issue 10): each bullet of "Unreadable
content is delivered" is held for an outside recipient; MIME structure that could not be
fully read fires ``malformed-structure-external``; legitimate files stay deliverable."""

from __future__ import annotations

import io
import random

import msoffcrypto.format.ooxml
import pytest
from tests.factories import make_docx, make_eml

from postwarden.engine import Inspector
from postwarden.model import MIME_DEFECT, UNINSPECTABLE, Action, Verdict

ORG = "reo.gov.hk"
OUTSIDE = "ann@lawfirm.com.hk"
INSIDE = "amy@reo.gov.hk"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RANDOM = random.Random(10).randbytes(64 * 1024)


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(org_domains=(ORG,))


def send(
    inspector: Inspector, to: str, *attachments: tuple[str, bytes, str], body: str = "attached"
) -> Verdict:
    raw = make_eml(
        sender=f"clerk@{ORG}", to=[to], subject="report", body=body, attachments=attachments
    )
    return inspector.check(raw)


def rules(verdict: Verdict) -> set[str]:
    return {r.rule for r in verdict.reasons}


def _damaged_encrypted_docx() -> bytes:
    out = io.BytesIO()
    plain = make_docx(["CHAN Tai Man A123456(3)"])
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(plain)).encrypt("secret", out)
    name = "EncryptedPackage".encode("utf-16-le")
    return out.getvalue().replace(name, "EncryptedPackagf".encode("utf-16-le"))


UNREADABLE = {
    "random data.bin": ("data.bin", RANDOM, "application/octet-stream"),
    "random report.docx": ("report.docx", RANDOM, DOCX),
    "random report.pdf": ("report.pdf", RANDOM, "application/pdf"),
    "random secret.gpg": ("secret.gpg", RANDOM, "application/octet-stream"),
    "damaged encrypted docx": ("report.docx", _damaged_encrypted_docx(), DOCX),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_attachment_to_outside_is_held(inspector: Inspector, case: str) -> None:
    verdict = send(inspector, OUTSIDE, UNREADABLE[case])
    assert verdict.action is Action.HOLD, verdict.to_json()
    assert "uninspectable-external" in rules(verdict)
    assert [f.detector for f in verdict.findings if f.detector == UNINSPECTABLE] == [UNINSPECTABLE]


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_attachment_inside_is_delivered_and_recorded(
    inspector: Inspector, case: str
) -> None:
    verdict = send(inspector, INSIDE, UNREADABLE[case])
    assert verdict.action is Action.DELIVER
    assert any(f.detector == UNINSPECTABLE for f in verdict.findings)


def test_pgp_block_in_a_body_to_outside_is_held(inspector: Inspector) -> None:
    body = "Here:\n-----BEGIN PGP MESSAGE-----\n\nhQEMA5Lp0Q2nQ3SK\n-----END PGP MESSAGE-----\n"
    verdict = send(inspector, OUTSIDE, body=body)
    assert verdict.action is Action.HOLD
    assert rules(verdict) == {"uninspectable-external"}


HEAD = b"From: clerk@reo.gov.hk\r\nTo: ann@lawfirm.com.hk\r\nSubject: list\r\nMIME-Version: 1.0\r\n"
MALFORMED = {
    "missing close boundary": (
        HEAD + b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\n'
        b"Content-Type: text/plain\r\n\r\nsee the list\r\n--XX\r\n"
        b"Content-Type: text/csv\r\n\r\nname,phone\r\nAmy,2891 1001\r\n",
        "close boundary not found",
    ),
    "missing header/body separator": (
        HEAD + b"Content-Type: text/plain\r\nthis line ends the headers\r\n"
        b"Content-Type: application/zip\r\n\r\nbody\r\n",
        "missing header/body separator",
    ),
    "start boundary not found": (
        HEAD + b'Content-Type: multipart/mixed; boundary="nothere"\r\n\r\n--other\r\n'
        b"Content-Type: text/plain\r\n\r\nbody text\r\n--other--\r\n",
        "start boundary not found",
    ),
    "multipart without boundary": (
        HEAD + b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nbody\r\n--x--\r\n",
        "multipart without a boundary",
    ),
    "undecodable transfer encoding": (
        HEAD + b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\n'
        b"Content-Type: text/plain\r\n\r\nbody\r\n--XX\r\n"
        b"Content-Type: text/csv\r\nContent-Transfer-Encoding: x-gzip64\r\n\r\n"
        b"H4sIAAAAAAAAA0vMKUnMS8lJAQBxZVt2BwAAAA==\r\n--XX--\r\n",
        "unknown transfer encoding 'x-gzip64'",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_structure_to_outside_is_held(inspector: Inspector, case: str) -> None:
    raw, defect = MALFORMED[case]
    verdict = inspector.check(raw)
    assert verdict.action is Action.HOLD, verdict.to_json()
    assert "malformed-structure-external" in rules(verdict)
    details = [f.detail for f in verdict.findings if f.detector == MIME_DEFECT]
    assert defect in details, details
    summary = [s for s in verdict.findings_summary() if s["detector"] == MIME_DEFECT]
    assert any(defect in s["reasons"] for s in summary), summary


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_structure_inside_is_delivered_and_recorded(
    inspector: Inspector, case: str
) -> None:
    raw, defect = MALFORMED[case]
    internal = raw.replace(b"To: ann@lawfirm.com.hk", b"To: amy@reo.gov.hk")
    verdict = inspector.check(internal)
    assert verdict.action is Action.DELIVER
    assert defect in [f.detail for f in verdict.findings if f.detector == MIME_DEFECT]


@pytest.mark.parametrize("cte", ["7-bit", "8 bit", "7bits", "8BIT"])
def test_misspelt_identity_encodings_are_no_defect(inspector: Inspector, cte: str) -> None:
    raw = HEAD + f"Content-Transfer-Encoding: {cte}\r\n\r\nbody\r\n".encode()
    verdict = inspector.check(raw)
    assert verdict.action is Action.DELIVER, verdict.to_json()
    assert not [f for f in verdict.findings if f.detector == MIME_DEFECT]


def test_well_formed_multipart_has_no_structure_finding(inspector: Inspector) -> None:
    verdict = send(inspector, OUTSIDE, ("minutes.docx", make_docx(["Agenda"]), DOCX))
    assert verdict.action is Action.DELIVER, verdict.to_json()
    assert not [f for f in verdict.findings if f.detector in (MIME_DEFECT, UNINSPECTABLE)]
