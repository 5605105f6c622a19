"""The TLS options of ``relay``, ``serve``, ``milter`` and ``init``: refused when incomplete,
recorded by ``init`` in settings.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.invocation import run_cli
from tests.tls_certs import TestCa

from postwarden.settings import init_data_dir, load_settings


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return init_data_dir(tmp_path / "var", ["demo.gov.hk"]).data_dir


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--require-tls"], "--require-tls needs --tls-cert"),
        (["--tls-cert", "/nonexistent/cert.pem"], "go together"),
        (["--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"], "cannot load"),
        (["--next-hop-tls", "sometimes"], "must be one of"),
        (["--next-hop-ca", "/etc/hosts"], "need --next-hop-tls verify"),
        (["--next-hop-tls", "required", "--next-hop-name", "mx.example"], "verify"),
        (["--next-hop-tls", "verify", "--next-hop-ca", "/nonexistent/ca.pem"], "CA file"),
    ],
)
@pytest.mark.parametrize("command", ["relay", "serve"])
def test_incomplete_tls_options_are_usage_errors(
    data_dir: Path, command: str, args: list[str], says: str
) -> None:
    code, _, err = run_cli(data_dir, command, "--next-hop", "127.0.0.1:1", *args)
    assert code == 2
    assert says in err


def test_milter_checks_its_next_hop_tls_options(data_dir: Path) -> None:
    code, _, err = run_cli(data_dir, "milter", "--next-hop-tls", "verify", "--next-hop-ca", "/x")
    assert code == 2
    assert "CA file" in err


def test_init_records_next_hop_tls_and_a_rerun_keeps_it(data_dir: Path, tmp_path: Path) -> None:
    ca = TestCa(tmp_path / "ca")
    args = ["init", "--org-domain", "demo.gov.hk", "--next-hop", "mx.demo.gov.hk:25"]
    tls = ["--next-hop-tls", "verify", "--next-hop-ca", str(ca.cert_file)]
    code, _, err = run_cli(data_dir, *args, *tls, "--next-hop-name", "mx.demo.gov.hk")
    assert code == 0, err
    raw = json.loads((data_dir / "settings.json").read_text())
    assert raw["next_hop_tls"] == "verify"
    assert raw["next_hop_ca"] == str(ca.cert_file)
    assert raw["next_hop_name"] == "mx.demo.gov.hk"
    assert run_cli(data_dir, *args)[0] == 0
    assert load_settings(data_dir).next_hop_tls == "verify"
    assert run_cli(data_dir, *args, "--next-hop-tls", "opportunistic")[0] == 0
    kept = load_settings(data_dir)
    assert (kept.next_hop_tls, kept.next_hop_ca, kept.next_hop_name) == (
        "opportunistic",
        None,
        None,
    )
    code, _, err = run_cli(data_dir, *args, "--next-hop-name", "mx.demo.gov.hk")
    assert code == 2
    assert "verify" in err
