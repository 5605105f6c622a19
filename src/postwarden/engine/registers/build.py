"""Importing a register file into a new index generation, streamed in chunks."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import json
import multiprocessing
import os
import secrets
import shutil
import unicodedata
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from postwarden.engine.registers.digest import Digester, Hashes, id_hashes
from postwarden.engine.registers.fields import NORMALISERS, PERSONAL_FIELDS, SPECS, UNIQUE_FIELDS
from postwarden.engine.registers.index import (
    RegisterInfo,
    check_name,
    locked,
    publish,
    remove_stale,
)
from postwarden.engine.registers.normalise import Field, has_cjk
from postwarden.engine.registers.table import (
    Reading,
    RegisterFileError,
    RegisterTable,
    Row,
    map_columns,
)
from postwarden.i18n import _
from postwarden.settings import fsync_dir

CHUNK_ROWS = 100_000
_CACHE_MAX = 300_000
_MAX_STATUSES = 255


@dataclass(slots=True)
class ImportResult:
    """What an import did: the new register and the columns and values it could not use."""

    info: RegisterInfo
    ignored_columns: tuple[str, ...]
    unrecognised: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Accumulator:
    """Hashes, record numbers, ids and statuses gathered chunk by chunk as numpy arrays."""

    hashes: list[Hashes] = field(default_factory=list)
    records: list[npt.NDArray[np.uint32]] = field(default_factory=list)
    id_hashes: list[Hashes] = field(default_factory=list)
    id_lengths: list[npt.NDArray[np.uint64]] = field(default_factory=list)
    status: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    unrecognised: Counter[str] = field(default_factory=Counter)
    rows: int = 0

    def add(self, hashed: _Hashed) -> None:
        for label, hashes, records in hashed.fields:
            self.hashes.append(hashes)
            self.records.append(records)
            self.counts[label] += len(hashes)
        self.unrecognised.update(hashed.unrecognised)


@dataclass(slots=True)
class _Hashed:
    """One chunk's columns, hashed: (field, hashes, record numbers) and values not understood."""

    fields: list[tuple[str, Hashes, npt.NDArray[np.uint32]]]
    unrecognised: Counter[str]


class _ColumnHasher:
    """Normalises and hashes the personal-data columns of a chunk.

    Names and addresses repeat (namesakes, households): their hashes are kept between
    chunks (bounded), so each distinct value is normalised and hashed once; unique fields
    would only fill memory.
    """

    def __init__(self, secret: bytes) -> None:
        self.digester = Digester(secret)
        self.caches: dict[Field, dict[str, int | None]] = {}

    def hash(self, columns: list[tuple[str, str | Sequence[str]]], base: int) -> _Hashed:
        out = _Hashed([], Counter())
        for name, column in columns:
            values = _unpack(column)
            spec = SPECS[name]
            if spec.either is not None:
                # A column mapped to plain "name" or "address" holds either script, row by row.
                zh, en = spec.either
                zh_values = [v if has_cjk(v) else "" for v in values]
                en_values = [v if not z else "" for v, z in zip(values, zh_values, strict=True)]
                self._field(out, zh, zh_values, base)
                self._field(out, en, en_values, base)
            elif spec.hashed is not None:
                self._field(out, spec.hashed, values, base)
        return out

    def _field(self, out: _Hashed, fld: Field, values: Sequence[str], base: int) -> None:
        normalise = NORMALISERS[fld]
        if fld in UNIQUE_FIELDS:
            norms = [normalise(v) if v else None for v in values]
            hit = [i for i, m in enumerate(norms) if m is not None]
            hashes = self.digester.many(fld, [m for m in norms if m is not None])
        else:
            cache = self.caches.setdefault(fld, {})
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            get, one = cache.get, self.digester.one
            found: list[int | None] = []
            for v in values:
                h = get(v, _MISSING)
                if h == _MISSING:
                    norm = normalise(v) if v else None
                    h = cache[v] = None if norm is None else one(fld, norm)
                found.append(h)
            hit = [i for i, h in enumerate(found) if h is not None]
            hashes = np.array([found[i] for i in hit], dtype=np.uint64)
        missed = len(values) - len(hit) - values.count("")
        if missed:
            out.unrecognised[fld.label] += missed
        if hit:
            records = np.array(hit, dtype=np.uint32) + np.uint32(base)
            out.fields.append((fld.label, hashes, records))


_MISSING = -1
"""Not in the cache (a hash is never negative)."""


_worker: _ColumnHasher | None = None


def _start_worker(secret: bytes) -> None:
    global _worker
    _worker = _ColumnHasher(secret)


