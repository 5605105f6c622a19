"""How a ``list`` command prints its rows: one JSON array with ``--json``, else a line a row."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import typer


def echo_rows(
    rows: Sequence[dict[str, Any]],
    as_json: bool,
    line: Callable[[dict[str, Any]], str],
    empty: str,
) -> None:
    """``rows`` as one JSON array, or ``line`` of each row (``empty`` when there is none)."""
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo(empty)
    for row in rows:
        typer.echo(line(row))
