"""A scan on local worker processes: the same results as in this process, and this
process's objects frozen only while the workers are forked."""

from __future__ import annotations

import gc
from pathlib import Path

from postwarden.scan import run_scan, scan_items
from postwarden.settings import Limits


def test_workers_find_what_one_process_finds_and_nothing_stays_frozen(tmp_path: Path) -> None:
    for n in range(12):
        (tmp_path / f"f{n}.txt").write_text(f"call 9{n:03d} 4567 or write to a{n}@example.org\n")
    items = list(scan_items([tmp_path]))
    frozen = gc.get_freeze_count()
    scans = [
        run_scan(items, limits=Limits(), registers_dir=None, secret=b"k", workers=w) for w in (1, 2)
    ]
    assert scans[0].results == scans[1].results
    assert any(r.findings for r in scans[0].results)
    assert gc.get_freeze_count() == frozen
