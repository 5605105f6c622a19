"""Discovery scan: find register extracts and personal data lying in folders, zips and mail.

Every file goes through the same engine as outbound mail (a file is inspected as the only
attachment of a message; a zip's members, an .eml's parts are the extractors' business).
Mailboxes are opened here: each message of an mbox, and each file of a maildir, is an item of
its own.  Work is spread over processes that each build their inspector and open the
memory-mapped registers once; finished items are appended to a state file so that an
interrupted scan of a large tree resumes where it stopped.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, itemgetter, methodcaller
from pathlib import Path
from typing import Any

from postwarden.engine import Inspector, Report, collector_paused
from postwarden.engine.registers import RegisterSet
from postwarden.i18n import _
from postwarden.mailfiles import (
    is_maildir,
    is_mbox,
    is_message_file,
    maildir_files,
    mbox_preamble,
    open_mbox,
)
from postwarden.model import UNINSPECTABLE, Envelope, Finding
from postwarden.settings import Limits

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: findings counted in Python
    _hsscan = None  # type: ignore[assignment]

__all__ = ["ScanItem", "ScanResult", "ScanRun", "Scanner", "run_scan", "scan_items"]

_REGISTER = "register:"
_NOBODY = Envelope("", ())
"""The envelope a scanned message is inspected with (its own headers tell the rest)."""


@dataclass(frozen=True, slots=True)
class ScanItem:
    """One thing to inspect: a file, or one message of an mbox (``path#N``)."""

    key: str
    path: str
    mtime: float
    size: int
    message: bool = False
    """Raw message bytes (an .eml or maildir file) rather than a file to wrap."""
    mbox_key: str | None = None
    """The key mailbox.mbox gave the message (typed str by typeshed, an int at run time)."""

    def __reduce__(self) -> tuple[type[ScanItem], tuple[str, str, float, int, bool, str | None]]:
        """Pickled as the call that makes it: see `ScanResult.__reduce__`."""
        return type(self), (self.key, self.path, self.mtime, self.size, self.message, self.mbox_key)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one item holds: register subjects and detector counts, no values."""

    key: str
    size: int
    subjects: dict[str, int]
    findings: dict[str, int]
    members: dict[str, dict[str, int]]
    """Register subjects per place inside the item (zip member, attachment)."""
    uninspectable: list[str]

    def __reduce__(
        self,
    ) -> tuple[
        type[ScanResult],
        tuple[str, int, dict[str, int], dict[str, int], dict[str, dict[str, int]], list[str]],
    ]:
        """Pickled as the call that makes it (the items of a shard go to a local worker, its
        results come back): a frozen dataclass's own pickling gets and sets each field in
        Python, about 10 µs a result there and back, now 4 (timeit, old and new in turn)."""
        return type(self), (
            self.key,
            self.size,
            self.subjects,
            self.findings,
            self.members,
            self.uninspectable,
        )

    @property
    def hit(self) -> bool:
        return any(self.subjects.values()) or bool(self.findings) or bool(self.uninspectable)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.key,
            "size": self.size,
            "subjects": self.subjects,
            "findings": self.findings,
            "members": self.members,
            "uninspectable": self.uninspectable,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ScanResult:
        return cls(
            key=str(raw["path"]),
            size=int(raw["size"]),
            subjects=dict(raw["subjects"]),
            findings=dict(raw["findings"]),
            members=dict(raw.get("members", {})),
            uninspectable=list(raw.get("uninspectable", [])),
        )


def _item(path: Path, key: str, *, message: bool = False, mbox_key: str | None = None) -> ScanItem:
    st = path.stat()
    return ScanItem(
        key=key,
        path=str(path),
        mtime=st.st_mtime,
        size=st.st_size,
        message=message,
        mbox_key=mbox_key,
    )


def scan_items(paths: Iterable[Path]) -> Iterator[ScanItem]:
    """Everything under ``paths`` to inspect, in a stable order."""
    for root in paths:
        if root.is_dir():
            yield from _walk(root)
        elif root.is_file():
            yield from _file(root)
        else:
            raise FileNotFoundError(_("no such file or folder: {path}").format(path=root))


def _walk(root: Path) -> Iterator[ScanItem]:
    if is_maildir(root):
        for entry in maildir_files(root):
            yield _item(entry, str(entry), message=True)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        maildirs = [d for d in dirnames if is_maildir(here / d)]
        for d in maildirs:
            yield from _walk(here / d)
        dirnames[:] = [d for d in dirnames if d not in maildirs]
        for name in sorted(filenames):
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield from _file(path)


def _file(path: Path) -> Iterator[ScanItem]:
    if is_mbox(path):
        with open_mbox(path) as box:
            for n, key in enumerate(box.keys(), 1):
                yield _item(path, f"{path}#{n}", message=True, mbox_key=key)
        if mbox_preamble(path):
            # What comes before the first "From " line is in no message: the whole file is
            # inspected as well, so nothing in it goes unseen.
            yield _item(path, str(path))
        return
    yield _item(path, str(path), message=is_message_file(path.name))


class Scanner:
    """An inspector and the registers, loaded once per process.

    :meth:`scan_many` reads the next few items in a thread while these are inspected: file
    reads release the GIL, so on a file server waiting for the disk or the network overlaps
    with extraction.  Items are handed to the reader in batches (see :func:`_batches`): a
    hand-off per item cost 0.08 ms of CPU, a fifth of scanning a small text file."""

    def __init__(self, limits: Limits, registers: RegisterSet | None) -> None:
        self.inspector = Inspector(limits=limits, registers=registers)
        self._reader: ThreadPoolExecutor | None = None

    def read(self, item: ScanItem) -> bytes:
        """The item's bytes; ``OSError`` when it cannot be read."""
        if item.mbox_key is not None:
            with open_mbox(item.path) as box:
                return box.get_bytes(item.mbox_key)
        return Path(item.path).read_bytes()

    def inspect(self, item: ScanItem, data: bytes | None = None) -> Report:
        """Read (unless ``data`` is given) and inspect one item, without a policy decision
        (a scan counts what is there; it sends nothing); ``OSError`` when it cannot be read."""
        if data is None:
            data = self.read(item)
        if item.message or item.mbox_key is not None:
            return self.inspector.inspect(data, _NOBODY, decide=False)
        return self.inspector.inspect_file(file_name(item.path), data, decide=False)

    def scan(self, item: ScanItem, data: bytes | OSError | None = None) -> ScanResult:
        """One item's result; ``data``: its bytes (or why they could not be read) if read."""
        try:
            if isinstance(data, OSError):
                raise data
            if data is None:
                data = self.read(item)
        except OSError as exc:
            return ScanResult(item.key, item.size, {}, {}, {}, [f"unreadable: {exc.strerror}"])
        # The collector stays paused until the findings are counted and freed: back on while
        # they were alive, it walked them all (a 200-row sheet's 800 findings, 1.6 % of its
        # scan, measured with callgrind).
        with collector_paused():
            result = self._counted(item, data)
        return result

    def _counted(self, item: ScanItem, data: bytes) -> ScanResult:
        """Inspect ``data`` and count its findings: a file without the report around them
        (`Inspector.file_findings`)."""
        if item.message or item.mbox_key is not None:
            verdict = self.inspector.inspect(data, _NOBODY, decide=False).verdict
            return _result(item, verdict.findings, verdict.subjects)
        return _result(item, *self.inspector.file_findings(file_name(item.path), data))

    def scan_many(self, items: Iterable[ScanItem]) -> Iterator[ScanResult]:
        """Each item's result, the next batch read while this one is inspected."""
        if self._reader is None:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="postwarden-scan-read")
        batches = _batches(items)
        batch = next(batches, None)
        reading = self._reader.submit(self._read_all, batch) if batch else None
        while batch is not None and reading is not None:
            contents = reading.result()
            following = next(batches, None)
            if following is not None:
                reading = self._reader.submit(self._read_all, following)
            for item, data in zip(batch, contents, strict=True):
                yield self.scan(item, data)
            batch = following

    def _read_all(self, items: list[ScanItem]) -> list[bytes | OSError]:
        """Each item's bytes, or why they could not be read: a batch of files at once by
        `_hsscan.read_files` where it is built (see `READ_IN_C`), the rest one by one."""
        found: list[bytes | OSError | None]
        if read_files is not None and all(item.mbox_key is None for item in items):
            found = read_files([item.path for item in items], READ_IN_C)
        else:
            found = [None] * len(items)
        return [
            self._read_one(item) if data is None else data
            for item, data in zip(items, found, strict=True)
        ]

    def _read_one(self, item: ScanItem) -> bytes | OSError:
        try:
            return self.read(item)
        except OSError as exc:
            return exc


