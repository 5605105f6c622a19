"""The compiled readers of table cells against the general Python path, cell by cell and
on whole generated tables (small and past the sample of read rows) with awkward cells."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.engine.registers.conftest import Imported
from tests.engine.registers.people import People

from postwarden.engine.registers import RegisterSet, native
from postwarden.engine.registers.match import (
    SAMPLE_ROWS,
    Collector,
    RegisterMatch,
    _distinct_masks,
    _shared,
    _Table,
)
from postwarden.engine.registers.normalise import other_candidates
from postwarden.model import TextUnit

_OTHER_CELLS = st.one_of(
    st.text(st.sampled_from(list("AaZz'. -,/0129@()\t\x1c\u00e9陳")), max_size=24),
    st.from_regex(r"\s?(Mr|MS|dr\.?|Madam)?\s?[A-Za-z' ]{1,40}\s?", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}[-/. ]{0,2}[0-9A-Za-z]{1,4}[-/. ]{0,2}[0-9]{0,4}", fullmatch=True),
    st.from_regex(r"(Flat|Rm) [A-H0-9], [0-9]{1,2}/F,( [A-Za-z]{2,8}){1,4}", fullmatch=True),
    st.from_regex(r"[A-Z]{1,2}[0-9]{6}\([0-9A]\)|V-[0-9]{7}|[2-9][0-9]{7}", fullmatch=True),
    st.text(max_size=70),
)


def _other_keys_py(text: str) -> tuple[str, ...]:
    return tuple(chr(fld) + norm for fld, norm in other_candidates(text))


@pytest.mark.skipif(native.other_keys is None, reason="the compiled other_keys is not built")
@given(st.lists(_OTHER_CELLS, max_size=24))
def test_compiled_other_keys_read_cells_as_other_candidates(cells: list[str]) -> None:
    # What the C decides (a name's key, or no field) is other_candidates of the text.
    keys, found, unsure = native.other_keys(cells)
    found_at = np.frombuffer(found, np.int64).tolist()
    unsure_at = set(np.frombuffer(unsure, np.int64).tolist())
    assert found_at == sorted(found_at)
    assert not unsure_at & set(found_at)
    keyed = dict(zip(found_at, keys, strict=True))
    for j, cell in enumerate(cells):
        if j not in unsure_at:
            want = _other_keys_py(cell)
            assert (keyed[j],) == want if j in keyed else want == ()


@pytest.mark.skipif(native.other_keys is None, reason="the compiled other_keys is not built")
def test_compiled_other_keys_settle_a_leaked_tables_columns() -> None:
    # Ids, HKIDs, phones and English names in ASCII are settled in C; dates, addresses and
    # Chinese go to Python.
    cells = [
        "V-0000001",
        " POON Wah Lok ",
        "K663955(0)",
        "51644555",
        "Mr O'Brien Tai-man",
        "",
        "a-b-c-d-e-f-g",
        "2004-09-02",
        "Flat F, 10/F, Block 6, Chun Shek Estate",
        "潘華樂",
        "Chan Tai Man 91234567",
    ]
    keys, found, unsure = native.other_keys(cells)
    assert np.frombuffer(found, np.int64).tolist() == [1, 4]
    assert keys == ["\x04lok poon wah", "\x04man obrien tai"]
    assert np.frombuffer(unsure, np.int64).tolist() == [7, 8, 9, 10]
    for cell in cells[:7]:
        assert _other_keys_py(cell) in {(), (keys[0],), (keys[1],)}


@given(st.lists(_OTHER_CELLS, max_size=30))
def test_other_codes_equal_with_and_without_the_compiled_reader(cells: list[str]) -> None:
    # Keys the C reads are numbered in the cells' order with those Python reads: the same
    # codes and keys as Python reading every cell, after keys the collector already had.
    cells = [*cells, *cells[:4], "Chan Tai Man", "12 Nathan Road, Kowloon, HK"]
    compiled = Collector()
    compiled._key_of("\x04chan man tai")
    codes = compiled._other_codes(cells).tolist()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "other_keys", None)
        plain = Collector()
        plain._key_of("\x04chan man tai")
        assert plain._other_codes(cells).tolist() == codes
    assert list(plain.keys.items()) == list(compiled.keys.items())


_COLUMNS = ("id", "name_en", "name_zh", "hkid", "phone", "address_en", "address_zh", "dob")


def _awkward_rows(p: People, idx: np.ndarray) -> list[list[str]]:
    """Rows of the people at ``idx`` with cells blanked, merged, restyled and dated."""
    rows = p.rows(_COLUMNS, idx)
    for i, row in enumerate(rows):
        kind = i % 7
        if kind == 1:
            row[3] = ""  # no HKID: read whole
        elif kind == 2:
            row[1] = f"{row[1]} {row[4]}"  # merged text
        elif kind == 3:
            row[1] = "  " + row[1].title() + "  "
            row[2] = row[2] + "先生"
        elif kind == 4:
            y, m, d = row[7].split("-")
            row[7] = f"{d}/{m}/{y}"
            row[4] = "+852 " + row[4]
        elif kind == 5:
            row[3], row[4], row[5] = "", "", row[5].upper()
        elif kind == 6:
            row[6] = "香港" + row[6]
    return [list(_COLUMNS), *rows]


def _sheet(rows: list[list[str]]) -> list[TextUnit]:
    return [
        TextUnit(
            text=" | ".join(r),
            where=f"attachment:x.xlsx#Sheet1!R{i + 1}",
            cells=tuple(r),
            header=tuple(_COLUMNS) if i else None,
        )
        for i, r in enumerate(rows)
    ]


def _matched(registers: RegisterSet, units: list[TextUnit]) -> tuple[object, ...]:
    found: RegisterMatch = registers.match(units, [])
    return (
        found.subjects,
        found.record_ids,
        found.record_fields,
        sorted((f.detector, f.where, f.detail) for f in found.findings),
    )


@pytest.mark.parametrize("size", [1, 40, SAMPLE_ROWS + 150])
def test_tables_match_the_same_with_and_without_the_compiled_reader(
    voters: Imported, size: int
) -> None:
    registers = voters.registers()
    idx = np.random.default_rng(size).choice(20_000, size=size, replace=False)
    units = _sheet(_awkward_rows(voters.people, idx))
    compiled = _matched(registers, units)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "other_keys", None)
        assert _matched(registers, units) == compiled
    assert compiled[0] == {"voters": size}


@pytest.mark.parametrize("sizes", [(1,), (40, 7), (SAMPLE_ROWS,), (SAMPLE_ROWS, SAMPLE_ROWS + 1)])
def test_small_tables_match_the_same_without_the_first_lookup(
    voters: Imported, sizes: tuple[int, ...]
) -> None:
    # Tables within SAMPLE_ROWS rows skip the lookup that tells identified rows: the same
    # findings as when it is made (and a table past it still makes it).
    registers = voters.registers()
    rng = np.random.default_rng(sum(sizes))
    units = [
        TextUnit(text=u.text, where=u.where.replace("Sheet1", f"S{t}"), cells=u.cells)
        for t, size in enumerate(sizes)
        for u in _sheet(_awkward_rows(voters.people, rng.choice(20_000, size, replace=False)))
    ]
    units.insert(len(units) // 2, TextUnit(text="Dear CHAN Tai Man, 91234567", where="body"))
    skipped = _matched(registers, units)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Table, "read_whole", lambda self: False)
        assert _matched(registers, units) == skipped
    assert skipped[0]["voters"] >= max(sizes)  # the tables may share a person


@given(st.lists(st.integers(-3, 40), max_size=60), st.booleans())
def test_shared_counts_equal_values_as_np_unique_does(values: list[int], ordered: bool) -> None:
    # In group order (as present has them) or not, each value's count of equal values.
    array = np.array(sorted(values) if ordered else values, dtype=np.int64)
    _, at, counts = np.unique(array, return_inverse=True, return_counts=True)
    assert _shared(array).tolist() == counts[at].tolist()


@given(st.lists(st.integers(0, 511), min_size=1, max_size=60))
def test_distinct_masks_are_np_unique_s(masks: list[int]) -> None:
    array = np.array(masks, dtype=np.int64)
    distinct, which = np.unique(array, return_inverse=True)
    mine = _distinct_masks(array)
    assert (mine[0].tolist(), mine[1].tolist()) == (distinct.tolist(), which.tolist())
