"""Importing registers: what is stored (hashes only), atomic replacement, bad files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from tests.engine.registers.conftest import SECRET, Imported
from tests.engine.registers.people import generate
from tests.factories import make_csv, make_xlsx

from postwarden.engine.registers import (
    RegisterError,
    RegisterFileError,
    RegisterIndex,
    RegisterSet,
    drop,
    import_register,
    list_registers,
)
from postwarden.engine.registers import index as index_module
from postwarden.model import TextUnit

HEADER = ["id", "name_en", "hkid", "phone", "status"]
ROWS = [
    ["1", "CHAN Tai Man", "A123456(3)", "91234567", "active"],
    ["2", "WONG Siu Ming", "B234567(1)", "62345678", "deceased"],
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _registers(tmp_path: Path) -> Path:
    d = tmp_path / "data" / "registers"
    d.mkdir(parents=True)
    return d


def _tree_bytes(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()]


def test_import_keeps_no_clear_value_in_the_data_dir(voters: Imported) -> None:
    data_dir = voters.registers_dir.parent
    blobs = _tree_bytes(data_dir)
    assert blobs, "the index is on disk"
    p = voters.people
    sample = range(0, len(p), 997)
    needles: set[str] = set()
    for i in sample:
        for column in ("name_en", "name_zh", "hkid", "phone", "address_en", "address_zh", "email"):
            needles.add(str(getattr(p, column)[i]))
        needles.add(str(p.hkid[i]).replace("(", "").replace(")", ""))
        needles.add(str(p.name_en[i]).lower())
    found = [
        n
        for n in needles
        for encoding in ("utf-8", "utf-16-le", "utf-16-be", "big5")
        if _encodable(n, encoding) and any(n.encode(encoding) in b for b in blobs)
    ]
    assert found == []
    # ...while the record ids are kept, for scoping and letters.
    assert any(str(p.id[0]).encode() in b for b in blobs)


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def test_import_files_are_private_and_listed(voters: Imported) -> None:
    (info,) = list_registers(voters.registers_dir)
    assert info.name == "voters"
    assert info.rows == len(voters.people)
    assert info.fields["hkid"] == len(voters.people)
    assert set(info.statuses) == {"active", "deceased"}
    generation = Path(os.readlink(voters.registers_dir / "voters"))
    for path in (voters.registers_dir / generation).iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_index_is_sorted_and_memory_mapped(voters: Imported) -> None:
    index = RegisterIndex.open(voters.registers_dir, "voters")
    assert isinstance(index.hashes, np.memmap)
    assert bool(np.all(index.hashes[1:] >= index.hashes[:-1]))
    assert index.ids([0, 19_999]) == [str(voters.people.id[0]), str(voters.people.id[19_999])]


def test_import_xlsx_with_chinese_headers(tmp_path: Path) -> None:
    registers = _registers(tmp_path)
    rows = [["編號", "英文姓名", "身份證號碼", "電話", "狀態"], *ROWS]
    source = _write(tmp_path / "people.xlsx", make_xlsx({"名單": rows}))
    result = import_register(source, "people", registers, SECRET)
    assert result.info.rows == 2
    assert set(result.info.fields) == {"name_en", "hkid", "phone"}
    found = RegisterSet(registers, SECRET).match([TextUnit(text="B234567(1)", where="body")], [])
    assert found.subjects == {"people": 1}


def test_import_map_overrides_and_ignored_columns(tmp_path: Path) -> None:
    registers = _registers(tmp_path)
    rows = [["Ref", "Person", "Notes", "Contact"], ["7", "CHAN Tai Man", "x", "91234567"]]
    source = _write(tmp_path / "p.csv", make_csv(rows))
    result = import_register(
        source, "p", registers, SECRET, overrides={"Person": "name_en", "Contact": "phone"}
    )
    assert result.ignored_columns == ("Notes",)
    assert set(result.info.fields) == {"name_en", "phone"}


def test_import_generic_name_and_address_columns_split_by_script(tmp_path: Path) -> None:
    registers = _registers(tmp_path)
    rows = [
        ["id", "name", "address"],
        ["1", "CHAN Tai Man", "Flat A, 12/F, Block 3, Wah Fu Estate"],
        ["2", "陳大文", "九龍灣宏開道8號12樓A室"],
    ]
    source = _write(tmp_path / "p.csv", make_csv(rows, encoding="utf-8-sig"))
    result = import_register(source, "p", registers, SECRET)
    assert result.info.fields == {"address_en": 1, "address_zh": 1, "name_en": 1, "name_zh": 1}


def test_reimport_replaces_atomically_and_old_readers_keep_working(tmp_path: Path) -> None:
    registers = _registers(tmp_path)
    first = generate(300, seed=1)
    second = generate(200, seed=2)
    a = _write(tmp_path / "a.csv", first.csv_text().encode())
    b = _write(tmp_path / "b.csv", second.csv_text().encode())
    import_register(a, "v", registers, SECRET)
    old = RegisterSet(registers, SECRET, ["v"])
    import_register(b, "v", registers, SECRET)
    # The old generation is gone from disk but still mapped by the reader that opened it.
    assert len([p for p in registers.glob(".v.*") if p.is_dir()]) == 1
    unit = [TextUnit(text=str(first.hkid[5]), where="body")]
    assert old.match(unit, []).subjects == {"v": 1}
    old.refresh(force=True)
    assert old.get("v").info.rows == 200
    assert old.match(unit, []).subjects == {"v": 0}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"id,name_en\n", "no rows"),
        (b"name_en,hkid\nCHAN Tai Man,A123456(3)\n", "no record id column"),
        (b"id,status\n1,active\n", "no personal data column"),
        (b"id,name_en\n1,CHAN Tai Man\n1,WONG Siu Ming\n", "'1' appears more than once"),
        ("id,name_en\n1,陳大文\n".encode("big5"), "not valid utf-8"),
        ("id,name_en\n1,CHAN\n".encode("utf-16-le"), "UTF-16 without a byte order mark"),
        (b"id,name_en\n,CHAN Tai Man\n", "has no record id"),
        (b"id,name_en\n1,CHAN Tai Man,extra\n", "3 cells, the header 2"),
        (b"PK\x03\x04 not really a workbook", "cannot read workbook"),
    ],
)
def test_bad_register_files_leave_the_previous_register(
    tmp_path: Path, data: bytes, message: str
) -> None:
    registers = _registers(tmp_path)
    good = _write(tmp_path / "good.csv", make_csv([HEADER, *ROWS]))
    import_register(good, "v", registers, SECRET)
    before = sorted(p.name for p in registers.iterdir())
    bad = _write(tmp_path / "bad.csv", data)
    with pytest.raises(RegisterFileError, match=message):
        import_register(bad, "v", registers, SECRET)
    assert sorted(p.name for p in registers.iterdir()) == before
    found = RegisterSet(registers, SECRET).match([TextUnit(text="A123456(3)", where="b")], [])
    assert found.subjects == {"v": 1}


def test_import_with_a_named_encoding(tmp_path: Path) -> None:
    registers = _registers(tmp_path)
    source = _write(tmp_path / "big5.csv", "id,name_zh,phone\n1,陳大文,91234567\n".encode("big5"))
    result = import_register(source, "v", registers, SECRET, encoding="big5")
    assert result.info.fields == {"name_zh": 1, "phone": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../x"}, "invalid register name"),
        ({"overrides": {"Nope": "name_en"}}, "header lacks"),
        ({"overrides": {"name_en": "nickname"}}, "unknown field"),
        ({"encoding": "klingon"}, "unknown encoding"),
    ],
)
def test_import_bad_arguments_are_value_errors(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    registers = _registers(tmp_path)
    source = _write(tmp_path / "good.csv", make_csv([HEADER, *ROWS]))
    args: dict[str, object] = {"name": "v"} | kwargs
    name = args.pop("name")
    assert isinstance(name, str)
    with pytest.raises(ValueError, match=message):
        import_register(source, name, registers, SECRET, **args)  # type: ignore[arg-type]


def test_drop_removes_the_register(tmp_path: Path) -> None:
    registers = _registers(tmp_path)
    import_register(_write(tmp_path / "g.csv", make_csv([HEADER, *ROWS])), "v", registers, SECRET)
    drop(registers, "v")
    assert list_registers(registers) == []
    assert not [p for p in registers.glob(".v.*") if p.is_dir()]
    with pytest.raises(RegisterError, match="no register named"):
        drop(registers, "v")


def test_index_from_another_secret_is_refused(tmp_path: Path) -> None:
    registers = _registers(tmp_path)
    import_register(_write(tmp_path / "g.csv", make_csv([HEADER, *ROWS])), "v", registers, SECRET)
    with pytest.raises(RegisterError, match="another installation secret"):
        RegisterSet(registers, b"another-secret-of-32-bytes-long!", ["v"])


def test_import_value_holding_a_nul_hashes_as_its_own_value(tmp_path: Path) -> None:
    # Columns travel to the hashing workers joined on NUL; a cell that holds one must not
    # shift the rest of its column onto other records.
    indexes = []
    for n, name in enumerate(("CHAN Tai Man", "CHAN\x00Tai Man")):
        registers = _registers(tmp_path / str(n))
        rows = [HEADER, ["1", name, *ROWS[0][2:]], ROWS[1]]
        import_register(_write(tmp_path / f"{n}.csv", make_csv(rows)), "p", registers, SECRET)
        indexes.append(RegisterIndex.open(registers, "p"))
    plain, nul = indexes
    assert np.array_equal(plain.hashes, nul.hashes)
    assert np.array_equal(plain.records, nul.records)


@pytest.mark.parametrize("native", [True, False], ids=["compiled", "numpy"])
def test_find_agrees_with_a_binary_search_over_the_whole_index(
    voters: Imported, native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fenced search (a sample of the index first, then each value's block) must give
    # numpy's run starts and lengths: present and absent values, both ends, runs (common
    # names) and values right at a fence post; compiled and in numpy alike.
    if native and index_module._find_runs is None:
        pytest.skip("the compiled find_runs is not built")
    if not native:
        monkeypatch.setattr(index_module, "_find_runs", None)
    index = RegisterSet(voters.registers_dir, SECRET).get("voters")
    hashes = np.asarray(index.hashes)
    rng = np.random.default_rng(3)
    posts = hashes[:: index_module.FENCE_STEP]
    wanted = np.sort(
        np.concatenate(
            [
                hashes[rng.integers(0, len(hashes), 500)],
                posts,
                posts - np.uint64(1),
                rng.integers(0, 2**63, 500, dtype=np.uint64) * np.uint64(2),
                np.array([0, 2**64 - 1], dtype=np.uint64),
            ]
        )
    )
    lo, n = index.find(wanted)
    assert (n > 1).any()  # runs were looked up too
    assert lo.tolist() == np.searchsorted(hashes, wanted, side="left").tolist()
    hi = np.searchsorted(hashes, wanted, side="right")
    assert n.tolist() == (hi - lo).tolist()


@pytest.mark.skipif(index_module._find_runs is None, reason="the compiled find_runs is not built")
@pytest.mark.parametrize("seed", range(40))
def test_compiled_find_runs_equals_the_numpy_search(seed: int) -> None:
    # Generated indexes of every shape: smaller than a fence block or many blocks long, few
    # distinct values (runs across fence posts) or many, values at both ends of the range;
    # looked up sorted or not, present, absent and next to present values.
    rng = np.random.default_rng(seed)
    size = int(rng.choice([1, 2, 5, 1023, 1024, 1025, 3000, 20_000]))
    distinct = max(1, int(size // rng.choice([1, 2, 50, 5000])))
    pool = rng.integers(0, 2**64 - 1, distinct, dtype=np.uint64, endpoint=True)
    if seed % 4 == 0:
        pool[0], pool[-1] = 0, 2**64 - 1
    hashes = np.sort(rng.choice(pool, size))
    fence = np.array(hashes[:: index_module.FENCE_STEP])
    picked = hashes[rng.integers(0, size, 300)]
    wanted = np.concatenate(
        [
            picked,
            picked + np.uint64(1),
            picked - np.uint64(1),
            fence,
            rng.integers(0, 2**64 - 1, 300, dtype=np.uint64, endpoint=True),
        ]
    )
    if seed % 2:
        wanted = np.sort(wanted)
    lo = np.empty(len(wanted), dtype=np.int64)
    count = np.empty(len(wanted), dtype=np.int64)
    index_module._find_runs(hashes, fence, index_module.FENCE_STEP, wanted, lo, count)
    want_lo, want_count = index_module.find_runs(hashes, fence, wanted)
    assert lo.tolist() == want_lo.tolist()
    assert count.tolist() == want_count.tolist()
    left = np.searchsorted(hashes, wanted, side="left")
    assert lo.tolist() == left.tolist()
    assert count.tolist() == (np.searchsorted(hashes, wanted, side="right") - left).tolist()


def _runs_as_searchsorted(hashes: np.ndarray, fence: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The compiled find_runs' starts and lengths of ``wanted`` in ``hashes``, checked against
    numpy's searchsorted; the lengths."""
    lo = np.empty(len(wanted), dtype=np.int64)
    count = np.empty(len(wanted), dtype=np.int64)
    index_module._find_runs(hashes, fence, index_module.FENCE_STEP, wanted, lo, count)
    left = np.searchsorted(hashes, wanted, side="left")
    assert lo.tolist() == left.tolist()
    assert count.tolist() == (np.searchsorted(hashes, wanted, side="right") - left).tolist()
    return count


