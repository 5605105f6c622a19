from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from zipfile import ZipInfo

from typing_extensions import Buffer

_T = TypeVar("_T")

HS_VERSION: str

class Database:
    def __init__(self, expressions: Sequence[bytes], flags: Sequence[int]) -> None: ...
    def scan(self, blob: Buffer, chars: bool = False) -> bytes: ...
    def set_start_recovery(
        self, windows: Sequence[Database | None], ids: bytes, limits: bytes, widths: bytes = b""
    ) -> None: ...
    def serialize(self) -> bytes: ...
    @classmethod
    def deserialize(cls, blob: bytes) -> Database: ...
    def scan_texts(self, texts: Sequence[str], separator: bytes) -> tuple[bytes, int]: ...

def join_utf8(texts: Sequence[str], separator: bytes) -> bytes: ...
def slot_maker(
    cls: type, names: tuple[str, ...], defaults: tuple[object, ...], untrack: bool = False
) -> Callable[..., Any]: ...
def spans_holding(
    units: Sequence[Any], unit_of: Buffer, starts: Buffer, ends: Buffer, chars: str
) -> bytes: ...
def find_runs(
    hashes: Buffer, fence: Buffer, step: int, wanted: Buffer, lo: Buffer, count: Buffer
) -> None: ...
def bucket_runs(
    hashes: Buffer, table: Buffer, bits: int, wanted: Buffer, lo: Buffer, count: Buffer
) -> None: ...
def bucket_table(hashes: Buffer, bits: int) -> bytes: ...
def screen_cells(cells: Sequence[str]) -> bytes: ...
def keyed_hashes(key: Buffer, fields: Buffer, values: Sequence[str]) -> bytes: ...
def hash_lanes(name: str | None) -> str: ...
def unique_keys(cells: Sequence[str], at: Buffer) -> tuple[list[str], bytes, bytes]: ...
def span_units(units: Sequence[Any], findings: Sequence[Any], detectors: object) -> bytes: ...
def row_cells(units: Sequence[Any], rows: Buffer) -> tuple[list[str], bytes, bytes, bytes]: ...
def untracked(obj: _T) -> _T: ...
def number_keys(keys: dict[str, int], texts: Sequence[str], start: int) -> bytes: ...
def judge_hits(
    detector: int,
    units: Sequence[Any],
    unit_of: Buffer,
    starts: Buffer,
    ends: Buffer,
    patterns: Buffer,
) -> bytes: ...
def other_keys(texts: Sequence[str]) -> tuple[list[str], bytes, bytes]: ...
def cell_bounds(rows: Sequence[Any]) -> tuple[bytes, bytes]: ...
def make_findings(
    maker: Callable[..., _T],
    detector: str,
    units: Sequence[Any],
    unit_of: Buffer,
    starts: Buffer,
    ends: Buffer,
    scores: Buffer,
) -> list[_T]: ...
def name_cells(
    units: Sequence[Any],
    rows: Buffer,
    singles: str,
    doubles: tuple[str, ...],
    shortest: int,
    longest: int,
) -> tuple[list[str], bytes, bytes]: ...
def segmented(line: str) -> bool: ...
def presence(
    g: Buffer,
    k: Buffer,
    f: Buffer,
    lo: Buffer,
    n: Buffer,
    c: Buffer,
    strong: Buffer,
    records: Buffer,
    fact_of: Buffer,
    expand_max: int,
    pivot_max: int,
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes]: ...
def shared_strings(xml: Buffer) -> list[str] | None: ...
def sheet_rows(
    xml: bytes, strings: list[str] | None, styles: bytes
) -> list[list[str | float | bool]] | None: ...
def finding_spans(units: list[int], findings: list[Any]) -> bytes: ...
def sheet_texts(xml: Buffer) -> list[tuple[int, str]] | None: ...
def key_hashes(key: Buffer, texts: Sequence[str]) -> tuple[bytes, bytes]: ...
def useful_entries(
    keys: Buffer,
    groups: Buffer,
    columns: Buffer,
    sure: Buffer,
    fields: Buffer,
    lo_of: Buffer,
    n_of: Buffer,
    unique: Buffer,
    unique_max: int,
    phone: int,
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes] | None: ...
def settled_findings(
    maker: Callable[..., _T],
    detector: str,
    units: Sequence[Any],
    unit_of: Buffer,
    starts: Buffer,
    ends: Buffer,
    numbers: Buffer,
    verdicts: Buffer,
    headed: Buffer,
    scores: Buffer,
    requires_context: bool,
    bounded: bool,
) -> tuple[list[int], list[_T]] | None: ...
def by_unit(units: list[list[int]], findings: list[list[_T]], count: int) -> list[_T] | None: ...
def finding_counts(
    findings: list[Any], prefix: str
) -> tuple[dict[str, int], dict[tuple[str, str], int]]: ...
def overlapped(
    units: list[int], findings: list[Any], winners: list[tuple[list[int], list[Any]]]
) -> bytes: ...
def row_units(
    rows: list[list[str | float | bool]], start: int, stop: int, prefix: str
) -> tuple[list[str], list[str], list[tuple[str, ...]]]: ...
def pdf_value(
    data: bytes,
    pos: int,
    ref: Callable[[int], object],
    other: object,
    check_time: Callable[[], object],
    every: int,
    opened: int,
) -> tuple[Any, int, int] | None: ...
def plain_relationships(xml: bytes) -> list[dict[str, str]] | None: ...
def pdf_offsets(
    data: bytes, first: int, count: int, check_time: Callable[[], object], every: int
) -> dict[int, int] | None: ...
def sheet_grid(xml: Buffer) -> int: ...
def sheet_cells(
    xml: bytes, strings: list[str] | None, styles: bytes, max_cells: int
) -> tuple[int, list[list[str | float | bool]]] | None: ...
def xls_grid(
    stream: bytes, at: int, check_time: Callable[[], object], every: int
) -> tuple[int, int]: ...
def plain_texts(xml: bytes) -> list[str] | None: ...
def plain_prolog(chunk: bytes) -> bool: ...
def zip_entries(
    data: bytes, offset: int, size: int, make: Callable[..., _T]
) -> list[_T] | None: ...
def plain_story(
    xml: bytes, tags: dict[bytes, int], check_time: Callable[[], object], every: int
) -> tuple[list[str], list[dict[tuple[str, str], str]]] | None: ...
def table_entries(
    parts: list[tuple[Buffer, Buffer, Buffer, Buffer]],
    keys: Buffer,
    groups: Buffer,
    sure: Buffer,
    key_bits: int,
    n_groups: int,
) -> tuple[bytes, bytes, bytes, bytes] | None: ...
def hit_layout(
    texts: list[str], raw: Buffer, separator: int, owner: Buffer, owners: int
) -> tuple[bytes, bytes, bytes, bytes, bytes, list[int]] | None: ...

