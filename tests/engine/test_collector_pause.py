"""The cyclic garbage collector is paused while the Inspector inspects."""

from __future__ import annotations

import gc
from collections.abc import Sequence

import pytest

import postwarden.engine as engine
from postwarden.engine import Inspector
from postwarden.engine.detect import DetectorSet
from postwarden.model import Finding, TextUnit

RAW = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


class _Probe(DetectorSet):
    """No detectors; records whether the collector ran during each scan."""

    def __init__(self) -> None:
        super().__init__(())
        self.seen: list[bool] = []

    def scan(self, units: Sequence[TextUnit]) -> list[Finding]:
        self.seen.append(gc.isenabled())
        return []


@pytest.mark.parametrize("enabled_before", [True, False])
def test_inspect_pauses_the_collector_and_restores_it(gc_state: None, enabled_before: bool) -> None:
    if enabled_before:
        gc.enable()
    else:
        gc.disable()
    probe = _Probe()
    Inspector(detectors=probe).inspect(RAW)
    assert probe.seen == [False]
    assert gc.isenabled() is enabled_before


def test_collector_pause_overlapping_keeps_it_off_until_the_last_ends(gc_state: None) -> None:
    gc.enable()
    with engine.collector_paused():
        with engine.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_pause_collects_when_overlapping_pauses_last_too_long(
    gc_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    collected: list[int] = []

    def collect(generation: int = 2) -> int:
        collected.append(generation)
        return 0

    monkeypatch.setattr(gc, "collect", collect)
    monkeypatch.setattr(engine, "_PAUSE_LIMIT", -1.0)
    gc.enable()
    with engine.collector_paused():
        with engine.collector_paused():
            pass
        assert collected == [2]
    assert collected == [2]
    assert gc.isenabled()