def _hash_in_worker(columns: list[tuple[str, str | Sequence[str]]], base: int) -> _Hashed:
    assert _worker is not None  # noqa: S101 - set by the pool initializer
    return _worker.hash(columns, base)


def import_register(
    path: Path,
    name: str,
    registers_dir: Path,
    secret: bytes,
    *,
    overrides: Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    header_row: int = 1,
    chunk_rows: int = CHUNK_ROWS,
    workers: int | None = None,
) -> ImportResult:
    """Import ``path`` as register ``name``, replacing any previous one atomically.

    Raises :class:`RegisterFileError` for a bad file and ``ValueError`` for bad arguments;
    either way the previous register stays as it was.  Nothing but keyed hashes, record ids
    and statuses is written, never a copy of the clear file.  Files of more than one chunk
    are hashed by ``workers`` processes (default: the CPUs, at most 4) while this one reads.
    """
    check_name(name)
    digester = Digester(secret)
    reading = Reading(dict(overrides or {}), encoding, sheet, header_row)
    table = reading.open(path)
    columns = map_columns(table.header, reading.mapping)
    workers = workers or min(4, os.cpu_count() or 1)
    with locked(registers_dir, name):
        remove_stale(registers_dir, name)
        build = registers_dir / f".{name}.{secrets.token_hex(8)}"
        build.mkdir(mode=0o700)
        try:
            acc = _Accumulator()
            with _private(build / "ids.bin") as ids_out, _gc_paused():
                _read(acc, table, columns.columns, secret, ids_out, chunk_rows, workers)
            if acc.rows == 0:
                raise RegisterFileError(_("{path} has a header but no rows").format(path=path))
            _check_unique_ids(acc, build / "ids.bin")
            _write_arrays(acc, build)
            info = RegisterInfo(
                name=name,
                rows=acc.rows,
                fields=dict(sorted(acc.counts.items())),
                statuses=tuple(acc.statuses),
                imported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                key_id=digester.key_id,
                source=path.name,
                reading=reading,
            )
            with _private(build / "meta.json") as out:
                out.write(json.dumps(info.to_json(), ensure_ascii=False, indent=1).encode())
            fsync_dir(build)
            publish(registers_dir, name, build)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
    return ImportResult(info, columns.ignored, dict(acc.unrecognised))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cycle collector off while reading: the rows make no cycles, yet the millions
    of cells they allocate set off collections that walked every live row (a third of
    the reading process's time, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read(
    acc: _Accumulator,
    table: RegisterTable,
    columns: dict[int, str],
    secret: bytes,
    ids_out: IO[bytes],
    chunk_rows: int,
    workers: int,
) -> None:
    """Stream the table: ids and statuses here, personal-data columns hashed by a pool
    (a bounded number of chunks in flight, so memory stays flat for any file size)."""
    chunks = table.chunks(chunk_rows)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if second is None or workers < 2:
        hasher = _ColumnHasher(secret)
        for chunk in itertools.chain((first,), () if second is None else (second,), chunks):
            base = acc.rows
            acc.rows += len(chunk)
            acc.add(hasher.hash(_take(acc, chunk, columns, ids_out, table.line), base))
        return
    in_flight: deque[Future[_Hashed]] = deque()
    # Spawned, not forked: a fork of a process with threads (a console, a test runner) can
    # inherit a held lock; the secret reaches the workers through a pipe, never the disk.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(secret,)
    ) as pool:
        for chunk in itertools.chain((first, second), chunks):
            base = acc.rows
            acc.rows += len(chunk)
            work = _take(acc, chunk, columns, ids_out, table.line)
            in_flight.append(pool.submit(_hash_in_worker, work, base))
            while len(in_flight) > workers:
                acc.add(in_flight.popleft().result())
        while in_flight:
            acc.add(in_flight.popleft().result())


