"""Session fixtures for the real-Postfix tests: sink, data dir, milter and relay processes,
and the Postfix instance in front of them (topology in ``postfix.py``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.integration.postfix import (
    Ports,
    PostfixInstance,
    Sink,
    make_instance_root,
    postfix_available,
    wait_for_port,
)

ORG = "demo.gov.hk"
SENDER = f"alice@{ORG}"
REVIEWER = "rita"
REVIEWER_EMAIL = f"rita@{ORG}"

SKIP_REASON = postfix_available()


def postwarden(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI as an operator would; with ``check``, a failure shows its stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "postwarden", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"postwarden {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
    return proc


@dataclass(slots=True)
class Daemon:
    """A long-running ``postwarden`` subprocess listening on ``port``."""

    data_dir: Path
    args: list[str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "postwarden", "--data-dir", str(self.data_dir), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        try:
            wait_for_port(self.port, timeout=120)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.args[0]} did not start:\n{self.log()}") from None

    def kill(self) -> None:
        """``kill -9``: no cleanup, no goodbye to Postfix."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass(slots=True)
class Stack:
    """Everything one integration session runs."""

    ports: Ports
    sink: Sink
    postfix: PostfixInstance
    data_dir: Path
    milter: Daemon
    relay: Daemon

    def quarantine(self) -> list[dict[str, Any]]:
        out = postwarden(self.data_dir, "quarantine", "list", "--json").stdout
        items: list[dict[str, Any]] = json.loads(out)
        return items

    def held_for(self, recipient: str) -> list[dict[str, Any]]:
        return [i for i in self.quarantine() if recipient in i["recipients"]]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    ports = Ports.allocate()
    work = tmp_path_factory.mktemp("gateway")
    data_dir = work / "var"
    postwarden(data_dir, "init", "--org-domain", ORG, "--next-hop", f"127.0.0.1:{ports.reinject}")
    postwarden(
        data_dir, "user", "add", REVIEWER, "--role", "privacy-officer", "--email", REVIEWER_EMAIL
    )
    sink = Sink(ports.sink)
    sink.start()
    milter = Daemon(
        data_dir,
        ["milter", "--listen", f"inet:{ports.milter}@127.0.0.1", "--timeout", "50"],
        ports.milter,
        work / "milter.log",
    )
    relay = Daemon(
        data_dir,
        ["relay", "--listen", f"127.0.0.1:{ports.relay}", "--timeout", "50"],
        ports.relay,
        work / "relay.log",
    )
    postfix = PostfixInstance(make_instance_root(), ports)
    try:
        milter.launch()
        relay.launch()
        postfix.start()
        milter.wait_ready()
        relay.wait_ready()
        yield Stack(ports, sink, postfix, data_dir, milter, relay)
    finally:
        postfix.stop()
        milter.stop()
        relay.stop()
        sink.stop()
        if os.environ.get("POSTWARDEN_KEEP_POSTFIX") is None:
            shutil.rmtree(postfix.root, ignore_errors=True)
