"""Peak memory of ``postwarden relay`` while 8 clients each send a 60 MB message at once.

The relay runs as its own process (the real CLI, real engine, outbox delivery); its peak
resident set (``VmHWM`` from /proc) is read once every message got its answer.
``python -m benchmarks relay_memory`` (``POSTWARDEN_BENCH_SRC=/other/src`` measures another
checkout). A second run serves the same relay with an admission gate of one message at a
time (``RelayHandler(admit=...)``, where the process's memory gate plugs in).
"""

from __future__ import annotations

import base64
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CLIENTS = 8
MESSAGE_BYTES = 60 * 1000 * 1000


def _message(i: int) -> bytes:
    # A 60 MB message: a short body and an attachment of incompressible bytes, base64 in
    # 76-character lines, as a mail client writes it.
    payload = os.urandom(MESSAGE_BYTES * 3 // 4 - 2000)
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    head = (
        "From: alice@demo.gov.hk\r\nTo: bob@demo.gov.hk\r\n"
        f"Subject: big {i}\r\nMessage-ID: <big{i}@demo.gov.hk>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe archive.\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="archive.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    return head + b64 + b"--b--\r\n"


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_one_at_a_time(data_dir: str, port: int, outbox: str) -> None:
    """The relay as ``postwarden relay`` builds it, plus ``admit``: one inspection at a time."""
    import asyncio
    import contextlib
    from collections.abc import AsyncIterator

    from postwarden.act import Gateway
    from postwarden.outbound import OutboxOutbound
    from postwarden.settings import load_settings
    from postwarden.transports.relay import RelayHandler
    from postwarden.transports.serve import Listener, serve

    settings = load_settings(Path(data_dir))
    outbound = OutboxOutbound(Path(outbox))
    gateway = Gateway.from_settings(settings, outbound=outbound)
    _ = gateway.inspector

    async def run() -> None:
        gate = asyncio.Semaphore(1)

        @contextlib.asynccontextmanager
        async def admit(size: int) -> AsyncIterator[None]:
            async with gate:
                yield

        handler = RelayHandler(gateway, outbound, timeout=600, admit=admit)
        await serve(handler, Listener("127.0.0.1", port))

    asyncio.run(run())


def main() -> None:
    src = os.environ.get("POSTWARDEN_BENCH_SRC") or str(Path(__file__).parents[1] / "src")
    for gated in (False, True):
        _measure(src, gated)


def _measure(src: str, gated: bool) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(Path(__file__).parents[1])])}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "var"
        cli = [sys.executable, "-m", "postwarden", "--data-dir", str(data)]
        subprocess.run(
            [*cli, "init", "--org-domain", "demo.gov.hk"],
            env=env,
            check=True,
            capture_output=True,
        )
        port = _free_port()
        outbox = str(Path(tmp) / "outbox")
        proc = subprocess.Popen(
            [
                *cli,
                "relay",
                "--listen",
                f"127.0.0.1:{port}",
                "--timeout",
                "600",
                "--outbox",
                outbox,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    smtplib.SMTP("127.0.0.1", port, timeout=5).quit()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            idle = _peak_rss_mib(proc.pid)
            messages = [_message(i) for i in range(CLIENTS)]
            answers: list[str] = []

            def send(raw: bytes) -> None:
                try:
                    with smtplib.SMTP("127.0.0.1", port, timeout=900) as smtp:
                        smtp.sendmail("alice@demo.gov.hk", ["bob@demo.gov.hk"], raw)
                    answers.append("250")
                except smtplib.SMTPException as exc:
                    answers.append(str(exc)[:80])

            start = time.monotonic()
            threads = [threading.Thread(target=send, args=(m,)) for m in messages]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.monotonic() - start
            peak = _peak_rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    size = len(messages[0]) / 1e6
    how = "one inspection at a time" if gated else "no admission gate"
    print(
        f"relay ({how}), {CLIENTS} concurrent {size:.0f} MB messages: peak RSS {peak:,.0f} MiB "
        f"(idle {idle:,.0f} MiB), {took:.1f} s, answers {sorted(set(answers))}"
    )


if __name__ == "__main__":
    _serve_one_at_a_time(sys.argv[1], int(sys.argv[2]), sys.argv[3])
