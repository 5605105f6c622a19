"""``postwarden.cli.main`` maps every domain error once: one line on stderr, its class's code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from postwarden.cli import main
from postwarden.settings import DATABASE_URL_ENV, init_data_dir


def _run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path, *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["postwarden", "--data-dir", str(data), *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    init_data_dir(tmp_path / "data", ["example.org"])
    return tmp_path / "data"


def test_main_usage_error_from_the_store_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path
) -> None:
    code, err = _run(capsys, monkeypatch, data, "token", "revoke", "nope")
    assert (code, err) == (2, "postwarden: no token named 'nope'\n")


def test_main_not_found_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data: Path
) -> None:
    code, err = _run(capsys, monkeypatch, data, "quarantine", "show", "nope")
    assert (code, err) == (1, "postwarden: no quarantine item 'nope'\n")


def test_main_settings_error_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, err = _run(capsys, monkeypatch, tmp_path / "none", "token", "list")
    assert code == 1
    assert err.startswith("postwarden: ")
    assert err.count("\n") == 1
