"""zip, tar and compressed streams (gzip, bzip2, xz): guarded, streamed reads of members,
each extracted in turn.

Python 3.11's zipfile lacks the overlapping-entry check of CVE-2024-0450 and trusts the
sizes an archive declares, so the guards live here: member count before the central
directory is parsed, overlap of entries, encryption flags, and bytes counted while they are
decompressed (declared sizes may only make us stop earlier, never read more).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from postwarden.engine.extract.budget import Budget, BudgetExhausted, Uninspectable, size
from postwarden.engine.extract.sniff import declared_entries, parsed_zip
from postwarden.engine.extract.walker import FILE_NAMES, place
from postwarden.engine.extract.zipdir import Zip, read_zip
from postwarden.errors import PostwardenError

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: plain_packed member by member
    _hsscan = None  # type: ignore[assignment]
COMPILED = _hsscan is not None

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker
    from postwarden.settings import Limits

CHUNK = 64 * 1024
"""Bytes decompressed per step: under glibc's mmap threshold (128 KiB), so a step's buffer
comes from the heap and is reused, where 256 KiB steps were mapped and unmapped each time
(page faults: a third of the CPU time of guarding a docx of the bench tree was the kernel's)."""
_AES = 99  # WinZip AES: compression method 99 with the encryption flag (APPNOTE 7.2)
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_LOCAL_FIELDS = struct.Struct("<4s2xH18xHH")
"""A local header's signature, flags, name and extra-field lengths, in one unpack."""
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError, OSError)


def open_zip(data: bytes, what: str, max_members: int) -> tuple[Zip, list[zipfile.ZipInfo]]:
    """Open a zip after the member-count and overlap guards; raises Uninspectable."""
    declared = declared_entries(data)
    if declared > max_members:
        raise Uninspectable(f"{what} with {declared} members, over limit {max_members}")
    zf = parsed_zip(data)
    if zf is None:
        try:
            zf = read_zip(data)
        except (*_ZIP_ERRORS, struct.error, IndexError) as exc:
            raise Uninspectable(f"corrupt {what}: {exc}") from None
    infos = zf.infos
    if len(infos) > max_members:
        raise Uninspectable(f"{what} with {len(infos)} members, over limit {max_members}")
    _check_overlap(data, infos, zf.start_dir, what)
    return zf, infos


def _check_overlap(data: bytes, infos: list[zipfile.ZipInfo], cd_start: int, what: str) -> None:
    """Every member's data must end before the next member begins (Fifield's overlapping
    zip bomb reuses one compressed stream for many entries; CVE-2024-0450)."""
    fault = overlap_fault(data, infos, cd_start)
    if fault:
        raise Uninspectable(_OVERLAP_FAULTS[fault - 1].format(what))


def overlap_fault(data: bytes, infos: list[zipfile.ZipInfo], cd_start: int) -> int:
    """0, or the fault of the first member (by header offset) whose local header is outside
    the archive (1), unsigned (2) or whose data runs into the next member or the central
    directory (3).  In one compiled call where built (`_hsscan.overlap_fault`, None where
    this loop must decide): the loop cost a docx's 17 members as much as reading its
    central directory."""
    fault = _hsscan.overlap_fault(data, infos, cd_start) if COMPILED else None
    if fault is not None:
        return fault
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for i, info in enumerate(ordered):
        end = ordered[i + 1].header_offset if i + 1 < len(ordered) else cd_start
        start = info.header_offset
        if start + _LOCAL_HEADER.size > len(data):
            return 1
        magic, name_len, extra_len = _LOCAL_HEADER.unpack_from(data, start)
        if magic != b"PK\x03\x04":
            return 2
        if start + _LOCAL_HEADER.size + name_len + extra_len + info.compress_size > end:
            return 3
    return 0


_OVERLAP_FAULTS = (
    "corrupt {}: member header outside the archive",
    "corrupt {}: bad member header",
    "zip bomb: overlapping entries in {}",
)


