"""`make bench`: run every benchmark module's ``main()`` in turn (never part of the tests).

``python -m benchmarks detect extract`` runs only the named ones.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(selected: list[str]) -> None:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]))
    names = [n for n in names if not n.startswith("_")]
    unknown = set(selected) - set(names)
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(sorted(unknown))} (have: {', '.join(names)})")
    for name in selected or names:
        bench = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        bench.main()


if __name__ == "__main__":
    main(sys.argv[1:])