def file_name(path: str) -> str:
    """``Path(path).name``: the text after the last separator unless that is empty or
    ``.`` (which ``Path`` drops); a ``Path`` cost 4 us of a 40 KB text file's 200."""
    name = path.rpartition(os.sep)[2]
    if os.altsep or name in ("", "."):
        return Path(path).name
    return name


READ_AHEAD = 8
"""Items per batch handed to the reader thread ..."""
READ_AHEAD_BYTES = 8 * 1024 * 1024
"""... unless their sizes add up to this first: two batches are held in memory at once."""


READ_IN_C = 4 * 1024 * 1024
"""Files up to this size are read by `_hsscan.read_files`, the batch with the GIL let go
once: ``Path.read_bytes`` lets it go and takes it back around each of its system calls, and
each time the inspecting thread may be made to hand it over.  The bench tree's 750 office
files: read in 0.0115 s of CPU instead of 0.020 (one after the other, best of 5); their
scan made 330-440 voluntary context switches instead of 1,250-1,500 in runs where the reader
had a core to itself (as many, ~290, under load).  What their scan from disk costs more than
scanning bytes read beforehand (0.04 s) is now the reads, the inspector meeting bytes fresh
from the page cache (0.018 s: scanning fresh copies of the pre-read bytes) and the batches'
hand-offs (~0.01 s).  Larger files are read in Python: read_files holds a file twice for a
moment (its buffer, then its bytes)."""