def encryption(info: zipfile.ZipInfo) -> str | None:
    """The reason a member cannot be read for encryption, or None."""
    if info.compress_type == _AES:
        return "encrypted zip member (AES)"
    if info.flag_bits & 0x1:
        return "encrypted zip member"
    return None


def _is_directory(info: zipfile.ZipInfo) -> bool:
    # A "directory" that carries data is a file hidden behind a trailing slash.
    return info.is_dir() and info.file_size == 0 and info.compress_size <= 2


def stream_member(zf: Zip, info: zipfile.ZipInfo, budget: Budget) -> Iterator[bytes]:
    """The decompressed chunks of one member, counted against every limit as they come."""
    limits = budget.limits
    packed = max(info.compress_size, 1)
    check_declared(info, packed, limits)
    produced = 0
    try:
        with zf.open(info) as member:
            while chunk := member.read(CHUNK):
                produced += len(chunk)
                budget.add_expanded(len(chunk))
                if produced > limits.max_part_bytes:
                    raise Uninspectable(f"zip member over limit {size(limits.max_part_bytes)}")
                if produced > limits.ratio_grace_bytes and produced > limits.member_ratio * packed:
                    raise Uninspectable(_ratio(produced, packed, limits.member_ratio))
                budget.check_time()
                yield chunk
    except (*_ZIP_ERRORS, NotImplementedError, RuntimeError) as exc:
        raise Uninspectable(f"corrupt zip member: {exc}") from None


class NotPlain(PostwardenError):
    """A member that `direct_chunks` does not vouch for: read it again through zipfile.
    Never leaves extraction (the office guard catches it and reads the member the slow way);
    on the error base like every other exception of ours."""


