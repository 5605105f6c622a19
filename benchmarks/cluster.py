"""Cluster throughput: Postfix with 1, 2 and 3 milter nodes on one PostgreSQL, behind haproxy.

Each node is ``postwarden milter`` with its own data dir (docs/cluster.md) on one throwaway
PostgreSQL; Debian's haproxy spreads Postfix's milter connections (one per SMTP session) over
them.  20 KB messages from 6 concurrent SMTP clients, as in ``benchmarks/gateway.py``, and
Postfix alone to the same sink in the same run.  Reports messages/s and the nodes' CPU per
message (utime + stime from /proc).  This machine has few cores, shared with other work:
nodes past its core count add no throughput here (docs/cluster.md says what scales).
Needs root, Postfix, PostgreSQL and haproxy (as the integration tests do).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.gateway import _message, _tests_on_path

MESSAGES = int(os.environ.get("POSTWARDEN_BENCH_MESSAGES", "300"))
WARMUP = 30
CLIENTS = 6
HAPROXY = "/usr/sbin/haproxy"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drive(port: int, messages: list[bytes]) -> float:
    """Seconds to send ``messages`` over CLIENTS connections."""
    import smtplib
    from concurrent.futures import ThreadPoolExecutor

    def client(share: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
            for raw in share:
                smtp.sendmail("alice@example.org", ["john.tse@partner.org.hk"], raw)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, [messages[i::CLIENTS] for i in range(CLIENTS)]))
    return time.perf_counter() - started


def main() -> None:
    _tests_on_path()
    from tests.cluster_nodes import make_nodes
    from tests.integration.postfix import Ports, Sink, postfix_available
    from tests.pg import PgCluster, find_pg_bin

    from postwarden.store.db import migrate

    reason = postfix_available()
    bin_dir = find_pg_bin()
    if reason is None and bin_dir is None:
        reason = "PostgreSQL is not installed"
    if reason is None and not Path(HAPROXY).exists():
        reason = "haproxy is not installed"
    if reason is not None:
        print(f"  skipped: {reason}")
        return
    assert bin_dir is not None
    pg = PgCluster(bin_dir)
    pg.start()
    ports = Ports.allocate()
    work = Path(tempfile.mkdtemp(prefix="postwarden-bench-cluster-"))
    sink = Sink(ports.sink)
    sink.start()
    messages = [
        _message(n).replace(b"demo.gov.hk", b"example.org") for n in range(MESSAGES + WARMUP)
    ]
    results: list[tuple[str, float, float | None]] = []
    try:
        url = pg.url(pg.create_database())
        migrate(url)
        nodes = make_nodes(work, url, 3, next_hop=f"127.0.0.1:{ports.reinject}")
        for count in (0, 1, 2, 3):
            label = "postfix alone" if count == 0 else f"{count} node{'s' * (count > 1)}"
            seconds, cpu = _measure(count, nodes, ports, work, messages)
            results.append((label, seconds, cpu))
    finally:
        sink.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"  {MESSAGES} messages of {len(messages[0]) // 1024} KB, {CLIENTS} clients, "
        f"{os.cpu_count()} CPUs"
    )
    alone = MESSAGES / results[0][1]
    for label, seconds, cpu in results:
        rate = MESSAGES / seconds
        per = f"   nodes' CPU {cpu * 1000 / MESSAGES:5.1f} ms/msg" if cpu is not None else ""
        print(f"  {label:14} {rate:7.1f} msg/s ({rate / alone:4.2f}x){per}")


def _measure(
    count: int, nodes: list[Any], ports: Any, work: Path, messages: list[bytes]
) -> tuple[float, float | None]:
    """Postfix with ``count`` milter nodes behind haproxy (0: no milter)."""
    from tests.integration.postfix import (
        PostfixInstance,
        free_port,
        make_instance_root,
        wait_for_port,
    )

    front = free_port()

    class Instance(PostfixInstance):
        def main_cf(self) -> str:
            text = super().main_cf()
            milter = f"inet:127.0.0.1:{ports.milter}"
            return text.replace(milter, f"inet:127.0.0.1:{front}" if count else "")

    daemons = []
    haproxy = None
    backends = [free_port() for _ in range(count)]
    for node, port in zip(nodes, backends, strict=False):
        log = (work / f"{node.node_id}.log").open("ab")
        daemons.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "postwarden",
                    "--data-dir",
                    str(node.data_dir),
                    "milter",
                    "--listen",
                    f"inet:{port}@127.0.0.1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    if count:
        servers = "\n".join(f"  server n{i} 127.0.0.1:{p}" for i, p in enumerate(backends))
        cfg = work / "haproxy.cfg"
        cfg.write_text(
            "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 120s\n"
            f"  timeout server 120s\nfrontend milter\n  bind 127.0.0.1:{front}\n"
            f"  default_backend nodes\nbackend nodes\n  balance leastconn\n{servers}\n"
        )
        haproxy = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)])
    postfix = Instance(make_instance_root(), ports)
    try:
        for port in backends:
            wait_for_port(port, timeout=180)
        if count:
            wait_for_port(front)
        postfix.start()
        _drive(ports.filter, messages[:WARMUP])
        before = sum(_cpu_seconds(d.pid) for d in daemons)
        seconds = _drive(ports.filter, messages[WARMUP:])
        cpu = sum(_cpu_seconds(d.pid) for d in daemons) - before if count else None
    finally:
        postfix.stop()
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(10)
        for d in daemons:
            d.terminate()
            d.wait(30)
        shutil.rmtree(postfix.root, ignore_errors=True)
    return seconds, cpu


if __name__ == "__main__":
    main()
