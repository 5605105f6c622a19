"""`Scanner`: one hyperscan pass over a buffer, every match as a (start, end, id) row.

Two bindings give the same rows in the same order: the compiled `_hsscan` extension (built
from ``_hsscan.c`` against the system libhs at install) collects matches in C, where
python-hyperscan calls a Python function per match; it is used when it was built, else
python-hyperscan.  Tests run both over the same texts.

The compiled scan leaves ``HS_FLAG_SOM_LEFTMOST`` off the open-ended expressions it can
(`open_ended_limits`) and off the bounded ones of ASCII it can read backwards
(`reversed_expression`), and finds their starts after the scan (see ``_hsscan.c``): the same
rows, twice as fast a scan.  python-hyperscan keeps the flag on every expression.
"""

from __future__ import annotations

import hashlib
import inspect
import marshal
import struct
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import hyperscan
import numpy as np
import numpy.typing as npt

from postwarden.engine.detect import matchbytes
from postwarden.engine.detect.matchbytes import (
    WIDEST_REVERSED,
    fixed_width,
    open_ended_limits,
    reversed_expression,
)
from postwarden.engine.detect.patterncache import PythonBackend, compiled_database

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built (no libhs headers at install): python-hyperscan alone
    _hsscan = None  # type: ignore[assignment]

__all__ = ["NATIVE", "Scanner", "join_utf8"]

Ints = npt.NDArray[np.int64]

NATIVE = _hsscan is not None
"""Whether the compiled extension is available."""


SOM = hyperscan.HS_FLAG_SOM_LEFTMOST


def _reading_digest() -> str:
    """A digest of matchbytes, whose reading of each expression gives the window limits: a
    change there must not load limits an older reading stored in the cache.  Its source, or
    where no source was installed its functions' code."""
    try:
        code = Path(matchbytes.__file__).read_bytes()
    except OSError:
        code = b"".join(
            marshal.dumps(f.__code__) for f in vars(matchbytes).values() if inspect.isfunction(f)
        )
    return hashlib.sha256(code).hexdigest()[:16]


_LIMITS_SOURCE = _reading_digest()


