"""``postwarden check --json`` on unreadable content and broken MIME structure (issue 10)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from tests.cli.invocation import run_cli
from tests.factories import make_eml


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "var"
    code, _, err = run_cli(d, "init", "--org-domain", "reo.gov.hk")
    assert code == 0, err
    return d


def _check(data_dir: Path, path: Path) -> dict[str, Any]:
    code, out, err = run_cli(data_dir, "check", str(path), "--json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def test_check_random_bytes_declared_pdf_is_held(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(
        make_eml(
            sender="clerk@reo.gov.hk",
            to=["ann@lawfirm.com.hk"],
            subject="report",
            body="attached",
            attachments=[("report.pdf", random.Random(1).randbytes(65536), "application/pdf")],
        )
    )
    result = _check(data_dir, path)
    assert result["action"] == "hold"
    assert [r["rule"] for r in result["reasons"]] == ["uninspectable-external"]
    assert result["findings"] == [
        {
            "detector": "uninspectable",
            "count": 1,
            "where": "attachment:report.pdf",
            "reasons": ["declared pdf but cannot be read (binary data)"],
        }
    ]


def test_check_missing_close_boundary_is_held(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(
        b"From: clerk@reo.gov.hk\r\nTo: ann@lawfirm.com.hk\r\nSubject: list\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
        b"--XX\r\nContent-Type: text/plain\r\n\r\nmore\r\n"
    )
    result = _check(data_dir, path)
    assert result["action"] == "hold"
    assert [r["rule"] for r in result["reasons"]] == ["malformed-structure-external"]
    defects = [f for f in result["findings"] if f["detector"] == "mime-defect"]
    assert defects == [
        {
            "detector": "mime-defect",
            "count": 1,
            "where": "part 0",
            "reasons": ["close boundary not found"],
        }
    ]