@pytest.mark.skipif(index_module._find_runs is None, reason="the compiled find_runs is not built")
@pytest.mark.parametrize("seed", range(12))
def test_compiled_find_runs_is_exact_on_unevenly_spread_hashes(seed: int) -> None:
    # The compiled search guesses each value's place from the fence posts either side, as
    # if the hashes were evenly spread (keyed hashes are): hashes crowded into a few narrow
    # bands, or skewed towards one end, make every guess wrong, and the answer must still
    # be numpy's.
    rng = np.random.default_rng(100 + seed)
    size = int(rng.choice([1500, 5000, 40_000]))
    if seed % 2:
        bands = rng.integers(0, 2**64 - 2**40, 3, dtype=np.uint64)
        pool = rng.choice(bands, size) + rng.integers(0, 2**20, size, dtype=np.uint64)
    else:
        pool = (rng.random(size) ** 8 * 2.0**63).astype(np.uint64) * np.uint64(2)
    hashes = np.sort(pool)
    fence = np.array(hashes[:: index_module.FENCE_STEP])
    picked = hashes[rng.integers(0, size, 500)]
    wanted = np.concatenate(
        [picked, picked + np.uint64(1), picked - np.uint64(1), fence, fence + np.uint64(1)]
    )
    _runs_as_searchsorted(hashes, fence, wanted)


