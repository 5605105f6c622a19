"""The detector registry: one place, unique ids, plug-ins register like built-ins."""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar

import pytest

from postwarden.engine.detect import (
    DetectorRegistry,
    DetectorSet,
    DuplicateDetectorError,
    Pattern,
    PatternDetector,
    default_detectors,
    registry,
)
from postwarden.model import TextUnit

# The package exports the registry instance under the submodule's name.
registry_module = importlib.import_module("postwarden.engine.detect.registry")

BUILT_INS = (
    "hkid",
    "phone",
    "email",
    "name_zh",
    "name_en",
    "address_en",
    "address_zh",
    "dob",
    "card",
)


class StaffIdDetector(PatternDetector):
    id = "staff_id"
    patterns: ClassVar[tuple[Pattern, ...]] = (Pattern("staff", r"\bST-\d{5}\b", 0.6),)
    context = ("staff",)


def test_registry_has_every_built_in() -> None:
    assert set(BUILT_INS) <= set(registry.ids)
    assert set(BUILT_INS) <= set(default_detectors().ids)


def test_registry_refuses_a_duplicate_id() -> None:
    class FakeHkid(StaffIdDetector):
        id = "hkid"

    before = registry.ids
    with pytest.raises(DuplicateDetectorError, match="hkid"):
        registry.register(FakeHkid)
    assert registry.ids == before


def test_detectorset_refuses_a_duplicate_id() -> None:
    with pytest.raises(ValueError, match="staff_id"):
        DetectorSet([StaffIdDetector(), StaffIdDetector()])


def test_registry_plugin_registers_like_a_built_in() -> None:
    local = DetectorRegistry()
    local.register(StaffIdDetector)
    findings = local.build().scan([TextUnit("staff no. ST-12345, ref ST-1234", "body")])
    assert [(f.detector, f.value, f.confidence) for f in findings] == [
        ("staff_id", "ST-12345", 0.95)
    ]


def test_registry_loads_entry_point_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw_plugin_badge.py").write_text(
        "from typing import ClassVar\n"
        "from postwarden.engine.detect import Pattern, PatternDetector, registry\n"
        "@registry.register\n"
        "class BadgeDetector(PatternDetector):\n"
        "    id = 'badge_test'\n"
        "    patterns: ClassVar[tuple[Pattern, ...]] = (Pattern('badge', r'\\bBDG\\d{4}\\b'),)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    local = DetectorRegistry()
    # The plug-in imports ``registry`` from the package, as a real plug-in would.
    monkeypatch.setattr("postwarden.engine.detect.registry", local)
    entry = EntryPoint("badge", "pw_plugin_badge", registry_module.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [entry])
    try:
        detectors = local.detector_set()
        assert detectors.ids == ("badge_test",)
        assert [f.value for f in detectors.scan([TextUnit("badge BDG0042", "b")])] == ["BDG0042"]
        assert local.detector_set() is detectors  # built once
    finally:
        sys.modules.pop("pw_plugin_badge", None)


def test_registry_build_rejects_unknown_ids() -> None:
    with pytest.raises(KeyError, match="nope"):
        registry.build(("hkid", "nope"))
