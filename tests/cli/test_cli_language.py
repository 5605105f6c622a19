"""The command line speaks the language of LANG / LC_ALL / LC_MESSAGES; JSON never changes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


# Prints every command's help and every parameter's help (``--help`` included) as JSON, by
# command path, in the language of the process's environment.
_HELP_WALK = """
import json, typer
from postwarden.cli import app

def walk(command, path, out):
    ctx = typer.Context(command)
    out[path] = {
        "help": command.help or "",
        "params": {p.name: getattr(p, "help", None) or "" for p in command.get_params(ctx)},
    }
    for name, sub in getattr(command, "commands", {}).items():
        walk(sub, f"{path} {name}", out)

found = {}
walk(typer.main.get_command(app), "postwarden", found)
print(json.dumps(found, ensure_ascii=False))
"""

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _help_texts(locale: dict[str, str]) -> dict[str, dict[str, Any]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SRC), **locale}
    done = subprocess.run(
        [sys.executable, "-c", _HELP_WALK],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    texts: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return texts


def test_every_help_text_of_every_command_is_in_chinese() -> None:
    """Each command's and each option's and argument's help, under ``LANG=zh_HK.UTF-8``, is
    Chinese: a help string not marked for translation, or marked but not translated, shows
    up here in English."""
    english = _help_texts({"LANG": "C"})
    chinese = _help_texts({"LANG": "zh_HK.UTF-8"})
    assert len(chinese) > 50, "the walk must reach every command"
    assert chinese.keys() == english.keys()
    left_in_english = []
    for path, texts in chinese.items():
        assert texts["params"].keys() == english[path]["params"].keys(), path
        shown = {"(help)": texts["help"], **texts["params"]}
        for name, text in shown.items():
            original = english[path]["params"].get(name, english[path]["help"])
            if text and (text == original or not _CJK.search(text)):
                left_in_english.append((path, name, text))
        assert texts["help"], f"{path} has no help"
    assert left_in_english == []


def test_help_in_chinese_is_what_the_user_sees() -> None:
    result = _run({"LANG": "zh_HK.UTF-8"}, "register", "import", "--help")
    assert result.returncode == 0
    assert "匯入（或取代）登記冊" in result.stdout
    assert "登記冊名稱，例如 voters。" in result.stdout
    assert "顯示此說明並結束。" in result.stdout
    root = _run({"LANG": "zh_HK.UTF-8"}, "--help")
    assert "扣留的郵件：審核、放行、拒絕。" in root.stdout
    assert "外寄電郵個人資料外洩防護閘道。" in root.stdout


@pytest.mark.parametrize(
    ("args", "code", "english", "chinese"),
    [
        (("token", "revoke", "nope"), 2, "no token named 'nope'", "沒有名為 'nope' 的權杖"),
        (("quarantine", "show", "nope"), 1, "no quarantine item 'nope'", "沒有隔離項目 'nope'"),
        (
            ("user", "add", "a b", "--role", "reviewer"),
            2,
            "invalid user name 'a b'",
            "用戶名稱 'a b' 無效",
        ),
        (
            ("register", "drop", "voters"),
            1,
            "no register named 'voters'",
            "沒有名為 'voters' 的登記冊",
        ),
    ],
)
def test_a_store_error_reaches_the_user_in_chinese_with_the_same_exit_code(
    tmp_path: Path, args: tuple[str, ...], code: int, english: str, chinese: str
) -> None:
    data = tmp_path / "var"
    init_data_dir(data, ["demo.gov.hk"])
    en = _run({"LANG": "C"}, "--data-dir", str(data), *args)
    zh = _run({"LANG": "zh_HK.UTF-8"}, "--data-dir", str(data), *args)
    assert (en.returncode, zh.returncode) == (code, code)
    assert en.stderr.startswith(f"postwarden: {english}")
    assert zh.stderr.startswith(f"postwarden: {chinese}")
    assert zh.stderr.count("\n") == 1
