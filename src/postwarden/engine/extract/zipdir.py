"""A zip's central directory, read once per piece: by sniffing, which hands it to the
reader (`sniff.parsed_zip`), then guarded (`archive.open_zip`).

zipfile parses the directory into a ``ZipFile`` whose reader most pieces never use: an
office package's members are inflated straight from its bytes (`archive.direct_chunks`).
`central_directory` reads the plain case -- one directory right before the end record, no
archive comment, no zip64 record, no extra fields -- into the very ``ZipInfo`` objects
zipfile makes, in half its time (a docx's 17 members: 41 -> 22 us); anything else, and
anything zipfile would refuse, is left to zipfile, which gives its listing or its error.
zipfile's reader is built only when a member must be read through it (`Zip.open`).
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from types import TracebackType
from typing import IO

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: each ZipInfo is made by its own constructor
    _hsscan = None  # type: ignore[assignment]
COMPILED = _hsscan is not None

_END = struct.Struct("<4s4H2LH")
_ENTRY = struct.Struct("<4s4B4HL2L5H2L")
_END64_LOCATOR = b"PK\x06\x07"
_MAX_EXTRACT_VERSION = 63  # zipfile.MAX_EXTRACT_VERSION: over it, zipfile refuses the member
_UTF8_NAME = 0x800
_SLOTS = (
    "orig_filename",
    "filename",
    "date_time",
    "compress_type",
    "_compresslevel",
    "comment",
    "extra",
    "create_system",
    "create_version",
    "extract_version",
    "reserved",
    "flag_bits",
    "volume",
    "internal_attr",
    "external_attr",
    "header_offset",
    "CRC",
    "compress_size",
    "file_size",
    "_raw_time",
)
"""Every slot of Python 3.11's ``ZipInfo``, each of which zipfile's directory reader sets."""


def _info_maker() -> Callable[..., zipfile.ZipInfo] | None:
    """A ``ZipInfo`` made with all of `_SLOTS` set in one call, by the compiled slot maker:
    ``ZipInfo(name)`` then setting 16 attributes cost 1.9 us a member (a docx has 17), the
    maker 0.2.  None where it is not built or ``ZipInfo`` has other slots than these (another
    Python), or where its constructor would also rewrite the name (``os.sep`` is not ``/``):
    `central_directory` then makes them as zipfile does."""
    maker = getattr(_hsscan, "slot_maker", None)
    slots = getattr(zipfile.ZipInfo, "__slots__", ())  # typeshed lists a later Python's
    if maker is None or slots != _SLOTS or os.sep != "/":
        return None
    made: Callable[..., zipfile.ZipInfo] = maker(zipfile.ZipInfo, _SLOTS, ())
    return made


MAKE_INFO = _info_maker()


class Zip:
    """A zip on ``data``: its members (``infos``, as ``zipfile.ZipFile.infolist`` lists
    them), where its central directory starts, and zipfile's reader when one is needed."""

    __slots__ = ("_file", "data", "infos", "start_dir")

    def __init__(
        self,
        data: bytes,
        infos: list[zipfile.ZipInfo],
        start_dir: int,
        file: zipfile.ZipFile | None = None,
    ) -> None:
        self.data = data
        self.infos = infos
        self.start_dir = start_dir
        self._file = file

    def open(self, info: zipfile.ZipInfo) -> IO[bytes]:
        """A member through zipfile's reader (zipfile's errors as it raises them)."""
        if self._file is None:
            self._file = zipfile.ZipFile(io.BytesIO(self.data))
        return self._file.open(info)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> Zip:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_zip(data: bytes) -> Zip:
    """The zip on ``data``; raises what ``zipfile.ZipFile`` raises for it."""
    plain = central_directory(data)
    if plain is not None:
        return plain
    file = zipfile.ZipFile(io.BytesIO(data))
    return Zip(data, file.infolist(), file.start_dir, file)


