"""The compiled overlap test (``overlapped`` in ``_hsscan.c``) drops what
`detectorset._overlapped_py` drops: on generated batches (winners unsorted, sharing starts,
touching the findings' ends) and in scans of rows where phones, HKIDs and cards overlap."""

from __future__ import annotations

import random

import numpy as np
import pytest

from postwarden.engine.detect import default_detectors, detectorset
from postwarden.engine.detect.base import FindingBatch, make_finding
from postwarden.model import TextUnit

pytestmark = pytest.mark.skipif(detectorset.overlapped is None, reason="_hsscan is not built")


def _batch(rng: random.Random, detector: str, count: int, nested: bool) -> FindingBatch:
    """Findings in a few units; a winner's do not nest unless ``nested`` (spans of one
    detector never do: both ways must still agree)."""
    rows = []
    for _ in range(count):
        u, start = rng.randrange(4), rng.randrange(30)
        rows.append((u, start, start + rng.randint(0 if nested else 1, 8)))
    if not nested:
        rows.sort()
        kept: list[tuple[int, int, int]] = []
        for row in rows:  # no span inside the one before it
            if not kept or row[0] != kept[-1][0] or row[2] > kept[-1][2]:
                kept.append(row)
        rows = kept
        rng.shuffle(rows)
    return FindingBatch(
        [u for u, _, _ in rows],
        [make_finding(detector, f"u{u}", "v", start, end, 0.5) for u, start, end in rows],
    )


def test_generated_batches_are_overlapped_the_same() -> None:
    assert detectorset.overlapped is not None
    rng = random.Random(14)
    dropped = 0
    for _ in range(3000):
        batch = _batch(rng, "phone", rng.randint(0, 12), nested=True)
        # Winners with findings (a scan leaves the others out).
        winners = {w: _batch(rng, w, rng.randint(1, 12), nested=False) for w in ("a", "b")}
        pairs = [(w.units, w.findings) for w in winners.values()]
        compiled = np.frombuffer(
            detectorset.overlapped(batch.units, batch.findings, pairs), np.bool_
        )
        general = detectorset._overlapped_py(batch, winners, {})
        assert compiled.tolist() == general.tolist()
        dropped += int(general.sum())
    assert dropped > 1000


def test_a_scan_drops_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        TextUnit(text=text, where=f"x#R{n}")
        for n, text in enumerate(
            [
                "A123456(3) 9123 4567 tel 2123 4567",
                "card 4111 1111 1111 1111 and 2891 1001",
                "A1234563 91234567 B1234567",
                "dob 1990-01-02 9123-4567 a@b.hk 9876 5432",
            ]
            * 40
        )
    ]
    detectors = default_detectors()
    compiled = detectors.scan(rows)
    monkeypatch.setattr(detectorset, "overlapped", None)
    assert detectors.scan(rows) == compiled
    assert {"phone", "hkid"} <= {f.detector for f in compiled}


def test_what_is_not_a_batch_is_refused() -> None:
    assert detectorset.overlapped is not None
    finding = make_finding("d", "w", "v", 0, 1, 0.5)
    with pytest.raises(ValueError, match="a unit per finding"):
        detectorset.overlapped([0, 1], [finding], [])
    with pytest.raises(TypeError, match="pairs"):
        detectorset.overlapped([0], [finding], [([0], [finding], [])])  # type: ignore[list-item]