@pytest.mark.skipif(index_module._find_runs is None, reason="the compiled find_runs is not built")
def test_compiled_find_runs_ends_runs_of_every_length() -> None:
    # A run's end is found by galloping from its start (1, 2, 4... places on, then a
    # bisection): every length up to 70 and each power of two and its neighbours up to
    # 4097, runs first and last in the index, and runs across fence posts.
    lengths = [*range(1, 71), *(p + d for p in (2**k for k in range(7, 13)) for d in (-1, 0, 1))]
    rng = np.random.default_rng(7)
    values = np.sort(rng.choice(2**62, len(lengths), replace=False).astype(np.uint64))
    values[0], values[-1] = 0, 2**64 - 1
    shuffled = rng.permutation(lengths)
    hashes = np.repeat(values, shuffled)
    fence = np.array(hashes[:: index_module.FENCE_STEP])
    wanted = np.concatenate([values, values + np.uint64(1), values - np.uint64(1)])
    count = _runs_as_searchsorted(hashes, fence, wanted)
    assert count[: len(values)].tolist() == shuffled.tolist()


@pytest.mark.skipif(index_module._find_runs is None, reason="the compiled find_runs is not built")
def test_compiled_find_runs_refuses_mismatched_buffers() -> None:
    hashes = np.arange(10, dtype=np.uint64)
    fence = np.array(hashes[:: index_module.FENCE_STEP])
    out = np.empty(3, dtype=np.int64)
    with pytest.raises(ValueError, match="mismatched"):
        index_module._find_runs(hashes, fence, index_module.FENCE_STEP, hashes, out, out)
    with pytest.raises(ValueError, match="mismatched"):
        index_module._find_runs(hashes, hashes, index_module.FENCE_STEP, hashes[:3], out, out)


