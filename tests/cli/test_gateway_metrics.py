"""``relay --metrics`` / ``milter --metrics``: the option serves the running gateway's counters,
and no command loads the metrics library unless it serves them."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.cli.invocation import run_cli
from tests.integration.postfix import free_port, wait_for_port

from postwarden.settings import init_data_dir

ORG = "demo.gov.hk"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return init_data_dir(tmp_path / "var", [ORG]).data_dir


@pytest.mark.parametrize("command", ["relay", "milter"])
def test_a_bad_metrics_address_is_a_usage_error(data_dir: Path, command: str) -> None:
    code, _, err = run_cli(data_dir, command, "--metrics", "nowhere")
    assert code == 2
    assert "--metrics: expected HOST:PORT, got 'nowhere'" in err


@pytest.fixture
def relay_with_metrics(data_dir: Path, tmp_path: Path) -> Iterator[tuple[int, int]]:
    smtp, metrics = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = ["relay", "--listen", f"127.0.0.1:{smtp}", "--outbox", str(tmp_path / "outbox")]
    args += ["--metrics", f"127.0.0.1:{metrics}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "postwarden", "--data-dir", str(data_dir), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(smtp, timeout=60)
        wait_for_port(metrics, timeout=10)
        yield smtp, metrics
    finally:
        proc.terminate()
        proc.wait(30)


def test_relay_metrics_count_the_mail_it_took(relay_with_metrics: tuple[int, int]) -> None:
    smtp, metrics = relay_with_metrics
    raw = f"From: a@{ORG}\r\nTo: b@{ORG}\r\nSubject: hi\r\n\r\nLunch?\r\n".encode()
    with smtplib.SMTP("127.0.0.1", smtp, timeout=30) as client:
        for _ in range(2):
            client.sendmail(f"a@{ORG}", [f"b@{ORG}"], raw)
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as r:
        text = r.read().decode()
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    delivered = ("postwarden_messages_total", (("action", "deliver"), ("disposition", "deliver")))
    assert got[delivered] == 2
    assert got[("postwarden_tempfails_total", (("cause", "timeout"), ("front", "relay")))] == 0
    assert got[("postwarden_inspected_bytes_total", ())] == 2 * len(raw)


def test_the_command_line_does_not_load_the_metrics_library() -> None:
    # Only a server that serves metrics pays for prometheus_client (issue 12: a fast CLI).
    code = (
        "import sys\n"
        "import postwarden.cli, postwarden.cli.gateway, postwarden.act\n"
        "assert 'prometheus_client' not in sys.modules, 'imported at CLI start'\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
