"""Every kind has an extractor, named in the registry and imported when first needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from postwarden.engine.extract import REGISTRY, Kind
from postwarden.engine.extract.registry import _Deferred

SRC = Path(__file__).resolve().parents[3] / "src"


def test_every_kind_names_an_extractor_that_loads() -> None:
    assert set(REGISTRY) == set(Kind)
    for kind, entry in REGISTRY.items():
        assert isinstance(entry, _Deferred), kind
        loaded = entry.load()
        assert type(loaded).__name__ == entry.target.partition(":")[2]
        assert entry.load() is loaded  # one instance per class


def test_importing_the_engine_loads_no_extractor_library() -> None:
    code = (
        "import sys, postwarden.engine\n"
        "print(sorted(m for m in ('pypdf', 'pypdfium2', 'PIL', 'python_calamine', 'oletools',"
        " 'tnefparse', 'extract_msg', 'defusedxml') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == "[]"
