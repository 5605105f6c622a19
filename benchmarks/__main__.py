"""`make bench`: run every benchmark module's ``main()`` in turn (never part of the tests)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path


def main() -> None:
    for module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        bench = importlib.import_module(f"benchmarks.{module.name}")
        print(f"== {module.name}")
        bench.main()


if __name__ == "__main__":
    main()
