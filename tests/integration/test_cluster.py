"""Three ``serve`` nodes on one PostgreSQL behind Postfix and haproxy (docs/cluster.md).

Postfix's content filter goes to haproxy, which spreads connections over three nodes, each
with its own data dir; the nodes deliver to a sink.  While 1,000 messages (one in ten
holding an HKID, so held) pass, one node is killed with SIGKILL and started again: Postfix
retries what it did not finish, so every message ends in the sink or the quarantine.  Then
items held by one node are released from another, exactly once; every node's ``audit verify``
passes; a register imported on one node is used by every node's checks within a minute.
"""

from __future__ import annotations

import dataclasses
import email
import smtplib
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.cli.invocation import run_cli
from tests.cluster_nodes import make_nodes
from tests.engine.registers.people import generate
from tests.integration.conftest import Daemon
from tests.integration.messages import HKID
from tests.integration.postfix import (
    Ports,
    PostfixInstance,
    Sink,
    free_port,
    make_instance_root,
    postfix_available,
    wait_for_port,
)
from tests.pg import PgCluster

from postwarden.settings import Settings
from postwarden.store.db import make_engine, session_factory
from postwarden.store.quarantine import Quarantine, QuarantineItem

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

MESSAGES = 1000
SENDER = "alice@example.org"
RCPT = "bob@partner.example"
HAPROXY = "/usr/sbin/haproxy"


def _mail(n: int, *, held: bool) -> bytes:
    body = f"Card holder HKID {HKID} needs the form." if held else "Meeting at three."
    return (
        f"From: {SENDER}\r\nTo: {RCPT}\r\nSubject: cluster c{n:05d}x\r\n"
        f"Message-ID: <c{n:05d}@example.org>\r\n\r\n{body}\r\nref c{n:05d}x\r\n"
    ).encode()


def _marks(raw: bytes) -> set[str]:
    subject = email.message_from_bytes(raw).get("Subject", "")
    return {w for w in subject.split() if w.startswith("c") and w.endswith("x")}


@dataclasses.dataclass(slots=True)
class Haproxy:
    config: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


def _haproxy_cfg(front: int, backends: list[int]) -> str:
    servers = "\n".join(
        f"  server n{i} 127.0.0.1:{p} check inter 500 fall 1 rise 2" for i, p in enumerate(backends)
    )
    return f"""\
defaults
  mode tcp
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  retries 2
  option redispatch
frontend smtp
  bind 127.0.0.1:{front}
  default_backend nodes
backend nodes
  balance roundrobin
{servers}
"""


@dataclasses.dataclass(slots=True)
class ClusterStack:
    nodes: list[Settings]
    daemons: list[Daemon]
    sink: Sink
    postfix: PostfixInstance
    url: str


@pytest.fixture
def cluster_stack(pg_cluster: PgCluster, tmp_path: Path) -> Iterator[ClusterStack]:
    if (reason := postfix_available()) is not None:
        pytest.skip(reason)
    if not Path(HAPROXY).exists():
        pytest.skip("haproxy is not installed (scripts/bootstrap.sh installs it)")
    url = pg_cluster.url(pg_cluster.create_database(template="postwarden_template"))
    ports = Ports.allocate()
    front = free_port()
    sink = Sink(ports.sink)
    nodes = make_nodes(
        tmp_path,
        url,
        3,
        next_hop=f"127.0.0.1:{ports.sink}",
        register_poll_seconds=5.0,
        release_lease_seconds=30.0,
    )
    code, _, err = run_cli(
        nodes[0].data_dir,
        "user",
        "add",
        "rita",
        "--role",
        "privacy-officer",
        "--email",
        "rita@example.org",
    )
    assert code == 0, err
    smtp_ports = [free_port() for _ in nodes]
    daemons = [
        Daemon(
            node.data_dir,
            [
                "serve",
                "--smtp",
                f"127.0.0.1:{port}",
                "--http",
                f"127.0.0.1:{free_port()}",
                "--timeout",
                "50",
            ],
            port,
            tmp_path / f"node{n}.log",
        )
        for n, (node, port) in enumerate(zip(nodes, smtp_ports, strict=True))
    ]
    haproxy = Haproxy(tmp_path / "haproxy.cfg")
    haproxy.config.write_text(_haproxy_cfg(front, smtp_ports))
    postfix = PostfixInstance(make_instance_root(), dataclasses.replace(ports, relay=front))
    sink.start()
    try:
        for d in daemons:
            d.launch()
        for d in daemons:
            d.wait_ready()
        haproxy.start(front)
        postfix.start()
        yield ClusterStack(nodes, daemons, sink, postfix, url)
    finally:
        postfix.stop()
        haproxy.stop()
        for d in daemons:
            d.stop()
        sink.stop()