def central_directory(data: bytes) -> Zip | None:
    """A plain zip, its members exactly as ``zipfile.ZipFile(...).infolist()`` lists them;
    None: not plain (left to zipfile).

    Written by hand after zipfile's ``_EndRecData`` and ``_RealGetContents`` (Python 3.11),
    for their first case only: the end record is the file's last 22 bytes with no comment,
    no zip64 locator stands before it, the directory ends right where the end record
    begins (nothing before the archive), and every entry is whole, signed, of a version
    zipfile reads, with a name that decodes and no extra field (so no zip64 sizes)."""
    size = len(data)
    if (
        size < _END.size + 20
        or data[-22:-18] != b"PK\x05\x06"
        or data[-2:] != b"\0\0"
        or data[-42:-38] == _END64_LOCATOR
    ):
        return None
    end = _END.unpack_from(data, size - _END.size)
    cd_size, cd_offset = end[5], end[6]
    if cd_offset + cd_size != size - _END.size:
        return None  # bytes before the archive, or a directory zipfile would read elsewhere
    if MAKE_INFO is not None and COMPILED:
        # The loop below in C (a docx's 17 members: 250,000 -> 60,000 instructions); None
        # where the loop must decide (a member it refuses, a name in cp437).
        made = _hsscan.zip_entries(data, cd_offset, cd_size, MAKE_INFO)
        if made is not None:
            return Zip(data, made, cd_offset)
    pos, stop = cd_offset, cd_offset + cd_size
    infos: list[zipfile.ZipInfo] = []
    while pos < stop:
        if pos + _ENTRY.size > stop:
            return None
        (
            signature,
            create_version,
            create_system,
            extract_version,
            reserved,
            flags,
            method,
            time,
            date,
            crc,
            compress_size,
            file_size,
            name_length,
            extra_length,
            comment_length,
            volume,
            internal_attr,
            external_attr,
            header_offset,
        ) = _ENTRY.unpack_from(data, pos)
        start = pos + _ENTRY.size
        pos = start + name_length + comment_length
        if (
            signature != b"PK\x01\x02"
            or extra_length
            or extract_version > _MAX_EXTRACT_VERSION
            or pos > stop
        ):
            return None
        raw = data[start : start + name_length]
        if raw.isascii():
            name = raw.decode("ascii")  # the same in UTF-8 and cp437, by the C codec
        elif flags & _UTF8_NAME:
            try:
                name = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
        else:
            name = raw.decode("cp437")
        date_time = (
            (date >> 9) + 1980,
            (date >> 5) & 0xF,
            date & 0x1F,
            time >> 11,
            (time >> 5) & 0x3F,
            (time & 0x1F) * 2,
        )
        comment = data[start + name_length : pos]
        if MAKE_INFO is not None:
            info = MAKE_INFO(
                name,
                name.partition("\0")[0],  # ZipInfo keeps a name up to a NUL byte
                date_time,
                method,
                None,
                comment,
                b"",
                create_system,
                create_version,
                extract_version,
                reserved,
                flags,
                volume,
                internal_attr,
                external_attr,
                header_offset,
                crc,
                compress_size,
                file_size,
                time,
            )
        else:
            info = _info(name, date_time, comment, time)
            info.header_offset = header_offset
            info.create_version = create_version
            info.create_system = create_system
            info.extract_version = extract_version
            info.reserved = reserved
            info.flag_bits = flags
            info.compress_type = method
            info.CRC = crc
            info.compress_size = compress_size
            info.file_size = file_size
            info.volume = volume
            info.internal_attr = internal_attr
            info.external_attr = external_attr
        infos.append(info)
    return Zip(data, infos, cd_offset)


def _info(
    name: str, date_time: tuple[int, int, int, int, int, int], comment: bytes, time: int
) -> zipfile.ZipInfo:
    """A member's ``ZipInfo`` by its constructor (keeps the name up to a NUL byte), with
    what zipfile's directory reader sets besides the fields of the entry."""
    info = zipfile.ZipInfo(name, date_time)
    info.comment = comment
    info._raw_time = time  # type: ignore[attr-defined]  # zipfile's own slot, as it sets it
    return info