# The compiled batch read; None when not built.
read_files: Callable[[list[str], int], list[bytes | OSError | None]] | None = getattr(
    _hsscan, "read_files", None
)


def _batches(items: Iterable[ScanItem]) -> Iterator[list[ScanItem]]:
    """``items`` in batches of 1, 2, 4, then :data:`READ_AHEAD` items, each (but for a batch
    of one large item) at most :data:`READ_AHEAD_BYTES`: small at first, so that the first
    item of a shard is inspected while the next ones are read."""
    batch: list[ScanItem] = []
    held = 0
    limit = 1
    for item in items:
        if batch and (len(batch) == limit or held + item.size > READ_AHEAD_BYTES):
            yield batch
            batch, held, limit = [], 0, min(2 * limit, READ_AHEAD)
        batch.append(item)
        held += item.size
    if batch:
        yield batch


_DETECTOR = attrgetter("detector")
_WHERE = attrgetter("where")
_FIRST = itemgetter(0)
_PARTITION = methodcaller("partition", "#")

# Findings per detector, and register findings per (register detector, source).
Counts = tuple[dict[str, int], dict[tuple[str, str], int]]

# The compiled `_counted_py`; None when not built.
finding_counts: Callable[[list[Finding], str], Counts] | None = getattr(
    _hsscan, "finding_counts", None
)


def _counted(findings: list[Finding]) -> Counts:
    """Findings per detector, and register findings per (register detector, source): all a
    scan keeps of them.  A spreadsheet brings thousands: counted in one compiled pass."""
    if finding_counts is not None and type(findings) is list:
        return finding_counts(findings, _REGISTER)
    return _counted_py(findings)


def _counted_py(findings: list[Finding]) -> Counts:
    """`_counted` in Python: per detector at C speed; only the register findings (one per
    record present) are then counted per source, each distinct pair once."""
    detectors = list(map(_DETECTOR, findings))
    counts = Counter(detectors)
    registers = {d for d in counts if d.startswith(_REGISTER)}
    if not registers:
        return counts, {}
    found = list(compress(findings, map(registers.__contains__, detectors)))
    sources = map(_FIRST, map(_PARTITION, map(_WHERE, found)))
    return counts, Counter(zip(map(_DETECTOR, found), sources, strict=True))


def _result(item: ScanItem, findings: list[Finding], subjects: dict[str, int]) -> ScanResult:
    # Counting every (detector, where) pair and placing each in Python cost 0.4 ms for a
    # 200-row sheet: the register findings' pairs are placed once each.
    counts, pairs = _counted(findings)
    registers = {d for d in counts if d.startswith(_REGISTER)}
    members: dict[str, Counter[str]] = {}
    for (detector, source), n in pairs.items():
        members.setdefault(_place(source), Counter())[detector[len(_REGISTER) :]] += n
    uninspectable = (
        {f"{_place(f.source)}: {f.detail}" for f in findings if f.detector == UNINSPECTABLE}
        if UNINSPECTABLE in counts
        else set()
    )
    return ScanResult(
        key=item.key,
        size=item.size,
        subjects={k: v for k, v in sorted(subjects.items()) if v},
        findings={
            d: n for d, n in sorted(counts.items()) if d not in registers and d != UNINSPECTABLE
        },
        members={k: dict(v) for k, v in sorted(members.items())},
        uninspectable=sorted(uninspectable),
    )


