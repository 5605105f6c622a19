"""A plain zip's central directory read by hand (`zipdir.central_directory`) lists exactly the
``ZipInfo`` objects zipfile lists, every field, and where the directory starts; anything
not plain is left to zipfile (None), which gives its listing or its error as before
(`zipdir.read_zip`).  Compared on made and hostile office files, their mutants (every byte of
a directory flipped once in some), and hand-made zips of every case the reader refuses."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from pathlib import Path

import pytest
from tests.engine.extract.mutants import mutants
from tests.factories import make_docx, make_pptx, make_xlsx, make_zip

from postwarden.engine.extract import zipdir
from postwarden.engine.extract.zipdir import central_directory, read_zip

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "poi-hostile-office" / "files"


def _zipfile(data: bytes) -> object:
    """What zipfile lists for ``data`` (every slot of every member), or the error it raises."""
    try:
        file = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # the walk reports any failure as unreadable
        return type(exc).__name__, str(exc)
    return _listing(file.infolist(), file.start_dir)


def _listing(infos: list[zipfile.ZipInfo], start_dir: int) -> object:
    return [[getattr(i, slot) for slot in zipfile.ZipInfo.__slots__] for i in infos], start_dir


def _read_zip(data: bytes) -> object:
    try:
        parsed = read_zip(data)
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return _listing(parsed.infos, parsed.start_dir)


def _written(members: dict[str, bytes], **options: object) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", **options) as archive:  # type: ignore[arg-type]
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _with_extra(data: bytes) -> bytes:
    """Every member with an extra field (a 4-byte unknown block) in the central directory."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            info.extra = b"\x99\x99\x00\x00"
            archive.writestr(info, source.read(info))
    return out.getvalue()


def _edited(data: bytes, offset_from_directory: int, fmt: str, value: int) -> bytes:
    """``data`` with one field of its first central-directory entry set to ``value``."""
    copy = bytearray(data)
    struct.pack_into(fmt, copy, data.find(b"PK\x01\x02") + offset_from_directory, value)
    return bytes(copy)


def _edge_cases() -> dict[str, bytes]:
    docx = make_docx(["Dear Ann,"])
    small = make_zip({"a.txt": b"x", "b/c.xml": b"<a/>"})
    with_comment = io.BytesIO()
    with zipfile.ZipFile(with_comment, "w") as archive:
        archive.writestr("a.txt", b"x")
        archive.comment = b"a comment"
    return {
        "docx": docx,
        "stored": _written({"a.txt": b"x" * 100}, compression=zipfile.ZIP_STORED),
        "empty": _written({}),
        "archive comment": with_comment.getvalue(),
        "bytes before the archive": b"MZ" * 50 + small,
        "zip64 records": _zip64(small),
        "extra fields": _with_extra(small),
        "UTF-8 name": _written({"caf\xe9.txt": b"x"}),  # UTF-8 flag set by zipfile
        "cp437 name": _edited(small, 8, "<H", 0).replace(b"a.txt", b"\x82.txt"),
        "UTF-8 flag, bad UTF-8": _edited(small.replace(b"a.txt", b"\xff.txt"), 8, "<H", 0x800),
        "NUL in a name": small.replace(b"a.txt", b"a\0txt"),
        "backslash in a name": small.replace(b"a.txt", b"a\\txt"),
        "version 9.9 needed": _edited(small, 6, "<H", 99),
        "member comment": _member_comment(small),
        "directory entry": _written({"word/": b"", "word/a.xml": b"<a/>"}),
        "duplicate names": _written_twice(),
        "directory cut short": small[: small.find(b"PK\x01\x02") + 30] + small[-22:],
    }


def _zip64(data: bytes) -> bytes:
    """``data`` with a zip64 end record and its locator before the end record."""
    end = data[-22:]
    entries, size, offset = struct.unpack_from("<HII", end, 10)
    record = struct.pack(
        "<4sqhhLLqqqq", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, size, offset
    )
    locator = struct.pack("<4sLqL", b"PK\x06\x07", 0, offset + size, 1)
    return data[:-22] + record + locator + end


