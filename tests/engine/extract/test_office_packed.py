"""Every member's compressed bytes in one compiled call (`archive.packed_members`,
``_hsscan.packed_members``) are exactly what `archive.plain_packed` returns member by member,
None where it raises `NotPlain`: on files made by python-docx, openpyxl, xlsxwriter and
python-pptx, the hostile corpus, their mutants (bytes of the local headers flipped) and
hand-made members of every kind it steps aside for."""

from __future__ import annotations

import random
import struct
import zipfile
from pathlib import Path

import pytest
from tests.engine.extract.mutants import mutants
from tests.engine.extract.test_sheet_cells import xlsxwriter_book
from tests.factories import make_docx, make_pptx, make_xlsx, make_zip

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import archive
from postwarden.engine.extract.archive import (
    overlap_fault,
    packed_members,
    packed_members_py,
    plain_packed,
)
from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.zipdir import Zip, read_zip

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "poi-hostile-office" / "files"


def _compare(data: bytes) -> tuple[int, int]:
    """(plain, not plain) members of ``data`` where zipfile lists them, compared."""
    try:
        infos = read_zip(data).infos
    except Exception:  # not a zip: open_zip refuses it before any member is read
        return 0, 0
    try:
        expected = packed_members_py(data, infos)
    except struct.error:  # a header past the end: open_zip's overlap guard refuses it first
        return 0, 0
    assert _hsscan.packed_members(data, infos) == expected
    plain = sum(p is not None for p in expected)
    return plain, len(expected) - plain


def _sources() -> list[bytes]:
    made = [
        make_docx(["Dear Ann,", "CHAN Tai Man A123456(3)"], tables=[[["name"], ["LEE"]]]),
        make_xlsx({"S": [["name", "phone"], ["LEE Ka Yan", 91234567]]}),
        xlsxwriter_book(random.Random(3)),
        make_pptx("Polling stations", "CHAN Tai Man"),
        make_zip({"stored.txt": b"stored " * 300}, compression=zipfile.ZIP_STORED),
    ]
    corpus = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".docx", ".xlsx", ".pptx"))
    return made + [p.read_bytes() for p in corpus]


