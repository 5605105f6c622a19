"""The compiled helpers of register matching, or ``None`` each where not built.

They live in the package's one extension module, built with the compiled scan in
``engine/compiled/_hsscan.c``; each has a numpy version here giving the same results (tests
compare), used when the extension could not be built (no libhs headers at install) or was
built before it had the helper.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from postwarden.model import Finding

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:
    _hsscan = None  # type: ignore[assignment]

# Arrays as arguments: numpy's stubs do not declare the buffer protocol mypy knows.
find_runs: Callable[..., None] | None = getattr(_hsscan, "find_runs", None)
"""``find_runs(hashes, fence, step, wanted, lo, count)``: see ``index.RegisterIndex.find``."""
bucket_runs: Callable[..., None] | None = getattr(_hsscan, "bucket_runs", None)
"""``bucket_runs(hashes, table, bits, wanted, lo, count)``: see
``index.RegisterIndex._bucket_table``."""
bucket_table: Callable[..., bytes] | None = getattr(_hsscan, "bucket_table", None)
"""``bucket_table(hashes, bits)``: see ``index.RegisterIndex._bucket_table``."""
screen_cells: Callable[[Sequence[str]], bytes] | None = getattr(_hsscan, "screen_cells", None)
"""``screen_cells(cells)``: see ``match._screen``."""
keyed_hashes: Callable[[bytes, bytes, Sequence[str]], bytes] | None = getattr(
    _hsscan, "keyed_hashes", None
)
"""``keyed_hashes(key, fields, values)``: see ``digest.Digester``."""
key_hashes: Callable[[bytes, Sequence[str]], tuple[bytes, bytes]] | None = getattr(
    _hsscan, "key_hashes", None
)
"""``key_hashes(key, texts)``: see ``digest.Digester.keys``."""
unique_keys: Callable[..., tuple[list[str], bytes, bytes]] | None = getattr(
    _hsscan, "unique_keys", None
)
"""``unique_keys(cells, at)``: see ``match._unique_keys``."""
span_units: Callable[[Sequence[object], Sequence[object], object], bytes] | None = getattr(
    _hsscan, "span_units", None
)
"""``span_units(units, findings, detectors)``: see ``match._spans``."""
row_cells: Callable[..., tuple[list[str], bytes, bytes, bytes]] | None = getattr(
    _hsscan, "row_cells", None
)
"""``row_cells(units, rows)``: see ``match._row_cells``."""
number_keys: Callable[[dict[str, int], Sequence[str], int], bytes] | None = getattr(
    _hsscan, "number_keys", None
)
"""``number_keys(keys, texts, start)``: see ``match.Collector._key_array``."""
other_keys: Callable[[Sequence[str]], tuple[list[str], bytes, bytes]] | None = getattr(
    _hsscan, "other_keys", None
)
"""``other_keys(texts)``: see ``match._other_keys``."""
other_codes: Callable[..., bytes | tuple[list[str], bytes, bytes]] | None = getattr(
    _hsscan, "other_codes", None
)
"""``other_codes(keys, texts, start)``: see ``match.Collector._other_codes``."""
unique_codes: Callable[..., bytes | tuple[list[str], bytes, bytes]] | None = getattr(
    _hsscan, "unique_codes", None
)
"""``unique_codes(keys, cells, at, start)``: see ``match.Collector._unique_codes_at``."""
segmented: Callable[[str], bool] | None = getattr(_hsscan, "segmented", None)
"""``segmented(line)``: see ``match._segmented``."""
presence: Callable[..., tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes]] | None = getattr(
    _hsscan, "presence", None
)
"""``presence(g, k, f, lo, n, c, strong, records, fact_of, expand_max, pivot_max)``: see
``match._present_pairs``."""
useful_entries: (
    Callable[..., tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes] | None] | None
) = getattr(_hsscan, "useful_entries", None)
"""``useful_entries(keys, groups, columns, sure, fields, lo_of, n_of, unique, unique_max,
phone)``: see ``match._useful_entries``."""
table_entries: Callable[..., tuple[bytes, bytes, bytes, bytes] | None] | None = getattr(
    _hsscan, "table_entries", None
)
"""``table_entries(parts, keys, groups, sure, key_bits, n_groups)``: see
``match._table_entries``."""
present_records: Callable[..., tuple[bytes, bytes, bytes, bytes, bytes]] | None = getattr(
    _hsscan, "present_records", None
)
"""``present_records(gr, masks, ident)``: see ``match._present_records``."""
cell_layout: Callable[..., tuple[bytes, bytes]] | None = getattr(_hsscan, "cell_layout", None)
"""``cell_layout(lengths, tables, groups, column_bits)``: see ``match._cell_layout``."""
unique_cells: Callable[[Sequence[str], int], tuple[bytes, bytes]] | None = getattr(
    _hsscan, "unique_cells", None
)
"""``unique_cells(cells, unique_chars)``: see ``match._unique_cells``."""
bare_phones: Callable[..., tuple[bytes, int, int]] | None = getattr(_hsscan, "bare_phones", None)
"""``bare_phones(keys, columns, sure, fields, n_of, phone, unique_max)``: see
``match._sure_of_keys``."""
owned_runs: Callable[..., tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes] | None] | None = (
    getattr(_hsscan, "owned_runs", None)
)
"""``owned_runs(g, k, f, lo, n, c, strong, records, expand_max)``: see
``match._present_pairs``."""
present_chain: Callable[..., tuple[bytes, ...] | None] | None = getattr(
    _hsscan, "present_chain", None
)
"""``present_chain(keys, groups, columns, sure, fields, lo_of, n_of, unique, unique_max, phone,
records, fact_of, expand_max, pivot_max)``: see ``match._present_chain``."""
untracked: Callable[[Finding], Finding] | None = getattr(_hsscan, "untracked", None)
"""``untracked(finding)``: the finding, left out of the garbage collector's walks when all it
holds is str and numbers (a register's findings: see ``match.match``)."""


def _finding(detector: str, where: str, detail: str) -> Finding:
    return Finding(detector=detector, where=where, detail=detail)


def _finding_maker(*, untrack: bool = False) -> Callable[[str, str, str], Finding] | None:
    """``Finding(detector=..., where=..., detail=...)``, built by the compiled slot maker
    (0.1 us, where the frozen dataclass's own ``__init__`` takes 1 us: a 15,070-row leak
    has as many register findings) when ``Finding`` is a plain slotted dataclass whose
    other fields all have defaults (with ``untrack``, each left out of the garbage
    collector's walks as :data:`untracked` leaves it); else ``None``."""
    given = ("detector", "where", "detail")
    rest = [f for f in dataclasses.fields(Finding) if f.name not in given]
    maker = getattr(_hsscan, "slot_maker", None)
    plain = len(rest) + len(given) == len(dataclasses.fields(Finding)) and not hasattr(
        Finding, "__post_init__"
    )
    if maker is None or not plain or any(f.default is dataclasses.MISSING for f in rest):
        return None
    made: Callable[[str, str, str], Finding] = maker(
        Finding, given + tuple(f.name for f in rest), tuple(f.default for f in rest), untrack
    )
    return made


make_register_finding = _finding_maker() or _finding
"""``make_register_finding(detector, where, detail)``: a register's finding."""
make_untracked_register_finding = _finding_maker(untrack=True)
"""``make_register_finding``, each finding made untracked as by :data:`untracked` (a sheet's
200 findings 10 us sooner than a pass of ``untracked`` over them); ``None`` where not
built."""
