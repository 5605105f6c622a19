"""Running the Typer app on a data dir the way ``postwarden.cli.main`` reports errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from postwarden.cli import app
from postwarden.errors import PostwardenError


def run_cli(data_dir: Path, *args: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr, as ``postwarden.cli.main`` turns domain errors into them."""
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    exc = result.exception
    if isinstance(exc, PostwardenError):
        return exc.exit_code, result.stdout, str(exc)
    if exc and not isinstance(exc, SystemExit):
        raise exc
    return result.exit_code, result.stdout, result.stderr
