"""The compiled steps of a small table's matching (seventh round of issue 14) against the
general numpy path: each step on generated and hostile input, and whole messages matched
the same with and without all of them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.registers.conftest import Imported
from tests.engine.registers.test_table_paths import _awkward_rows, _sheet

from postwarden.engine.registers import RegisterSet, native
from postwarden.engine.registers.match import (
    _FACT_OF,
    _PHONE,
    EXPAND_MAX,
    PIVOT_MAX,
    SAMPLE_ROWS,
    Collector,
    Queries,
    _cell_layout,
    _cell_layout_py,
    _present_pairs_py,
    _present_records,
    _present_records_py,
    _sure,
    _sure_of_keys,
    _unique_cells,
    _unique_cells_py,
)
from postwarden.engine.registers.normalise import UNIQUE_CHARS, Field
from postwarden.model import TextUnit

_NEW_STEPS = ("present_records", "cell_layout", "unique_cells", "bare_phones", "owned_runs")
_STEPS = ("make_untracked_register_finding", *_NEW_STEPS)


def _built(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        getattr(native, name) is None, reason=f"the compiled {name} is not built"
    )


@_built("present_records")
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, (1 << 32) - 1), st.integers(0, 1 << 15)),
        max_size=60,
    ),
    st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_present_records_equal_the_numpy_reduction(
    pairs: list[tuple[int, int, int]], ident: list[bool]
) -> None:
    # A record in several groups (its first group and every mask), records past 2**31.
    distinct = sorted({(g, r): m for g, r, m in pairs}.items())
    gr = np.array([g << 32 | r for (g, r), _ in distinct], dtype=np.int64)
    masks = np.array([m for _, m in distinct], dtype=np.int64)
    marked = np.array(ident[: len(gr)], dtype=np.bool_)
    got = _present_records(gr, masks, marked)
    want = _present_records_py(gr, masks, marked)
    for a, b in zip((*got[:3], *got[3]), (*want[:3], *want[3]), strict=True):
        assert a.tolist() == b.tolist()


@_built("present_records")
def test_present_records_refuse_mismatched_and_negative_pairs() -> None:
    one = np.ones(1, dtype=np.int64)
    with pytest.raises(ValueError, match="mismatched"):
        native.present_records(one, np.ones(2, dtype=np.int64), np.ones(1, dtype=np.bool_))
    with pytest.raises(ValueError, match="negative"):
        native.present_records(-one, one, np.ones(1, dtype=np.bool_))


@_built("cell_layout")
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), max_size=40))
def test_cell_layout_equals_the_numpy_repeats(rows: list[tuple[int, int]]) -> None:
    lengths = np.array([n for n, _ in rows], dtype=np.int64)
    tables = np.array([t for _, t in rows], dtype=np.int64)
    groups = np.arange(len(rows), dtype=np.int64) * 2 + 1
    for a, b in zip(
        _cell_layout(lengths, tables, groups), _cell_layout_py(lengths, tables, groups), strict=True
    ):
        assert a.tolist() == b.tolist()


@_built("cell_layout")
def test_cell_layout_caps_the_place_of_a_very_wide_row() -> None:
    # Past 65,535 cells a row's places stay at the last column, as np.minimum leaves them.
    lengths = np.array([3, 70_000], dtype=np.int64)
    tables = np.array([0, 1], dtype=np.int64)
    groups = np.array([4, 9], dtype=np.int64)
    got = _cell_layout(lengths, tables, groups)
    want = _cell_layout_py(lengths, tables, groups)
    assert got[0].tolist() == want[0].tolist()
    assert got[1].tolist() == want[1].tolist()
    with pytest.raises(ValueError, match="cells"):
        native.cell_layout(-lengths, tables, groups, 16)
    with pytest.raises(ValueError, match="mismatched"):
        native.cell_layout(lengths, tables[:1], groups, 16)


_CELL_CHARS = list("0189@aZ -()+.\t\n\x0b\x1c\x85\xa0\u2028\u3000０９陳香\U00020000é")
_CELLS = st.one_of(
    st.text(st.sampled_from(_CELL_CHARS), max_size=16),
    st.from_regex(r"\s{0,3}[A-Z][0-9]{6}\([0-9A]\)\s{0,3}|\s*\+?[0-9 ]{8,14}\s*", fullmatch=True),
    st.text(max_size=30),
)


@_built("unique_cells")
@given(st.lists(_CELLS, max_size=30))
def test_unique_cells_equal_the_screen_both_ways(cells: list[str]) -> None:
    deep, blank = _unique_cells(cells)
    want_deep, want_blank = _unique_cells_py(cells)
    assert deep.tolist() == want_deep.tolist()
    assert blank.tolist() == want_blank.tolist() == [not c.strip() for c in cells]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "screen_cells", None)  # the screen read off code points
        points_deep, points_blank = _unique_cells_py(cells)
    assert deep.tolist() == points_deep.tolist()
    assert blank.tolist() == points_blank.tolist()


@_built("unique_cells")
def test_unique_cells_refuse_what_is_not_str() -> None:
    with pytest.raises(TypeError, match="str"):
        native.unique_cells(["91234567", b"91234567"], UNIQUE_CHARS)  # type: ignore[list-item]
    assert _unique_cells(["", " ", "  9123 4567  ", "a@b"])[0].tolist() == [2, 3]


def _queries(rng: np.random.Generator, keys: int, entries: int, columns: list[int]) -> Queries:
    fields = rng.choice([int(Field.PHONE), int(Field.HKID), int(Field.NAME_EN)], keys)
    return Queries(
        hashes=np.zeros(keys, dtype=np.uint64),
        fields=fields.astype(np.uint8),
        keys=rng.integers(0, keys, entries).astype(np.int64),
        groups=np.sort(rng.integers(0, entries, entries)).astype(np.int64),
        columns=rng.choice(columns, entries).astype(np.int64),
        sure=rng.random(entries) < 0.2,
        group_where=[],
    )


@_built("bare_phones")
@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.sampled_from([[-1], [3], [-1, 3], [3, 5], [-1, 2, 3, 4]]))
def test_sure_of_keys_equals_sure(registers: RegisterSet, seed: int, columns: list[int]) -> None:
    # No bare phone, one column of them (holding phones or not), several columns.
    rng = np.random.default_rng(seed)
    index = registers.get("voters")
    keys = int(rng.integers(1, 40))
    q = _queries(rng, keys, int(rng.integers(0, 120)), columns)
    # Mostly registered phones (a column that holds them), or mostly not.
    n_of = rng.choice([0, 1, 1, 1, 2, 5] if seed % 2 else [0, 0, 0, 1, 7], keys).astype(np.int64)
    n_all = n_of[q.keys]
    assert _sure_of_keys(index, q, n_of, n_all).tolist() == _sure(index, q, n_all).tolist()


@pytest.fixture(scope="module")
def registers(voters: Imported) -> RegisterSet:
    return voters.registers()


@_built("bare_phones")
def test_bare_phones_refuse_keys_outside_the_fields() -> None:
    one = np.ones(1, dtype=np.int64)
    fields = np.array([_PHONE], dtype=np.uint8)
    sure = np.zeros(1, dtype=np.bool_)
    with pytest.raises(IndexError, match="outside"):
        native.bare_phones(one, one, sure, fields, one, _PHONE, 4)
    with pytest.raises(ValueError, match="mismatched"):
        native.bare_phones(one * 0, one, sure, fields, np.ones(2, dtype=np.int64), _PHONE, 4)


def _owned_entries(
    rng: np.random.Generator, groups: int, pool: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Useful entries of ``groups`` rows, each of a few unique fields (runs of 1-4 records,
    strong or not) and names and addresses (runs of up to EXPAND_MAX + 1, now and then past
    it), over records drawn from a small ``pool``: the namesakes of a row's identified
    record, households sharing a phone, a value owned by two of a row's records."""
    g: list[int] = []
    lengths: list[int] = []
    strong: list[bool] = []
    fields: list[int] = []
    for row in range(groups):
        for _ in range(int(rng.integers(1, 6))):
            unique = rng.random() < 0.4
            g.append(row)
            strong.append(bool(unique and rng.random() < 0.8))
            fields.append(int(rng.choice([1, 2, 7])) if unique else int(rng.choice([4, 6, 9])))
            lengths.append(
                int(rng.integers(1, 5))
                if unique
                else int(rng.choice([1, 2, 5, 12, EXPAND_MAX, EXPAND_MAX + 1, 300]))
            )
    sizes = np.minimum(np.array(lengths, dtype=np.int64), pool)
    runs = [np.sort(rng.choice(pool, size=int(m), replace=False)) for m in sizes]
    count = len(g)
    entries = [
        np.array(g, dtype=np.int64),
        rng.integers(0, count // 2 + 1, count).astype(np.int64),  # a key in several rows
        np.array(fields, dtype=np.int64),
        (np.cumsum(sizes) - sizes).astype(np.int64),
        sizes,
        rng.integers(-1, 4, count).astype(np.int64),
        np.array(strong, dtype=np.bool_),
    ]
    return entries, np.concatenate(runs).astype(np.uint32)


def _pairs(entries: list[np.ndarray] | tuple[object, ...], records: np.ndarray) -> list[list[int]]:
    got = native.presence(*entries, records, _FACT_OF, EXPAND_MAX, PIVOT_MAX)
    return [np.frombuffer(part, np.uint8).tolist() for part in got]


@_built("owned_runs")
@settings(max_examples=300)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.sampled_from([3, 20, 120, 5000]))
def test_owned_runs_leave_presence_the_same(seed: int, groups: int, pool: int) -> None:
    # The entries cut to their owners' places give presence the same pairs, masks,
    # identified pairs and matched values as the entries whole, and as numpy does.
    assert native.presence is not None
    entries, records = _owned_entries(np.random.default_rng(seed), groups, pool)
    cut = native.owned_runs(*entries, records, EXPAND_MAX)
    whole = _pairs(entries, records)
    if cut is not None:
        assert _pairs(cut, records) == whole
    want = _present_pairs_py(*entries, records)
    assert np.frombuffer(bytes(whole[0]), np.int64).tolist() == want[0].tolist()
    assert np.frombuffer(bytes(whole[1]), np.int64).tolist() == want[1].tolist()