_PLAIN_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, compressed patched data, strong encryption
_UTF8_NAME = 0x800
_PLAIN_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def plain_packed(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """The compressed bytes of a member of the zip on ``data`` (already through `open_zip`)
    whose local header says what ``zipfile.ZipFile.open`` accepts without a second look:
    the name the central directory gives, a method it inflates in one stream, no
    encryption or patch flags.  Else `NotPlain`."""
    start = info.header_offset
    magic, flags, name_len, extra_len = _LOCAL_FIELDS.unpack_from(data, start)
    name = data[start + _LOCAL_HEADER.size : start + _LOCAL_HEADER.size + name_len]
    if name.isascii():
        # An ASCII name reads the same in UTF-8 and in cp437 (whose first 128 characters
        # are ASCII), and the ASCII decoder is C where cp437's is a call into Python.
        local_name = name.decode("ascii")
    else:
        try:
            local_name = name.decode("utf-8" if flags & _UTF8_NAME else "cp437")
        except UnicodeDecodeError:
            raise NotPlain from None
    if (
        magic != b"PK\x03\x04"
        or info.flag_bits & _PLAIN_FLAGS
        or info.compress_type not in _PLAIN_METHODS
        or local_name != info.orig_filename
    ):
        raise NotPlain
    offset = start + _LOCAL_HEADER.size + name_len + extra_len
    packed = data[offset : offset + info.compress_size]
    if len(packed) != info.compress_size:
        raise NotPlain
    return packed


def packed_members(data: bytes, infos: list[zipfile.ZipInfo]) -> list[bytes | None]:
    """`plain_packed` of each member, None where it raises `NotPlain`: in one compiled call
    where built (`_hsscan.packed_members`; a docx's 17 members cost 20 us one by one in
    Python, most of it the calls and the name's decoding and comparison)."""
    if COMPILED:
        return _hsscan.packed_members(data, infos)
    return packed_members_py(data, infos)


def packed_members_py(data: bytes, infos: list[zipfile.ZipInfo]) -> list[bytes | None]:
    """`packed_members` in Python, one `plain_packed` at a time."""
    out: list[bytes | None] = []
    for info in infos:
        try:
            out.append(plain_packed(data, info))
        except NotPlain:
            out.append(None)
    return out


def direct_chunks(packed: bytes, info: zipfile.ZipInfo, budget: Budget) -> Iterator[bytes]:
    """The chunks `stream_member` yields, inflated straight from ``packed`` (see
    `plain_packed`) when the stream ends exactly at the member's declared size with its
    CRC.

    zipfile's per-member machinery (a shared file handle, a ``ZipExtFile``, compressed data
    read 4-64 KiB at a time and joined to the decompressor's unconsumed tail) cost more than
    inflating a docx's parts (0.4 ms of its 1.5 ms guard).  Every byte is still inflated and
    CRC-checked and the budget charged at the same points: the chunks are the same 64 KiB
    steps of the same stream (``decompress(tail, CHUNK)`` returns CHUNK bytes until the
    stream ends, as ``ZipExtFile.read(CHUNK)`` does).  The per-member size and ratio limits
    cannot fail on the way: what is produced never exceeds the declared size, which
    `check_declared` checked against both.  Anything else raises `NotPlain`, with the budget's
    count put back, before a verdict could differ: a zlib error (zipfile stops at the
    declared size and may never reach it), a stream longer or shorter than declared
    (zipfile truncates it, or checks the CRC of what there is), a bad CRC.  The caller then
    reads the member through `stream_member`, which gives the verdict and the reason it
    always gave.
    """
    check_declared(info, max(info.compress_size, 1), budget.limits)
    counted = budget.expanded
    try:
        yield from _plain_chunks(packed, info, budget)
    except NotPlain:
        budget.expanded = counted
        raise


def _plain_chunks(packed: bytes, info: zipfile.ZipInfo, budget: Budget) -> Iterator[bytes]:
    inflater = None if info.compress_type == zipfile.ZIP_STORED else zlib.decompressobj(-15)
    tail = packed
    produced = crc = 0
    while True:
        if inflater is None:
            chunk, tail = tail[:CHUNK], tail[CHUNK:]
        else:
            try:
                chunk = inflater.decompress(tail, CHUNK)
            except zlib.error:
                raise NotPlain from None
            tail = inflater.unconsumed_tail
        if not chunk:
            break
        produced += len(chunk)
        if produced > info.file_size:
            raise NotPlain  # also stops a bomb under a lying size at its declared size
        crc = zlib.crc32(chunk, crc)
        budget.add_expanded(len(chunk))
        budget.check_time()
        yield chunk
        # At the stream's end the next step gives nothing (what follows is unused data): not
        # asked for (a 64 KiB buffer made and freed for each part, 3 us of a small one).
        if (not tail) if inflater is None else inflater.eof:
            break
    # zipfile stops at the declared size too: whether the stream goes on is not its concern.
    if produced != info.file_size or crc != info.CRC:
        raise NotPlain


def _ratio(produced: int, packed: int, limit: int) -> str:
    return f"zip bomb: expansion ratio {produced // packed}:1 over limit {limit}:1"


def check_declared(info: zipfile.ZipInfo, packed: int, limits: Limits) -> None:
    """Declared sizes can make us refuse before any work, never read further than counted."""
    if info.file_size > limits.ratio_grace_bytes and info.file_size > limits.member_ratio * packed:
        raise Uninspectable(_ratio(info.file_size, packed, limits.member_ratio))
    if info.file_size > limits.max_part_bytes:
        raise Uninspectable(
            f"zip member of {size(info.file_size)} over limit {size(limits.max_part_bytes)}"
        )


def read_member(data: bytes, zf: Zip, info: zipfile.ZipInfo, budget: Budget) -> bytes:
    """One member of the zip ``zf`` opened on ``data``, whole."""
    try:
        return b"".join(direct_chunks(plain_packed(data, info), info, budget))
    except NotPlain:
        return b"".join(stream_member(zf, info, budget))


class ZipExtractor:
    """zip archives, nested to any allowed depth: ``a.zip/inner.zip/c.csv#R7``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        budget = walker.budget
        budget.check_depth(depth + 1)
        zf, infos = open_zip(data, "zip", budget.limits.max_members)
        names = f"{where}#{FILE_NAMES}"
        for info in infos:
            # Every name, a folder's or an encrypted member's too: the names are not encrypted.
            walker.name(names, info.filename)
        with zf:
            for info in infos:
                if _is_directory(info):
                    continue
                inner = f"{where}/{place(info.filename)}"
                reason = encryption(info)
                if reason:
                    walker.uninspectable(inner, reason)
                    continue
                try:
                    content = read_member(data, zf, info, budget)
                except BudgetExhausted:
                    raise  # the message's budget is spent, not just this member's
                except Uninspectable as exc:
                    walker.uninspectable(inner, exc.reason)
                    continue
                walker.visit(content, inner, depth + 1, name=info.filename)


_STREAMS: dict[str, Callable[[io.BytesIO], io.BufferedIOBase]] = {
    "gzip": lambda f: gzip.GzipFile(fileobj=f),
    "bzip2": lambda f: bz2.BZ2File(f),
    "xz": lambda f: lzma.LZMAFile(f),
}
_SUFFIXES = {".gz": "", ".bz2": "", ".xz": "", ".tgz": ".tar", ".tbz2": ".tar", ".txz": ".tar"}


class CompressedExtractor:
    """gzip, bzip2 and xz: inflated in counted steps (multi-stream files too), then
    extracted as what they hold: ``data.csv.gz/data.csv#R2``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        budget = walker.budget
        budget.check_depth(depth + 1)
        limits = budget.limits
        out: list[bytes] = []
        produced = 0
        try:
            with _STREAMS[sniffed.label](io.BytesIO(data)) as stream:
                while chunk := stream.read(CHUNK):
                    produced += len(chunk)
                    budget.add_expanded(len(chunk))
                    budget.check_time()
                    if produced > limits.max_part_bytes:
                        raise Uninspectable(
                            f"{sniffed.label} content over limit {size(limits.max_part_bytes)}"
                        )
                    if produced > max(limits.ratio_grace_bytes, limits.member_ratio * len(data)):
                        raise Uninspectable(
                            f"{sniffed.label} bomb: expansion ratio {produced // len(data)}:1 "
                            f"over limit {limits.member_ratio}:1"
                        )
                    out.append(chunk)
        except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
            raise Uninspectable(f"corrupt {sniffed.label}: {exc or 'truncated'}") from None
        if sniffed.label == "gzip":
            walker.name(f"{where}#{FILE_NAMES}", gzip_name(data))
        name = where.rsplit("/", 1)[-1].split(":", 1)[-1].split("#", 1)[0]
        for suffix, replacement in _SUFFIXES.items():
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)] + replacement
                break
        walker.visit(b"".join(out), f"{where}/{name}", depth + 1, name=name)


