"""Column headings: whether a table's first row names its columns rather than holding data."""

from __future__ import annotations

from collections.abc import Sequence

# A heading names a column in a few words; a longer cell is a value (an address, a remark).
_LONGEST = 64


def _is_value(cell: str) -> bool:
    """Numbers, dates, ids, phone numbers (digits make up more than half of the letters and
    digits: ``91234567``, ``1980-01-01``, ``A123456(7)``; not ``Year 2024``) and email
    addresses."""
    if "@" in cell:
        return True
    # ``map`` of the str methods: no generator stepped per character (a third of the time of
    # a sheet's first row, 4 cells of 10 characters: 5 against 15 us under cProfile).
    digits = sum(map(str.isdigit, cell))
    if not digits:
        return False
    return 2 * digits > sum(map(str.isalnum, cell))


def heading(cells: Sequence[str]) -> tuple[str, ...] | None:
    """``cells`` as column headings when they look like them, else ``None``.

    Headings are short and mostly text: values must be fewer than a quarter of the filled
    cells, so a data row of a name, an address and a phone number is not taken for one.
    """
    filled = [c for c in cells if c]
    if not filled or any(len(c) > _LONGEST for c in filled):
        return None
    if 4 * sum(_is_value(c) for c in filled) >= len(filled):
        return None
    return tuple(cells)
