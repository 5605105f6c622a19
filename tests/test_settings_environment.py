"""The environment is read in settings.py only: every variable the program heeds is named
there, and nothing else changes behaviour behind the settings' back.

One exception: i18n.py reads the POSIX locale variables (LC_ALL, LC_MESSAGES, LANG,
LANGUAGE) as gettext itself does; settings.py imports it for its own messages, so it sits
below settings and cannot ask it."""

from __future__ import annotations

import ast
from pathlib import Path

import postwarden

PACKAGE = Path(postwarden.__file__).parent
_READERS = {"environ", "environb", "getenv", "getenvb"}


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _READERS:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [node.lineno for alias in node.names if alias.name in _READERS]
    return lines


def test_only_settings_reads_the_environment() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in (PACKAGE / "settings.py", PACKAGE / "i18n.py")
        for line in _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == []


def test_the_check_itself_sees_a_read() -> None:
    code = "import os\nfrom os import getenv\nx = os.environ.get('X')\n"
    assert _reads_environment(ast.parse(code)) == [2, 3]