@_built("owned_runs")
def test_owned_runs_cut_only_what_an_owner_holds() -> None:
    # Row 0: an HKID identifies record 7, whose name's run holds namesakes 3 and 9; row 1's
    # name has no owner there; row 2 has a lookup past EXPAND_MAX: left whole.
    records = np.array([7, 3, 7, 9, 3, 9, 8, *range(100, 100 + EXPAND_MAX + 1)], np.uint32)
    entries = [
        np.array([0, 0, 1, 1, 2, 2], dtype=np.int64),
        np.array([0, 1, 0, 1, 0, 2], dtype=np.int64),
        np.array([1, 4, 1, 4, 1, 4], dtype=np.int64),
        np.array([0, 1, 0, 4, 0, 7], dtype=np.int64),
        np.array([1, 3, 1, 2, 1, EXPAND_MAX + 1], dtype=np.int64),
        np.full(6, -1, dtype=np.int64),
        np.array([True, False, True, False, True, False]),
    ]
    cut = native.owned_runs(*entries, records, EXPAND_MAX)
    assert cut is not None
    lo = np.frombuffer(cut[3], np.int64).tolist()
    n = np.frombuffer(cut[4], np.int64).tolist()
    assert list(zip(lo, n, strict=True)) == [(0, 1), (2, 1), (0, 1), (4, 2), (0, 1), (7, 65)]
    assert _pairs(cut, records) == _pairs(entries, records)
    # Groups out of order, or nothing owned: left as they are.
    backwards = [entries[0][::-1].copy(), *entries[1:]]
    assert native.owned_runs(*backwards, records, EXPAND_MAX) is None
    assert native.owned_runs(*entries[:6], np.zeros(6, np.bool_), records, EXPAND_MAX) is None
    with pytest.raises(IndexError, match="outside"):
        native.owned_runs(*entries, records[:3], EXPAND_MAX)
    huge = np.full(6, 1 << 62, dtype=np.int64)  # runs whose end would overflow
    with pytest.raises(IndexError, match="outside"):
        native.owned_runs(*entries[:3], huge, huge, *entries[5:], records, EXPAND_MAX)


