"""The scan's read-ahead batches: a few items per hand-off to the reader thread (fewer at
first), and never more than a bounded number of bytes held (but for one large item)."""

from __future__ import annotations

from postwarden.scan import READ_AHEAD, READ_AHEAD_BYTES, ScanItem, _batches


def _items(*sizes: int) -> list[ScanItem]:
    return [ScanItem(f"f{n}", f"f{n}", 0.0, size) for n, size in enumerate(sizes)]


def test_small_items_go_in_growing_batches_up_to_read_ahead() -> None:
    assert READ_AHEAD == 8
    items = _items(*[10] * 30)
    batches = list(_batches(items))
    assert [len(b) for b in batches] == [1, 2, 4, 8, 8, 7]
    assert [i for b in batches for i in b] == items


def test_large_items_end_a_batch_early_and_one_too_large_goes_alone() -> None:
    half = READ_AHEAD_BYTES // 2
    items = _items(1, half, half, 1, 3 * READ_AHEAD_BYTES, 1)
    assert [[i.key for i in b] for b in _batches(items)] == [
        ["f0"],
        ["f1", "f2"],
        ["f3"],
        ["f4"],
        ["f5"],
    ]
    assert list(_batches([])) == []
