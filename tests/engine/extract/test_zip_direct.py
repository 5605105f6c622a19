"""Zip members inflated straight from the archive's bytes (`archive.direct_chunks`) give
exactly what zipfile's reader (`archive.stream_member`) gives, or step aside (`NotPlain`,
the budget untouched): compared member by member on real office files, the hostile corpus,
their deterministic mutants and hand-made edge cases (stored members, lying sizes and CRCs,
trailing bytes, names that differ between the central directory and the local header)."""

from __future__ import annotations

import io
import random
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.engine.extract.mutants import mutants
from tests.factories import make_docx, make_xlsx, make_zip

from postwarden.engine.extract.archive import (
    NotPlain,
    direct_chunks,
    open_zip,
    plain_packed,
    stream_member,
)
from postwarden.engine.extract.budget import Budget, Uninspectable
from postwarden.engine.extract.sniff import parsed_zip, sniff
from postwarden.settings import Limits

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "poi-hostile-office" / "files"
Outcome = tuple[str, object, int]


def _budget() -> Budget:
    return Budget(Limits(), 1_000_000, time.monotonic() + 60)


def _outcome(read: Callable[[Budget], Iterator[bytes]]) -> Outcome:
    budget = _budget()
    try:
        return "read", list(read(budget)), budget.expanded
    except NotPlain:
        return "not plain", None, budget.expanded
    except Uninspectable as exc:
        return "refused", exc.reason, budget.expanded


def _compare(data: bytes) -> dict[str, int]:
    """Both readers on every member of ``data``; counts of the direct reader's outcomes."""
    counts = {"read": 0, "not plain": 0, "refused": 0}
    try:
        zf, infos = open_zip(data, "zip", 1000)
    # A mutant may also fail in struct or zipfile (the walk reports those as unreadable).
    except Exception:
        return counts
    with zf:
        for info in infos:
            general = _outcome(lambda b, i=info: stream_member(zf, i, b))
            direct = _outcome(lambda b, i=info: direct_chunks(plain_packed(data, i), i, b))
            counts[direct[0]] += 1
            if direct[0] == "not plain":
                assert direct[2] == 0, info.filename  # the budget's count put back
            else:
                assert direct == general, info.filename
    return counts


def _sources() -> list[bytes]:
    made = [
        make_docx(["Dear Ann,", "CHAN Tai Man A123456(3)"], tables=[[["name"], ["LEE"]]]),
        make_xlsx({"S": [["name", "phone"]] + [[f"p{i}", 91234567 + i] for i in range(400)]}),
        make_zip({"big.txt": b"A123456(3) " * 40_000, "small.txt": b"x"}),
        make_zip({"stored.txt": b"stored " * 30_000}, compression=zipfile.ZIP_STORED),
    ]
    corpus = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".docx", ".xlsx", ".pptx"))
    return made + [p.read_bytes() for p in corpus]


def test_direct_reading_matches_zipfile_on_real_files_and_their_mutants() -> None:
    totals = {"read": 0, "not plain": 0, "refused": 0}
    for seed, data in enumerate(_sources()):
        for _what, mutant in [("original", data), *mutants(data, seed, flips=12)]:
            for key, n in _compare(mutant).items():
                totals[key] += n
    # Both paths are exercised: plain members are read directly, damaged ones step aside.
    assert totals["read"] > 500
    assert totals["not plain"] > 50