def _take(
    acc: _Accumulator,
    rows: list[Row],
    columns: dict[int, str],
    ids_out: IO[bytes],
    last_line: int,
) -> list[tuple[str, str | Sequence[str]]]:
    """Record ids and statuses of a chunk; returns its personal-data columns to hash.
    Empties ``rows``: a chunk of rows takes several times the memory of its columns."""
    n = len(rows)
    by_field = {f: i for i, f in columns.items()}
    cols = list(zip(*rows, strict=True))  # rows come padded to the header's width
    rows.clear()

    ids = [i.strip() for i in cols[by_field["id"]]]
    if not all(ids):
        empty = ids.index("")
        raise RegisterFileError(
            _("row {row} has no record id").format(row=last_line - n + empty + 1)
        )
    encoded = [i.encode() for i in ids]
    ids_out.write(b"".join(encoded))
    acc.id_lengths.append(np.fromiter(map(len, encoded), dtype=np.uint64, count=n))
    acc.id_hashes.append(id_hashes(ids))

    if "status" in by_field:
        texts = cols[by_field["status"]]
        code_of = {s: _status_code(acc, s) for s in dict.fromkeys(texts)}
        acc.status.append(np.array([code_of[s] for s in texts], dtype=np.uint8))
    else:
        acc.status.append(np.full(n, _status_code(acc, ""), dtype=np.uint8))
    return [(name, _pack(cols[i])) for name, i in by_field.items() if name in PERSONAL_FIELDS]


_SEPARATOR = "\x00"


def _pack(values: Sequence[str]) -> str | Sequence[str]:
    """A column as one string, which a worker receives many times faster than 100,000
    (unless a value holds the separator itself)."""
    packed = _SEPARATOR.join(values)
    return packed if packed.count(_SEPARATOR) == len(values) - 1 else values


def _unpack(column: str | Sequence[str]) -> Sequence[str]:
    return column.split(_SEPARATOR) if isinstance(column, str) else column


def _status_code(acc: _Accumulator, text: str) -> int:
    status = unicodedata.normalize("NFKC", text).strip().casefold() or "unknown"
    code = acc.statuses.get(status)
    if code is None:
        if len(acc.statuses) >= _MAX_STATUSES:
            raise RegisterFileError(
                _(
                    "the status column has more than {n} different values: is it "
                    "really a status? map it with --map COLUMN=FIELD"
                ).format(n=_MAX_STATUSES)
            )
        code = acc.statuses[status] = len(acc.statuses)
    return code


def _check_unique_ids(acc: _Accumulator, ids_path: Path) -> None:
    """Duplicate ids by sorting 64-bit id hashes; a hash tie is confirmed on the ids."""
    hashes = np.concatenate(acc.id_hashes)
    order = np.argsort(hashes, kind="stable")
    ties = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    if not len(ties):
        return
    offsets = _offsets(acc)
    blob = ids_path.read_bytes()
    for t in ties[:1000]:
        a, b = int(order[t]), int(order[t + 1])
        first = blob[offsets[a] : offsets[a + 1]]
        if first == blob[offsets[b] : offsets[b + 1]]:
            raise RegisterFileError(
                _(
                    "record id {record_id!r} appears more than once (data rows {first} and "
                    "{second}): ids must be unique"
                ).format(record_id=first.decode(), first=a + 1, second=b + 1)
            )


def _offsets(acc: _Accumulator) -> npt.NDArray[np.uint64]:
    lengths = np.concatenate(acc.id_lengths)
    offsets = np.zeros(len(lengths) + 1, dtype=np.uint64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _write_arrays(acc: _Accumulator, build: Path) -> None:
    """Sort (hash, record) pairs, drop repeats, and write every array of the index."""
    if len(acc.hashes):
        hashes = np.concatenate(acc.hashes)
        acc.hashes.clear()
        records = np.concatenate(acc.records)
        acc.records.clear()
    else:
        hashes = np.zeros(0, dtype=np.uint64)
        records = np.zeros(0, dtype=np.uint32)
    # Stable: records were appended in increasing order, so each run of equal hashes stays
    # sorted by record number, which the matcher's binary search relies on.
    order = np.argsort(hashes, kind="stable")
    records = records[order]
    del order
    # In place: equal hashes are alike, so only the records need the stable order (and a
    # sorted copy of the hashes would be the import's peak of memory).
    hashes.sort()
    if len(hashes):
        keep = np.empty(len(hashes), dtype=bool)
        keep[0] = True
        np.not_equal(hashes[1:], hashes[:-1], out=keep[1:])
        keep[1:] |= records[1:] != records[:-1]
        if not keep.all():
            hashes = hashes[keep]
            records = records[keep]
    _save(build / "hashes.npy", hashes)
    del hashes
    _save(build / "records.npy", records)
    del records
    _save(build / "status.npy", np.concatenate(acc.status))
    _save(build / "id_offsets.npy", _offsets(acc))


def _save(path: Path, array: npt.NDArray[np.generic]) -> None:
    with _private(path) as out:
        np.save(out, array, allow_pickle=False)


@contextlib.contextmanager
def _private(path: Path) -> Iterator[IO[bytes]]:
    """A new file only the owner reads, flushed to disk before it counts as written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        yield out
        out.flush()
        os.fsync(out.fileno())
