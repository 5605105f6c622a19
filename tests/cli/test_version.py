"""``postwarden --version`` and the version the package declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.cli.invocation import run_cli

import postwarden

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_version_option_prints_the_package_version(tmp_path: Path) -> None:
    code, out, _ = run_cli(tmp_path / "not-initialised", "--version")
    assert code == 0
    assert out == f"postwarden {postwarden.__version__}\n"


def test_package_and_pyproject_agree_on_0_2_0() -> None:
    declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    assert declared == postwarden.__version__ == "0.2.0"
