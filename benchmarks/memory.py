"""Peak memory of ``postwarden serve`` under 8 concurrent 60 MB messages, against the ceiling.

A fresh data dir (no registers), ``postwarden serve`` in its own process with the default
settings, then 8 clients at once each send a 60 MB message (half a text body full of names,
phones and addresses, half a base64 attachment) through the relay, through the HTTP API, and
through both at once (8 + 8 clients: the real case, one process and one memory gate).  The
serve process's RSS is sampled every 5 ms; the figure is its peak against the baseline after
start and one warm-up message per front end, and against the documented ceiling
(docs/security.md, ``postwarden.transports.admission.memory_ceiling``):

    ceiling = access.inspection_memory_bytes + 512 MiB

The 512 MiB cover the loaded engine, the interpreter and the transports' buffers; bodies
past ``access.spool_bytes`` wait on disk and an inspection is charged 8 x its message size
at the process-wide gate (``postwarden.transports.admission``) that the relay and the API
share, so 60 MB messages are inspected one at a time under the default 512 MiB budget.  A
register's memory-mapped index comes on top (shared by every process, see ``make bench
BENCH=registers``).  ``POSTWARDEN_BENCH_SRC=/other/src`` measures another checkout;
``POSTWARDEN_BENCH_SCENARIO="relay"`` runs one scenario.

To add a front end, write ``def _through_X(ports, raw) -> str`` that sends one message and
returns its outcome, and add it to ``SCENARIOS``.
"""

from __future__ import annotations

import base64
import json
import os
import random
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

MB = 1024 * 1024
SIZE = int(os.environ.get("POSTWARDEN_BENCH_MESSAGE_MB", "60")) * MB
CLIENTS = int(os.environ.get("POSTWARDEN_BENCH_CLIENTS", "8"))
ORG = "demo.gov.hk"
ROOT = Path(__file__).resolve().parents[1]
SRC = os.environ.get("POSTWARDEN_BENCH_SRC") or str(ROOT / "src")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, str(ROOT)])}


@dataclass(frozen=True, slots=True)
class Ports:
    smtp: int
    http: int
    token: str


