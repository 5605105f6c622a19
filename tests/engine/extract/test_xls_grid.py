"""An xls's sheets are judged from their BIFF8 records before calamine opens the workbook
(`grids.check_xls`, ``Limits.max_sheet_cells``): calamine builds every sheet of an
xls, and keeps them all, when it opens it: a 5.6 KB file naming A1 and IV65536 took
512 MiB, four such sheets 2 GiB; a DIMENSIONS record claiming 2**32 rows, or cells out of
row order, made it abort the whole process on a failed allocation."""

from __future__ import annotations

import io
import random
import struct
import time
from collections.abc import Callable

import olefile
import pytest
import python_calamine
import xlwt
from tests.engine.extract.children import extracted_in_child
from tests.factories import make_xls

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import grids, spreadsheet
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.sniff import Kind, sniff
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

FAR = {(0, 0): "x", (65535, 255): "y"}
SMALL = {(0, 0): "x", (2, 3): 1.5}
# The DIMENSIONS record xlwt writes of SMALL: rows 0 to 3, columns 0 to 4 (one past each).
SMALL_DIMENSIONS = b"\x00\x02\x0e\x00" + struct.pack("<IIHHH", 0, 3, 0, 4, 0)


def patched(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with the one place holding ``old`` holding ``new`` (as long)."""
    assert data.count(old) == 1
    assert len(old) == len(new)
    return data.replace(old, new)


def xls_book(spec: str) -> bytes:
    """The workbook of a test: ``far`` (A1 and IV65536), ``formulas`` (formulas there),
    ``sheets`` (four sheets of A1 and AN65536), ``dimensions`` (SMALL claiming 2**32 - 1
    rows), ``small``."""
    if spec == "far":
        return make_xls({"S": FAR})
    if spec == "formulas":
        return make_xls({"S": dict.fromkeys(FAR, xlwt.Formula("1+2"))})
    if spec == "sheets":
        return make_xls({f"S{i}": {(0, 0): "x", (65535, 39): "y"} for i in range(4)})
    data = make_xls({"S": SMALL})
    if spec == "dimensions":
        forged = b"\x00\x02\x0e\x00" + struct.pack("<IIHHH", 0, 0xFFFFFFFF, 0, 4, 0)
        return patched(data, SMALL_DIMENSIONS, forged)
    return data


def extracted(
    data: bytes, name: str = "x.xls", limits: Limits | None = None
) -> tuple[list[str], str | None]:
    walker = Walker(Budget(limits or Limits(), len(data), time.monotonic() + 60))
    try:
        spreadsheet.SpreadsheetExtractor().extract(data, name, 0, sniff(data, name), walker)
    except Uninspectable as exc:
        return [unit.where for unit in walker.units], exc.reason
    return [unit.where for unit in walker.units], None


def book(spec: str) -> tuple[bytes, str]:
    """`xls_book` of ``spec``, and its name."""
    return xls_book(spec), "x.xls"


def in_child(spec: str) -> tuple[list[str], str | None, float]:
    return extracted_in_child(__name__, spec)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (
            "far",
            "sheet 1 of xls workbook spans a grid of 16,777,216 cells, over the limit of 5,000,000",
        ),
        (
            "sheets",
            "sheets 1-2 of xls workbook span grids of 5,242,880 cells together, over the "
            "limit of 5,000,000",
        ),
        (
            "dimensions",
            "sheet 1 of xls workbook claims a grid of 17,179,869,180 cells, over BIFF8's "
            "16,777,216",
        ),
        (
            "formulas",
            "sheet 1 of xls workbook spans a grid of 33,554,432 cells, over the limit of 5,000,000",
        ),
    ],
)
def test_xls_sheets_spanning_huge_grids_are_refused_in_bounded_memory(
    spec: str, reason: str
) -> None:
    # before: 512 MiB (far), 896 MiB (formulas), 320 MiB (sheets), an abort (dimensions)
    places, refused, grown = in_child(spec)
    assert (places, refused) == ([], reason)
    assert grown < 50  # MiB


def test_a_small_xls_is_read_in_a_child_too() -> None:
    places, reason, grown = in_child("small")
    assert (places, reason) == (["x.xls#S!R1", "x.xls#S!R3"], None)
    assert grown < 50


def test_the_limit_is_a_setting() -> None:
    data = make_xls({"S": SMALL})
    assert extracted(data, limits=Limits(max_sheet_cells=11))[1] == (
        "sheet 1 of xls workbook spans a grid of 12 cells, over the limit of 11"
    )
    assert extracted(data, limits=Limits(max_sheet_cells=12)) == (
        ["x.xls#S!R1", "x.xls#S!R3"],
        None,
    )


def _unchecked(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """The units of ``data`` read without the check (as before it), and with it."""

    def units() -> list[tuple[str, str, tuple[str, ...] | None]]:
        walker = Walker(Budget(Limits(), len(data), time.monotonic() + 60))
        spreadsheet.SpreadsheetExtractor().extract(data, "b.xls", 0, sniff(data, "b.xls"), walker)
        return [(u.where, u.text, u.cells) for u in walker.units]

    checked = units()
    with monkeypatch.context() as m:
        m.setattr(spreadsheet, "check_xls", lambda *args: None)
        assert units() == checked
    return checked


def test_a_legitimate_xls_is_read_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_xls(
        {
            "Voters": {
                (0, 0): "Name",
                (0, 1): "HKID",
                (0, 2): "Phone",
                (1, 0): "陳大文",
                (1, 1): "A1234563",
                (1, 2): 91234567,
                (3, 1): xlwt.Formula("1+2"),
                (65535, 2): 1.5,
            },
            "Secret": {(0, 0): "hidden value"},
        },
        hidden={"Secret"},
    )
    assert sniff(data, "b.xls").kind is Kind.SPREADSHEET
    units = _unchecked(data, monkeypatch)
    assert [u[0] for u in units] == [
        "b.xls#Voters!R1",
        "b.xls#Voters!R2",
        "b.xls#Voters!R65536",
        "b.xls#Secret!R1",
    ]
    assert units[1][2] == ("陳大文", "A1234563", "91234567")


@pytest.mark.parametrize("seed", range(6))
def test_generated_xls_are_read_as_before(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    sheets: dict[str, dict[tuple[int, int], object]] = {}
    for number in range(rng.randrange(1, 4)):
        cells: dict[tuple[int, int], object] = {}
        for _ in range(rng.randrange(0, 30)):
            place = (rng.randrange(0, 300), rng.randrange(0, 40))
            cells[place] = rng.choice(["a", "b c", 7, 2.5, True, xlwt.Formula("1+2")])
        sheets[f"S{number}"] = cells
    data = make_xls(sheets)  # type: ignore[arg-type]
    assert extracted(data)[1] is None
    _unchecked(data, monkeypatch)


def stream_of(data: bytes) -> bytes:
    with olefile.OleFileIO(data) as ole:
        return bytes(ole.openstream("Workbook").read())


def never(*_: object) -> None:
    return None


@pytest.mark.parametrize("seed", range(6))
def test_grids_hold_what_calamine_builds(seed: int) -> None:
    rng = random.Random(100 + seed)
    sheets: dict[str, dict[tuple[int, int], object]] = {}
    formulas = set()
    for number in range(rng.randrange(1, 4)):
        cells: dict[tuple[int, int], object] = {}
        for _ in range(rng.randrange(1, 40)):
            place = (rng.randrange(0, 2000), rng.randrange(0, 256))
            cells[place] = rng.choice(["a", 7, 2.5, False, "", None, xlwt.Formula("1+2")])
        if any(isinstance(v, xlwt.Formula) for v in cells.values()):
            formulas.add(number)
        sheets[f"S{number}"] = cells
    data = make_xls(sheets)  # type: ignore[arg-type]
    stream = stream_of(data)
    offsets = grids._xls_sheets(stream, "x", never)
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert len(offsets) == len(workbook.sheet_names)
    for number, (name, offset) in enumerate(zip(workbook.sheet_names, offsets, strict=True)):
        sheet = workbook.get_sheet_by_name(name)
        built = sheet.height * sheet.width
        grid, claimed = grids.xls_grid(stream, offset, never)
        assert claimed <= 65536 * 256
        if number in formulas:
            assert grid >= built  # and the formulas' grid
        else:
            assert grid == built


def compiled_grid(stream: bytes, at: int, check_time: Callable[[], None]) -> tuple[int, int]:
    return _hsscan.xls_grid(stream, at, check_time, 4096)


GRIDS = [grids._xls_grid, compiled_grid]


def record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


@pytest.mark.parametrize("grid", GRIDS)
def test_records_are_read_as_calamine_reads_them(grid: Callable[..., tuple[int, int]]) -> None:
    def cell(kind: int, row: int, col: int, rest: bytes = bytes(10)) -> bytes:
        return record(kind, struct.pack("<HH", row, col) + rest)

    eof = record(0x000A, b"")
    assert grid(b"", 0, never) == (0, 0)
    assert grid(cell(0x0203, 2, 3) + eof, 0, never) == (1, 0)
    # a FORMULA's cell counts in both grids; its STRING at its place; after EOF nothing
    body = cell(0x0203, 0, 0) + cell(0x0006, 4, 1, bytes(16)) + cell(0x0207, 0, 0, b"")
    assert grid(body + eof + cell(0x0203, 999, 99), 0, never) == (5 * 2 + 1, 0)
    # a MULRK from its first column on (its last column as written is not taken)
    assert grid(cell(0x00BD, 1, 10, bytes(6 * 3) + b"\x00\x00") + eof, 0, never) == (3, 0)
    # BLANK, MULBLANK, RSTRING: no cells calamine reads
    assert grid(
        cell(0x0201, 9, 9, b"\0\0")
        + cell(0x00BE, 9, 200, bytes(6))
        + cell(0x00D6, 65535, 255)
        + cell(0x0203, 0, 0),
        0,
        never,
    ) == (1, 0)
    # rows from the top to the bottom, whatever their order
    assert grid(cell(0x0203, 7, 0) + cell(0x0203, 0, 2) + cell(0x0203, 3, 1), 0, never) == (24, 0)
    # DIMENSIONS, both forms; with no last row or column, one cell
    dimensions = record(0x0200, struct.pack("<IIHHH", 2, 12, 1, 5, 0))
    assert grid(dimensions, 0, never) == (0, 40)
    assert grid(record(0x0200, struct.pack("<HHHHH", 5, 1, 0, 2, 0)), 0, never) == (
        0,
        (2**32 - 4) * 2,
    )
    assert grid(record(0x0200, struct.pack("<IIHHH", 7, 0, 0, 9, 0)), 0, never) == (0, 1)
    # cut short: within a header, within a body
    assert grid(cell(0x0203, 0, 0)[:-1], 0, never) == (-1, 0)
    assert grid(eof[:3], 0, never) == (-1, 0)


def test_sheets_are_found_as_calamine_finds_them() -> None:
    data = make_xls({"A": SMALL, "B": FAR})
    stream = stream_of(data)
    offsets = grids._xls_sheets(stream, "x", never)
    assert len(offsets) == 2
    assert [grids.xls_grid(stream, at, never)[0] for at in offsets] == [12, 16_777_216]
    # a sheet said to begin past the end of the workbook's stream
    boundsheet = b"\x85\x00\x09\x00" + struct.pack("<I", offsets[0])
    past = boundsheet[:4] + struct.pack("<I", len(stream) + 1)
    assert extracted(patched(data, boundsheet, past)) == (
        [],
        "corrupt xls workbook: a sheet past the end of the workbook",
    )


@pytest.mark.parametrize("kind", [1, 0])
def test_an_encrypted_xls_is_refused_as_encrypted(kind: int) -> None:
    # The record after the workbook's BOF made a FILEPASS of its length: RC4 (1; calamine
    # refused it as a file it cannot detect) or XOR obfuscation (0; calamine read it on,
    # every value scrambled in a real one)
    data = make_xls({"S": SMALL})
    stream = stream_of(data)
    after_bof = 4 + struct.unpack_from("<H", stream, 2)[0]
    size = struct.unpack_from("<H", stream, after_bof + 2)[0]
    forged = struct.pack("<HHH", 0x002F, size, kind) + bytes(size - 2)
    encrypted = patched(data, stream[after_bof : after_bof + 4 + size], forged)
    assert extracted(encrypted) == ([], "encrypted xls workbook")


@pytest.mark.parametrize("seed", range(4))
def test_cut_and_mutated_xls_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    data = make_xls({"S": SMALL, "T": {(1, 1): "y", (4, 2): xlwt.Formula("1+2")}})
    stream = stream_of(data)
    start = data.index(stream[:64])  # the stream lies in one piece in xlwt's file
    for _ in range(150):
        cut = rng.randrange(len(stream))
        for mutant in (
            stream[:cut],
            stream[:cut] + bytes([rng.randrange(256)]) + stream[cut + 1 :],
            stream[:cut] + stream[cut + rng.randrange(1, 9) :],
        ):
            try:
                offsets = grids._xls_sheets(mutant, "x", never)
            except Uninspectable:
                continue
            for at in offsets:
                assert grids.xls_grid(mutant, at, never)[0] >= -1
            if len(mutant) == len(stream):
                whole = data[:start] + mutant + data[start + len(stream) :]
                extracted(whole)  # refused or read, never raising


@pytest.mark.parametrize("seed", range(4))
def test_compiled_and_python_grids_agree(seed: int) -> None:
    rng = random.Random(seed)
    kinds = [0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006, 0x0207, 0x00BD, 0x0201, 0x000A]
    for _ in range(3000):
        pieces = []
        for _ in range(rng.randrange(8)):
            if rng.random() < 0.2:
                form = rng.choice(["<IIHHH", "<HHHHH"])
                limit = 0xFFFFFFFF if form[1] == "I" else 0xFFFF
                rows = [rng.choice([0, 1, 5, limit]) for _ in range(2)]
                bounds = [*rows, *(rng.choice([0, 1, 5, 0xFFFF]) for _ in range(2))]
                pieces.append(record(0x0200, struct.pack(form, *bounds, 0)))
            else:
                size = rng.choice([0, 3, 4, 10, 12, 18, 20])
                body = struct.pack("<HH", rng.randrange(65536), rng.randrange(65536))
                pieces.append(record(rng.choice(kinds), (body + bytes(size))[:size]))
        stream = b"".join(pieces)
        stream = stream[: rng.randrange(len(stream) + 1)] if rng.random() < 0.3 else stream
        at = rng.randrange(len(stream) + 1)
        expected = grids._xls_grid(stream, at, never)
        assert _hsscan.xls_grid(stream, at, never, 4096) == expected, (stream, at)


def test_the_compiled_walk_reads_the_clock() -> None:
    calls = []
    stream = record(0x0203, bytes(14)) * 10 + record(0x000A, b"")
    assert _hsscan.xls_grid(stream, 0, lambda: calls.append(1), 3) == (1, 0)
    assert len(calls) == 3  # records 3, 6 and 9 of 11

    def late() -> None:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        _hsscan.xls_grid(stream, 0, late, 3)


def test_without_the_compiled_module_the_same_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = xls_book("far")
    refused = extracted(data)
    monkeypatch.setattr(grids, "_hsscan", None)
    assert extracted(data) == refused
    assert refused[1] is not None


def test_a_workbook_calamine_panics_on_is_refused() -> None:
    # the record after the workbook's BOF made a defined name (Lbl) of 2 bytes: calamine
    # indexes its fourth byte and panics, a BaseException the walker's guard let through
    data = make_xls({"S": SMALL})
    stream = stream_of(data)
    after_bof = 4 + struct.unpack_from("<H", stream, 2)[0]
    size = struct.unpack_from("<H", stream, after_bof + 2)[0]
    assert size == 2
    original = stream[after_bof : after_bof + 6]
    named = patched(data, original, struct.pack("<HH", 0x0018, 2) + original[4:])
    places, reason = extracted(named)
    assert places == []
    assert reason == "corrupt xls workbook: index out of bounds: the len is 2 but the index is 3"


_FREE, _END, _FAT, _NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def compound(entries: list[tuple[str, int, bytes, int, int, int]]) -> bytes:
    """A compound file (512-byte sectors, version 3) of directory ``entries`` after the
    root: (name, type 1 storage or 2 stream, stream, left, right, child sid); the root's
    child is sid 1.  Each stream is padded to at least 4,096 bytes (out of the mini
    stream), its size stated as given.  olefile writes no compound file: written here."""
    directory_sectors = (len(entries) + 1 + 3) // 4
    sectors: list[bytes] = []
    fat = [_FAT]
    fat += [*range(2, 1 + directory_sectors), _END]
    root = _entry("Root Entry", 5, 1, _NONE, _NONE, 1, _END, 0)
    rows = [root]
    for name, kind, body, left, right, child in entries:
        start = len(fat) if kind == 2 else _END
        if kind == 2:
            padded = body.ljust(max(4096, -(-len(body) // 512) * 512), b"\0")
            count = len(padded) // 512
            fat += [*range(start + 1, start + count), _END]
            sectors += [padded[i : i + 512] for i in range(0, len(padded), 512)]
        rows.append(_entry(name, kind, 1, left, right, child, start, len(body)))
    directory = b"".join(rows).ljust(directory_sectors * 512, b"\0")
    assert len(fat) <= 128
    table = struct.pack(f"<{len(fat)}I", *fat).ljust(512, b"\xff")
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + bytes(16)
        + struct.pack("<HHHHH6x", 0x3E, 3, 0xFFFE, 9, 6)
        # directory sectors (none in version 3), FAT sectors, the first directory sector,
        # transaction, mini stream cut-off, mini FAT (none), DIFAT (none), DIFAT[0]
        + struct.pack("<10I", 0, 1, 1, 0, 4096, _END, 0, _END, 0, 0)
        + b"\xff" * (108 * 4)
    )
    return header + table + directory + b"".join(sectors)


def _entry(
    name: str, kind: int, color: int, left: int, right: int, child: int, start: int, size: int
) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBBIII", len(encoded), kind, color, left, right, child)
        + bytes(16 + 4 + 16)
        + struct.pack("<III", start, size, 0)
    )


def test_the_workbook_stream_is_the_one_calamine_reads() -> None:
    small, far = stream_of(make_xls({"S": SMALL})), stream_of(make_xls({"S": FAR}))
    plain = compound([("Workbook", 2, small, _NONE, _NONE, _NONE)])
    assert extracted(plain) == (["x.xls#S!R1", "x.xls#S!R3"], None)
    assert extracted(compound([("Workbook", 2, far, _NONE, _NONE, _NONE)]))[1] == (
        "sheet 1 of xls workbook spans a grid of 16,777,216 cells, over the limit of 5,000,000"
    )
    # A storage X holding a stream "Workbook" (far) comes first in the directory; the root's
    # own "Workbook" (small) after it: olefile finds the root's, calamine reads X's (512 MiB)
    decoy = compound(
        [
            ("X", 1, b"", _NONE, 3, 2),
            ("Workbook", 2, far, _NONE, _NONE, _NONE),
            ("Workbook", 2, small, _NONE, _NONE, _NONE),
        ]
    )
    with olefile.OleFileIO(decoy) as ole:
        assert ole.openstream("Workbook").read()[: len(small)] == small
    assert sniff(decoy, "x.xls").kind is Kind.SPREADSHEET
    assert extracted(decoy) == (
        [],
        "corrupt xls workbook: its workbook stream is not plainly placed",
    )
