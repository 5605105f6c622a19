"""The discovery scan on a Dask cluster: the same items and results, over many machines.

The client lists the items, cuts the list into shards and hands them to the cluster's
workers; each worker process opens the installation's data dir itself (its settings, its
secret and the memory-mapped register index: a shared or copied data dir on every worker
host) and builds one :class:`~postwarden.scan.Scanner`, reused for every shard it is given.
Nothing but item paths goes out and nothing but counts comes back: no clear register data
and no secret ever crosses the cluster's connections.  A worker that dies loses only its
unfinished shards, which the scheduler gives to another worker (Dask retries them).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from postwarden.engine.registers import RegisterSet
from postwarden.scan import ScanItem, Scanner, ScanResult
from postwarden.settings import load_settings

SHARD_ITEMS = 16
"""Items per task: enough to amortise a task's round trip, few enough to spread the load."""

_SCANNERS: dict[tuple[str, tuple[str, ...] | None], Scanner] = {}
_LOCK = threading.Lock()


def _scanner(data_dir: str, registers: tuple[str, ...] | None) -> Scanner:
    """This worker process's scanner for ``data_dir``, built on first use."""
    key = (data_dir, registers)
    with _LOCK:
        scanner = _SCANNERS.get(key)
        if scanner is None:
            settings = load_settings(Path(data_dir))
            index = RegisterSet(settings.registers_dir, settings.secret(), registers)
            scanner = _SCANNERS[key] = Scanner(settings.limits, index)
        return scanner


def scan_shard(
    items: list[ScanItem], data_dir: str, registers: tuple[str, ...] | None
) -> list[ScanResult]:
    """Run on a worker: scan each item of one shard."""
    scanner = _scanner(data_dir, registers)
    return list(scanner.scan_many(items))


def cluster_results(
    todo: list[ScanItem],
    scheduler: str,
    data_dir: Path,
    registers: tuple[str, ...] | None,
    *,
    shard_items: int = SHARD_ITEMS,
    retries: int = 3,
) -> Iterator[ScanResult]:
    """Results of ``todo`` from the workers of the Dask scheduler at ``scheduler``
    (``tcp://HOST:PORT``), as each shard finishes."""
    from distributed import Client, as_completed

    shards = [todo[n : n + shard_items] for n in range(0, len(todo), shard_items)]
    with Client(scheduler, timeout=60, set_as_default=False) as client:
        futures = client.map(
            scan_shard,
            shards,
            data_dir=str(data_dir.resolve()),
            registers=registers,
            pure=False,
            retries=retries,
        )
        for future in as_completed(futures, loop=client.loop):
            yield from future.result()
