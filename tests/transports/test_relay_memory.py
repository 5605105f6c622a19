"""Concurrent large messages through ``postwarden relay`` and ``postwarden serve`` are
inspected in turn, within the process's memory budget (measured on the real CLI process; the
full figures are in ``make bench BENCH=memory``)."""

from __future__ import annotations

import base64
import json
import os
import random
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import psutil
import pytest
from tests.integration.postfix import free_port, wait_for_port
from tests.transports.test_serve import api_token

from postwarden.settings import Settings, write_atomic
from postwarden.store.tokens import TokenScope
from postwarden.transports.admission import inspection_cost

MB = 1024 * 1024
SIZE = 60 * MB
CLIENTS = 4
# One inspection at a time under the default 512 MiB budget (each is charged 8 x 60 MB):
# measured +560 MiB through the relay (+559 through serve), the inspection in progress and
# its message.  Never two at once is the property: well under twice one inspection's charge.
BOUND = inspection_cost(SIZE) * 8 // 5


def _message(n: int) -> bytes:
    """A 60 MB message as a mail client writes it: a short text and a base64 attachment."""
    payload = base64.encodebytes(random.Random(n).randbytes(SIZE * 3 // 4))
    head = (
        f"From: alice@demo.gov.hk\r\nTo: bob@demo.gov.hk\r\nSubject: archive {n}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        "--BB\r\nContent-Type: text/plain\r\n\r\nThe archive.\r\n"
        "--BB\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename=archive.bin\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    return head + payload.replace(b"\n", b"\r\n") + b"--BB--\r\n"


def _by_smtp(port: int) -> Callable[[bytes], str]:
    def send(raw: bytes) -> str:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=500) as smtp:
                smtp.sendmail("alice@demo.gov.hk", ["bob@demo.gov.hk"], raw)
        except (smtplib.SMTPException, OSError) as exc:
            return repr(exc)[:200]
        return "ok"

    return send


def _by_api(port: int, token: str) -> Callable[[bytes], str]:
    def send(raw: bytes) -> str:
        try:
            r = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/check",
                content=raw,
                headers={"Authorization": f"Bearer {token}"},
                timeout=500,
            )
        except httpx.TransportError as exc:
            return repr(exc)[:200]
        return "ok" if r.status_code == 200 else f"HTTP {r.status_code}"

    return send


def _rss_growth(
    settings: Settings,
    command: list[str],
    port: int,
    jobs: list[tuple[Callable[[bytes], str], bytes]],
) -> int:
    """Run ``postwarden COMMAND``, send every job's message at once, return the peak RSS
    growth of the server process over its idle baseline."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    server = subprocess.Popen(
        [sys.executable, "-m", "postwarden", "--data-dir", str(settings.data_dir), *command],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    answers: list[str] = []
    try:
        wait_for_port(port, timeout=60)
        watched = psutil.Process(server.pid)
        baseline = watched.memory_info().rss
        clients = [
            threading.Thread(target=lambda s=send, r=raw: answers.append(s(r)))
            for send, raw in jobs
        ]
        for c in clients:
            c.start()
        peak = baseline
        while any(c.is_alive() for c in clients):
            peak = max(peak, watched.memory_info().rss)
            time.sleep(0.005)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    assert answers == ["ok"] * len(jobs), err.decode(errors="replace")[-2000:]
    return peak - baseline


@pytest.mark.timeout(600)
def test_concurrent_60mb_messages_through_the_relay_are_inspected_in_turn(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    command = [
        "relay", "--listen", f"127.0.0.1:{port}", "--outbox", str(tmp_path / "outbox"),
        "--timeout", "500",
    ]  # fmt: skip
    jobs = [(_by_smtp(port), _message(n)) for n in range(CLIENTS)]
    grown = _rss_growth(settings, command, port, jobs)
    # The old relay had no gate and inspected all four at once: measured +1,056 MiB.
    assert grown < BOUND, f"RSS grew by {grown / MB:.0f} MiB, bound {BOUND / MB:.0f} MiB"


@pytest.mark.timeout(600)
def test_relay_and_api_of_one_serve_process_share_one_memory_gate(
    settings: Settings, tmp_path: Path
) -> None:
    # Bodies arrive while another message is inspected: give them time to (the test's point
    # is memory, not the body deadline).
    patient = replace(settings, access=replace(settings.access, http_body_timeout=300.0))
    write_atomic(patient.settings_file, json.dumps(patient.to_json()).encode(), mode=0o600)
    smtp, http = free_port(), free_port()
    token = api_token(patient, TokenScope.CHECK)
    command = [
        "serve", "--smtp", f"127.0.0.1:{smtp}", "--http", f"127.0.0.1:{http}",
        "--outbox", str(tmp_path / "outbox"), "--timeout", "500",
    ]  # fmt: skip
    jobs = [(_by_smtp(smtp), _message(n)) for n in range(2)]
    jobs += [(_by_api(http, token), _message(n)) for n in range(2, 4)]
    grown = _rss_growth(settings, command, http, jobs)
    # One gate for both: measured +559 MiB.  Before, the API had a gate of its own and the
    # relay none, so their inspections ran side by side: measured +1,569 MiB.
    assert grown < BOUND, f"RSS grew by {grown / MB:.0f} MiB, bound {BOUND / MB:.0f} MiB"