def _place(source: str) -> str:
    return source.removeprefix("attachment:") or "body"


_WORKER: Scanner | None = None
_WORKER_INIT: tuple[Any, ...] = ()
"""The settings `_WORKER` was built with (`_init_worker`'s arguments)."""

SHARD_ITEMS = 8
"""Items per task given to a local worker process at least: its read-ahead runs within a
shard, and the round trip to the pool is paid once per shard ..."""


def _init_worker(
    limits: Limits, registers_dir: Path | None, secret: bytes, names: tuple[str, ...] | None
) -> None:
    global _WORKER, _WORKER_INIT  # one scanner per worker process, built once
    registers = RegisterSet(registers_dir, secret, names) if registers_dir else None
    _WORKER = Scanner(limits, registers)
    _WORKER_INIT = (limits, registers_dir, secret, names)


def _join_pool(*init: Any) -> None:
    """A local worker's initializer: keep the scanner built for the same settings by the
    process that forked it (`_local_results`), else (another start method) build one."""
    if _WORKER is None or _WORKER_INIT != init:
        _init_worker(*init)


WARM_UP_BYTES = 1024 * 1024
"""Items up to this size may be scanned before the workers are forked (`_warm_up`)."""
WARM_UP_ITEMS = 16
"""... at most this many of them."""


def _warm_up(todo: list[ScanItem]) -> tuple[list[ScanItem], list[ScanItem]]:
    """The first small item of each file name extension (at most `WARM_UP_ITEMS`), and the
    other items.  Scanned before forking, they load once what every worker would otherwise
    load in turn on meeting its first file of a kind: the extractor's modules (pypdf, its
    crypto providers ...), compiled expressions, caches."""
    first: dict[str, int] = {}
    for n, item in enumerate(todo):
        if len(first) == WARM_UP_ITEMS:
            break
        if item.size <= WARM_UP_BYTES:
            first.setdefault(os.path.splitext(item.path)[1].lower(), n)
    chosen = set(first.values())
    return [todo[n] for n in sorted(chosen)], [i for n, i in enumerate(todo) if n not in chosen]


SHARD_MAX_ITEMS = 64
"""... and at most this many, the first shards of a long list (`_shards`)."""
SHARD_BYTES = 8 * 1024 * 1024
"""A shard's items add up to at most this many bytes (unless it is one item)."""
GUIDED = 4
"""A shard is at most the items left over this many times the workers (`_shards`)."""


