"""The spreadsheet's rows kept in batches (`Walker.add_rows`) give what keeping them one by
one (`Walker.add`, the cells converted one by one) gives: units, findings, budget errors."""

from __future__ import annotations

import datetime as dt
import io
import random
import time
from dataclasses import FrozenInstanceError, astuple, fields

import pytest
import python_calamine
from tests.factories import make_xlsx

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract.budget import Budget, BudgetExhausted
from postwarden.engine.extract.heading import heading
from postwarden.engine.extract.spreadsheet import (
    SpreadsheetExtractor,
    _read_plain_rows,
    _read_rows,
    cell_text,
)
from postwarden.engine.extract.walker import Walker, _row_units
from postwarden.model import TextUnit
from postwarden.settings import Limits

ARMOUR = "-----BEGIN PGP MESSAGE-----"


LIMITS = Limits()


def walker(limits: Limits = LIMITS) -> Walker:
    return Walker(Budget(limits, 10_000_000, time.monotonic() + 60))


def one_by_one(data: bytes, walker: Walker) -> None:
    """The rows of every sheet as the extractor kept them before batches: a call per row."""
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    for meta in workbook.sheets_metadata:
        sheet = workbook.get_sheet_by_name(meta.name)
        header = None
        first = True
        for number, row in enumerate(sheet.iter_rows(), start=1):
            cells = [v if type(v) is str else cell_text(v) for v in row]
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                if first:
                    first = False
                    header = heading(tuple(cells))
                walker.add(" | ".join(cells), f"x#{meta.name}!R{number}", tuple(cells), header)


def batched(data: bytes, walker: Walker) -> None:
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    SpreadsheetExtractor()._sheets(workbook, "x", walker)


def outcome(read: object, data: bytes, limits: Limits) -> tuple[object, ...]:
    w = walker(limits)
    error = None
    try:
        read(data, w)  # type: ignore[operator]
    except BudgetExhausted as exc:
        error = exc.reason
    return w.units, w.findings, w.budget.text_bytes, error


VALUES: list[object] = [
    "",
    " ",
    "  padded  ",
    "CHAN Tai Man",
    "A123456(3)",
    "a | b",
    "| x",
    ARMOUR,
    0.0,
    0,
    1.5,
    91234567,
    True,
    False,
    None,
    dt.datetime(1980, 2, 29, 10, 30),
    dt.date(1999, 12, 31),
]


def random_sheet(rng: random.Random, rows: int) -> list[list[object]]:
    width = rng.randint(1, 6)
    return [[rng.choice(VALUES) for _ in range(rng.randint(0, width))] for _ in range(rows)]


@pytest.mark.parametrize("seed", range(12))
def test_rows_in_batches_are_the_rows_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    sheets = {f"S{i}": random_sheet(rng, rng.choice([1, 5, 300, 4100])) for i in range(2)}
    if seed % 3 == 0:
        sheets["S0"].insert(0, ["id", "name", "phone"])
    data = make_xlsx(sheets)  # type: ignore[arg-type]
    # Budgets that run out before the first batch, inside one and not at all.
    for limit in (50, 3_000, 40_000, 10**9):
        limits = Limits(max_text_bytes=limit)
        assert outcome(batched, data, limits) == outcome(one_by_one, data, limits)


def test_add_rows_is_add_one_by_one() -> None:
    rows = [
        ["a | b", "x#R1", ("a", "b")],
        [" ", "x#R2", (" ",)],
        [f"key {ARMOUR}", "x#R3", (f"key {ARMOUR}",)],
        ["c", "x#R4", ("c",)],
    ]
    for chosen in ([0, 3], [0, 1, 3], [0, 2, 3], [1], []):
        texts, places, cells = ([rows[i][k] for i in chosen] for k in range(3))
        batch, single = walker(), walker()
        batch.add_rows(texts, places, cells, ("h",))  # type: ignore[arg-type]
        for text, place, row in zip(texts, places, cells, strict=True):
            single.add(text, place, row, ("h",))  # type: ignore[arg-type]
        assert (batch.units, batch.findings, batch.budget.text_bytes) == (
            single.units,
            single.findings,
            single.budget.text_bytes,
        )


