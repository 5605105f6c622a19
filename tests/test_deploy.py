"""The deployment files in ``deploy/``: systemd units that systemd itself accepts, whose
every command line is a real ``postwarden`` invocation, hardened, and an admin wrapper that
runs commands with the units' environment."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from postwarden.cli import app

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
UNITS = DEPLOY / "systemd"
SERVICES = sorted(UNITS.glob("*.service"))
TIMERS = sorted(UNITS.glob("*.timer"))
INSTALLED_EXE = "/opt/postwarden/bin/postwarden"


def _directives(unit: Path) -> list[tuple[str, str]]:
    """``(key, value)`` of every assignment, in order (a key may repeat, like ExecStart)."""
    out = []
    for line in unit.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{unit.name}: not an assignment: {line!r}"
        out.append((key.strip(), value.strip()))
    return out


def _values(unit: Path, key: str) -> list[str]:
    return [v for k, v in _directives(unit) if k == key]


def _postwarden_exe() -> str:
    """The entry point of this installation, standing in for /opt/postwarden/bin/postwarden."""
    found = Path(sys.executable).parent / "postwarden"
    if found.exists():
        return str(found)
    which = shutil.which("postwarden")
    assert which, "the postwarden entry point is not installed"
    return which


def test_deploy_has_the_units_the_issue_asks_for() -> None:
    names = {p.name for p in [*SERVICES, *TIMERS]}
    assert {
        "postwarden-milter.service",
        "postwarden-relay.service",
        "postwarden-console.service",
        "postwarden-retention.service",
        "postwarden-retention.timer",
        "postwarden-audit.service",
        "postwarden-audit.timer",
    } <= names


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (Debian systemd)"
)
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's own parser, without systemd as PID 1: it warns (on stderr, exit 0) about
    unknown keys and bad values, and fails on missing executables and timer targets."""
    exe = _postwarden_exe()
    for unit in [*SERVICES, *TIMERS]:
        text = unit.read_text(encoding="utf-8").replace(INSTALLED_EXE, exe)
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def _expand(unit: Path, command: str) -> list[str]:
    """The ExecStart words with ``${VAR}`` taken from the unit's ``Environment=`` lines."""
    env: dict[str, str] = {}
    for assignment in _values(unit, "Environment"):
        for word in shlex.split(assignment):
            key, _, value = word.partition("=")
            env[key] = value

    def sub(m: re.Match[str]) -> str:
        assert m.group(1) in env, f"{unit.name}: ${{{m.group(1)}}} has no default in the unit"
        return env[m.group(1)]

    return shlex.split(re.sub(r"\$\{(\w+)\}", sub, command))


def _parse(args: list[str]) -> dict[str, Any]:
    """Parse ``args`` as the CLI would (options, types, choices), without running anything;
    the leaf command's parameters."""
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("postwarden", list(args))
    while hasattr(command, "resolve_command"):
        words = [*ctx._protected_args, *ctx.args]
        name, sub, rest = command.resolve_command(ctx, words)
        assert sub is not None, f"no command {words[:1]}"
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    return dict(ctx.params)


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_every_exec_start_is_a_postwarden_command(unit: Path) -> None:
    commands = _values(unit, "ExecStart")
    assert commands, f"{unit.name} has no ExecStart"
    for command in commands:
        words = _expand(unit, command)
        assert words[0] == INSTALLED_EXE
        params = _parse(words[1:])  # raises on an unknown command, option or bad value
        assert params
        if "--listen" in words:
            assert params["listen"] == words[words.index("--listen") + 1]


def test_exec_start_parsing_catches_a_wrong_option() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse(["quarantine", "expire", "--older-then", "30"])
    with pytest.raises(Exception, match="valid integer"):
        _parse(["quarantine", "expire", "--older-than", "thirty"])


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_services_run_hardened_as_the_service_user(unit: Path) -> None:
    d = dict(_directives(unit))
    assert d["User"] == "postwarden"
    assert d["ProtectSystem"] == "strict"
    assert d["ReadWritePaths"] == "/var/lib/postwarden"
    assert d["NoNewPrivileges"] == "yes"
    assert d["LimitCORE"] == "0"
    assert d["PrivateTmp"] == "yes"
    assert d["CapabilityBoundingSet"] == ""
    assert "POSTWARDEN_DATA_DIR=/var/lib/postwarden" in _values(unit, "Environment")
    assert d["EnvironmentFile"] == "-/etc/postwarden/postwarden.env"


def test_milter_socket_lives_in_its_runtime_directory() -> None:
    unit = UNITS / "postwarden-milter.service"
    d = dict(_directives(unit))
    assert d["RuntimeDirectory"] == "postwarden"
    assert "--listen unix:/run/postwarden/milter.sock" in d["ExecStart"]


@pytest.mark.parametrize("timer", TIMERS, ids=lambda p: p.name)
def test_timers_start_an_existing_oneshot_service(timer: Path) -> None:
    [target] = _values(timer, "Unit")
    service = UNITS / target
    assert service.exists()
    assert dict(_directives(service))["Type"] == "oneshot"
    assert _values(timer, "Persistent") == ["true"]


def test_env_file_is_key_value_lines() -> None:
    for line in (DEPLOY / "etc/postwarden/postwarden.env").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"POSTWARDEN_[A-Z_]+=\S+", line), line


@pytest.mark.skipif(os.geteuid() != 0, reason="runuser needs root")
def test_admin_wrapper_runs_postwarden_with_the_units_environment(tmp_path: Path) -> None:
    """The service user is root here: the interpreter of the test venv may not be readable
    by another user; what is checked is the environment file and the arguments."""
    env_file = tmp_path / "postwarden.env"
    env_file.write_text(f'POSTWARDEN_DATA_DIR="{tmp_path / "var"}"\n', encoding="utf-8")
    env = {
        **os.environ,
        "POSTWARDEN_ENV_FILE": str(env_file),
        "POSTWARDEN_USER": "root",
        "POSTWARDEN_EXE": _postwarden_exe(),
        "POSTWARDEN_DATA_DIR": str(tmp_path / "elsewhere"),  # the env file wins
    }
    result = subprocess.run(
        [str(DEPLOY / "bin/postwarden-admin"), "init", "--org-domain", "example.org"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "settings.json").exists()
    assert not (tmp_path / "elsewhere").exists()
