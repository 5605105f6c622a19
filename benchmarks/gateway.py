"""Gateway throughput through a real Postfix: the milter on loopback against Postfix alone.

20 KB messages from 4 concurrent SMTP clients (one connection each, many messages): to a
Postfix listener without the milter, then with ``postwarden milter`` on a loopback TCP socket
(``inet:``), then on a unix socket (``unix:``); all deliver to one aiosmtpd sink.  Reports
messages/s and median client latency (MAIL FROM to the reply after DATA) for each and the
ratios in one run.  Targets: >= 100 msg/s with the milter and <= 30 ms added median latency.
Needs root and Postfix (as the integration tests do).

Over TCP, Nagle meeting delayed ACKs used to cost up to 40 ms twice per 20 KB message (a
milter packet Postfix writes in 4 KB pieces; our two reply packets at end of message); the
milter sets TCP_QUICKACK and TCP_NODELAY on its sockets so ``inet:`` keeps up with ``unix:``
(docs/postfix.md, "unix socket or TCP").
"""

from __future__ import annotations

import os
import random
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

MESSAGES = int(os.environ.get("POSTWARDEN_BENCH_MESSAGES", "600"))
WARMUP = 40
CLIENTS = int(os.environ.get("POSTWARDEN_BENCH_CLIENTS", "4"))
SIZE = 20 * 1024
ORG = "demo.gov.hk"


def _tests_on_path() -> None:
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)


@dataclass(frozen=True, slots=True)
class Run:
    label: str
    seconds: float
    latencies: list[float]
    milter_cpu: float | None = None
    """CPU seconds the milter process spent over the measured messages."""

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_ms(self) -> str:
        """The milter's CPU per message: what its share of a core costs, whatever the load."""
        if self.milter_cpu is None:
            return ""
        return f"   milter CPU {self.milter_cpu / len(self.latencies) * 1000:5.2f} ms/msg"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.latencies, n=20)[-1] * 1000


def _message(n: int) -> bytes:
    """About 20 KB of ordinary business text going to a partner (inspected in full)."""
    rng = random.Random(n)
    words = (
        "meeting agenda venue budget schedule committee report please review the attached "
        "arrangements for next week training session district office update thanks"
    ).split()
    msg = EmailMessage()
    msg["From"] = f"alice@{ORG}"
    msg["To"] = "john.tse@partner.org.hk"
    msg["Subject"] = f"Arrangements {n}"
    text = []
    while sum(len(t) + 1 for t in text) < SIZE:
        text.append(" ".join(rng.choice(words) for _ in range(14)))
    msg.set_content("\n".join(text))
    return bytes(msg)


def _drive(port: int, messages: list[bytes]) -> Run:
    """Send ``messages`` over CLIENTS connections; latency per message as the client saw it."""
    shares = [messages[i::CLIENTS] for i in range(CLIENTS)]

    def client(share: list[bytes]) -> list[float]:
        out = []
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
            for raw in share:
                t0 = time.perf_counter()
                smtp.sendmail(f"alice@{ORG}", ["john.tse@partner.org.hk"], raw)
                out.append(time.perf_counter() - t0)
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        latencies = [x for part in pool.map(client, shares) for x in part]
    return Run("", time.perf_counter() - started, latencies)


