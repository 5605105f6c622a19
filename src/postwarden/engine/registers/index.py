"""The on-disk register index: layout, memory-mapped reading, listing and dropping.

Layout, per register, under ``DATA_DIR/registers/``::

    NAME -> .NAME.<token>/      symlink swapped atomically on re-import
    .NAME.<token>/meta.json     name, rows, field counts, statuses, key fingerprint
                  hashes.npy    uint64, sorted: keyed hash of (field, normalised value)
                  records.npy   uint32, parallel: the record number each hash belongs to
                  status.npy    uint8 per record: index into meta["statuses"]
                  id_offsets.npy uint64 per record + 1: where each record id starts in ids.bin
                  ids.bin       the record ids, UTF-8, back to back
    .NAME.lock                  serialises imports and drops of NAME

Only keyed hashes, record ids and statuses are stored; ``.npy`` files are opened with
``mmap_mode="r"`` so every process on the host shares one copy through the page cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from postwarden.engine.registers import native
from postwarden.engine.registers.table import Reading
from postwarden.errors import PostwardenError
from postwarden.i18n import _
from postwarden.settings import fsync_dir

FORMAT = 1
FENCE_STEP = 1024
"""Hashes per block of the index's search fence (see RegisterIndex._bound)."""
BUCKET_HASHES = 16
"""Hashes per bucket of the compiled search's bucket table, at least (see
RegisterIndex.find): 2**bits buckets, bits the most that leaves this many a bucket on
average (18 at 100,000 rows, a 128 KB table; 26 at 4.5 million, 4 MB)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_TOKEN = re.compile(r"[0-9a-f]{16}")
Ints = npt.NDArray[np.int64]
_find_runs = native.find_runs
_bucket_runs = native.bucket_runs
_buckets = native.bucket_table


class RegisterError(PostwardenError):
    """A register index is missing, unreadable or was built with another secret."""


def check_name(name: str) -> str:
    """A register name is a short word: letters, digits, ``_`` and ``-``."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            _("invalid register name {name!r}: use up to 63 letters, digits, '_' or '-'").format(
                name=name
            )
        )
    return name