class _NativeBackend:
    """`_hsscan.Database`, for the pattern cache: the database scanning the whole buffer,
    with the expressions ``windowed`` compiled without SOM, and a database of each of those
    alone finding their starts after the scan: the open-ended ones with SOM, scanning the
    windows their starts are in (the most times their matches hold each byte, their
    ``limits``: 256 bytes each), the bounded ones of ASCII read backwards from each end
    (`reversed_expression`; their ``widths``, the widest match in bytes, 0 for the others),
    and those of ASCII of one width not at all (`fixed_width`: less their width, no
    database).
    All are kept in one file, after the windowed ids, their widths and their limits:
    working the limits out reads every expression's parse tree (about 65 ms, a tenth of a
    fresh ``check``), so a process that loads the cache does not."""

    def __init__(self, flags: Sequence[int]) -> None:
        self._given = tuple(flags)
        self.windowed: tuple[int, ...] = ()
        self.widths: tuple[int, ...] = ()
        self.limits = b""
        self.flags = self._given
        self._windows: list[_hsscan.Database | None] = []
        # The cache key covers the expressions and their given flags; which of them are
        # compiled without SOM follows from those and from matchbytes (its source's digest).
        self.version = (
            f"libhs {_hsscan.HS_VERSION}, starts found after by one window database each,"
            f" in windows bounded by byte counts or read backwards from the end"
            f" (matchbytes {_LIMITS_SOURCE})"
        )

    def compile(self, expressions: Sequence[bytes], flags: Sequence[int]) -> _hsscan.Database:
        # id: (the window's expression, None for a fixed width; its width; its limits)
        windows: dict[int, tuple[bytes | None, int, bytes]] = {}
        for i, (expression, flag) in enumerate(zip(expressions, flags, strict=True)):
            if not flag & SOM:
                continue
            regex = expression.decode()
            counts = open_ended_limits(regex, flag)
            if counts is not None:
                windows[i] = (expression, 0, counts)
            elif (backwards := reversed_expression(regex, flag)) is not None:
                windows[i] = (backwards[0], backwards[1], bytes(256))
            elif (width := fixed_width(regex, flag)) is not None:
                windows[i] = (None, -width, bytes(256))
        self._windowing(
            tuple(windows),
            tuple(width for _, width, _ in windows.values()),
            b"".join(counts for _, _, counts in windows.values()),
        )
        return self._joined(
            _hsscan.Database(list(expressions), list(self.flags)),
            [
                None
                if expression is None
                else _hsscan.Database([expression], [0 if width else flags[i]])
                for i, (expression, width, _) in windows.items()
            ],
        )

    def _windowing(self, windowed: tuple[int, ...], widths: tuple[int, ...], limits: bytes) -> None:
        self.windowed, self.widths, self.limits = windowed, widths, limits
        self.flags = tuple(f & ~SOM if i in windowed else f for i, f in enumerate(self._given))

    def _joined(
        self, database: _hsscan.Database, windows: list[_hsscan.Database | None]
    ) -> _hsscan.Database:
        self._windows = windows
        if windows:
            ids = np.full(len(self.flags), -1, dtype=np.int32)
            ids[list(self.windowed)] = np.arange(len(self.windowed), dtype=np.int32)
            widths = np.array(self.widths, dtype=np.int32)
            database.set_start_recovery(windows, ids.tobytes(), self.limits, widths.tobytes())
        return database

    def dump(self, database: _hsscan.Database) -> bytes:
        # The windowed ids, their widths and their limits, then each database's bytes after
        # their length: the first, then the windows'.
        count = len(self.windowed)
        head = struct.pack(f"<Q{count}Q{count}q", count, *self.windowed, *self.widths)
        # (A fixed width's window has no database: no bytes.)
        blobs = [database.serialize(), *(w.serialize() if w else b"" for w in self._windows)]
        return head + self.limits + b"".join(struct.pack("<Q", len(b)) + b for b in blobs)

    def load(self, blob: bytes) -> _hsscan.Database:
        if len(blob) < 8:
            raise ValueError("not a postwarden pattern database")
        (count,) = struct.unpack_from("<Q", blob)
        flags = self._given
        if count > len(flags) or len(blob) < 8 + 8 * count:
            raise ValueError("not a postwarden pattern database")
        windowed = struct.unpack_from(f"<{count}Q", blob, 8)
        if any(i >= len(flags) or not flags[i] & SOM for i in windowed):
            raise ValueError("not a postwarden pattern database: a window of no SOM expression")
        at = 8 + 16 * count + 256 * count
        if len(blob) < at:
            raise ValueError("not a postwarden pattern database")
        widths = struct.unpack_from(f"<{count}q", blob, 8 + 8 * count)
        if any(abs(w) > WIDEST_REVERSED for w in widths):
            raise ValueError("not a postwarden pattern database: a window too wide")
        self._windowing(windowed, widths, blob[8 + 16 * count : at])
        parts: list[bytes] = []
        while at < len(blob):
            if len(blob) - at < 8:
                raise ValueError("not a postwarden pattern database")
            (size,) = struct.unpack_from("<Q", blob, at)
            parts.append(blob[at + 8 : at + 8 + size])
            at += 8 + size
        if len(parts) != 1 + count or at != len(blob):
            raise ValueError("not a postwarden pattern database, or a window database missing")
        database = _hsscan.Database.deserialize(parts[0])
        windows = [_hsscan.Database.deserialize(p) if p else None for p in parts[1:]]
        if any((w is None) != (width < 0) for w, width in zip(windows, widths, strict=True)):
            raise ValueError("not a postwarden pattern database: a window database missing")
        return self._joined(database, windows)