def _send_all(port: int, messages: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for raw in messages:
            smtp.sendmail(SENDER, [RCPT], raw)


def _delivered(sink: Sink) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in sink.matching("Subject: cluster"):
        if r.sender == SENDER and r.recipients == (RCPT,):
            for mark in _marks(r.raw):
                counts[mark] = counts.get(mark, 0) + 1
    return counts


@dataclasses.dataclass(frozen=True, slots=True)
class Held:
    id: str
    subjects: dict[str, int]
    held_by: str | None


def _held(stack: ClusterStack) -> dict[str, list[Held]]:
    """Held items by the marker in their (decrypted) subject."""
    engine = make_engine(stack.url)
    try:
        quarantine = Quarantine.from_settings(stack.nodes[0], engine)
        with session_factory(engine)() as s:
            out: dict[str, list[Held]] = {}
            for item in s.execute(select(QuarantineItem)).scalars():
                held = Held(item.id, dict(item.subjects), Quarantine.held_by(s, item.id))
                for mark in _marks(quarantine.read(item)):
                    out.setdefault(mark, []).append(held)
            return out
    finally:
        engine.dispose()


def test_three_nodes_lose_nothing_and_release_once(cluster_stack: ClusterStack) -> None:
    stack = cluster_stack
    started = time.monotonic()
    held_every = 10
    batches = [
        [_mail(n, held=n % held_every == 0) for n in range(b, min(b + 100, MESSAGES))]
        for b in range(0, MESSAGES, 100)
    ]
    senders = [
        threading.Thread(target=_send_all, args=(stack.postfix.ports.relay_in, batch))
        for batch in batches
    ]
    for t in senders:
        t.start()
    # Kill a node with SIGKILL mid-run, and start it again.
    victim = stack.daemons[1]
    deadline = time.monotonic() + 120
    while len(_delivered(stack.sink)) < MESSAGES // 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    victim.kill()
    time.sleep(2)
    victim.launch()
    for t in senders:
        t.join()
    victim.wait_ready()
    want = {f"c{n:05d}x" for n in range(MESSAGES)}
    deadline = time.monotonic() + 240
    while True:
        delivered, held = _delivered(stack.sink), _held(stack)
        if set(delivered) | set(held) >= want or time.monotonic() > deadline:
            break
        stack.postfix.flush()  # retry what a killed node left deferred
        time.sleep(3)
    assert set(delivered) | set(held) == want, "messages lost"
    # Every HKID message is held (other rules, such as a first message to a new partner,
    # may hold a few more).
    assert set(held) >= {f"c{n:05d}x" for n in range(0, MESSAGES, held_every)}
    assert not set(delivered) & set(held)  # nothing held was delivered
    assert not stack.postfix.queue()
    holders = {i.held_by for items in held.values() for i in items}
    assert len(holders) >= 2, holders  # haproxy spread the load

    # Released from another node than the one that held it, each exactly once.
    to_release = [held[f"c{n:05d}x"][0] for n in range(0, 6 * held_every, held_every)]
    for item in to_release:
        other = next(n for n in stack.nodes if n.node_id != item.held_by)
        code, _, err = run_cli(
            other.data_dir, "quarantine", "release", item.id, "--by", "rita", "--reason", "ok"
        )
        assert code == 0, err
        again, _, _ = run_cli(
            stack.nodes[0].data_dir,
            "quarantine",
            "release",
            item.id,
            "--by",
            "rita",
            "--reason",
            "ok",
        )
        assert again != 0
    released = {m for i in to_release for m in _marks(_read(stack, i.id))}
    delivered = _delivered(stack.sink)
    assert all(delivered.get(m) == 1 for m in released), released

    for node in stack.nodes:
        code, out, err = run_cli(node.data_dir, "audit", "verify")
        assert code == 0, err
        assert "audit log ok" in out

    # A register imported on node 2 is used by every node's checks within a minute.
    people = generate(50, seed=12)
    source = stack.nodes[2].data_dir.parent / "voters.csv"
    source.write_text(people.csv_text(), encoding="utf-8")
    code, out, err = run_cli(
        stack.nodes[2].data_dir, "register", "import", str(source), "--name", "voters"
    )
    assert code == 0, err
    imported = time.monotonic()
    hkid = str(people.hkid[0])
    for n, daemon in enumerate(stack.daemons):
        while True:
            raw = _mail(90000 + n, held=False).replace(b"Meeting at three.", hkid.encode())
            _send_all(daemon.port, [raw])
            found = [
                i for i in _held(stack).get(f"c{90000 + n:05d}x", []) if i.subjects.get("voters")
            ]
            if found:
                assert found[0].held_by == stack.nodes[n].node_id
                break
            assert time.monotonic() - imported < 60, f"node{n} did not use the new register"
            time.sleep(2)
    assert time.monotonic() - started < 600


def _read(stack: ClusterStack, item_id: str) -> bytes:
    engine = make_engine(stack.url)
    try:
        with session_factory(engine)() as s:
            return Quarantine.from_settings(stack.nodes[0], engine).read(Quarantine.get(s, item_id))
    finally:
        engine.dispose()