@dataclass(frozen=True, slots=True)
class Result:
    front_end: str
    baseline: int
    peak: int
    seconds: float
    outcomes: list[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _text_message(n: int) -> bytes:
    rng = random.Random(n)
    surnames = ["CHAN", "WONG", "LEE", "CHEUNG", "LAU", "NG", "HO", "LAM"]
    lines = []
    size = 0
    while size < SIZE:
        line = (
            f"Dear Mr {rng.choice(surnames)} Tai Man, your phone 9{rng.randrange(10**7):07d} "
            f"and ref {rng.randrange(10**5)} are noted. Flat {rng.randrange(1, 40)}, "
            f"{rng.randrange(1, 300)} Nathan Road, Kowloon.\r\n"
        )
        lines.append(line)
        size += len(line)
    head = f"From: alice@{ORG}\r\nTo: bob@partner.example\r\nSubject: list {n}\r\n\r\n"
    return (head + "".join(lines)).encode()


def _binary_message(n: int) -> bytes:
    payload = base64.encodebytes(random.Random(n).randbytes(SIZE * 3 // 4))
    return (
        (
            f"From: alice@{ORG}\r\nTo: bob@partner.example\r\nSubject: data {n}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
            "--BB\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
            "--BB\r\nContent-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=data.bin\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + payload.replace(b"\n", b"\r\n")
        + b"\r\n--BB--\r\n"
    )


def _through_api(ports: Ports, raw: bytes) -> str:
    try:
        r = httpx.post(
            f"http://127.0.0.1:{ports.http}/api/v1/check",
            content=raw,
            headers={"Authorization": f"Bearer {ports.token}", "Content-Type": "message/rfc822"},
            timeout=1800,
        )
    except httpx.TransportError as exc:  # the server went away
        return type(exc).__name__
    return str(r.json().get("action")) if r.status_code == 200 else f"HTTP {r.status_code}"


def _warm_api(ports: Ports) -> None:
    raw = f"From: alice@{ORG}\r\nTo: bob@{ORG}\r\nSubject: hi\r\n\r\nHello.\r\n".encode()
    _through_api(ports, raw)


def _through_relay(ports: Ports, raw: bytes) -> str:
    try:
        with smtplib.SMTP("127.0.0.1", ports.smtp, timeout=900) as smtp:
            smtp.sendmail(f"alice@{ORG}", ["bob@partner.example"], raw)
    except smtplib.SMTPResponseException as exc:
        return f"SMTP {exc.smtp_code}"
    except (smtplib.SMTPException, OSError) as exc:  # OSError: the server went away
        return type(exc).__name__
    return "SMTP 250"


def _warm_relay(ports: Ports) -> None:
    raw = f"From: alice@{ORG}\r\nTo: bob@{ORG}\r\nSubject: hi\r\n\r\nHello.\r\n".encode()
    _through_relay(ports, raw)


Send = Callable[[Ports, bytes], str]
Warm = Callable[[Ports], None]

API: tuple[Send, Warm] = (_through_api, _warm_api)
RELAY: tuple[Send, Warm] = (_through_relay, _warm_relay)

SCENARIOS: list[tuple[str, list[tuple[Send, Warm]]]] = [
    ("HTTP API", [API]),
    ("relay", [RELAY]),
    ("relay + HTTP API", [RELAY, API]),
]
"""(name, front ends) of ``postwarden serve``: every message goes through each front end."""


def _cli(data_dir: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "postwarden", "--data-dir", str(data_dir), *args],
        check=True,
        capture_output=True,
        text=True,
        env=ENV,
    )
    return out.stdout


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("postwarden serve exited during start")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("postwarden serve did not start")


def _run(name: str, front_ends: list[tuple[Send, Warm]], messages: list[bytes]) -> Result:
    with tempfile.TemporaryDirectory(prefix="pw-memory-") as tmp:
        data_dir = Path(tmp) / "var"
        _cli(data_dir, "init", "--org-domain", ORG)
        token = json.loads(_cli(data_dir, "token", "add", "bench", "--scope", "check", "--json"))
        ports = Ports(_free_port(), _free_port(), token["token"])
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "postwarden", "--data-dir", str(data_dir), "serve",
                "--smtp", f"127.0.0.1:{ports.smtp}", "--http", f"127.0.0.1:{ports.http}",
                "--outbox", str(Path(tmp) / "outbox"), "--timeout", "1800",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=ENV,
        )  # fmt: skip
        try:
            _wait_for(ports.http, proc)
            for _send, warm in front_ends:
                warm(ports)
            watched = psutil.Process(proc.pid)
            baseline = watched.memory_info().rss
            peak = baseline
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    try:
                        peak = max(peak, watched.memory_info().rss)
                    except psutil.NoSuchProcess:
                        return
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.monotonic()
            jobs = [(send, raw) for raw in messages for send, _warm in front_ends]
            with ThreadPoolExecutor(len(jobs)) as pool:
                outcomes = list(pool.map(lambda job: job[0](ports, job[1]), jobs))
            seconds = time.monotonic() - started
            done.set()
            sampler.join()
            if proc.poll() is not None:
                outcomes.append(f"serve exited with {proc.returncode}")
        finally:
            proc.terminate()
            proc.wait(60)
    return Result(name, baseline, peak, seconds, outcomes)


def main() -> None:
    from postwarden.settings import Access
    from postwarden.transports.admission import FIXED_MEMORY_BYTES, memory_ceiling

    budget = Access().inspection_memory_bytes
    ceiling = memory_ceiling(budget)
    print(
        f"{CLIENTS} concurrent messages of {SIZE / MB:.0f} MiB per front end (text and base64 "
        f"attachment); ceiling {ceiling / MB:,.0f} MiB (inspection_memory_bytes "
        f"{budget / MB:.0f} MiB + {FIXED_MEMORY_BYTES / MB:.0f} MiB)"
    )
    messages = [(_text_message if n % 2 else _binary_message)(n) for n in range(CLIENTS)]
    only = os.environ.get("POSTWARDEN_BENCH_SCENARIO")  # e.g. "relay + HTTP API"
    for name, front_ends in SCENARIOS:
        if only and name != only:
            continue
        r = _run(name, front_ends, messages)
        verdict = "under" if r.peak <= ceiling else "OVER"
        print(
            f"{name}: peak RSS {r.peak / MB:,.0f} MiB, ceiling {ceiling / MB:,.0f} MiB "
            f"({verdict}); baseline {r.baseline / MB:,.0f} MiB, "
            f"+{(r.peak - r.baseline) / MB:,.0f} MiB; {len(r.outcomes)} messages in "
            f"{r.seconds:.1f} s; outcomes {sorted(set(r.outcomes))}",
            flush=True,
        )


if __name__ == "__main__":
    main()
