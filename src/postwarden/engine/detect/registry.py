"""The one detector registry: built-ins and plug-ins register here, by unique id.

:data:`BUILT_IN` is the one list of the built-in detectors: a detector class under
``engine/detect/`` that is not in it fails ``tests/engine/test_plugins.py``.
Plug-ins register through ``postwarden.detectors`` entry points (docs/detectors.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TypeVar

from postwarden.engine.detect.address_en import AddressEnDetector
from postwarden.engine.detect.address_zh import AddressZhDetector
from postwarden.engine.detect.base import Detector
from postwarden.engine.detect.card import CardDetector
from postwarden.engine.detect.detectorset import DetectorSet
from postwarden.engine.detect.dob import DobDetector
from postwarden.engine.detect.email import EmailDetector
from postwarden.engine.detect.hkid import HkidDetector
from postwarden.engine.detect.name_en import NameEnDetector
from postwarden.engine.detect.name_zh import NameZhDetector
from postwarden.engine.detect.patterncache import user_cache_dir
from postwarden.engine.detect.phone import PhoneDetector
from postwarden.errors import Conflict

__all__ = [
    "BUILT_IN",
    "ENTRY_POINT_GROUP",
    "DetectorRegistry",
    "DuplicateDetectorError",
    "registry",
]

ENTRY_POINT_GROUP = "postwarden.detectors"

D = TypeVar("D", bound=type[Detector])

BUILT_IN: tuple[type[Detector], ...] = (
    AddressEnDetector,
    AddressZhDetector,
    CardDetector,
    DobDetector,
    EmailDetector,
    HkidDetector,
    NameEnDetector,
    NameZhDetector,
    PhoneDetector,
)
"""The built-in detectors, in the order they are registered (and compiled and scanned)."""


class DuplicateDetectorError(Conflict, ValueError):
    """A detector id is already registered."""


class DetectorRegistry:
    """Detector classes by id; builds the `DetectorSet` the engine scans with."""

    def __init__(self, classes: Iterable[type[Detector]] = ()) -> None:
        self._classes: dict[str, type[Detector]] = {}
        self._built: DetectorSet | None = None
        self._plugins_loaded = False
        for cls in classes:
            self.register(cls)

    def register(self, cls: D) -> D:
        """Add a detector class (usable as a class decorator); refuses a taken id."""
        detector_id = getattr(cls, "id", "")
        if not isinstance(detector_id, str) or not detector_id:
            raise ValueError(f"{cls.__name__} has no detector id")
        if detector_id in self._classes:
            raise DuplicateDetectorError(
                f"detector id {detector_id!r} is already registered by "
                f"{self._classes[detector_id].__qualname__}"
            )
        self._classes[detector_id] = cls
        self._built = None
        return cls

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def build(
        self, ids: tuple[str, ...] | None = None, *, cache_dir: Path | None = None
    ) -> DetectorSet:
        """A new `DetectorSet` of the registered detectors (or only ``ids``, in that order);
        ``cache_dir`` keeps its compiled database between processes."""
        chosen = self.ids if ids is None else ids
        unknown = [i for i in chosen if i not in self._classes]
        if unknown:
            raise KeyError(f"unknown detector id(s): {', '.join(unknown)}")
        return DetectorSet([self._classes[i]() for i in chosen], cache_dir=cache_dir)

    def load_plugins(self) -> None:
        """Import the modules named by ``postwarden.detectors`` entry points, once.

        Importing a plug-in module registers its detectors (its ``@registry.register``
        decorators run).
        """
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            entry_point.load()

    def detector_set(self, cache_dir: Path | None = None) -> DetectorSet:
        """The shared `DetectorSet` of every registered detector, built on first use (its
        compiled database kept in ``cache_dir``, default the user's cache dir)."""
        self.load_plugins()
        if self._built is None:
            self._built = self.build(cache_dir=cache_dir or user_cache_dir())
        return self._built


registry = DetectorRegistry(BUILT_IN)
