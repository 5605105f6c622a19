"""A workbook extracted in a child process, with how far the child's peak RSS grew: calamine's
and our compiled readers' allocations are not Python's (tracemalloc does not see them), and a
grid bomb that makes calamine abort its process must fail one test, not end the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Makes the workbook `MODULE.book(argv[2])` gives and extracts it with `MODULE.extracted`;
# prints the places read, the reason it was refused, and the peak RSS growth in MiB.
_CHILD = r"""
import importlib, resource, sys
module = importlib.import_module(sys.argv[1])
data, name = module.book(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
places, reason = module.extracted(data, name)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(repr((places, reason, grown)))
"""


def extracted_in_child(module: str, spec: str) -> tuple[list[str], str | None, float]:
    """``(places, refusal reason, MiB grown)`` of test module ``module``'s ``book(spec)``."""
    root = Path(__file__).parents[3]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), *sys.path]))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, module, spec],
        capture_output=True,
        env=env,
        cwd=root,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    places, reason, grown = eval(done.stdout.decode())  # noqa: S307 -- our child's repr
    return places, reason, grown
