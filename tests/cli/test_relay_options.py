"""``relay`` / ``serve``: the access-control options reach the running relay."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.invocation import run_cli
from tests.integration.postfix import free_port, wait_for_port

from postwarden.settings import init_data_dir


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return init_data_dir(tmp_path / "var", ["demo.gov.hk"]).data_dir


@pytest.mark.parametrize("command", ["relay", "serve"])
def test_a_bad_client_network_is_a_usage_error(data_dir: Path, command: str) -> None:
    code, _, err = run_cli(data_dir, command, "--client-network", "10.0.0.1/8")
    assert code == 2
    assert "--client-network" in err
    assert "10.0.0.1/8" in err


@pytest.fixture
def relay_process(data_dir: Path, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "postwarden",
            "--data-dir",
            str(data_dir),
            "relay",
            "--listen",
            f"127.0.0.1:{port}",
            "--outbox",
            str(tmp_path / "outbox"),
            "--client-network",
            "127.0.0.2/32",
            "--client-network",
            "::1/128",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


@pytest.mark.timeout(120)
def test_relay_command_applies_client_networks_and_sender_rules(
    relay_process: int, tmp_path: Path
) -> None:
    with pytest.raises(smtplib.SMTPConnectError) as err:
        smtplib.SMTP("127.0.0.1", relay_process, timeout=10, source_address=("127.0.0.1", 0))
    assert err.value.smtp_code == 554
    with smtplib.SMTP(
        "127.0.0.1", relay_process, timeout=10, source_address=("127.0.0.2", 0)
    ) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail("spammer@evil.example", ["x@partner.example"], b"Subject: x\r\n\r\nx\r\n")
        assert refused.value.smtp_code == 550
        smtp.rset()
        code, _ = smtp.docmd("MAIL", "FROM:<>")
        assert code == 250
