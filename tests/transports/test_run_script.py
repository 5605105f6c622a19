"""``make run`` (scripts/run.sh): a fresh data dir, demo data, the gateway, a clean stop."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.postfix import free_port, wait_for_port

from postwarden.outbound import OutboxOutbound

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run.sh"


@pytest.mark.slow
def test_run_script_serves_demo_gateway_into_outbox_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "var"
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "POSTWARDEN_DATA_DIR": str(data),
        "POSTWARDEN_SMTP": f"127.0.0.1:{smtp_port}",
        "POSTWARDEN_HTTP": f"127.0.0.1:{http_port}",
        "PY": sys.executable,
    }
    out = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen([str(SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(smtp_port, timeout=90)
        wait_for_port(http_port, timeout=30)
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.sendmail(
                "alice@demo.gov.hk",
                ["bob@demo.gov.hk"],
                b"Subject: hello\r\n\r\nHello from the run script test.\r\n",
            )
        (sent,) = OutboxOutbound(data / "outbox").messages()
        assert b"Hello from the run script test." in sent.raw
        assert sent.recipients == ("bob@demo.gov.hk",)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        out.close()
    log = (tmp_path / "run.log").read_text()
    assert f'smtplib.SMTP("127.0.0.1", {smtp_port})' in log  # the printed one-liner
    assert "demo register 'demo-voters'" in log
    assert (data / "registers" / "demo-voters").exists()
    assert sorted(p.name for p in (data / "demo").iterdir()) == [
        "clean.eml",
        "register.eml",
        "webmail.eml",
    ]
