"""The compiled present_chain (eighth round of issue 14: useful_entries, owned_runs, presence
and present_records in one call) against the same steps one by one and numpy's: generated
queries, hostile sizes and ranges, and whole messages matched the same without it."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.engine.registers.conftest import Imported
from tests.engine.registers.test_table_paths import _awkward_rows, _sheet

from postwarden.engine.registers import RegisterSet, native
from postwarden.engine.registers import index as index_module
from postwarden.engine.registers.index import RegisterIndex
from postwarden.engine.registers.match import (
    _FACT_OF,
    _IS_UNIQUE,
    _PHONE,
    EXPAND_MAX,
    PIVOT_MAX,
    SAMPLE_ROWS,
    UNIQUE_MAX,
    Collector,
    Presence,
    Queries,
    _unique_cells,
    present,
)
from postwarden.engine.registers.normalise import Field
from postwarden.model import TextUnit

_STEPS = (
    "useful_entries",
    "bare_phones",
    "owned_runs",
    "presence",
    "present_records",
    "present_chain",
)
_FIELDS = [int(f) for f in (Field.PHONE, Field.HKID, Field.EMAIL, Field.NAME_EN, Field.ADDRESS_EN)]

pytestmark = pytest.mark.skipif(
    native.present_chain is None, reason="the compiled present_chain is not built"
)


@pytest.fixture(scope="module")
def registers(voters: Imported) -> RegisterSet:
    return voters.registers()


def _looked(
    rng: np.random.Generator, index: RegisterIndex, keys: int, entries: int
) -> tuple[RegisterIndex, Queries, np.ndarray, np.ndarray]:
    """An index whose runs are ``keys`` keys' (each run's records ascending, as an import
    stores them, drawn from a small pool so that runs share records: a row's HKID and name
    of one person, namesakes), and queries of ``entries`` entries over them in ascending
    groups (a few a group, some alone): runs of none, a unique field's one to a few, a
    name's dozens, past EXPAND_MAX, past PIVOT_MAX now and then; phones bare in a column
    or sure.  The index's info (its phone count) is ``index``'s."""
    pool = int(rng.choice([5, 40, 400, PIVOT_MAX + 50]))
    n_of = rng.choice([0, 0, 1, 1, 2, 4, 5, 12, EXPAND_MAX, EXPAND_MAX + 1, 300], keys)
    if rng.random() < 0.2:
        n_of[int(rng.integers(0, keys))] = PIVOT_MAX + 1
    n_of = np.minimum(n_of, pool).astype(np.int64)
    runs = [np.sort(rng.choice(pool, size=int(n), replace=False)) for n in n_of]
    fake = SimpleNamespace(
        records=np.concatenate([np.zeros(0, np.uint32), *runs]).astype(np.uint32),
        info=index.info,
    )
    q = Queries(
        hashes=np.zeros(keys, dtype=np.uint64),
        fields=rng.choice(_FIELDS, keys).astype(np.uint8),
        keys=rng.integers(0, keys, entries).astype(np.int64),
        groups=np.sort(rng.integers(0, max(1, entries // 3), entries)).astype(np.int64),
        columns=rng.choice([-1, 2, 3, 1 << 16 | 2], entries).astype(np.int64),
        sure=rng.random(entries) < 0.3,
        group_where=[],
    )
    return fake, q, (np.cumsum(n_of) - n_of).astype(np.int64), n_of  # type: ignore[return-value]


def _answer(p: Presence) -> list[list[int]]:
    return [a.tolist() for a in (p.records, p.groups, p.masks, *p.identified, *p.matched)]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(0, 200))
def test_present_chain_equals_the_steps_one_by_one_and_numpy(
    registers: RegisterSet, seed: int, keys: int, entries: int
) -> None:
    index, q, lo_of, n_of = _looked(
        np.random.default_rng(seed), registers.get("voters"), keys, entries
    )
    chained = _answer(present(index, q, lo_of, n_of))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "present_chain", None)
        assert _answer(present(index, q, lo_of, n_of)) == chained
        for name in _STEPS:
            patch.setattr(native, name, None)
        assert _answer(present(index, q, lo_of, n_of)) == chained


def _chain(q: Queries, lo_of: np.ndarray, n_of: np.ndarray, records: np.ndarray) -> object:
    assert native.present_chain is not None
    return native.present_chain(
        q.keys,
        q.groups,
        q.columns,
        q.sure,
        q.fields,
        lo_of,
        n_of,
        _IS_UNIQUE,
        UNIQUE_MAX,
        _PHONE,
        records,
        _FACT_OF,
        EXPAND_MAX,
        PIVOT_MAX,
    )


def test_present_chain_checks_sizes_and_ranges_in_c() -> None:
    # Groups out of order: None (match.present takes the steps, which handle any order).
    # Buffers of mismatched sizes, a key past the keys, runs outside the records and a
    # field past the table: refused, never read past the buffers given.
    rng = np.random.default_rng(5)
    records = np.arange(50, dtype=np.uint32)
    keys = np.array([0, 1, 2, 1], dtype=np.int64)
    q = Queries(
        hashes=np.zeros(3, dtype=np.uint64),
        fields=np.array([int(Field.HKID), int(Field.NAME_EN), int(Field.PHONE)], np.uint8),
        keys=keys,
        groups=np.array([0, 0, 1, 1], dtype=np.int64),
        columns=np.full(4, -1, dtype=np.int64),
        sure=np.ones(4, dtype=np.bool_),
        group_where=[],
    )
    lo_of = np.array([3, 2, 10], dtype=np.int64)
    n_of = np.array([1, 3, 2], dtype=np.int64)
    got = _chain(q, lo_of, n_of, records)
    assert isinstance(got, tuple)
    assert len(got) == 9
    # Row 0: the HKID of 3 (and its name); row 1: a sure phone shared by 10 and 11.
    assert np.frombuffer(got[0], np.int64).tolist() == [3, 10, 11]
    backwards = replace(q, groups=q.groups[::-1].copy())
    assert _chain(backwards, lo_of, n_of, records) is None
    with pytest.raises(ValueError, match="mismatched"):
        _chain(q, lo_of[:2], n_of, records)
    bad_key = replace(q, keys=np.array([0, 1, 7, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="out of range"):
        _chain(bad_key, lo_of, n_of, records)
    bad_field = replace(q, fields=np.array([int(Field.HKID), 16, int(Field.PHONE)], np.uint8))
    with pytest.raises(ValueError, match="out of range"):
        _chain(bad_field, lo_of, n_of, records)
    for lo, n in (([3, 2, 49], [1, 3, 2]), ([3, -1, 10], [1, 3, 2]), ([3, 2, 10], [1, 1 << 62, 2])):
        with pytest.raises(IndexError, match="outside"):
            _chain(q, np.array(lo, np.int64), np.array(n, np.int64), records)
    with pytest.raises(ValueError, match="mismatched"):
        _chain(q, lo_of, n_of, rng.integers(0, 9, 7).astype(np.uint8))


@pytest.mark.parametrize("size", [1, 40, SAMPLE_ROWS, SAMPLE_ROWS + 90])
def test_tables_match_the_same_without_present_chain_and_bucket_runs(
    voters: Imported, size: int
) -> None:
    registers = voters.registers()
    rng = np.random.default_rng(size + 1)
    rows = _awkward_rows(voters.people, rng.choice(20_000, size=size, replace=False))
    units = _sheet(rows)
    units.append(TextUnit(text=f"Tel: {rows[-1][4]}\n{rows[-1][1]}", where="body"))

    def matched(found: RegisterSet) -> tuple[object, ...]:
        m = found.match(units, [])
        return (m.subjects, m.record_ids, m.record_fields, m.findings)

    compiled = matched(registers)
    assert compiled[0]["voters"] > 0  # type: ignore[index]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "present_chain", None)
        patch.setattr(index_module, "_bucket_runs", None)
        assert matched(voters.registers()) == compiled


_CELLS = [
    "CHAN Tai Man",
    "Chan Tai Man",
    "  Mr WONG Siu-ming ",
    "O'Brien Sean",
    "V-0000002",
    "A123456(3)",
    "91234567",
    "",
    "   ",
    "x",
    "a@b.hk",
    "Flat 3, 12 Nathan Road",  # an address: left to Python
    "12/03/1980",  # a date: left to Python
    "陳大文",  # not ASCII: left to Python
    "one two three four",
]


@pytest.mark.skipif(native.other_codes is None, reason="the compiled other_codes is not built")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_CELLS), max_size=30),
    st.lists(st.sampled_from(["\x04chan", "\x04tai", "\x01A1234563"]), max_size=3),
)
def test_other_codes_number_and_pack_as_the_steps_do(cells: list[str], known: list[str]) -> None:
    # Cells all settled in C (names, ids, numbers, blanks) or some left to Python (an
    # address, a date, Chinese): the same codes and the same keys numbered in the same
    # order as other_keys, number_keys and numpy's packing, after the keys a collector
    # already has (some of them the cells' own).
    fused, steps = Collector(), Collector()
    for collector in (fused, steps):
        for key in known:
            collector._key_of(key)
    codes = fused._other_codes(cells)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "other_codes", None)
        assert codes.tolist() == steps._other_codes(cells).tolist()
    assert list(fused.keys.items()) == list(steps.keys.items())


@pytest.mark.skipif(native.other_codes is None, reason="the compiled other_codes is not built")
def test_other_codes_refuse_what_is_not_str_or_a_dict() -> None:
    assert native.other_codes is not None
    with pytest.raises(TypeError):
        native.other_codes({}, ["CHAN Tai Man", b"CHAN"], 0)
    with pytest.raises(TypeError):
        native.other_codes([], ["CHAN Tai Man"], 0)
    keys = {"\x04chan": 5}
    settled = native.other_codes(keys, ["chan", "Lee Ka"], 9)
    assert isinstance(settled, bytes)
    assert np.frombuffer(settled, np.int64).tolist() == [6, 10]
    assert keys == {"\x04chan": 5, "\x04ka lee": 9}
    left = native.other_codes(keys, ["Lee Ka", "陳大文"], 10)
    assert isinstance(left, tuple)
    assert keys == {"\x04chan": 5, "\x04ka lee": 9}  # nothing numbered when one is left


_UNIQUE_CELLS = [
    "A123456(3)",
    "a123456(3)",
    " A1234563 ",
    "B234567(1)",
    "91234567",
    "9123 4567",
    "+852 9123 4567",  # international: flagged by Python's reading
    "a@b.hk",
    "V-0000002",
    "12/03/1980",
    "2",
    "",
    "CHAN Tai Man",
    "９１２３４５６７",  # full-width digits: left to Python
]


@pytest.mark.skipif(native.unique_codes is None, reason="the compiled unique_codes is not built")
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_UNIQUE_CELLS), max_size=30),
    st.lists(st.sampled_from(["\x01A1234563", "\x0791234567", "\x04chan"]), max_size=3),
)
def test_unique_codes_number_and_pack_as_the_steps_do(cells: list[str], known: list[str]) -> None:
    # HKIDs, local phones and ids all settled in C, or some left to Python (an email, an
    # international or full-width number): the same codes (international flags included)
    # and the same keys numbered in the same order as the steps, after a collector's keys.
    fused, steps = Collector(), Collector()
    for collector in (fused, steps):
        for key in known:
            collector._key_of(key)
    deep = _unique_cells(cells)[0]
    codes = fused._unique_codes_at(cells, deep)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "unique_codes", None)
        assert codes.tolist() == steps._unique_codes_at(cells, deep).tolist()
    assert list(fused.keys.items()) == list(steps.keys.items())


@pytest.mark.skipif(native.unique_codes is None, reason="the compiled unique_codes is not built")
def test_unique_codes_check_positions_in_c() -> None:
    assert native.unique_codes is not None
    cells = ["A123456(3)", "91234567"]
    for at in ([0, 2], [-1]):
        with pytest.raises(IndexError, match="out of range"):
            native.unique_codes({}, cells, np.array(at, np.int64), 0)
    with pytest.raises(ValueError, match="int64s"):
        native.unique_codes({}, cells, np.zeros(3, np.uint8), 0)
    with pytest.raises(TypeError):
        native.unique_codes({}, [b"A123456(3)"], np.zeros(1, np.int64), 0)
    keys: dict[str, int] = {}
    settled = native.unique_codes(keys, cells, np.array([1, 0], np.int64), 4)
    assert isinstance(settled, bytes)
    assert np.frombuffer(settled, np.int64).tolist() == [6, 5]
    assert list(keys.values()) == [4, 5]