def main() -> None:
    _tests_on_path()
    from tests.integration.postfix import (
        Ports,
        Sink,
        postfix_available,
    )

    reason = postfix_available()
    if reason is not None:
        print(f"  skipped: {reason}")
        return
    ports = Ports.allocate()
    work = Path(tempfile.mkdtemp(prefix="postwarden-bench-"))
    work.chmod(0o755)  # Postfix (user postfix) connects to the unix socket in here
    data = work / "var"
    cli = [sys.executable, "-m", "postwarden", "--data-dir", str(data)]
    subprocess.run(
        [
            *cli,
            "init",
            "--org-domain",
            ORG,
            "--partner-domain",
            "partner.org.hk",
            "--next-hop",
            f"127.0.0.1:{ports.reinject}",
        ],
        check=True,
        capture_output=True,
    )
    sink = Sink(ports.sink)
    sink.start()
    messages = [_message(n) for n in range(MESSAGES + WARMUP)]
    runs: list[Run] = []
    try:
        for label, milter_socket in (
            ("postfix alone", None),
            ("+ milter inet", f"inet:{ports.milter}@127.0.0.1"),
            ("+ milter unix", f"unix:{work / 'milter.sock'}"),
        ):
            runs.append(_measure(label, milter_socket, ports, cli, work, messages, sink))
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    alone = runs[0]
    print(
        f"  {MESSAGES} messages of {len(messages[0]) // 1024} KB, {CLIENTS} concurrent clients;"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for run in runs:
        added = run.median_ms - alone.median_ms
        print(
            f"  {run.label:14} {run.rate:7.1f} msg/s ({run.rate / alone.rate:4.2f}x)"
            f"   median {run.median_ms:6.1f} ms (+{added:5.1f})   p95 {run.p95_ms:6.1f} ms"
            f"{run.cpu_ms}"
        )
    share = max(run.rate for run in runs[1:]) / alone.rate
    print(f"  share of Postfix alone with the milter: {share:.2f} (goal >= 0.5)")
    print("  targets with the milter: >= 100 msg/s, <= 30 ms added median latency")
    print(f"  delivered at the sink: {len(sink.received)} of {3 * (MESSAGES + WARMUP)}")


def _measure(
    label: str,
    milter_socket: str | None,
    ports: Any,
    cli: list[str],
    work: Path,
    messages: list[bytes],
    sink: Any,
) -> Run:
    """One Postfix instance with (or without) the milter on ``milter_socket``."""
    from tests.integration.postfix import PostfixInstance, make_instance_root, wait_for_port

    class Instance(PostfixInstance):
        def main_cf(self) -> str:
            text = super().main_cf()
            inet = f"inet:127.0.0.1:{ports.milter}"
            if milter_socket is None:
                return text.replace(inet, "")
            if milter_socket.startswith("unix:"):
                return text.replace(inet, milter_socket)
            return text

    milter = None
    log = (work / "milter.log").open("ab")
    if milter_socket is not None:
        milter = subprocess.Popen(
            [*cli, "milter", "--listen", milter_socket], stdout=log, stderr=subprocess.STDOUT
        )
    postfix = Instance(make_instance_root(), ports)
    try:
        postfix.start()
        if milter_socket is not None and milter_socket.startswith("unix:"):
            sock = Path(milter_socket.removeprefix("unix:"))
            while not sock.exists():
                time.sleep(0.05)
            # libmilter makes the socket once the engine is loaded; Postfix runs as postfix
            # (in production: systemd UMask=0007 and Group=postfix, docs/postfix.md).
            sock.chmod(0o666)
        elif milter_socket is not None:
            wait_for_port(ports.milter, timeout=60)
        _drive(ports.filter, messages[:WARMUP])
        cpu = _cpu_seconds(milter)
        run = _drive(ports.filter, messages[WARMUP:])
        if milter is not None and cpu is not None:
            after = _cpu_seconds(milter)
            run = Run(label, run.seconds, run.latencies, after - cpu if after is not None else None)
        deadline = time.monotonic() + 120
        while len(sink.received) % len(messages) and time.monotonic() < deadline:
            time.sleep(0.2)  # let Postfix deliver what it accepted before it stops
    finally:
        postfix.stop()
        if milter is not None:
            milter.terminate()
            milter.wait(30)
        log.close()
        shutil.rmtree(postfix.root, ignore_errors=True)
    return Run(label, run.seconds, run.latencies, run.milter_cpu)


def _cpu_seconds(process: subprocess.Popen[bytes] | None) -> float | None:
    """User + system CPU seconds of a running child, from /proc (None without one)."""
    if process is None:
        return None
    fields = Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