def _single(payload: bytes, *, method: int = 8, crc: int | None = None, size: int = 0) -> bytes:
    """A one-member zip with ``payload`` as its (compressed) data and the given fields."""
    name = b"part.xml"
    crc = zlib.crc32(payload) if crc is None else crc
    fields = (20, 0, method, 0, 0x21, crc, len(payload), size or len(payload), len(name), 0)
    local = struct.pack("<4s5HIIIHH", b"PK\x03\x04", *fields) + name + payload
    central = struct.pack("<4s6HIIIHHHHHII", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4s4HIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


_RNG = random.Random(7)
TEXT = b"<w:document>%s</w:document>" % b" ".join(
    b"CHAN Tai Man %d" % _RNG.randrange(10**8) for _ in range(6000)
)
EDGES = {
    "plain deflate": _single(_deflate(TEXT), crc=zlib.crc32(TEXT), size=len(TEXT)),
    "plain stored": _single(TEXT, method=0),
    "bad crc": _single(_deflate(TEXT), crc=zlib.crc32(TEXT) ^ 1, size=len(TEXT)),
    "declared shorter (crc of the prefix)": _single(
        _deflate(TEXT), crc=zlib.crc32(TEXT[:70_000]), size=70_000
    ),
    "declared longer": _single(_deflate(TEXT), crc=zlib.crc32(TEXT), size=len(TEXT) + 1),
    "trailing bytes after the stream": _single(
        _deflate(TEXT) + b"junk", crc=zlib.crc32(TEXT), size=len(TEXT)
    ),
    "truncated stream": _single(_deflate(TEXT)[:-40], crc=zlib.crc32(TEXT), size=len(TEXT)),
    "not deflate": _single(b"\xff" * 300, crc=0, size=1000),
    "stored, declared shorter": _single(TEXT, method=0, crc=zlib.crc32(TEXT[:10]), size=10),
    "bzip2 method": _single(b"BZh9", method=12, crc=0, size=4),
}


@pytest.mark.parametrize("case", EDGES)
def test_direct_reading_matches_zipfile_on_edge_cases(case: str) -> None:
    counts = _compare(EDGES[case])
    assert sum(counts.values()) == 1
    if case.startswith("plain"):
        assert counts["read"] == 1


def test_a_name_that_differs_in_the_local_header_is_left_to_zipfile() -> None:
    data = bytearray(make_zip({"word/document.xml": TEXT}))
    local_name = data.index(b"word/document.xml")
    data[local_name] = ord("W")
    counts = _compare(bytes(data))
    assert counts == {"read": 0, "not plain": 1, "refused": 0}
    zf, infos = open_zip(bytes(data), "zip", 10)
    with pytest.raises(Uninspectable, match="File name in directory"):
        list(stream_member(zf, infos[0], _budget()))


def test_the_total_expansion_budget_is_charged_as_zipfile_charges_it() -> None:
    data = make_zip({"a.txt": TEXT * 3})
    zf, infos = open_zip(data, "zip", 10)
    limits = Limits()
    for read in (
        lambda b: stream_member(zf, infos[0], b),
        lambda b: direct_chunks(plain_packed(data, infos[0]), infos[0], b),
    ):
        budget = Budget(limits, 1, time.monotonic() + 60)
        budget.expanded = budget.max_expansion - 100_000
        with pytest.raises(Uninspectable, match="total expansion"):
            list(read(budget))
        assert budget.expanded == budget.max_expansion - 100_000 + 2 * 65536


def test_zipfile_reads_what_the_edge_cases_claim() -> None:
    """The edge cases are what they say (zipfile's own verdicts on them)."""
    verdicts = {}
    for case, data in EDGES.items():
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                zf.read("part.xml")
            verdicts[case] = "ok"
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError):
            verdicts[case] = "refused"
    assert verdicts["plain deflate"] == verdicts["plain stored"] == "ok"
    assert verdicts["declared shorter (crc of the prefix)"] == "ok"  # zipfile truncates
    assert verdicts["trailing bytes after the stream"] == "ok"
    assert verdicts["bad crc"] == verdicts["truncated stream"] == "refused"


def test_a_stream_longer_than_declared_is_left_to_zipfile_at_the_declared_size() -> None:
    """A bomb under a lying size is not inflated past it (zipfile truncates it there)."""
    bomb = bytes(200 * 1024 * 1024)
    data = _single(_deflate(bomb), crc=zlib.crc32(bomb[:100_000]), size=100_000)
    zf, infos = open_zip(data, "zip", 10)
    budget = _budget()
    chunks = direct_chunks(plain_packed(data, infos[0]), infos[0], budget)
    assert len(next(chunks)) == 65536
    with pytest.raises(NotPlain):
        next(chunks)
    assert budget.expanded == 0
    assert b"".join(stream_member(zf, infos[0], _budget())) == bomb[:100_000]


def _listing(data: bytes, *, sniffed: bool) -> object:
    """What `open_zip` makes of ``data``, right after sniffing it or on its own."""
    parsed_zip(b"")  # nothing handed over from before
    if sniffed:
        sniff(data, "a.zip")
    try:
        zf, infos = open_zip(data, "zip", 1000)
    except Exception as exc:  # the walk reports any failure as unreadable
        return type(exc).__name__, str(exc)
    fields = ("orig_filename", "header_offset", "CRC", "compress_size", "file_size")
    listing = [tuple(getattr(i, f) for f in (*fields, "flag_bits", "compress_type")) for i in infos]
    return listing, zf.start_dir


def _sniffs(data: bytes) -> bool:
    """Whether sniffing gets through (zipfile may fail in it: the walk reports that)."""
    try:
        sniff(data, "a.zip")
    except Exception:
        return False
    return True


def test_the_zip_sniffing_parsed_is_the_one_open_zip_would_parse() -> None:
    handed = 0
    for seed, data in enumerate(_sources()):
        for _what, mutant in [("original", data), *mutants(data, seed, flips=12)]:
            if not _sniffs(mutant):
                continue
            handed += parsed_zip(mutant) is not None
            assert _listing(mutant, sniffed=True) == _listing(mutant, sniffed=False)
    assert handed > 50


def test_a_parsed_zip_is_handed_over_once_and_only_for_the_same_bytes() -> None:
    data = make_zip({"a.txt": b"x"})
    sniff(data, "a.zip")
    assert parsed_zip(bytes(bytearray(data))) is None  # equal bytes, another object
    sniff(data, "a.zip")
    assert parsed_zip(data) is not None
    assert parsed_zip(data) is None
    sniff(data, "a.zip")
    sniff(b"plain text", "a.txt")
    assert parsed_zip(data) is None  # not kept past the next piece
