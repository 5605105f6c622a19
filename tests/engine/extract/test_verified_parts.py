"""Office parts checked once are not inflated again (`office.VERIFIED`): every file, mutant
and hand-damaged copy reads exactly as it reads with nothing remembered, after the intact
original has filled the memory; the memory is bounded and holds no part by digest alone."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from tests.engine.extract.mutants import mutants
from tests.factories import make_docx, make_pptx, make_xlsx

from postwarden.engine.extract import Extraction, extract_file, office
from postwarden.settings import Limits

CORPUS = Path(__file__).resolve().parents[2] / "corpora" / "poi-hostile-office" / "files"
LIMITS = Limits()


def _sources() -> list[tuple[str, bytes]]:
    made = [
        ("letter.docx", make_docx(["Dear Ann,", "CHAN Tai Man A123456(3)"], footer=["p. 1"])),
        ("list.xlsx", make_xlsx({"S": [["name", "phone"], ["LEE Ka Yan", 91234567]]})),
        ("deck.pptx", make_pptx("Polling stations", "CHAN Tai Man, 2891 1001")),
    ]
    corpus = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".docx", ".xlsx", ".pptx"))
    return made + [(p.name, p.read_bytes()) for p in corpus]


def _central_fields(data: bytes) -> list[tuple[str, bytes]]:
    """Copies with one central-directory field of one member changed: its CRC, its declared
    size (one byte up, and one byte down), its method."""
    out = []
    pos = data.find(b"PK\x01\x02")
    while 0 <= pos <= len(data) - 46:  # a whole central-directory entry (hostile files end early)
        for what, offset, fmt, change in (
            ("crc", 16, "<I", lambda v: v ^ 1),
            ("size up", 24, "<I", lambda v: v + 1),
            ("size down", 24, "<I", lambda v: max(v - 1, 0)),
            ("method", 10, "<H", lambda v: 0 if v else 8),
        ):
            copy = bytearray(data)
            (value,) = struct.unpack_from(fmt, data, pos + offset)
            struct.pack_into(fmt, copy, pos + offset, change(value))
            out.append((f"member at {pos}: {what}", bytes(copy)))
        pos = data.find(b"PK\x01\x02", pos + 4)
    return out


def _read(name: str, data: bytes, limits: Limits = LIMITS) -> tuple[object, ...]:
    extraction: Extraction = extract_file(name, data, limits, time.monotonic() + 60)
    return (
        [(u.where, u.text, u.cells) for u in extraction.units],
        [(f.where, f.detail) for f in extraction.findings],
        extraction.defects,
    )


def test_remembered_parts_read_as_parts_checked_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    remembered = office.Verified(1_000_000)
    hits = 0
    differ = []
    for seed, (name, data) in enumerate(_sources()):
        copies = [*mutants(data, seed, flips=12), *_central_fields(data)]
        for what, copy in copies:
            monkeypatch.setattr(office, "VERIFIED", office.Verified(0))
            afresh = _read(name, copy)
            monkeypatch.setattr(office, "VERIFIED", remembered)
            _read(name, data)  # the intact original is remembered
            before = remembered.hits
            if _read(name, copy) != afresh:
                differ.append(f"{name}: {what}")
            hits += remembered.hits - before
    assert differ == []
    assert hits > 1000  # the damaged copies' intact parts were taken from memory


def test_a_remembered_docx_reads_the_same_and_is_not_inflated_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = make_docx(["CHAN Tai Man A123456(3)"], header=["Confidential"])
    monkeypatch.setattr(office, "VERIFIED", office.Verified(0))
    afresh = _read("a.docx", data)
    remembered = office.Verified(10_000)
    monkeypatch.setattr(office, "VERIFIED", remembered)
    assert _read("a.docx", data) == afresh
    assert remembered.hits == 0
    assert _read("a.docx", data) == afresh
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert remembered.hits == sum(1 for i in zf.infolist() if not i.is_dir())


def test_a_remembered_part_still_meets_the_limits_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_docx(["CHAN Tai Man A123456(3)"])
    tight = replace(LIMITS, max_part_bytes=100_000)  # the docx's styles are larger
    monkeypatch.setattr(office, "VERIFIED", office.Verified(0))
    afresh = _read("a.docx", data, tight)
    assert "over limit" in str(afresh)
    monkeypatch.setattr(office, "VERIFIED", office.Verified(10_000))
    _read("a.docx", data)
    assert _read("a.docx", data, tight) == afresh


def _info(crc: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("word/styles.xml")
    info.compress_type, info.CRC, info.file_size = zipfile.ZIP_DEFLATED, crc, 1000
    return info


def test_the_memory_is_bounded_and_forgets_the_least_recently_seen() -> None:
    remembered = office.Verified(2)
    keys = [remembered.key(bytes([n]) * 40, _info(n), True) for n in range(4)]
    for key in keys[:2]:
        remembered.add(key)
    assert remembered.seen(keys[0])  # now the most recently seen
    remembered.add(keys[2])  # a third: the least recently seen goes
    assert not remembered.seen(keys[1])
    assert remembered.seen(keys[0])
    assert remembered.seen(keys[2])
    assert not remembered.seen(keys[3])
    nothing = office.Verified(0)
    nothing.add(keys[0])
    assert not nothing.seen(keys[0])


def test_the_memory_keeps_a_keyed_digest_never_the_part() -> None:
    packed = b"CHAN Tai Man A123456(3) " * 20
    remembered, other = office.Verified(10), office.Verified(10)
    key = remembered.key(packed, _info(7), True)
    remembered.add(key)
    assert len(key[0]) == 32
    assert packed not in key
    assert packed[:32] != key[0]
    assert not any(isinstance(k, bytes) and len(k) > 32 for k in key)
    # Keyed per process: another memory's key for the same part differs, so a digest
    # learnt elsewhere says nothing here.
    assert other.key(packed, _info(7), True) != key
    assert remembered.seen(remembered.key(packed, _info(7), True))
    assert not remembered.seen(remembered.key(packed + b" ", _info(7), True))
    assert not remembered.seen(remembered.key(packed, _info(8), True))
    assert not remembered.seen(remembered.key(packed, _info(7), False))


def test_forgetting_empties_the_memory() -> None:
    remembered = office.Verified(1)
    key = remembered.key(b"x" * 40, _info(1), True)
    remembered.add(key)
    remembered.forget()
    assert not remembered.seen(key)
    again = remembered.key(b"y" * 100, _info(1), True)
    remembered.add(again)  # the whole memory is free again
    assert remembered.seen(again)


@pytest.mark.parametrize("chosen", [0, 1], ids=["sha256", "blake2b"])
def test_either_keyed_hash_remembers_parts_and_no_damaged_copy(
    monkeypatch: pytest.MonkeyPatch, chosen: int
) -> None:
    """`Verified` takes whichever keyed hash is faster here: each reads as nothing remembered."""
    monkeypatch.setattr(office, "_faster", lambda *keyed: keyed[chosen])
    data = make_docx(["CHAN Tai Man A123456(3)"], footer=["p. 1"])
    copies = [data, *(copy for _what, copy in mutants(data, 5, flips=6))]
    monkeypatch.setattr(office, "VERIFIED", office.Verified(0))
    afresh = [_read("a.docx", copy) for copy in copies]
    remembered = office.Verified(10_000)
    monkeypatch.setattr(office, "VERIFIED", remembered)
    _read("a.docx", data)
    assert [_read("a.docx", copy) for copy in copies] == afresh
    assert remembered.hits > len(copies)


def test_the_faster_keyed_hash_is_one_of_those_offered() -> None:
    secret = b"k" * 32
    offered = (hashlib.sha256(secret), hashlib.blake2b(key=secret, digest_size=32))
    assert office._faster(*offered) in offered
    keyed = offered[1].copy()
    keyed.update(b"part")
    assert keyed.digest() == hashlib.blake2b(b"part", key=secret, digest_size=32).digest()
