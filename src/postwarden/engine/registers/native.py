"""The compiled helpers of register matching, or ``None`` each where not built.

They live in the package's one extension module, built with the compiled scan in
``engine/detect/_hsscan.c``; each has a numpy version here giving the same results (tests
compare), used when the extension could not be built (no libhs headers at install) or was
built before it had the helper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

try:
    from postwarden.engine.detect import _hsscan
except ImportError:
    _hsscan = None  # type: ignore[assignment]

# Arrays as arguments: numpy's stubs do not declare the buffer protocol mypy knows.
find_runs: Callable[..., None] | None = getattr(_hsscan, "find_runs", None)
"""``find_runs(hashes, fence, step, wanted, lo, count)``: see ``index.RegisterIndex.find``."""
screen_cells: Callable[[Sequence[str]], bytes] | None = getattr(_hsscan, "screen_cells", None)
"""``screen_cells(cells)``: see ``match._screen``."""
keyed_hashes: Callable[[bytes, bytes, Sequence[str]], bytes] | None = getattr(
    _hsscan, "keyed_hashes", None
)
"""``keyed_hashes(key, fields, values)``: see ``digest.Digester``."""
