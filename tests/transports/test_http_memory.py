"""Large request bodies wait on disk, not in memory (measured on a real server process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import psutil
import pytest
from tests.integration.postfix import free_port, wait_for_port
from tests.transports.test_serve import api_token

from postwarden.settings import Settings, write_atomic

MB = 1024 * 1024
BODY = 60 * MB
CLIENTS = 4


def _peak_rss_while(pid: int, work: threading.Thread) -> int:
    proc = psutil.Process(pid)
    peak = 0
    while work.is_alive():
        peak = max(peak, proc.memory_info().rss)
        time.sleep(0.005)
    return peak


@pytest.mark.timeout(300)
def test_concurrent_60mb_bodies_do_not_pile_up_in_memory(settings: Settings) -> None:
    # The default inspection budget (512 MiB) charges 8 x 60 MB per message: one at a time.
    limited = replace(settings, access=replace(settings.access, http_body_timeout=120.0))
    data = limited.to_json()
    write_atomic(limited.settings_file, json.dumps(data).encode(), mode=0o600)
    token = api_token(limited)
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.transports.lean_server", str(settings.data_dir), str(port)],
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, timeout=60)
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).raise_for_status()
        baseline = psutil.Process(server.pid).memory_info().rss
        body = b"From: a@demo.gov.hk\r\nTo: b@x.example\r\n\r\n" + b"x" * 99 + b"\r\n"
        body = body * (BODY // len(body))
        answers: list[int] = []

        def send() -> None:
            r = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/check",
                content=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            answers.append(r.status_code)

        def all_clients() -> None:
            clients = [threading.Thread(target=send) for _ in range(CLIENTS)]
            for c in clients:
                c.start()
            for c in clients:
                c.join()

        work = threading.Thread(target=all_clients)
        work.start()
        peak = _peak_rss_while(server.pid, work)
        work.join()
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert answers == [200] * CLIENTS, err.decode(errors="replace")[-2000:]
    grown = peak - baseline
    # Held in memory, four bodies are 4 x 60 MB (measured: +254 MiB with spooling and the gate
    # turned off; the old code, chunks plus their join, twice that); spooled and admitted one
    # at a time it is one message (measured: +63 MiB).
    assert grown < 2 * BODY, f"RSS grew by {grown / MB:.0f} MiB"
