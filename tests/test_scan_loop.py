"""The scan's own work around each inspection: a file's findings counted and freed with the
collector paused, the same counts as the inspector's report gives; items and results pickled
as themselves; the local workers using the scanner their parent built and warmed up."""

from __future__ import annotations

import gc
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from tests.engine.registers.people import generate
from tests.factories import make_eml, make_xlsx

from postwarden import scan
from postwarden.engine.registers import RegisterSet, import_register
from postwarden.model import Finding
from postwarden.scan import ScanItem, Scanner, ScanResult, run_scan, scan_items
from postwarden.settings import Limits, Settings, init_data_dir


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A data dir with a register ``voters`` of 60 generated people."""
    settings = init_data_dir(tmp_path / "var", ["reo.gov.hk"])
    register = tmp_path / "r.csv"
    register.write_text(generate(60, seed=8).csv_text(), encoding="utf-8")
    import_register(register, "voters", settings.registers_dir, settings.secret())
    return settings


def _share(root: Path) -> list[ScanItem]:
    people = generate(60, seed=8)
    rows = people.rows(("id", "name_en", "hkid", "phone"), slice(0, 40))
    root.mkdir()
    (root / "list.xlsx").write_bytes(make_xlsx({"s": [["id", "name", "HKID", "phone"], *rows]}))
    (root / "notes.txt").write_text(" ".join(rows[3]) + "\n", encoding="utf-8")
    (root / "mail.eml").write_bytes(
        make_eml(sender="a@reo.gov.hk", to=["b@example.org"], subject="s", body=" ".join(rows[4]))
    )
    (root / "broken.xlsx").write_bytes(b"PK\x03\x04 no workbook")
    return list(scan_items([root]))


def test_a_scan_counts_what_the_report_holds_with_the_collector_paused(
    settings: Settings, tmp_path: Path, gc_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanner = Scanner(settings.limits, RegisterSet(settings.registers_dir, settings.secret()))
    items = _share(tmp_path / "share")
    counting: list[bool] = []

    def result(item: ScanItem, findings: list[Finding], subjects: dict[str, int]) -> ScanResult:
        counting.append(gc.isenabled())
        return real(item, findings, subjects)

    real = scan._result
    monkeypatch.setattr(scan, "_result", result)
    gc.enable()
    for item in items:
        verdict = scanner.inspect(item).verdict
        assert scanner.scan(item) == real(item, verdict.findings, verdict.subjects), item.key
    assert counting == [False] * len(items)
    assert gc.isenabled()
    found = {Path(r.key).name: r for r in map(scanner.scan, items)}
    assert found["list.xlsx"].subjects == {"voters": 40}
    assert found["notes.txt"].subjects == found["mail.eml"].subjects == {"voters": 1}
    assert found["broken.xlsx"].uninspectable


def test_items_and_results_pickle_as_themselves() -> None:
    item = ScanItem("a.mbox#2", "a.mbox", 1.5, 10, message=True, mbox_key="1")
    result = ScanResult("k", 3, {"voters": 2}, {"hkid": 1}, {"a.zip/b.csv": {"voters": 2}}, ["x"])
    for thing in (item, ScanItem("k", "p", 0.0, 1), result):
        copy = pickle.loads(pickle.dumps(thing, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
        assert copy == thing
        assert type(copy) is type(thing)


def test_warm_up_takes_the_first_small_item_of_each_extension() -> None:
    sizes = {"a.txt": 9, "b.TXT": 1, "c.xlsx": scan.WARM_UP_BYTES + 1, "d.xlsx": 5, "e": 2}
    items = [ScanItem(k, f"/s/{k}", 0.0, v) for k, v in sizes.items()]
    warm, rest = scan._warm_up(items)
    assert [i.key for i in warm] == ["a.txt", "d.xlsx", "e"]
    assert [i.key for i in rest] == ["b.TXT", "c.xlsx"]
    many = [ScanItem(f"f.{n}", f"/s/f.{n}", 0.0, 1) for n in range(40)]
    warm, rest = scan._warm_up(many)
    assert warm == many[: scan.WARM_UP_ITEMS]
    assert rest == many[scan.WARM_UP_ITEMS :]


def test_shards_are_large_while_much_is_left_and_small_at_the_end() -> None:
    items = [ScanItem(f"f{n}", f"/s/f{n}", 0.0, 1000) for n in range(750)]
    shards = list(scan._shards(items, 2))
    assert [i for s in shards for i in s] == items  # every item once, in order
    sizes = [len(s) for s in shards]
    assert sizes[0] == scan.SHARD_MAX_ITEMS
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-4:] == [scan.SHARD_ITEMS] * 3 + [750 - sum(sizes[:-1])]
    assert len(shards) < 750 // scan.SHARD_ITEMS // 2  # fewer round trips than fixed shards


def test_a_shard_holds_at_most_its_bytes_unless_it_is_one_item() -> None:
    big = scan.SHARD_BYTES // 3 + 1
    items = [ScanItem(f"f{n}", f"/s/f{n}", 0.0, big) for n in range(6)]
    items.insert(2, ScanItem("huge", "/s/huge", 0.0, 2 * scan.SHARD_BYTES))
    shards = list(scan._shards(items, 2))
    assert [[i.key for i in s] for s in shards] == [
        ["f0", "f1"],
        ["huge"],
        ["f2", "f3"],
        ["f4", "f5"],
    ]


def test_workers_keep_the_scanner_their_parent_built(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _share(tmp_path / "share")
    for n in range(12):
        (tmp_path / "share" / f"n{n}.txt").write_text(f"call 9{n:03d} 4567\n", encoding="utf-8")
    items = list(scan_items([tmp_path / "share"]))
    built = tmp_path / "built"
    real = scan._init_worker

    def init_worker(*init: Any) -> None:
        with built.open("a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        real(*init)

    monkeypatch.setattr(scan, "_init_worker", init_worker)
    kw: dict[str, Any] = {
        "limits": settings.limits,
        "registers_dir": settings.registers_dir,
        "secret": settings.secret(),
    }
    two = run_scan(items, workers=2, **kw)
    assert built.read_text(encoding="utf-8").split() == [str(os.getpid())]
    one = run_scan(items, workers=1, **kw)
    assert two.results == one.results
    # A worker not forked from the process that built it (another start method) builds its own.
    scan._join_pool(Limits(), None, b"other", None)
    assert built.read_text(encoding="utf-8").split() == [str(os.getpid())] * 3
    assert scan._WORKER is not None
    assert scan._WORKER.inspector.registers is None
