"""The runs of table rows numbered in one array (`match._run_array`), and a message's rows in
many runs (tables between lines of text) read as one run of them would be."""

from __future__ import annotations

import numpy as np
import pytest

from postwarden.engine.registers.match import _FEW_RUNS, Collector, _run_array
from postwarden.model import TextUnit


@pytest.mark.parametrize("count", [1, 2, _FEW_RUNS, _FEW_RUNS + 1, 50])
def test_run_array_numbers_every_run_in_order(count: int) -> None:
    rng = np.random.default_rng(count)
    runs, start = [], 0
    for _ in range(count):
        start += int(rng.integers(0, 5))
        length = int(rng.integers(1, 30))
        runs.append(range(start, start + length))
        start += length
    got = _run_array(runs)
    assert got.dtype == np.int64
    assert got.tolist() == [i for r in runs for i in r]


def _rows(table: int, n: int) -> list[TextUnit]:
    return [
        TextUnit(
            text=f"CHAN Tai Man\t9123456{i % 10}",
            where=f"body#table {table}!R{i + 1}",
            cells=("CHAN Tai Man", f"9123456{i % 10}"),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("tables", [1, _FEW_RUNS, _FEW_RUNS + 3])
def test_rows_in_many_runs_get_their_own_groups(tables: int) -> None:
    # Tables between lines of text: each run of rows takes the groups after the text before
    # it, whether the runs are numbered by np.arange or read off the ranges.
    units: list[TextUnit] = []
    for t in range(tables):
        units.append(TextUnit(text=f"Table {t}", where="body"))
        units.extend(_rows(t, 3))
    col = Collector()
    col.scan(units, [])
    rows = [u for u, unit in enumerate(units) if unit.cells is not None]
    assert len(col.table.groups) == len(rows)
    assert [col.group_where[g] for g in col.table.groups.tolist()] == [units[u].where for u in rows]
    assert col.table.texts == [c for u in rows for c in units[u].cells or ()]