# Detection fast paths, seventh round.
def unit_fields(units: Sequence[Any]) -> tuple[list[str], list[int], int]: ...
def settle_hits(
    detector: int,
    maker: Callable[..., _T],
    name: str,
    units: Sequence[Any],
    unit_of: Buffer,
    starts: Buffer,
    ends: Buffer,
    kinds: Buffer,
    numbers: Buffer,
    headed: Buffer,
    scores: Buffer,
    requires_context: bool,
    bounded: bool,
) -> tuple[list[int], list[_T]] | bytes: ...
def present_records(
    gr: Buffer, masks: Buffer, ident: Buffer
) -> tuple[bytes, bytes, bytes, bytes, bytes]: ...
def cell_layout(
    lengths: Buffer, tables: Buffer, groups: Buffer, column_bits: int
) -> tuple[bytes, bytes]: ...
def unique_cells(cells: Sequence[str], unique_chars: int) -> tuple[bytes, bytes]: ...
def bare_phones(
    keys: Buffer,
    columns: Buffer,
    sure: Buffer,
    fields: Buffer,
    n_of: Buffer,
    phone: int,
    unique_max: int,
) -> tuple[bytes, int, int]: ...
def owned_runs(
    g: Buffer,
    k: Buffer,
    f: Buffer,
    lo: Buffer,
    n: Buffer,
    c: Buffer,
    strong: Buffer,
    records: Buffer,
    expand_max: int,
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes] | None: ...
def other_codes(
    keys: dict[str, int], texts: Sequence[str], start: int
) -> bytes | tuple[list[str], bytes, bytes]: ...
def unique_codes(
    keys: dict[str, int], cells: Sequence[str], at: Buffer, start: int
) -> bytes | tuple[list[str], bytes, bytes]: ...
def present_chain(
    keys: Buffer,
    groups: Buffer,
    columns: Buffer,
    sure: Buffer,
    fields: Buffer,
    lo_of: Buffer,
    n_of: Buffer,
    unique: Buffer,
    unique_max: int,
    phone: int,
    records: Buffer,
    fact_of: Buffer,
    expand_max: int,
    pivot_max: int,
) -> tuple[bytes, bytes, bytes, bytes, bytes, bytes, bytes, bytes, bytes] | None: ...
def read_files(paths: list[str], limit: int) -> list[bytes | OSError | None]: ...
def pdf_object(
    read: Callable[..., tuple[Any, int, int] | None],
    data: bytes,
    pos: int,
    ref: Callable[[int], object],
    other: object,
    check_time: Callable[[], object],
    every: int,
    opened: int,
) -> tuple[Any, int, int] | None: ...
def pdfium_bind(functions: tuple[int | None, ...]) -> None: ...
def pdf_page_text(document: int | None, index: int) -> str | None: ...
def pdf_meta_texts(document: int | None, keys: tuple[bytes, ...]) -> tuple[str, ...]: ...
def pdf_plain(
    data: bytes,
    pages: int,
    check_time: Callable[[], object],
    ref: type[int],
    other: object,
    read_info: frozenset[bytes],
    decompressobj: Callable[[], Any],
    zlib_error: type[BaseException],
    limits: tuple[int, int, int, int, int, int],
) -> bool: ...
def packed_members(data: bytes, infos: list[ZipInfo]) -> list[bytes | None]: ...
def overlap_fault(data: bytes, infos: list[ZipInfo], cd_start: int) -> int | None: ...
