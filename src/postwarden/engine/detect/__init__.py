"""Pattern detectors: one hyperscan pass over the text units, then validation per match."""

from __future__ import annotations

from pathlib import Path

from postwarden.engine.detect.base import (
    Candidate,
    Context,
    Detector,
    Hit,
    Pattern,
    PatternDetector,
)
from postwarden.engine.detect.detectorset import DetectorSet
from postwarden.engine.detect.registry import (
    BUILT_IN,
    DetectorRegistry,
    DuplicateDetectorError,
    registry,
)

__all__ = [
    "BUILT_IN",
    "Candidate",
    "Context",
    "Detector",
    "DetectorRegistry",
    "DetectorSet",
    "DuplicateDetectorError",
    "Hit",
    "Pattern",
    "PatternDetector",
    "default_detectors",
    "registry",
]


def default_detectors(cache_dir: Path | None = None) -> DetectorSet:
    """The process-wide `DetectorSet` of built-in and plug-in detectors (compiled once, or
    loaded from ``cache_dir`` (default: the user's cache dir) where compiled before)."""
    return registry.detector_set(cache_dir)
