"""The compiled order of a scan's findings (``by_unit`` in ``_hsscan.c``) is the list sort's
(`detectorset._by_unit_py`): on real and generated batches, unsorted ones included."""

from __future__ import annotations

import random

import pytest

from postwarden.engine.detect import default_detectors, detectorset
from postwarden.engine.detect.base import FindingBatch, make_finding
from postwarden.model import Finding, TextUnit

pytestmark = pytest.mark.skipif(detectorset.by_unit is None, reason="_hsscan is not built")


def _batches(rng: random.Random, count: int) -> list[FindingBatch]:
    found = []
    for b in range(rng.randint(0, 9)):
        units = [rng.randrange(count) for _ in range(rng.choice((0, 1, 5, 50)))]
        if rng.random() < 0.7:
            units.sort()  # a detector's batch is mostly in unit order, not always
        findings = [make_finding(f"d{b}", f"u{u}", "v", i, i + 1, 0.5) for i, u in enumerate(units)]
        found.append(FindingBatch(units, findings))
    return found


def test_generated_batches_are_ordered_the_same() -> None:
    rng = random.Random(14)
    for _ in range(2000):
        count = rng.randint(1, 40)
        found = _batches(rng, count)
        ordered = detectorset._by_unit(found, count)
        assert ordered == detectorset._by_unit_py(found)
        # The very objects, not equal copies.
        assert list(map(id, ordered)) == list(map(id, detectorset._by_unit_py(found)))


def test_a_scan_orders_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        TextUnit(
            text=f"V-{n} | CHAN Tai Man | A123456(3) | 9123 4567 | 1 Queen's Road, Central, HK",
            where=f"x#R{n}",
        )
        for n in range(300)
    ]
    detectors = default_detectors()
    compiled = detectors.scan(rows)
    assert len({f.detector for f in compiled}) >= 3
    monkeypatch.setattr(detectorset, "by_unit", None)
    assert detectors.scan(rows) == compiled


@pytest.mark.parametrize(
    ("units", "count"),
    [
        ([[0, 1]], 1),  # a unit past the count
        ([[-1, 0]], 2),
        ([[0, 2**70]], 2),
        ([[0, True]], 2),  # not an int itself
        ([(0, 1)], 2),  # not a list
        ([[0]], 2),  # a unit short
    ],
)
def test_what_it_cannot_order_is_left_to_the_list_sort(units: list[list[int]], count: int) -> None:
    assert detectorset.by_unit is not None
    findings: list[list[Finding]] = [[make_finding("d", "w", "v", 0, 1, 0.5)] * 2]
    assert detectorset.by_unit(units, findings, count) is None
