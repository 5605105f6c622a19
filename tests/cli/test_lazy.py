"""The command line imports a command's code only when that command runs: ``postwarden --help``
and ``import postwarden.cli`` load neither the engine, nor the database, nor the web stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from postwarden.cli import COMMANDS, LazyCommands, LazyGroup, app, load_command
from postwarden.settings import init_data_dir

SRC = Path(__file__).resolve().parents[2] / "src"

# What a command needs and ``--help`` does not: the web stack, the database, password hashing,
# the pattern engine, PDF and font code, the office/PDF/Outlook extractors, the SMTP server.
HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "alembic",
    "sqlalchemy",
    "argon2",
    "hyperscan",
    "numpy",
    "fpdf",
    "fontTools",
    "python_calamine",
    "pypdfium2",
    "extract_msg",
    "aiosmtpd",
    "pydantic",
    "postwarden.engine",
    "postwarden.store",
    "postwarden.console",
    "postwarden.transports",
    "postwarden.inspector",
)

_PROBE = """
import json, runpy, sys
{run}
heavy = {heavy!r}
found = {{m for m in sys.modules for h in heavy if m == h or m.startswith(h + ".")}}
print(json.dumps(sorted(found)))
"""


def _loaded_after(run: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    code = _PROBE.format(run=run, heavy=heavy)
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    out = done.stdout.splitlines()
    loaded: list[str] = json.loads(out[-1])
    if "--help" in run:
        assert "Usage:" in done.stdout
        for name in COMMANDS:
            assert f" {name} " in done.stdout, name
    return loaded


def test_importing_the_cli_loads_nothing_heavy() -> None:
    assert _loaded_after("import postwarden.cli") == []


def test_help_in_a_fresh_process_loads_nothing_heavy() -> None:
    run = (
        "sys.argv = ['postwarden', '--help']\n"
        "from postwarden.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    assert _loaded_after(run) == []


def _root_help(group: typer.core.TyperGroup, capsys: pytest.CaptureFixture[str]) -> str:
    group.main(["--help"], prog_name="postwarden", standalone_mode=False)
    return capsys.readouterr().out


def test_root_help_lists_what_the_loaded_commands_say(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summaries in COMMANDS are the commands' own first help paragraphs: the listing
    ``--help`` prints without importing equals the one printed with every command loaded."""
    monkeypatch.setenv("COLUMNS", "200")
    lazy = typer.main.get_command(app)
    assert isinstance(lazy, LazyGroup)
    listed = _root_help(lazy, capsys)
    eager = typer.main.get_command(app)
    assert isinstance(eager, LazyGroup)
    for name in COMMANDS:
        eager.commands[name] = load_command(name)  # loaded, not summarised
    assert _root_help(eager, capsys) == listed
    assert "Inspect a message and print the verdict" in listed


def test_a_command_is_loaded_when_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    assert isinstance(group.commands, LazyCommands)
    assert not group.commands.loaded
    group.main(["check", "--help"], prog_name="postwarden", standalone_mode=False)
    assert "--json" in capsys.readouterr().out
    assert list(group.commands.loaded) == ["check"]


def test_a_command_is_imported_frozen_and_the_collector_left_on() -> None:
    """What a command imports lives as long as the process: it is put out of the cyclic
    collector's sight (gc.freeze), and the collector is on again afterwards."""
    code = (
        "import gc, sys\n"
        "sys.argv = ['postwarden', 'check', '--help']\n"
        "from postwarden.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(gc.get_freeze_count() > 1000, gc.isenabled())"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.splitlines()[-1] == "True True"


@pytest.mark.parametrize(("preset", "expected"), [(None, "1"), ("3", "3")])
def test_the_command_line_runs_one_blas_thread_unless_told(
    preset: str | None, expected: str
) -> None:
    """numpy's OpenBLAS reads OPENBLAS_NUM_THREADS when it loads: the command line sets it
    to one before any command runs, and an operator's own setting wins."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = str(SRC)
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    code = (
        "import os, sys\n"
        "sys.argv = ['postwarden', '--help']\n"
        "from postwarden.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.splitlines()[-1] == expected


def test_a_mistyped_command_is_told_the_near_one(capsys: pytest.CaptureFixture[str]) -> None:
    group = typer.main.get_command(app)
    with pytest.raises(Exception, match="Did you mean 'check'"):
        group.main(["chek"], prog_name="postwarden", standalone_mode=False)


# What ``check`` of a plain text message needs none of: the web stack, schema migrations,
# password hashing, incident letters, the SMTP server, an HTTP client (the Public Suffix
# List is bundled), and the extractors' libraries for parts the message does not have (PDF,
# images, spreadsheets, Outlook, OLE, RTF, TNEF), nor charset guessing for its UTF-8 text.
NOT_FOR_A_TEXT_CHECK = (
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "alembic",
    "argon2",
    "fpdf",
    "fontTools",
    "aiosmtpd",
    "requests",
    "urllib3",
    "tldextract",
    "charset_normalizer",
    "pypdf",
    "pypdfium2",
    "PIL",
    "pillow_heif",
    "python_calamine",
    "extract_msg",
    "oletools",
    "tnefparse",
    "defusedxml",
    "bs4",
    "postwarden.console",
    "postwarden.transports",
)


def test_check_of_a_text_message_loads_only_what_it_needs(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    message = tmp_path / "m.eml"
    message.write_bytes(
        b"From: alice@reo.gov.hk\r\nTo: bob@outside.example\r\nSubject: notes\r\n\r\n"
        b"Please call me on 9123 4567 about the budget.\r\n"
    )
    init_data_dir(data_dir, ["reo.gov.hk"])
    for _ in range(2):  # the first run creates the schema (Alembic) and the pattern cache
        run = (
            f"sys.argv = ['postwarden', '--data-dir', {str(data_dir)!r}, 'check', '--json',"
            f" {str(message)!r}]\n"
            "from postwarden.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass"
        )
        loaded = _loaded_after(run, NOT_FOR_A_TEXT_CHECK)
    assert loaded == []