@dataclass(frozen=True, slots=True)
class RegisterInfo:
    """What ``register list`` shows: no personal data, only counts and names."""

    name: str
    rows: int
    fields: dict[str, int]
    statuses: tuple[str, ...]
    imported_at: str
    key_id: str
    source: str
    reading: Reading = field(default_factory=Reading)
    """How the import read its file (mapping, encoding, sheet, header row)."""

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RegisterInfo:
        return cls(
            name=str(raw["name"]),
            rows=int(raw["rows"]),
            fields={str(k): int(v) for k, v in raw["fields"].items()},
            statuses=tuple(str(s) for s in raw["statuses"]),
            imported_at=str(raw["imported_at"]),
            key_id=str(raw["key_id"]),
            source=str(raw.get("source", "")),
            reading=Reading.from_json(raw.get("reading") or {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "rows": self.rows,
            "fields": self.fields,
            "statuses": list(self.statuses),
            "imported_at": self.imported_at,
            "key_id": self.key_id,
            "source": self.source,
            "reading": self.reading.to_json(),
        }


class RegisterIndex:
    """One register, memory-mapped read-only; the arrays stay valid after a re-import
    replaced the files, because the old inodes live on while mapped."""

    def __init__(self, directory: Path, info: RegisterInfo) -> None:
        self.directory = directory
        self.info = info
        self.hashes: npt.NDArray[np.uint64] = np.load(directory / "hashes.npy", mmap_mode="r")
        self.records: npt.NDArray[np.uint32] = np.load(directory / "records.npy", mmap_mode="r")
        self.status: npt.NDArray[np.uint8] = np.load(directory / "status.npy", mmap_mode="r")
        self._id_offsets: npt.NDArray[np.uint64] = np.load(
            directory / "id_offsets.npy", mmap_mode="r"
        )
        self._ids = (
            np.memmap(directory / "ids.bin", dtype=np.uint8, mode="r")
            if (directory / "ids.bin").stat().st_size
            else np.zeros(0, dtype=np.uint8)
        )
        self._fence: npt.NDArray[np.uint64] | None = None
        self._table: tuple[npt.NDArray[np.uint32], int] | None = None

    def find(self, wanted: npt.NDArray[np.uint64]) -> tuple[Ints, Ints]:
        """For each hash in ``wanted``: where its run starts in ``hashes`` and its length
        (0 when absent).

        Pass ``wanted`` sorted: successive searches then walk the same pages of the index.
        The compiled search reads a bucket table where built (``bucket_runs``, see
        :meth:`_bucket_table`), else the fence (``find_runs``), else numpy's.
        """
        hashes = np.asarray(self.hashes)  # the plain ndarray: memmap's subclass hooks are slow
        if not len(wanted) or not len(hashes):
            return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=np.int64)
        if self._fence is None:
            self._fence = np.array(hashes[::FENCE_STEP])
            self._table = self._bucket_table(hashes)
        if _find_runs is None:
            return find_runs(hashes, self._fence, wanted)
        lo = np.empty(len(wanted), dtype=np.int64)
        count = np.empty(len(wanted), dtype=np.int64)
        if self._table is not None and _bucket_runs is not None:
            table, bits = self._table
            _bucket_runs(hashes, table, bits, np.ascontiguousarray(wanted), lo, count)
        else:
            _find_runs(hashes, self._fence, FENCE_STEP, np.ascontiguousarray(wanted), lo, count)
        return lo, count

    @staticmethod
    def _bucket_table(hashes: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.uint32], int] | None:
        """For the compiled ``bucket_runs``: per bucket of hashes by their top ``bits`` bits,
        where its first hash is (then the index's size), as uint32s, and ``bits``; ``None``
        where not built, or for an index of fewer than two buckets or more places than a
        uint32 holds.

        Keyed hashes are spread evenly, so a bucket holds ~:data:`BUCKET_HASHES` of them
        and a value is found by one table read and a bisection of its bucket, where the
        fence's search takes ten dependent steps, then misses its guessed window a third of
        the time: 600 values of a 200-row sheet in 20 us instead of 49 with the index in
        the caches, 25 instead of 54 out of L2, at 100,000 rows; at 4.5 million, 32 us
        instead of 77, and 100,000 sorted values in 4.1 ms instead of 8.8 (process time,
        random present hashes).  Built by the compiled ``bucket_table`` in one walk up the
        index, once a process: 0.5 ms at 100,000 rows, 17 at 4.5 million.
        """
        bits = min(32, (len(hashes) // BUCKET_HASHES).bit_length() - 1)
        if _bucket_runs is None or _buckets is None or bits < 1 or len(hashes) > 2**32 - 1:
            return None
        return np.frombuffer(_buckets(hashes, bits), dtype=np.uint32), bits

    @property
    def name(self) -> str:
        return self.info.name

    @classmethod
    def open(cls, registers_dir: Path, name: str, key_id: str | None = None) -> RegisterIndex:
        """Open the current generation of ``name``; retried if a re-import swaps it meanwhile."""
        link = registers_dir / check_name(name)
        for _attempt in range(3):
            try:
                target = registers_dir / os.readlink(link)
                info = RegisterInfo.from_json(json.loads((target / "meta.json").read_bytes()))
                index = cls(target, info)
            except FileNotFoundError:
                if not link.is_symlink():
                    raise RegisterError(_("no register named {name!r}").format(name=name)) from None
                continue
            except (OSError, ValueError, KeyError) as exc:
                raise RegisterError(
                    _("register {name!r} is unreadable: {exc}").format(name=name, exc=exc)
                ) from None
            if key_id is not None and info.key_id != key_id:
                raise RegisterError(
                    _(
                        "register {name!r} was imported with another installation secret: import "
                        "it again"
                    ).format(name=name)
                )
            return index
        raise RegisterError(
            _("register {name!r} keeps changing while being opened").format(name=name)
        )

    def generation(self) -> str:
        return self.directory.name

    def ids(self, records: Iterable[int]) -> list[str]:
        """The record ids of ``records`` (record numbers), in the order given."""
        out = []
        for r in records:
            start, end = int(self._id_offsets[r]), int(self._id_offsets[r + 1])
            out.append(self._ids[start:end].tobytes().decode("utf-8"))
        return out

    def by_status(self, records: Iterable[int]) -> dict[str, int]:
        """How many of ``records`` have each status."""
        recs = np.fromiter(records, dtype=np.int64)
        counts = Counter(np.asarray(self.status[recs]).tolist())
        return {self.info.statuses[code]: n for code, n in sorted(counts.items())}


def find_runs(
    hashes: npt.NDArray[np.uint64], fence: npt.NDArray[np.uint64], wanted: npt.NDArray[np.uint64]
) -> tuple[Ints, Ints]:
    """:meth:`RegisterIndex.find` in numpy, for when the compiled ``find_runs`` is not built:
    ``fence`` is every :data:`FENCE_STEP`-th hash of ``hashes`` (non-empty)."""
    size = len(hashes)
    lo = _bound(hashes, fence, wanted, "left")
    at = np.minimum(lo, size - 1)
    count = ((lo < size) & (hashes[at] == wanted)).astype(np.int64)
    # Most values occur once (HKIDs, phones): only runs need their upper bound searched.
    nxt = np.minimum(lo + 1, size - 1)
    longer = np.flatnonzero((count > 0) & (lo + 1 < size) & (hashes[nxt] == wanted))
    if len(longer):
        count[longer] = _bound(hashes, fence, wanted[longer], "right") - lo[longer]
    return lo, count


def _bound(
    hashes: npt.NDArray[np.uint64],
    fence: npt.NDArray[np.uint64],
    wanted: npt.NDArray[np.uint64],
    side: Literal["left", "right"],
) -> Ints:
    """``np.searchsorted(hashes, wanted, side)``, in two steps that stay in the CPU cache.

    At 4.5 M rows ``hashes.npy`` is 200 MB: each of the 25 steps of a binary search over
    it is a cache and TLB miss (numpy's searchsorted, even with ``wanted`` sorted).  The
    fence, every :data:`FENCE_STEP`-th hash (200 KB), is searched first, then every hash's
    own block of the index, all of them at once, a step at a time: 10 steps within 8 KB
    each.  The compiled ``find_runs`` does the same a value at a time (numpy's ~10 array
    operations a step cost ~80 us even for a handful of values).
    """
    size = len(hashes)
    block = np.searchsorted(fence, wanted, side=side).astype(np.int64)
    # The answer is past the fence entry before and at most the one after.
    low: Ints = np.maximum((block - 1) * FENCE_STEP + 1, 0)
    high: Ints = np.minimum(block * FENCE_STEP, size)
    left = side == "left"
    while True:
        open_ = low < high
        if not open_.any():
            return low
        mid = (low + high) >> 1
        probe = hashes[np.minimum(mid, size - 1)]
        before = (probe < wanted) if left else (probe <= wanted)
        low = np.where(open_ & before, mid + 1, low)
        high = np.where(open_ & ~before, mid, high)


def current_generation(registers_dir: Path, name: str) -> str | None:
    """The directory ``name`` points at now, or ``None`` if it does not exist."""
    try:
        return os.readlink(registers_dir / name)
    except (FileNotFoundError, OSError):
        return None


def register_info(registers_dir: Path, name: str) -> RegisterInfo | None:
    """What ``name``'s current import recorded, or ``None`` when there is no such register."""
    try:
        meta = json.loads((registers_dir / check_name(name) / "meta.json").read_bytes())
        return RegisterInfo.from_json(meta)
    except (OSError, ValueError, KeyError):
        return None


def list_registers(registers_dir: Path) -> list[RegisterInfo]:
    """Every register in the data dir, by name."""
    out: list[RegisterInfo] = []
    if not registers_dir.is_dir():
        return out
    for entry in sorted(registers_dir.iterdir()):
        if entry.is_symlink() and _NAME.fullmatch(entry.name):
            try:
                meta = json.loads((entry / "meta.json").read_bytes())
                out.append(RegisterInfo.from_json(meta))
            except (OSError, ValueError, KeyError):
                continue
    return out


@contextlib.contextmanager
def locked(registers_dir: Path, name: str) -> Iterator[None]:
    """Hold the per-register lock: one import or drop of ``name`` at a time."""
    registers_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(registers_dir / f".{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def generations(registers_dir: Path, name: str) -> list[Path]:
    """Every generation directory of ``name`` on disk, live, old or half-built."""
    prefix = f".{name}."
    return [
        p
        for p in registers_dir.iterdir()
        if p.name.startswith(prefix)
        and _TOKEN.fullmatch(p.name[len(prefix) :])
        and p.is_dir()
        and not p.is_symlink()
    ]


def remove_stale(registers_dir: Path, name: str) -> None:
    """Remove generations of ``name`` that are not live (left by a crash or a re-import).

    Called with the lock held; processes that still map an old generation keep their view.
    """
    live = current_generation(registers_dir, name)
    for path in generations(registers_dir, name):
        if path.name != live:
            shutil.rmtree(path, ignore_errors=True)


def publish(registers_dir: Path, name: str, built: Path) -> None:
    """Point ``name`` at ``built`` in one rename, then drop the generation it replaced."""
    link = registers_dir / name
    if link.exists() and not link.is_symlink():
        raise RegisterError(_("{link} exists and is not a register").format(link=link))
    tmp = registers_dir / f".{name}.link-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(built.name, tmp)
    os.replace(tmp, link)
    fsync_dir(registers_dir)
    remove_stale(registers_dir, name)


def drop(registers_dir: Path, name: str) -> None:
    """Remove register ``name``: the link first (readers stop finding it), then its files."""
    check_name(name)
    link = registers_dir / name
    with locked(registers_dir, name):
        if not link.is_symlink():
            raise RegisterError(_("no register named {name!r}").format(name=name))
        link.unlink()
        fsync_dir(registers_dir)
        remove_stale(registers_dir, name)
