"""`Scanner`: one hyperscan pass over a buffer, every match as a (start, end, id) row.

Two bindings give the same rows in the same order: the compiled `_hsscan` extension (built
from ``_hsscan.c`` against the system libhs at install) collects matches in C, where
python-hyperscan calls a Python function per match; it is used when it was built, else
python-hyperscan.  Tests run both over the same texts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import hyperscan
import numpy as np
import numpy.typing as npt

from postwarden.engine.detect.patterncache import PythonBackend, compiled_database

try:
    from postwarden.engine.detect import _hsscan
except ImportError:  # not built (no libhs headers at install): python-hyperscan alone
    _hsscan = None  # type: ignore[assignment]

__all__ = ["NATIVE", "Scanner"]

Ints = npt.NDArray[np.int64]

NATIVE = _hsscan is not None
"""Whether the compiled extension is available."""


class _NativeBackend:
    """`_hsscan.Database`, for the pattern cache."""

    def __init__(self) -> None:
        self.version = f"libhs {_hsscan.HS_VERSION}"

    def compile(self, expressions: Sequence[bytes], flags: Sequence[int]) -> _hsscan.Database:
        return _hsscan.Database(list(expressions), list(flags))

    def dump(self, database: _hsscan.Database) -> bytes:
        return database.serialize()

    def load(self, blob: bytes) -> _hsscan.Database:
        return _hsscan.Database.deserialize(blob)


class Scanner:
    """A block-mode database of ``expressions`` (ids are positions) and its scan.

    ``native``: use the compiled extension (True), python-hyperscan (False), or the
    extension when built (None).  Share one scanner between threads: each scan has a
    scratch space of its own.  ``hits(blob)``: (start, end, id) byte offsets of every match
    in ``blob``, one row each, in hyperscan's order.
    """

    hits: Callable[[bytes], Ints]

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
        if native:
            database = compiled_database(expressions, flags, _NativeBackend(), cache_dir=cache_dir)
            self.hits = partial(_native_hits, database)
        else:
            self._python = compiled_database(
                expressions, flags, PythonBackend(), cache_dir=cache_dir
            )
            self.hits = self._python_hits

    def _python_hits(self, blob: bytes) -> Ints:
        """`hits` by python-hyperscan: a Python call per match."""
        flat: list[int] = []
        extend = flat.extend

        def on_match(expression: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            extend((start, end, expression))

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._python)
        self._python.scan(blob, match_event_handler=on_match, scratch=scratch)
        return np.fromiter(flat, dtype=np.int64, count=len(flat)).reshape(-1, 3)


def _native_hits(database: _hsscan.Database, blob: bytes) -> Ints:
    """`Scanner.hits` by the extension: matches collected in C, read without a copy."""
    return np.frombuffer(database.scan(blob), dtype=np.int64).reshape(-1, 3)
