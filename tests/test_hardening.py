"""A listener forbids itself core dumps: its memory holds the register key and mail."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

from tests.integration.postfix import free_port, wait_for_port

from postwarden.settings import init_data_dir


def _core_limit(pid: int) -> tuple[str, str]:
    """The soft and hard "Max core file size" of process ``pid`` (/proc/PID/limits)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core limit listed")


def test_forbidding_core_dumps_sets_both_limits_to_zero() -> None:
    code = (
        "import resource\n"
        "from postwarden.hardening import forbid_core_dumps\n"
        "forbid_core_dumps()\n"
        "print(*resource.getrlimit(resource.RLIMIT_CORE))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        # a child allowed to dump, so that the zero is the function's doing
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20)),
    ).stdout
    assert out.split() == ["0", "0"]


def test_a_running_relay_cannot_dump_core(tmp_path: Path) -> None:
    data_dir = init_data_dir(tmp_path / "var", ["demo.gov.hk"]).data_dir
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    relay = ["relay", "--listen", f"127.0.0.1:{port}", "--outbox", str(tmp_path / "outbox")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "postwarden", "--data-dir", str(data_dir), *relay],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (1 << 20, 1 << 20)),
    )
    try:
        wait_for_port(port, timeout=60)
        assert _core_limit(proc.pid) == ("0", "0")
    finally:
        proc.terminate()
        proc.wait(30)
