"""Detectors and extractors are registered in one explicit list each, and the lists are
the modules present: a new detector or extractor module left out of its list fails here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import Protocol

from postwarden.engine.detect import BUILT_IN, Detector, registry
from postwarden.engine.extract import REGISTRY, Kind
from postwarden.engine.extract.registry import loaded

# Modules of the packages that hold no detector or extractor: the machinery.
DETECT_SUPPORT = {
    "base",
    "detectorset",
    "matchbytes",
    "patterncache",
    "registry",
    "scanner",
}
EXTRACT_SUPPORT = {
    "budget",
    "datauri",
    "grids",
    "heading",
    "ocr",
    "pdf_hidden",
    "pdf_plain",
    "registry",
    "skew",
    "sniff",
    "transfer",
    "walker",
    "zipdir",
}


def _modules(package: str) -> dict[str, ModuleType]:
    path = importlib.import_module(package).__path__
    return {
        info.name: importlib.import_module(f"{package}.{info.name}")
        for info in pkgutil.iter_modules(path)
    }


def _defined(module: ModuleType) -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__
    ]


def detector_classes() -> dict[str, set[type[Detector]]]:
    """The concrete detector classes (those with an ``id``) of each detect module."""
    return {
        name: {
            cls
            for cls in _defined(module)
            if issubclass(cls, Detector) and isinstance(vars(cls).get("id"), str)
        }
        for name, module in _modules("postwarden.engine.detect").items()
    }


def extractor_classes() -> dict[str, set[type]]:
    """The classes with an ``extract`` method (the protocol and the registry's private
    deferred-import wrapper aside), by extract module."""
    return {
        name: {
            cls
            for cls in _defined(module)
            if callable(getattr(cls, "extract", None))
            and Protocol not in cls.__mro__
            and not cls.__name__.startswith("_")
        }
        for name, module in _modules("postwarden.engine.extract").items()
    }


def test_every_detector_module_is_in_the_built_in_list() -> None:
    found = detector_classes()
    classes = set().union(*found.values())
    assert classes == set(BUILT_IN)
    assert {name for name, c in found.items() if not c} == DETECT_SUPPORT
    assert registry.ids[: len(BUILT_IN)] == tuple(cls.id for cls in BUILT_IN)


def test_a_detector_module_missing_from_the_list_is_found() -> None:
    # What the test above relies on: a detector class defined in a module is seen.
    found = detector_classes()
    assert {cls.id for cls in found["hkid"]} == {"hkid"}


def test_every_extractor_module_is_in_the_registry() -> None:
    found = extractor_classes()
    registered = {type(loaded(extractor)) for extractor in REGISTRY.values()}
    assert set().union(*found.values()) == registered
    assert {name for name, c in found.items() if not c} == EXTRACT_SUPPORT


def test_every_kind_has_an_extractor() -> None:
    assert set(REGISTRY) == set(Kind)