_NO_BUCKETS = index_module._bucket_runs is None or index_module._buckets is None


def _bucket_runs_as_searchsorted(hashes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The compiled bucket_runs' starts and lengths of ``wanted`` in ``hashes`` (through the
    table RegisterIndex builds), checked against numpy's searchsorted and the numpy fenced
    search; the lengths."""
    fence = np.array(hashes[:: index_module.FENCE_STEP])
    built = RegisterIndex._bucket_table(hashes)
    assert built is not None
    table, bits = built
    top = hashes >> np.uint64(64 - bits)
    firsts = np.searchsorted(top, np.arange(2**bits, dtype=np.uint64), side="left")
    assert table.tolist() == [*firsts.tolist(), len(hashes)]
    lo = np.empty(len(wanted), dtype=np.int64)
    count = np.empty(len(wanted), dtype=np.int64)
    assert index_module._bucket_runs is not None
    index_module._bucket_runs(hashes, table, bits, wanted, lo, count)
    left = np.searchsorted(hashes, wanted, side="left")
    assert lo.tolist() == left.tolist()
    assert count.tolist() == (np.searchsorted(hashes, wanted, side="right") - left).tolist()
    want_lo, want_count = index_module.find_runs(hashes, fence, wanted)
    assert (lo.tolist(), count.tolist()) == (want_lo.tolist(), want_count.tolist())
    return count


@pytest.mark.skipif(_NO_BUCKETS, reason="the compiled bucket_runs is not built")
@pytest.mark.parametrize("seed", range(30))
def test_compiled_bucket_runs_equals_the_numpy_search(seed: int) -> None:
    # Indexes of two buckets to tens of thousands, few distinct values (runs across
    # buckets) or many, evenly spread or crowded into narrow bands or one end (empty and
    # overfull buckets), values at both ends of the range; looked up sorted or not,
    # present, absent, next to present values and at bucket edges.
    rng = np.random.default_rng(200 + seed)
    size = int(rng.choice([32, 33, 100, 1025, 5000, 40_000]))
    distinct = max(1, int(size // rng.choice([1, 2, 50, 5000])))
    if seed % 3 == 0:
        pool = rng.integers(0, 2**64 - 1, distinct, dtype=np.uint64, endpoint=True)
        pool[0], pool[-1] = 0, 2**64 - 1
    elif seed % 3 == 1:
        bands = rng.integers(0, 2**64 - 2**40, 3, dtype=np.uint64)
        pool = rng.choice(bands, distinct) + rng.integers(0, 2**20, distinct, dtype=np.uint64)
    else:
        pool = (rng.random(distinct) ** 8 * 2.0**63).astype(np.uint64) * np.uint64(2)
    hashes = np.sort(rng.choice(pool, size))
    bits = (size // index_module.BUCKET_HASHES).bit_length() - 1
    edges = np.arange(2**bits, dtype=np.uint64) << np.uint64(64 - bits)
    picked = hashes[rng.integers(0, size, 300)]
    wanted = np.concatenate(
        [
            picked,
            picked + np.uint64(1),
            picked - np.uint64(1),
            edges,
            edges - np.uint64(1),
            rng.integers(0, 2**64 - 1, 300, dtype=np.uint64, endpoint=True),
            np.array([0, 2**64 - 1], dtype=np.uint64),
        ]
    )
    if seed % 2:
        wanted = np.sort(wanted)
    _bucket_runs_as_searchsorted(hashes, wanted)


@pytest.mark.skipif(_NO_BUCKETS, reason="the compiled bucket_runs is not built")
def test_compiled_bucket_runs_ends_runs_of_every_length() -> None:
    # Runs of every length up to 70 and around each power of two up to 4097, first and last
    # in the index: a run longer than its bucket spans the buckets after it.
    lengths = [*range(1, 71), *(p + d for p in (2**k for k in range(7, 13)) for d in (-1, 0, 1))]
    rng = np.random.default_rng(8)
    values = np.sort(rng.choice(2**62, len(lengths), replace=False).astype(np.uint64) * 4)
    values[0], values[-1] = 0, 2**64 - 1
    shuffled = rng.permutation(lengths)
    hashes = np.repeat(values, shuffled)
    wanted = np.concatenate([values, values + np.uint64(1), values - np.uint64(1)])
    count = _bucket_runs_as_searchsorted(hashes, wanted)
    assert count[: len(values)].tolist() == shuffled.tolist()


def test_small_indexes_have_no_bucket_table() -> None:
    # Fewer hashes than two buckets' worth: the fence's search (no table to build).
    hashes = np.arange(2 * index_module.BUCKET_HASHES - 1, dtype=np.uint64)
    assert RegisterIndex._bucket_table(hashes) is None


@pytest.mark.skipif(_NO_BUCKETS, reason="the compiled bucket_runs is not built")
def test_compiled_bucket_runs_refuses_bad_tables() -> None:
    # Checked in C: a table of another size than its bits say, bits out of range, output
    # buffers of another size, and entries out of order or past the index (read only
    # within the buffers given, whatever the table holds).
    hashes = np.arange(0, 2**64 - 2**54, 2**54, dtype=np.uint64)
    table = np.array([0, 500, 1000, 1023], dtype=np.uint32)
    out = np.empty(len(hashes), dtype=np.int64)
    bucket_runs = index_module._bucket_runs
    assert bucket_runs is not None
    with pytest.raises(ValueError, match="mismatched"):
        bucket_runs(hashes, table, 1, hashes, out, out)
    with pytest.raises(ValueError, match="mismatched"):
        bucket_runs(hashes, table, 0, hashes, out, out)
    with pytest.raises(ValueError, match="mismatched"):
        bucket_runs(hashes, np.zeros(2**33 // 2**31, np.uint32), 33, hashes, out, out)
    with pytest.raises(ValueError, match="mismatched"):
        bucket_runs(hashes, np.array([0, 500, 1023], np.uint32), 1, hashes, out[:3], out)
    for bad in ([0, 2000, 1023], [0, 700, 600], [5, 1023, 1024]):
        with pytest.raises(ValueError, match="out of order"):
            bucket_runs(hashes, np.array(bad, np.uint32), 1, hashes, out, out)
    good = np.array([0, 512, len(hashes)], np.uint32)
    count = np.empty(len(hashes), dtype=np.int64)
    bucket_runs(hashes, good, 1, hashes, out, count)
    assert out.tolist() == list(range(len(hashes)))
    assert count.tolist() == [1] * len(hashes)


@pytest.mark.skipif(_NO_BUCKETS, reason="the compiled bucket_table is not built")
@pytest.mark.parametrize("seed", range(6))
def test_compiled_bucket_table_stays_in_the_index_whatever_the_hashes(seed: int) -> None:
    # Hashes out of order (a damaged index): the starts only ever grow and stay within the
    # index, so bucket_runs reads nothing past it.  Sizes and bits checked in C.
    rng = np.random.default_rng(300 + seed)
    hashes = rng.integers(0, 2**64 - 1, int(rng.integers(0, 5000)), dtype=np.uint64)
    buckets = index_module._buckets
    assert buckets is not None
    for bits in (1, 5, 12):
        table = np.frombuffer(buckets(hashes, bits), np.uint32).astype(np.int64)
        assert len(table) == 2**bits + 1
        assert (np.diff(table) >= 0).all()
        assert table[-1] == len(hashes)
    for bits in (0, 33):
        with pytest.raises(ValueError, match="mismatched"):
            buckets(hashes, bits)
    with pytest.raises(ValueError, match="mismatched"):
        buckets(np.zeros(3, np.uint8), 4)