@pytest.mark.parametrize("header", [None, ("id", "name"), ()])
def test_row_units_are_text_units(header: tuple[str, ...] | None) -> None:
    """`_row_units` makes TextUnits by the compiled slot maker: every field of every unit (the
    defaults too) must be what the dataclass's own constructor gives."""
    # Nothing of TextUnit's own constructor is skipped: it only sets the slots.
    assert not hasattr(TextUnit, "__post_init__")
    assert TextUnit.__slots__ == tuple(field.name for field in fields(TextUnit))
    rng = random.Random(len(header or ()))
    for count in (0, 1, 7, 5000):
        texts = [rng.choice(["", " ", "CHAN Tai Man", "a | b", "黎安大"]) for _ in range(count)]
        places = [f"x#S!R{i}" for i in range(count)]
        cells = [tuple(text.split(" | ")) for text in texts]
        made = _row_units(texts, places, cells, header)
        expected = [TextUnit(t, p, c, header) for t, p, c in zip(texts, places, cells, strict=True)]
        assert [type(unit) for unit in made] == [TextUnit] * count
        assert [astuple(unit) for unit in made] == [astuple(unit) for unit in expected]
        assert made == expected
        if made:
            # Frozen still: the slots were filled past __setattr__, not opened to it.
            with pytest.raises(FrozenInstanceError):
                made[0].text = "changed"  # type: ignore[misc]


def test_added_units_are_text_units() -> None:
    """`Walker.add` makes its units by the slot maker too: the same fields as the class's
    own constructor, cells given as a list kept as a tuple, and frozen."""
    added = walker()
    given = [
        ("CHAN Tai Man", "body", None, None),
        ("a | b", "x#S!R1", ["a", "b"], ("id", "name")),
        ("黎安大", "file names", ("黎安大",), None),
    ]
    for text, where, cells, header in given:
        added.add(text, where, cells, header)
    expected = [TextUnit(t, w, None if c is None else tuple(c), h) for t, w, c, h in given]
    assert [type(unit) for unit in added.units] == [TextUnit] * len(given)
    assert [astuple(unit) for unit in added.units] == [astuple(unit) for unit in expected]
    with pytest.raises(FrozenInstanceError):
        added.units[0].text = "changed"  # type: ignore[misc]


# What `_hsscan.sheet_rows` gives (str, float, bool) and None, with the floats whose text is
# hardest to get right: -0.0, integral ones past 2**53 and 1e16 (repr writes "1e+16", int
# does not), non-finite ones, the smallest subnormal.
PLAIN_VALUES: list[object] = [
    "",
    " ",
    "  padded  ",
    "CHAN Tai Man",
    "陳大文",
    "𝔘nicode",
    "a | b",
    ARMOUR,
    0.0,
    -0.0,
    1.5,
    -2.25,
    0.1,
    91234567.0,
    -91234567.0,
    1e16,
    1e22,
    2.0**63,
    -(2.0**64),
    1.7976931348623157e308,
    5e-324,
    float("inf"),
    float("-inf"),
    float("nan"),
    True,
    False,
    None,
]


class CountedBudget(Budget):
    """A budget that counts its time checks."""

    checks = 0

    def check_time(self) -> None:
        self.checks += 1
        super().check_time()


def rows_outcome(read: object, rows: list[list[object]], prefix: str) -> tuple[object, ...]:
    budget = CountedBudget(Limits(max_text_bytes=10**9), 10_000_000, time.monotonic() + 60)
    w = Walker(budget)
    unused = {str(v) for v in PLAIN_VALUES} | {"TRUE", "91234567", "x"}
    read([list(row) for row in rows], prefix, w, unused)  # type: ignore[operator]
    units = [(type(u), u.text, u.where, u.cells, u.header) for u in w.units]
    return units, w.findings, budget.text_bytes, unused, budget.checks


@pytest.mark.parametrize("seed", range(8))
def test_plain_rows_are_the_rows_read_in_python(seed: int) -> None:
    """`_read_plain_rows` (`_hsscan.row_units`) keeps what the Python loop `_read_rows` keeps
    from the same rows: the units, in the same batches (the time checked as often), the
    cells taken out of the unused shared strings."""
    rng = random.Random(seed)
    for count in (0, 1, 2, 40, 4094, 4095, 4096, 4097, 8191, 8192):
        width = rng.randint(1, 7)
        rows = [
            [rng.choice(PLAIN_VALUES) for _ in range(rng.randint(0, width))] for _ in range(count)
        ]
        if rows and seed % 2:
            rows[0] = ["id", "name", "", None]
        prefix = rng.choice(["x.xlsx#Sheet1!R", "x.xlsx#陳表!R", "x#𝔘!R", ""])
        assert rows_outcome(_read_plain_rows, rows, prefix) == rows_outcome(
            _read_rows, rows, prefix
        )


@pytest.mark.parametrize("value", [1, dt.date(2000, 1, 1), b"x", ["x"]])
def test_row_units_refuses_other_cells(value: object) -> None:
    with pytest.raises(TypeError):
        _hsscan.row_units([["a", value]], 0, 1, "x")
    with pytest.raises(IndexError):
        _hsscan.row_units([["a"]], 0, 2, "x")
