"""The command line speaks the language of LANG / LC_ALL / LC_MESSAGES; JSON never changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from postwarden.settings import init_data_dir

SRC = Path(__file__).parents[2] / "src"


def _run(locale: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SRC), **locale}
    return subprocess.run(
        [sys.executable, "-m", "postwarden", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ({"LANG": "zh_HK.UTF-8"}, "尚未初始化"),
        ({"LANG": "zh_TW.UTF-8"}, "尚未初始化"),
        ({"LC_ALL": "zh_HK.UTF-8", "LANG": "C"}, "尚未初始化"),
        ({"LANG": "C"}, "is not initialised"),
        ({"LANG": "en_US.UTF-8"}, "is not initialised"),
        ({}, "is not initialised"),
    ],
)
def test_an_operational_error_in_the_users_language(
    tmp_path: Path, locale: dict[str, str], expected: str
) -> None:
    result = _run(locale, "--data-dir", str(tmp_path / "nothing"), "user", "list")
    assert result.returncode == 1
    assert result.stderr.startswith("postwarden: ")
    assert expected in result.stderr


def test_a_usage_error_and_a_confirmation_in_chinese(tmp_path: Path) -> None:
    data = tmp_path / "var"
    init_data_dir(data, ["demo.gov.hk"])
    missing = tmp_path / "missing.eml"
    zh = _run({"LANG": "zh_HK.UTF-8"}, "--data-dir", str(data), "check", str(missing))
    assert zh.returncode == 2
    assert zh.stderr == f"postwarden: 沒有此檔案：{missing}\n"
    en = _run({"LANG": "C"}, "--data-dir", str(data), "check", str(missing))
    assert en.stderr == f"postwarden: no such file: {missing}\n"
    added = _run(
        {"LANG": "zh_HK.UTF-8"},
        *("--data-dir", str(data), "user", "add", "alice", "--role", "reviewer"),
        *("--email", "alice@demo.gov.hk"),
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == "已新增 alice（reviewer）\n"


def test_json_output_is_the_same_in_every_language(tmp_path: Path) -> None:
    data = tmp_path / "var"
    init_data_dir(data, ["demo.gov.hk"])
    message = tmp_path / "m.eml"
    message.write_bytes(
        b"From: alice@demo.gov.hk\r\nTo: bob@partner.example\r\nSubject: hi\r\n\r\n"
        b"HKID A123456(3)\r\n"
    )
    outputs = [
        _run(locale, "--data-dir", str(data), "check", "--json", str(message))
        for locale in ({"LANG": "C"}, {"LANG": "zh_HK.UTF-8"})
    ]
    assert [o.returncode for o in outputs] == [outputs[0].returncode] * 2
    english, chinese = (json.loads(o.stdout) for o in outputs)
    english.pop("elapsed_ms", None)
    chinese.pop("elapsed_ms", None)
    assert english == chinese
