"""Every command of the CLI is in the README's command-line section (datasette's habit)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from postwarden.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _leaf_commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(cmd, "commands", None)
    if subcommands is None:
        yield path
        return
    for name, sub in sorted(subcommands.items()):
        yield from _leaf_commands(sub, (*path, name))


def test_every_cli_command_is_in_the_readme() -> None:
    lines = [ln.strip() for ln in README.read_text(encoding="utf-8").splitlines()]
    commands = list(_leaf_commands(typer.main.get_command(app)))
    assert len(commands) > 30, "the walk must find the real command tree"
    missing = []
    for path in commands:
        head, *rest = path
        documented = any(
            ln.startswith(f"postwarden {head}")
            and all(re.search(rf"(^|[\s|]){re.escape(word)}(\s|$)", ln) for word in rest)
            for ln in lines
        )
        if not documented:
            missing.append(" ".join(path))
    assert not missing, f"commands missing from README.md: {missing}"