_FEXTRA, _FNAME = 4, 8


def gzip_name(data: bytes) -> str:
    """The original file name in a gzip header (RFC 1952 §2.3: FNAME, zero-terminated, after
    the optional FEXTRA field), which ``gzip -N`` restores: ``data.gz`` may have been made
    from ``陳大文_A123456(3).csv``.  The stdlib's reader skips it without a word, so it is
    read here; ISO 8859-1 by the RFC, UTF-8 as today's tools write it (tried first)."""
    if len(data) < 10 or data[3] & _FNAME == 0:
        return ""
    start = 10
    if data[3] & _FEXTRA:
        start += 2 + int.from_bytes(data[10:12], "little")
    end = data.find(b"\0", start)
    if end < 0:
        return ""  # a header cut short: the stream does not inflate either
    raw = data[start:end]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class TarExtractor:
    """tar (uncompressed; tar.gz arrives here through gzip): every regular member."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        budget = walker.budget
        budget.check_depth(depth + 1)
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                for count, member in enumerate(tar, start=1):
                    if count > budget.limits.max_members:
                        raise Uninspectable(f"tar with over {budget.limits.max_members} members")
                    walker.name(f"{where}#{FILE_NAMES}", member.name)
                    walker.name(f"{where}#{FILE_NAMES}", member.linkname)
                    if not member.isfile():
                        continue
                    inner = f"{where}/{place(member.name)}"
                    handle = tar.extractfile(member)
                    content = handle.read() if handle is not None else b""
                    walker.visit(content, inner, depth + 1, name=member.name)
        except tarfile.TarError as exc:
            raise Uninspectable(f"corrupt tar: {exc}") from None