def _matched(registers: RegisterSet, units: list[TextUnit]) -> tuple[object, ...]:
    found = registers.match(units, [])
    return (found.subjects, found.record_ids, found.record_fields, found.findings)


def _hostile_rows(rows: list[list[str]], rng: np.random.Generator) -> list[list[str]]:
    """``rows`` with names moved to other rows (someone else's name beside an HKID), rows
    repeated, cells emptied and a row of only unique fields of two people."""
    out = [list(r) for r in rows]
    for i in range(1, len(out), 5):
        out[i][1] = out[int(rng.integers(1, len(out)))][1]
    if len(out) > 3:
        out.append(list(out[2]))
        out.append([out[1][3], out[2][3], out[1][4], out[3][4], "", "", "", ""])
    for i in range(3, len(out), 11):
        out[i] = [""] * len(out[i])
    return out


@pytest.mark.parametrize("size", [1, 2, 40, SAMPLE_ROWS, SAMPLE_ROWS + 90])
def test_tables_match_the_same_without_the_new_compiled_steps(voters: Imported, size: int) -> None:
    registers = voters.registers()
    rng = np.random.default_rng(size)
    rows = _awkward_rows(voters.people, rng.choice(20_000, size=size, replace=False))
    for table in (rows, _hostile_rows(rows, rng)):
        units = _sheet(table)
        units.append(TextUnit(text=f"Tel: {table[-1][4]}\n{table[-1][1]}", where="body"))
        compiled = _matched(registers, units)
        with pytest.MonkeyPatch.context() as patch:
            for name in _STEPS:
                patch.setattr(native, name, None)
            assert _matched(registers, units) == compiled
        assert compiled[0]["voters"] > 0  # type: ignore[index]


def test_a_sheets_collector_reads_the_same_without_the_new_compiled_steps(
    voters: Imported,
) -> None:
    rows = _awkward_rows(voters.people, np.arange(300))
    units = _sheet(rows)

    def collected() -> tuple[object, ...]:
        collector = Collector()
        collector.scan(units, [])
        t = collector.table
        return (
            list(collector.keys),
            [part.tolist() for entry in collector._table_entries for part in entry],
            t.cell_groups.tolist(),
            t.cell_columns.tolist(),
            t.blank.tolist(),
        )

    compiled = collected()
    with pytest.MonkeyPatch.context() as patch:
        for name in _NEW_STEPS:
            patch.setattr(native, name, None)
        assert collected() == compiled
