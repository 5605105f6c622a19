"""``postwarden check`` of a message with an invalid encoded-word in Subject, From or To:
a verdict and exit 0, the defect shown (it exited 1 with a HeaderParseError traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.invocation import run_cli
from tests.header_cases import WHERE, bad_header_message

from postwarden.headers import INVALID_BASE64
from postwarden.settings import init_data_dir


@pytest.mark.parametrize("where", WHERE)
def test_check_bad_encoded_word_gets_a_verdict(tmp_path: Path, where: str) -> None:
    data_dir = tmp_path / "var"
    init_data_dir(data_dir, ["demo.gov.hk"])
    message = tmp_path / "bad.eml"
    message.write_bytes(bad_header_message(where))

    code, out, _ = run_cli(data_dir, "check", str(message), "--json")
    assert code == 0
    verdict = json.loads(out)
    assert verdict["action"] == "hold"  # the HKID in the body was still found
    assert {f["detector"] for f in verdict["findings"]} >= {"hkid"}
    assert f"{where}: {INVALID_BASE64}" in verdict["defects"]

    code, out, _ = run_cli(data_dir, "check", str(message))
    assert code == 0
    assert out.startswith("verdict: hold")
    assert f"  defect: {where}: {INVALID_BASE64}" in out.splitlines()