def _member_comment(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            info.comment = b"note"
            archive.writestr(info, source.read(info))
    return out.getvalue()


def _written_twice() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", b"x")
        archive.writestr("A.txt", b"y")
    return out.getvalue().replace(b"A.txt", b"a.txt")


def _sources() -> list[bytes]:
    made = [
        make_docx(["Dear Ann,", "CHAN Tai Man A123456(3)"], tables=[[["name"], ["LEE"]]]),
        make_xlsx({"S": [["name", "phone"], ["LEE Ka Yan", 91234567]]}),
        make_pptx("Polling stations", "CHAN Tai Man"),
    ]
    corpus = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".docx", ".xlsx", ".pptx"))
    return made + [p.read_bytes() for p in corpus]


def _check(data: bytes) -> bool:
    """Whether ``data`` was read by hand; either way `read_zip` answers as zipfile does."""
    expected = _zipfile(data)
    assert _read_zip(data) == expected
    plain = central_directory(data)
    if plain is None:
        return False
    assert _listing(plain.infos, plain.start_dir) == expected
    return True


def test_edge_cases_are_read_as_zipfile_reads_them() -> None:
    by_hand = {name for name, data in _edge_cases().items() if _check(data)}
    assert by_hand == {
        "docx",
        "stored",
        "UTF-8 name",
        "cp437 name",
        "NUL in a name",
        "backslash in a name",
        "member comment",
        "directory entry",
        "duplicate names",
    }


def test_real_files_and_their_mutants_are_read_as_zipfile_reads_them() -> None:
    rng = random.Random(16)
    read = left = 0
    for seed, data in enumerate(_sources()):
        copies = [data, *(m for _what, m in mutants(data, seed, flips=12))]
        directory = data.find(b"PK\x01\x02")
        if directory > 0:
            for at in rng.sample(range(directory, len(data)), min(60, len(data) - directory)):
                copy = bytearray(data)
                copy[at] ^= rng.randrange(1, 256)
                copies.append(bytes(copy))
        for copy in copies:
            if _check(copy):
                read += 1
            else:
                left += 1
    assert read > 500
    assert left > 500


def test_members_are_made_by_the_slot_maker_and_by_their_constructor_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tests above compare the compiled maker's ``ZipInfo`` objects (every slot) with
    zipfile's; without the maker (not built), the constructor's are the same."""
    assert zipdir.MAKE_INFO is not None
    monkeypatch.setattr(zipdir, "MAKE_INFO", None)
    assert {name for name, data in _edge_cases().items() if _check(data)} >= {
        "docx",
        "NUL in a name",
    }
    assert all(_check(data) for data in _sources()[:3])


def test_the_compiled_directory_reader_reads_as_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """`_hsscan.zip_entries` (the loop of `central_directory` in C) against the loop itself,
    every slot of every member, on the edge cases, real files and their mutants."""
    rng = random.Random(14)
    copies = list(_edge_cases().values())
    for seed, data in enumerate(_sources()):
        copies += [data, *(m for _what, m in mutants(data, seed, flips=6))]
        directory = max(data.find(b"PK\x01\x02"), 0)
        for at in rng.sample(range(directory, len(data)), min(30, len(data) - directory)):
            copy = bytearray(data)
            copy[at] ^= rng.randrange(1, 256)
            copies.append(bytes(copy))

    def listed() -> list[object]:
        found = [central_directory(copy) for copy in copies]
        return [None if z is None else _listing(z.infos, z.start_dir) for z in found]

    compiled = listed()
    monkeypatch.setattr(zipdir, "COMPILED", False)
    assert listed() == compiled
    assert sum(z is not None for z in compiled) > 300
    assert sum(z is None for z in compiled) > 50