class Scanner:
    """A block-mode database of ``expressions`` (ids are positions) and its scan.

    ``native``: use the compiled extension (True), python-hyperscan (False), or the
    extension when built (None).  Share one scanner between threads: each scan has a
    scratch space of its own.  ``hits(blob, chars=False)``: (start, end, id) byte offsets
    (with ``chars``, character offsets of the UTF-8 text) of every match in ``blob``, one
    row each, in no set order.  ``flags``: those the database scanning
    the whole buffer was compiled with (starts found later are not asked of hyperscan).
    """

    hits: Callable[..., Ints]
    flags: tuple[int, ...]
    _database: _hsscan.Database | None = None

    def __init__(
        self,
        expressions: Sequence[bytes],
        flags: Sequence[int],
        *,
        cache_dir: Path | None = None,
        native: bool | None = None,
    ) -> None:
        if native is None:
            native = NATIVE
        if native and not NATIVE:
            raise RuntimeError("postwarden's _hsscan extension was not built")
        self.native = native
        self._local = threading.local()
        self.flags = tuple(flags)
        if native:
            backend = _NativeBackend(flags)
            database = compiled_database(expressions, flags, backend, cache_dir=cache_dir)
            self.flags = backend.flags
            self.hits = partial(_native_hits, database)
            self._database = database
        else:
            self._python = compiled_database(
                expressions, flags, PythonBackend(), cache_dir=cache_dir
            )
            self.hits = self._python_hits

    def text_hits(self, texts: Sequence[str], separator: str) -> tuple[Ints, int]:
        """`hits` of ``texts`` joined by ``separator`` (`join_utf8`), in character offsets,
        and the length of the joined UTF-8.  The extension joins and scans in one call,
        into buffers it keeps between calls."""
        if self._database is not None:
            rows, length = self._database.scan_texts(texts, separator.encode())
            if not rows:  # (most files: two numpy calls, a tenth of a small scan, saved)
                return _NO_ROWS, length
            return np.frombuffer(rows, dtype=np.int64).reshape(-1, 3), length
        blob = join_utf8(texts, separator)
        chars = sum(map(len, texts)) + len(separator) * max(len(texts) - 1, 0)
        return self.hits(blob, chars=len(blob) != chars), len(blob)

    def _python_hits(self, blob: bytes, *, chars: bool = False) -> Ints:
        """`hits` by python-hyperscan: a Python call per match."""
        flat: list[int] = []
        extend = flat.extend

        def on_match(expression: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            extend((start, end, expression))

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._python)
        self._python.scan(blob, match_event_handler=on_match, scratch=scratch)
        rows = np.fromiter(flat, dtype=np.int64, count=len(flat)).reshape(-1, 3)
        if chars:
            continuations = _Continuations(blob)
            rows[:, 0] -= continuations.before(rows[:, 0])
            rows[:, 1] -= continuations.before(rows[:, 1])
        return rows


_NO_ROWS = np.zeros((0, 3), dtype=np.int64)
_NO_ROWS.flags.writeable = False  # (shared: read-only, as the rows of a scan are)


def _native_hits(database: _hsscan.Database, blob: bytes, *, chars: bool = False) -> Ints:
    """`Scanner.hits` by the extension: matches collected (and their offsets counted in
    characters) in C, read without a copy."""
    return np.frombuffer(database.scan(blob, chars), dtype=np.int64).reshape(-1, 3)


def join_utf8(texts: Sequence[str], separator: str) -> bytes:
    """``separator.join(texts).encode("utf-8", "replace")``: lone surrogates (undecodable
    mail bytes) become "?".  The extension writes it without the joined str, a few
    milliseconds less on 10 MB of mixed English and Chinese."""
    if NATIVE:
        return _hsscan.join_utf8(texts, separator.encode())
    return separator.join(texts).encode("utf-8", "replace")


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
_LOW_BITS = np.array([(1 << i) - 1 for i in range(8)], dtype=np.uint8)


class _Continuations:
    """Counts of UTF-8 continuation bytes before given offsets of a buffer.

    A character offset is the byte offset less the continuation bytes before it.  The
    bytes are packed eight to a bit-byte and counted by table, so a 10 MB buffer costs a
    few milliseconds, where a running sum over every byte would cost ten times as much.
    """

    def __init__(self, blob: bytes) -> None:
        data = np.frombuffer(blob, dtype=np.uint8)
        # Bit i of packed byte k is buffer byte 8k + i; one spare byte for the very end.
        self._packed = np.append(np.packbits((data & 0xC0) == 0x80, bitorder="little"), 0)
        self._upto = np.zeros(len(self._packed) + 1, dtype=np.int64)
        np.cumsum(_POPCOUNT[self._packed], out=self._upto[1:])

    def before(self, offsets: Ints) -> Ints:
        k = offsets >> 3
        partial = self._packed[k] & _LOW_BITS[offsets & 7]
        counts: Ints = self._upto[k] + _POPCOUNT[partial]
        return counts