def _shards(todo: list[ScanItem], workers: int) -> Iterator[list[ScanItem]]:
    """``todo`` cut into shards, large while many items are left, `SHARD_ITEMS` at the end
    ("guided" scheduling): each shard costs a round trip to the pool, a pickled list each
    way and the read-ahead's first small batches, but a large shard at the end would leave
    the other workers idle while one finishes it."""
    n = 0
    while n < len(todo):
        size = max(SHARD_ITEMS, min(SHARD_MAX_ITEMS, (len(todo) - n) // (GUIDED * workers)))
        shard: list[ScanItem] = []
        held = 0
        for item in todo[n : n + size]:
            if shard and held + item.size > SHARD_BYTES:
                break
            shard.append(item)
            held += item.size
        n += len(shard)
        yield shard


def _scan_in_worker(items: list[ScanItem]) -> list[ScanResult]:
    assert _WORKER is not None  # noqa: S101 - set by the pool initializer
    return list(_WORKER.scan_many(items))


@dataclass(slots=True)
class ScanRun:
    """The outcome of a scan: every item's result, how many were resumed, and the speed."""

    results: list[ScanResult] = field(default_factory=list)
    resumed: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def hits(self) -> list[ScanResult]:
        return [r for r in self.results if r.hit]

    def totals(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for r in self.results:
            out.update(r.subjects)
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "scanned": len(self.results),
            "resumed": self.resumed,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 2),
            "mb_per_s": round(self.bytes / 1e6 / self.seconds, 2) if self.seconds else None,
            "subjects": self.totals(),
            "files": [r.to_json() for r in self.hits],
        }


def _load_state(path: Path) -> dict[str, tuple[float, int, ScanResult]]:
    done: dict[str, tuple[float, int, ScanResult]] = {}
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    raw = json.loads(line)
                    done[raw["result"]["path"]] = (
                        float(raw["mtime"]),
                        int(raw["size"]),
                        ScanResult.from_json(raw["result"]),
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by an interruption: scan that item again
    except FileNotFoundError:
        pass
    return done


def _local_results(todo: list[ScanItem], init: tuple[Any, ...], count: int) -> Iterator[ScanResult]:
    """Results of ``todo`` from ``count`` processes on this machine (in this one if 1)."""
    if count == 1 or len(todo) < 2:
        _init_worker(*init)
        assert _WORKER is not None  # noqa: S101 - just built
        yield from _WORKER.scan_many(todo)
        return
    # The scanner is built here (with it the shared default policy, 13 ms) and warmed up on
    # an item of each kind, then inherited by the forked workers, instead of each of them
    # building it (23 ms) and meeting the first file of each kind (pypdf alone is 0.1 s of
    # imports).
    _init_worker(*init)
    assert _WORKER is not None  # noqa: S101 - just built
    warm, todo = _warm_up(todo)
    for item in warm:
        yield _WORKER.scan(item)  # read here: no reader thread, which a fork would not copy
    if not todo:
        return
    shards = list(_shards(todo, count))
    pool = ProcessPoolExecutor(max_workers=count, initializer=_join_pool, initargs=init)
    try:
        # The workers are forked on the first submission: with this process's objects frozen
        # at that moment, the workers' collections never walk (and so never copy, page by
        # page) the heap they share with it: 3,500 fewer page faults for the office files of
        # the scan benchmark, and a few per cent less CPU.
        gc.freeze()
        try:
            done = pool.map(_scan_in_worker, shards)
        finally:
            gc.unfreeze()
        for results in done:
            yield from results
    finally:
        pool.shutdown(cancel_futures=True)


def run_scan(
    items: list[ScanItem],
    *,
    limits: Limits,
    registers_dir: Path | None,
    secret: bytes,
    registers: tuple[str, ...] | None = None,
    workers: int | None = None,
    state_file: Path | None = None,
    progress: Callable[[ScanResult], None] | None = None,
    scheduler: str | None = None,
    data_dir: Path | None = None,
) -> ScanRun:
    """Scan ``items`` over ``workers`` processes (or the workers of the Dask cluster at
    ``scheduler``, which open ``data_dir`` themselves), skipping those the state file has
    finished (same path, modification time and size) and appending each new result to it.

    Results are recorded as they arrive, in whatever order: a scan stopped halfway, or whose
    cluster lost a worker, resumes with what is not in the state file yet."""
    started = time.monotonic()
    run = ScanRun()
    done = _load_state(state_file) if state_file else {}
    todo: list[ScanItem] = []
    for item in items:
        prior = done.get(item.key)
        if prior is not None and prior[0] == item.mtime and prior[1] == item.size:
            run.results.append(prior[2])
            run.resumed += 1
            if progress:
                progress(prior[2])
        else:
            todo.append(item)
    by_key = {i.key: i for i in todo}
    state = state_file.open("a", encoding="utf-8") if state_file else None
    try:
        if scheduler is not None:
            from postwarden.scan.cluster import cluster_results

            if data_dir is None:
                raise ValueError("a scan on a cluster needs the data dir its workers open")
            results: Iterator[ScanResult] = cluster_results(todo, scheduler, data_dir, registers)
        else:
            init = (limits, registers_dir, secret, registers)
            results = _local_results(todo, init, max(1, workers or os.cpu_count() or 1))
        for result in results:
            item = by_key[result.key]
            run.results.append(result)
            run.bytes += item.size
            if state is not None:
                state.write(
                    json.dumps({"mtime": item.mtime, "size": item.size, "result": result.to_json()})
                    + "\n"
                )
                state.flush()
            if progress:
                progress(result)
    finally:
        if state is not None:
            state.close()
    order = {item.key: n for n, item in enumerate(items)}
    run.results.sort(key=lambda r: order[r.key])  # the items' order, however they arrived
    run.seconds = time.monotonic() - started
    return run