def _local_flips(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` with one byte of a local header (or the name after it) changed, many times."""
    out = []
    starts = [i for i in range(len(data)) if data.startswith(b"PK\x03\x04", i)]
    for start in starts[:20]:
        for _ in range(6):
            copy = bytearray(data)
            copy[min(start + rng.randrange(0, 40), len(copy) - 1)] ^= rng.randrange(1, 256)
            out.append(bytes(copy))
    return out


def test_real_files_and_their_mutants_give_what_plain_packed_gives() -> None:
    rng = random.Random(23)
    plain = not_plain = 0
    for seed, data in enumerate(_sources()):
        copies = [data, *(m for _what, m in mutants(data, seed, flips=8)), *_local_flips(data, rng)]
        for copy in copies:
            yes, no = _compare(copy)
            plain += yes
            not_plain += no
    assert plain > 500
    assert not_plain > 100


def _local_edit(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """``data`` with one field of its first local header set to ``value``."""
    copy = bytearray(data)
    struct.pack_into(fmt, copy, offset, value)
    return bytes(copy)


def _edges() -> dict[str, bytes]:
    small = make_zip({"a.txt": b"x" * 50, "b/c.xml": b"<a/>"})
    utf8 = make_zip({"caf\xe9.txt": b"x"})
    return {
        "plain": small,
        "UTF-8 name": utf8,
        "UTF-8 name, flag cleared in the local header (cp437 there)": _local_edit(utf8, 6, "<H", 0),
        "cp437 name in both": small.replace(b"a.txt", b"\x82.txt"),
        "bad UTF-8 in the local header": _local_edit(
            utf8.replace(b"caf\xc3\xa9", b"caf\xff\xff", 1), 6, "<H", 0x800
        ),
        "local name differs": small.replace(b"a.txt", b"A.txt", 1),
        "encrypted flag": _local_edit(small, small.find(b"PK\x01\x02") + 8, "<H", 1),
        "bzip2 method": _local_edit(small, small.find(b"PK\x01\x02") + 10, "<H", 12),
        "bad local signature": small.replace(b"PK\x03\x04", b"PK\x03\x05", 1),
        "extra field in the local header": _local_extra(small),
        "stream past the end": _local_edit(small, small.find(b"PK\x01\x02") + 20, "<I", 10**6),
        "empty": make_zip({}),
        "empty member": make_zip({"e.txt": b""}),
    }


def _local_extra(data: bytes) -> bytes:
    """The first member's local header claims an extra field of 4 bytes (its name's end and
    data then differ from what the central directory says)."""
    return _local_edit(data, 28, "<H", 4)


EXPECTED = {  # (plain, not plain) members
    "plain": (2, 0),
    "UTF-8 name": (1, 0),
    "UTF-8 name, flag cleared in the local header (cp437 there)": (0, 1),
    "cp437 name in both": (2, 0),
    "bad UTF-8 in the local header": (0, 1),
    "local name differs": (1, 1),
    "encrypted flag": (1, 1),
    "bzip2 method": (1, 1),
    "bad local signature": (1, 1),
    "extra field in the local header": (2, 0),
    "stream past the end": (1, 1),
    "empty": (0, 0),
    "empty member": (1, 0),
}


@pytest.mark.parametrize("case", list(_edges()))
def test_edge_cases_give_what_plain_packed_gives(case: str) -> None:
    assert _compare(_edges()[case]) == EXPECTED[case]


def test_hostile_member_fields_give_none_or_what_plain_packed_gives() -> None:
    """Fields no directory reader makes (offsets and sizes out of range, wrong types) give
    None, never a read outside ``data``."""
    data = make_zip({"a.txt": b"x" * 50, "b.txt": b"y"})
    for field, value in [
        ("header_offset", len(data)),
        ("header_offset", len(data) - 10),
        ("header_offset", 2**70),
        ("header_offset", -1),
        ("compress_size", len(data)),
        ("compress_size", 2**40),
        ("compress_size", -5),
        ("flag_bits", 2**20),
        ("compress_type", "8"),
        ("orig_filename", b"a.txt"),
    ]:
        infos = read_zip(data).infos
        setattr(infos[0], field, value)
        assert _hsscan.packed_members(data, infos)[0] is None, (field, value)
        assert _hsscan.packed_members(data, infos)[1] == plain_packed(data, infos[1])
    with pytest.raises(TypeError):
        _hsscan.packed_members(data, tuple(read_zip(data).infos))  # type: ignore[arg-type]


def test_the_python_loop_is_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_docx(["Dear Ann,"])
    infos = read_zip(data).infos
    compiled = packed_members(data, infos)
    monkeypatch.setattr(archive, "COMPILED", False)
    assert packed_members(data, infos) == compiled == packed_members_py(data, infos)
    assert all(p is not None for p in compiled)


def _fault(
    data: bytes,
    infos: list[zipfile.ZipInfo],
    cd_start: int,
    monkeypatch: pytest.MonkeyPatch,
    *,
    compiled: bool,
) -> object:
    with monkeypatch.context() as patch:
        patch.setattr(archive, "COMPILED", compiled)
        try:
            return overlap_fault(data, infos, cd_start)
        except Exception as exc:  # the loop's own failure, given where it would meet it
            return type(exc).__name__


def _listed(data: bytes) -> Zip | None:
    try:
        return read_zip(data)
    except Exception:  # zipfile's error: open_zip refuses the file
        return None


def _fault_cases() -> list[tuple[bytes, list[zipfile.ZipInfo], int]]:
    rng = random.Random(31)
    cases = []
    for seed, data in enumerate(_sources()):
        for copy in [data, *(m for _what, m in mutants(data, seed, flips=8))]:
            parsed = _listed(copy)
            if parsed is None:
                continue  # not a zip: open_zip refuses it before the overlap guard
            cases.append((copy, parsed.infos, parsed.start_dir))
            # Hostile fields: a member pointed at another's header (Fifield's bomb), at
            # the end or past it, a size running into the next member, ties in offset.
            for _ in range(4):
                infos = read_zip(copy).infos
                if not infos:
                    break
                victim = rng.randrange(len(infos))
                field, value = rng.choice(
                    [
                        ("header_offset", infos[rng.randrange(len(infos))].header_offset),
                        ("header_offset", len(copy) - rng.randrange(0, 40)),
                        ("header_offset", rng.randrange(0, len(copy))),
                        ("compress_size", infos[victim].compress_size + rng.randrange(1, 99)),
                        ("compress_size", 2**63),
                        ("header_offset", -3),
                    ]
                )
                setattr(infos[victim], field, value)
                cases.append((copy, infos, parsed.start_dir))
    return cases


def test_the_compiled_overlap_check_finds_the_fault_the_loop_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    faults: dict[object, int] = {}
    for data, infos, cd_start in _fault_cases():
        expected = _fault(data, infos, cd_start, monkeypatch, compiled=False)
        assert _fault(data, infos, cd_start, monkeypatch, compiled=True) == expected
        if _hsscan.overlap_fault(data, infos, cd_start) is None:  # left to the loop
            assert any(i.header_offset < 0 or i.compress_size >= 2**62 for i in infos)
        faults[expected] = faults.get(expected, 0) + 1
    assert {0, 1, 2, 3} <= set(faults)
    assert faults[0] > 100
    assert faults[3] > 20


def test_overlap_faults_keep_their_messages() -> None:
    data = make_zip({"a.txt": b"x" * 50, "b.txt": b"y"})
    infos = read_zip(data).infos
    infos[1].header_offset = infos[0].header_offset  # two entries on one stream
    with pytest.raises(Uninspectable, match=r"^zip bomb: overlapping entries in docx$"):
        archive._check_overlap(data, infos, read_zip(data).start_dir, "docx")
    infos[1].header_offset = len(data) - 4
    with pytest.raises(Uninspectable, match=r"^corrupt docx: member header outside the archive$"):
        archive._check_overlap(data, infos, read_zip(data).start_dir, "docx")
    one = make_zip({"a.txt": b"x" * 50})
    infos = read_zip(one).infos
    infos[0].header_offset = 1  # inside the archive, unsigned
    with pytest.raises(Uninspectable, match=r"^corrupt docx: bad member header$"):
        archive._check_overlap(one, infos, read_zip(one).start_dir, "docx")


def test_a_directory_start_out_of_range_is_left_to_the_loop() -> None:
    data = make_zip({"a.txt": b"x" * 50})
    infos = read_zip(data).infos
    assert _hsscan.overlap_fault(data, infos, 2**80) is None
    assert _hsscan.overlap_fault(data, infos, -(2**80)) is None
    assert overlap_fault(data, infos, 2**80) == 0  # the loop: nothing runs into it
    assert overlap_fault(data, infos, 1) == 3
