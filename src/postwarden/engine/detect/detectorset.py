"""`DetectorSet`: detectors compiled into one hyperscan database, scanned in one pass."""

from __future__ import annotations

import operator
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain, compress
from operator import attrgetter
from pathlib import Path

import hyperscan
import numpy as np
import numpy.typing as npt

from postwarden.engine.detect.base import (
    Context,
    Detector,
    FindingBatch,
    HitBatch,
    Pattern,
    PatternDetector,
)
from postwarden.engine.detect.scanner import Scanner
from postwarden.model import Finding, TextUnit

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: the cells' bounds are found with arrays
    _hsscan = None  # type: ignore[assignment]

__all__ = ["DetectorSet"]

# The compiled `_TableCells._find_bounds`; None when not built.
cell_bounds: Callable[[Sequence[TextUnit]], tuple[bytes, bytes]] | None = getattr(
    _hsscan, "cell_bounds", None
)

# The compiled `_by_unit_py`; None when not built.
by_unit: Callable[[list[list[int]], list[list[Finding]], int], list[Finding] | None] | None = (
    getattr(_hsscan, "by_unit", None)
)

# The compiled `_overlapped_py`; None when not built.
overlapped: (
    Callable[[list[int], list[Finding], list[tuple[list[int], list[Finding]]]], bytes] | None
) = getattr(_hsscan, "overlapped", None)

# The compiled `_spans_of`; None when not built.
finding_spans: Callable[[list[int], list[Finding]], bytes] | None = getattr(
    _hsscan, "finding_spans", None
)

# The compiled `_laid_out_py`; None when not built.
hit_layout: Callable[..., tuple[bytes, bytes, bytes, bytes, bytes, list[int]] | None] | None = (
    getattr(_hsscan, "hit_layout", None)
)

# The compiled `_unit_fields_py`; None when not built.
unit_fields: Callable[[Sequence[TextUnit]], tuple[list[str], list[int], int]] | None = getattr(
    _hsscan, "unit_fields", None
)


def _unit_fields(units: Sequence[TextUnit]) -> tuple[list[str], list[int], int]:
    """Every unit's text, the positions of those under column headings (a header), and the
    texts' characters all told (-1 when a text is no str).  One compiled walk where built:
    two maps of attrgetter cost a 200-row sheet 11 us, the walk 2.5."""
    if unit_fields is not None:
        return unit_fields(units)
    return _unit_fields_py(units)


def _unit_fields_py(units: Sequence[TextUnit]) -> tuple[list[str], list[int], int]:
    """`_unit_fields` with maps, when the extension is not built (a test compares)."""
    texts = list(map(attrgetter("text"), units))
    headed = list(compress(range(len(units)), map(attrgetter("header"), units)))
    chars = sum(map(len, texts)) if all(isinstance(t, str) for t in texts) else -1
    return texts, headed, chars


# Units are scanned joined into one buffer: a call into hyperscan costs a few microseconds,
# which dominates on spreadsheets of 15,000 one-line rows.  No pattern matches NUL, so no
# match can run from one unit into the next.
SEPARATOR = "\n\x00\n"

_BASE_FLAGS = hyperscan.HS_FLAG_SOM_LEFTMOST | hyperscan.HS_FLAG_UTF8
_HS_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}/-])")

Ints = npt.NDArray[np.int64]


def _context_regex(word: str) -> str:
    """A context word as a hyperscan expression; ASCII words only on word boundaries."""
    body = _HS_SPECIAL.sub(r"\\\1", word)
    if word.isascii() and word[:1].isalnum() and word[-1:].isalnum():
        return rf"\b{body}\b"
    return body


def _vetoed(starts: Ints, ends: Ints, veto_starts: Ints, veto_ends: Ints) -> npt.NDArray[np.bool_]:
    """Which spans ``[starts, ends)`` overlap one of the veto spans (sorted by start)."""
    if len(veto_starts) <= _FEW_VETOES:
        return _vetoed_by_each(starts, ends, veto_starts, veto_ends)
    # The vetoes starting before a span ends overlap it iff the furthest of their ends is
    # past the span's start.
    reach = np.maximum.accumulate(veto_ends)
    i = np.searchsorted(veto_starts, ends, side="left") - 1
    return (i >= 0) & (reach[np.maximum(i, 0)] > starts)


# Up to this many veto spans, `_vetoed` tests each against every span: five array calls a
# veto where the general path's running maximum and bisection take twenty (a sheet of 377
# names with one place in it: half the time).
_FEW_VETOES = 2


def _vetoed_by_each(
    starts: Ints, ends: Ints, veto_starts: Ints, veto_ends: Ints
) -> npt.NDArray[np.bool_]:
    """`_vetoed`, each veto span tested in turn (tests/engine/detect compares the two)."""
    hit = np.zeros(len(starts), dtype=np.bool_)
    for veto_start, veto_end in zip(veto_starts.tolist(), veto_ends.tolist(), strict=True):
        hit |= (starts < veto_end) & (ends > veto_start)
    return hit


# How the extractors join a row's cells into its text.
_JOIN = " | "
# Where a cell after the first starts with a space or "|", searching for it could find it
# before where the lengths put it (inside the " | " before it).  Every cell after the first
# follows "| ", and a match takes only "| ": no match hides the next separator's "|".
_MAY_SHIFT = re.compile(r"\| (?=[ |])")


class _TableCells:
    """The cells of a scan's table rows with column headings, found once for a whole
    scan: which hits lie in a cell whose heading holds a detector's context word.

    The bounds are those `_cell_bounds` finds (the first occurrence of each cell after
    the one before).  A row whose text is its cells joined by ``" | "`` (every extractor's
    table row) has them where the cells' lengths say (an empty cell at the end of the one
    before), unless a cell after the first starts with a space or ``|``: those, and rows
    made otherwise, are searched one by one.  Worked out with arrays for all rows at once.
    """

    def __init__(self, units: Sequence[TextUnit], headed: list[int]) -> None:
        self._rows = rows = [units[u] for u in headed]
        self._row = np.full(max(headed, default=-1) + 1, -1, dtype=np.int64)
        self._row[headed] = np.arange(len(rows))
        # Rows by their header: the rows of a table share one header tuple.
        ids = np.fromiter(map(id, map(attrgetter("header"), rows)), dtype=np.uint64)
        _, firsts, self._group = np.unique(ids, return_index=True, return_inverse=True)
        self._headers = [rows[r].header or () for r in firsts.tolist()]
        self._bounds: tuple[Ints, Ints, Ints, Ints] | None = None

    def headed(
        self, heading: re.Pattern[str], unit_of: Ints, starts: Ints, ends: Ints
    ) -> npt.NDArray[np.bool_]:
        """Which hits (in units ``unit_of``, at ``starts`` to ``ends`` of their text) lie in
        a cell whose column heading ``heading`` finds a word in."""
        inside = np.zeros(len(unit_of), dtype=np.bool_)
        columns = [
            [i for i, h in enumerate(header) if heading.search(h)] for header in self._headers
        ]
        if not any(columns):
            return inside
        cell_starts, cell_ends, first, found = self._bounds or self._find_bounds()
        known = unit_of < len(self._row)
        rows = np.where(known, self._row[np.where(known, unit_of, 0)], -1)
        for group, wanted in enumerate(columns):
            if not wanted:
                continue
            mine = np.flatnonzero(rows >= 0)
            mine = mine[self._group[rows[mine]] == group]
            for i in wanted:
                at = mine[found[rows[mine]] > i]
                cell = first[rows[at]] + i
                inside[at] |= (cell_starts[cell] <= starts[at]) & (ends[at] <= cell_ends[cell])
        return inside

    def _find_bounds(self) -> tuple[Ints, Ints, Ints, Ints]:
        """Every cell's start and end in its row's text, each row's first cell (in those)
        and how many of its cells are found."""
        if cell_bounds is None:
            return self._find_bounds_py()
        spans, found = cell_bounds(self._rows)
        bounds = np.frombuffer(spans, dtype=np.int64)
        counts = np.frombuffer(found, dtype=np.int64)
        self._bounds = (bounds[0::2], bounds[1::2], np.cumsum(counts) - counts, counts)
        return self._bounds

    def _find_bounds_py(self) -> tuple[Ints, Ints, Ints, Ints]:
        """`_find_bounds` with arrays, when the extension is not built (a test compares)."""
        cells = [unit.cells or () for unit in self._rows]
        texts = [unit.text for unit in self._rows]
        count = len(self._rows)
        counts = np.fromiter(map(len, cells), dtype=np.int64, count=count)
        every = list(chain.from_iterable(cells))
        lengths = np.fromiter(map(len, every), dtype=np.int64, count=len(every))
        first = np.cumsum(counts) - counts
        filled = counts > 0
        # Where each cell is in all the rows' cells joined by " | ", and where its row starts.
        steps = lengths + len(_JOIN)
        joined = np.cumsum(steps) - steps
        base = np.repeat(joined[first[filled]], counts[filled])
        starts, ends = joined.copy(), joined + lengths
        # An empty cell is found where the cell before it ends (at 0 when it is the first).
        empty = lengths == 0
        if empty.any():
            reached = np.maximum.accumulate(np.where(empty, base, ends))
            starts[empty] = ends[empty] = reached[empty]
        starts -= base
        ends -= base
        # Rows whose text is not their cells joined by " | ": each row's text has the
        # length of its cells joined, and all texts joined are all cells joined.
        all_cells = _JOIN.join(every)
        expected = np.zeros(count, dtype=np.int64)
        if filled.any():
            expected[filled] = np.add.reduceat(steps, first[filled]) - len(_JOIN)
        lengths_match = np.fromiter(map(len, texts), dtype=np.int64, count=count) == expected
        if lengths_match[filled].all() and all_cells == _JOIN.join(
            compress(texts, filled.tolist())
        ):
            odd = np.zeros(count, dtype=np.bool_)
        else:
            joins = map(_JOIN.join, cells)
            odd = filled & np.fromiter(map(operator.ne, joins, texts), dtype=np.bool_, count=count)
        # Rows with a cell (not empty) that may be found early.
        shifted = np.array([m.end() for m in _MAY_SHIFT.finditer(all_cells)], dtype=np.int64)
        if len(shifted):
            at = np.minimum(np.searchsorted(joined, shifted), len(joined) - 1)
            early = at[(joined[at] == shifted) & ~empty[at]]
            odd[np.searchsorted(first, early, side="right") - 1] = True
        for r in np.flatnonzero(odd).tolist():
            bounds = _cell_bounds(texts[r], cells[r])
            found = len(bounds) // 2
            starts[first[r] : first[r] + found] = bounds[0::2]
            ends[first[r] : first[r] + found] = bounds[1::2]
            counts[r] = found
        self._bounds = (starts, ends, first, counts)
        return self._bounds


class _UnitContexts(Mapping[int, Context]):
    """One detector's `Context` by unit index, each built when its unit is asked for.

    Built on demand, a table row's context lives only while its row is analysed: held all
    at once, fifteen thousand of them would set off the cyclic garbage collector.
    """

    def __init__(
        self,
        units: Sequence[TextUnit],
        spans: dict[int, tuple[list[int], list[int]]],
        heading: re.Pattern[str] | None,
        headed: frozenset[int],
        bounds: dict[int, list[int]],
    ) -> None:
        self._units = units
        self._spans = spans
        self._heading = heading
        self._headed = headed
        self._bounds = bounds
        self._columns: dict[tuple[str, ...], tuple[int, ...]] = {}

    # One signature stands in for Mapping.get's two overloads.
    def get(self, u: int, default: Context | None = None) -> Context | None:  # type: ignore[override]
        spans = self._spans.get(u)
        cells = self._cells(u) if u in self._headed else ()
        if spans is None and not cells:
            return default
        return Context.of_sorted(*spans, cells) if spans else Context((), cells)

    def __getitem__(self, u: int) -> Context:
        context = self.get(u)
        if context is None:
            raise KeyError(u)
        return context

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(u for u in self._spans.keys() | self._headed if u in self))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, u: object) -> bool:
        return isinstance(u, int) and self.get(u) is not None

    def _cells(self, u: int) -> list[int]:
        """Bounds of unit ``u``'s cells whose column heading holds a context word."""
        unit = self._units[u]
        header = unit.header or ()
        columns = self._columns.get(header)
        if columns is None:
            heading = self._heading
            columns = tuple(i for i, h in enumerate(header) if heading and heading.search(h))
            self._columns[header] = columns
        if not columns or not unit.cells:
            return []
        # Found once per row for every detector (several read headings): the bounds of the
        # first cells are the same whichever cells follow, since they are found left to right.
        bounds = self._bounds.get(u)
        if bounds is None:
            bounds = self._bounds[u] = _cell_bounds(unit.text, unit.cells)
        cells: list[int] = []
        for i in columns:
            if 2 * i + 1 < len(bounds):
                cells.append(bounds[2 * i])
                cells.append(bounds[2 * i + 1])
        return cells


class DetectorSet:
    """Detectors compiled together; :meth:`scan` runs them all over many units at once.

    Build it once per process (compiling the database takes a noticeable fraction of a
    second) and share it: scanning keeps its per-thread scratch space to itself.
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        *,
        cache_dir: Path | None = None,
        native: bool | None = None,
    ) -> None:
        """``cache_dir``: where the compiled database is kept between processes (none: not);
        ``native``: the binding that scans (see `Scanner`; None: the compiled one if built)."""
        self.detectors = tuple(detectors)
        ids = [d.id for d in self.detectors]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate detector id(s): {', '.join(duplicates)}")
        count = len(self.detectors)
        # Expression number -> its pattern, and the detector it belongs to (``count`` for a
        # context word, whose detectors are marked in ``_context_of``).
        self._patterns: list[Pattern] = []
        owners: list[int] = []
        expressions: list[bytes] = []
        flags: list[int] = []
        for index, detector in enumerate(self.detectors):
            for pattern in detector.patterns:
                self._patterns.append(pattern)
                owners.append(index)
                expressions.append(pattern.regex.encode())
                flags.append(_BASE_FLAGS | (hyperscan.HS_FLAG_CASELESS if pattern.caseless else 0))
        words: dict[str, list[int]] = {}
        for index, detector in enumerate(self.detectors):
            for word in detector.context:
                words.setdefault(_context_regex(word), []).append(index)
        first_word = len(expressions)
        # Detector index -> which expressions are its context words.
        self._context_of = np.zeros((count, first_word + len(words)), dtype=np.bool_)
        for number, (regex, word_owners) in enumerate(words.items(), start=first_word):
            owners.append(count)
            self._context_of[word_owners, number] = True
            expressions.append(regex.encode())
            flags.append(_BASE_FLAGS | hyperscan.HS_FLAG_CASELESS)
        self._has_words = [bool(row.any()) for row in self._context_of]
        # Detectors that read their context only through ``Context.near`` on each hit, with
        # their ``context_window``: for those, words too far from every hit are left out.
        self._near_only = [
            isinstance(d, PatternDetector)
            and type(d)._analyze_batch is PatternDetector._analyze_batch
            and type(d).analyze_all is PatternDetector.analyze_all
            and type(d).analyze is PatternDetector.analyze
            for d in self.detectors
        ]
        self._owner = np.array(owners, dtype=np.int64)
        self._veto = np.array(
            [p.veto for p in self._patterns] + [False] * len(words), dtype=np.bool_
        )
        # Which detectors have a veto pattern (name_en alone): the others' hits are not
        # looked up in ``_veto``.
        self._vetoing = [any(p.veto for p in d.patterns) for d in self.detectors]
        # The same tables as Python values, for a few hits (`_analyze_few`).
        self._owners = owners
        self._vetoes = self._veto.tolist()
        self._words_of = [frozenset(np.flatnonzero(row).tolist()) for row in self._context_of]
        self._yields = {d.id: frozenset(d.yields_to) for d in self.detectors if d.yields_to}
        self._index_of = {d.id: i for i, d in enumerate(self.detectors)}
        # Detectors analysing table rows without hits, and whether each finds only cells
        # outside ASCII (`_finds_nothing`).
        self._cell_readers = [i for i, d in enumerate(self.detectors) if d.reads_cells]
        self._outside_ascii = [d.cells_outside_ascii for d in self.detectors]
        # The same words, to find in the column headings of table rows (ASCII word
        # boundaries and caseless, as in the hyperscan pass).
        self._headings = [
            re.compile("|".join(map(_context_regex, d.context)), re.IGNORECASE | re.ASCII)
            if d.context
            else None
            for d in self.detectors
        ]
        self._scanner: Scanner | None = None
        if expressions:
            self._scanner = Scanner(expressions, flags, cache_dir=cache_dir, native=native)
        # What the database scanning the whole text is compiled from, for a benchmark's
        # reference scan.
        self.expressions = tuple(expressions)
        self.flags = self._scanner.flags if self._scanner else tuple(flags)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.detectors)

    @property
    def native(self) -> bool:
        """Whether scans collect their matches in the compiled extension."""
        return self._scanner is not None and self._scanner.native

    def _raw_hits(self, blob: bytes, *, chars: bool = False) -> Ints:
        """(start, end, expression) byte offsets of every match in ``blob``, one row each
        (with ``chars``, character offsets of the UTF-8 text)."""
        if self._scanner is None or not blob:
            return np.zeros((0, 3), dtype=np.int64)
        return self._scanner.hits(blob, chars=chars)

    def _text_hits(self, texts: Sequence[str]) -> tuple[Ints, int]:
        """(start, end, expression) character offsets of every match in ``texts`` joined by
        `SEPARATOR`, one row each, and the joined text's length in UTF-8 bytes (lone
        surrogates, undecodable mail bytes, become "?": still one byte per character)."""
        if self._scanner is None:
            return np.zeros((0, 3), dtype=np.int64), 0
        return self._scanner.text_hits(texts, SEPARATOR)

    def scan(self, units: Sequence[TextUnit]) -> list[Finding]:
        """Findings of every detector in ``units``, offsets relative to each unit's text."""
        if not units:
            return []
        texts, headed_rows, chars = _unit_fields(units)
        # Character offsets of the joined text, in which unit boundaries are known from the
        # texts' lengths and spans of different units never overlap.
        raw, size = self._text_hits(texts)
        # One UTF-8 byte a character (ASCII, and lone surrogates scanned as "?"): then a
        # detector reading cells whose every finding without a hit holds a character of
        # more (``cells_outside_ascii``) finds nothing, and a 200-row sheet of English names
        # and numbers skips name_zh's walk over its 800 cells (20 us of 400).
        ascii_only = chars >= 0 and chars + len(SEPARATOR) * (len(texts) - 1) == size
        if not len(raw) and not headed_rows and self._finds_nothing(units, ascii_only):
            return []
        if len(raw) <= _FEW_HITS and not headed_rows:
            found = self._analyze_few(units, texts, raw.tolist(), ascii_only)
        else:
            found = self._analyze(units, texts, raw, size, headed_rows, ascii_only)
        if self._yields:
            self._resolve_overlaps(found)
        return _by_unit(found, len(units))

    def _finds_nothing(self, units: Sequence[TextUnit], ascii_only: bool) -> bool:
        """Whether a scan of ``units`` without a hit (nor table headings) finds nothing: no
        detector reads cells, or those that do are left out of ASCII text
        (``cells_outside_ascii``), or no unit is a table row (what ``reads_cells`` reads
        without a hit).  Then the ten detectors' empty batches, their overlaps and their
        order by unit are not worked out: 6 of a text file's 8 us of detection besides the
        pass itself (tests/engine/detect compares with `_analyze_few`)."""
        readers = self._cell_readers
        if not readers or (ascii_only and all(self._outside_ascii[i] for i in readers)):
            return True
        return all(unit.cells is None for unit in units)

    def _analyze_few(
        self,
        units: Sequence[TextUnit],
        texts: list[str],
        rows: list[list[int]],
        ascii_only: bool = False,
    ) -> list[FindingBatch]:
        """`_analyze` of a few hits (``rows`` of start, end and expression in the joined
        text) in units without table headings, in plain Python: on a short mail's dozen
        hits, the general path's forty numpy calls cost more than the hits (a tenth of
        checking a 5 KB letter).  tests/engine/detect/test_detectorset.py compares the two."""
        begins = [0]
        for text in texts[:-1]:
            begins.append(begins[-1] + len(text) + len(SEPARATOR))
        owners, count = self._owners, len(self.detectors)
        # By owner (the context words last), each sorted as `_hit_order` sorts: by start,
        # longest first, then expression.
        by_owner: list[list[tuple[int, int, int, int, int]]] = [[] for _ in range(count + 1)]
        for start, end, expression in rows:
            u = bisect_right(begins, start) - 1
            if end <= begins[u] + len(texts[u]):
                by_owner[owners[expression]].append((start, start - end, expression, end, u))
        for hits in by_owner:
            hits.sort()
        words = [(start, end, expression, u) for start, _, expression, end, u in by_owner[count]]
        vetoes, patterns = self._vetoes, self._patterns
        found: list[FindingBatch] = []
        for index, detector in enumerate(self.detectors):
            mine = by_owner[index]
            if not mine and (
                not detector.reads_cells or (ascii_only and detector.cells_outside_ascii)
            ):
                found.append(FindingBatch())
                continue
            # `_detector_hits`: a veto pattern's matches dropped, and what overlaps them.
            vetoed = [(start, end) for start, _, expression, end, _ in mine if vetoes[expression]]
            batch = HitBatch()
            # A new batch's own lists, filled in place (`HitBatch.add` would make a Hit each).
            hit_units, hit_starts, hit_ends = batch.units, batch.starts, batch.ends
            hit_patterns = batch.patterns
            for start, _, expression, end, u in mine:
                if vetoed and (
                    vetoes[expression] or any(vs < end and ve > start for vs, ve in vetoed)
                ):
                    continue
                base = begins[u]
                hit_units.append(u)
                hit_starts.append(start - base)
                hit_ends.append(end - base)
                hit_patterns.append(patterns[expression])
            if not batch and not detector.reads_cells:
                found.append(FindingBatch())
                continue
            only = None if detector.reads_cells else {hit[4] for hit in mine}
            spans = self._listed_word_spans(index, words, begins, only)
            contexts = {u: Context.of_sorted(*unit_spans) for u, unit_spans in spans.items()}
            found.append(detector.analyze_all(units, batch, contexts))
        return found

    def _analyze(
        self,
        units: Sequence[TextUnit],
        texts: list[str],
        raw: Ints,
        size: int,
        headed_rows: list[int],
        ascii_only: bool = False,
    ) -> list[FindingBatch]:
        """Each detector's findings from the ``raw`` hits (start, end and expression in the
        joined text, ``size`` its UTF-8 bytes) in ``units`` (``headed_rows``: those that are
        table rows under headings; ``ascii_only``: their texts are ASCII)."""
        begins, starts, ends, expressions, unit_of, bounds = self._laid_out(texts, raw, size)
        count = len(self.detectors)
        word_slice = slice(bounds[count], bounds[count + 1])
        words = (
            starts[word_slice],
            ends[word_slice],
            expressions[word_slice],
            unit_of[word_slice],
        )
        has_words = len(words[2]) > 0
        headed = frozenset(headed_rows)
        cell_bounds: dict[int, list[int]] = {}
        table: _TableCells | None = None
        found: list[FindingBatch] = []
        for index, detector in enumerate(self.detectors):
            if bounds[index] == bounds[index + 1] and (
                not detector.reads_cells or (ascii_only and detector.cells_outside_ascii)
            ):
                found.append(FindingBatch())  # no hits: nothing to slice or analyse
                continue
            mine = slice(bounds[index], bounds[index + 1])
            my_starts, my_ends, my_units = starts[mine], ends[mine], unit_of[mine]
            hits = self._detector_hits(
                my_starts,
                my_ends,
                expressions[mine],
                my_units,
                begins,
                vetoing=self._vetoing[index],
            )
            if not hits and not detector.reads_cells:
                found.append(FindingBatch())
                continue
            heading = self._headings[index]
            if heading is not None and headed and hits and detector.takes_headed_hits():
                # The table's cells under headings with the detector's words, for all its
                # hits at once; its contexts are then the words alone.
                table = table or _TableCells(units, headed_rows)
                hit_units, hit_starts, hit_ends, _, _ = hits.arrays()
                hits.headed = table.headed(heading, hit_units, hit_starts, hit_ends)
                heading = None
            contexts: Mapping[int, Context]
            if has_words and self._has_words[index]:
                contexts = self._contexts(
                    index,
                    heading,
                    words,
                    begins,
                    units,
                    headed,
                    cell_bounds,
                    None if detector.reads_cells else my_units,
                    (my_starts, my_ends) if self._near_only[index] else None,
                )
            elif heading is None or not headed:
                contexts = {}  # no word of the detector's in the scan: `_word_spans` finds none
            else:
                contexts = _UnitContexts(units, {}, heading, headed, cell_bounds)
            found.append(detector.analyze_all(units, hits, contexts))
        return found

    def _laid_out(
        self, texts: list[str], raw: Ints, size: int
    ) -> tuple[Ints, Ints, Ints, Ints, Ints, list[int]]:
        """Where each of ``texts`` begins in the joined text, and the ``raw`` hits inside one
        text (start, end, expression and text), ordered by owner (`_hit_order`), with where
        each owner's hits begin, then their count.  In one compiled pass where built
        (``hit_layout``: numpy's twenty calls cost a 200-row sheet ~40 us), else
        :meth:`_laid_out_py`."""
        if hit_layout is not None and texts:
            laid = hit_layout(
                texts,
                np.ascontiguousarray(raw, dtype=np.int64),
                len(SEPARATOR),
                self._owner,
                len(self.detectors) + 1,
            )
            if laid is not None:
                *arrays, bounds = laid
                begins, starts, ends, expressions, unit_of = (
                    np.frombuffer(a, np.int64) for a in arrays
                )
                return begins, starts, ends, expressions, unit_of, bounds
        return self._laid_out_py(texts, raw, size)

    def _laid_out_py(
        self, texts: list[str], raw: Ints, size: int
    ) -> tuple[Ints, Ints, Ints, Ints, Ints, list[int]]:
        """:meth:`_laid_out` with arrays."""
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        starts, ends, expressions = raw[:, 0], raw[:, 1], raw[:, 2]
        begins = np.zeros(len(texts), dtype=np.int64)
        np.cumsum(lengths[:-1] + len(SEPARATOR), out=begins[1:])
        unit_of = np.searchsorted(begins, starts, side="right") - 1
        inside = ends <= begins[unit_of] + lengths[unit_of]
        if not inside.all():
            starts, ends, expressions, unit_of = (
                a[inside] for a in (starts, ends, expressions, unit_of)
            )
        owners = self._owner[expressions]
        order = _hit_order(starts, ends, expressions, owners, len(self._owner), size)
        starts, ends, expressions, unit_of, owners = (
            a[order] for a in (starts, ends, expressions, unit_of, owners)
        )
        bounds = np.searchsorted(owners, np.arange(len(self.detectors) + 2)).tolist()
        return begins, starts, ends, expressions, unit_of, bounds

    def _detector_hits(
        self,
        starts: Ints,
        ends: Ints,
        expressions: Ints,
        unit_of: Ints,
        begins: Ints,
        *,
        vetoing: bool = True,
    ) -> HitBatch:
        """One detector's hits, veto patterns applied (``vetoing``: the detector has one)."""
        if not len(starts):
            return HitBatch()
        if vetoing:
            veto = self._veto[expressions]
            if veto.any():
                keep = ~veto & ~_vetoed(starts, ends, starts[veto], ends[veto])
                starts, ends, expressions, unit_of = (
                    a[keep] for a in (starts, ends, expressions, unit_of)
                )
        base = begins[unit_of]
        return HitBatch.of_int64s(unit_of, starts - base, ends - base, expressions, self._patterns)

    def _contexts(
        self,
        index: int,
        heading: re.Pattern[str] | None,
        words: tuple[Ints, Ints, Ints, Ints],
        begins: Ints,
        units: Sequence[TextUnit],
        headed: frozenset[int],
        bounds: dict[int, list[int]],
        only: Ints | None,
        hits: tuple[Ints, Ints] | None = None,
    ) -> Mapping[int, Context]:
        """Context of detector ``index`` (in units ``only``, when given; with ``hits``, the
        offsets in the joined text of its hits, only the words that may be near one): its
        words, and the cells under column headings ``heading`` finds one in (None: no cells)."""
        spans = self._word_spans(index, words, begins, only, hits)
        if heading is None or not headed:
            return {u: Context.of_sorted(*unit_spans) for u, unit_spans in spans.items()}
        return _UnitContexts(units, spans, heading, headed, bounds)

    def _word_spans(
        self,
        index: int,
        words: tuple[Ints, Ints, Ints, Ints],
        begins: Ints,
        only: Ints | None,
        hits: tuple[Ints, Ints] | None = None,
    ) -> dict[int, tuple[list[int], list[int]]]:
        """Detector ``index``'s context words (in units ``only``, when given): by unit, their
        starts (ascending) and ends, as two lists.

        With ``hits`` (the starts, ascending, and ends of the detector's hits in the joined
        text), only the words `Context.near` may find near one of them: a word starting at
        ``s`` is near a hit only if the hit starts after ``s - window - longest`` (it ends
        after ``s - window``) and not after ``s + window + 64`` (``near`` looks no further
        back).  A unit left without words has no context, as none was near its hits: most
        units of a long mail hold a context word somewhere, but few beside a match.
        """
        starts, ends, expressions, unit_of = words
        if not self._has_words[index] or not len(expressions):
            return {}  # (a spreadsheet of names and numbers has no context word at all)
        if len(expressions) <= _FEW_WORDS:
            return self._few_word_spans(index, words, begins, only)
        # The detector's words first, then (fewer to look up) those in units ``only``.
        mine = np.flatnonzero(self._context_of[index][expressions])
        if not len(mine):
            return {}
        unit_list = unit_of[mine]
        if only is not None:
            if not len(only):
                return {}
            # Both sorted by unit (the words by start): membership by bisection.
            at = np.minimum(np.searchsorted(only, unit_list), len(only) - 1)
            inside = only[at] == unit_list
            if not inside.all():
                mine, unit_list = mine[inside], unit_list[inside]
                if not len(mine):
                    return {}
        # (Not worth its cost when the words are all in one unit.)
        if hits is not None and len(hits[0]) and unit_list[0] != unit_list[-1]:
            hit_starts, hit_ends = hits
            window = self.detectors[index].context_window
            longest = int((hit_ends - hit_starts).max())
            word_starts_at = starts[mine]
            low = np.searchsorted(hit_starts, word_starts_at - (window + longest), side="left")
            high = np.searchsorted(hit_starts, word_starts_at + (window + 64), side="right")
            near = high > low
            if not near.all():
                mine, unit_list = mine[near], unit_list[near]
                if not len(mine):
                    return {}
        base = begins[unit_list]
        word_starts = (starts[mine] - base).tolist()
        word_ends = (ends[mine] - base).tolist()
        cuts = [0, *(np.flatnonzero(unit_list[1:] != unit_list[:-1]) + 1).tolist()]
        return {
            u: (word_starts[a:b], word_ends[a:b])
            for a, b, u in zip(
                cuts, [*cuts[1:], len(word_starts)], unit_list[cuts].tolist(), strict=True
            )
        }

    def _few_word_spans(
        self,
        index: int,
        words: tuple[Ints, Ints, Ints, Ints],
        begins: Ints,
        only: Ints | None,
    ) -> dict[int, tuple[list[int], list[int]]]:
        """`_word_spans` of a few words (a short mail's), in a Python loop: the twenty numpy
        calls of the general path cost ten times as much as the words (every word of the
        detector kept, not only those near a hit: the same contexts)."""
        return self._listed_word_spans(
            index,
            zip(*(a.tolist() for a in words), strict=True),
            begins.tolist(),
            None if only is None else set(only.tolist()),
        )

    def _listed_word_spans(
        self,
        index: int,
        words: Iterable[tuple[int, int, int, int]],
        begins: Sequence[int],
        inside: set[int] | None,
    ) -> dict[int, tuple[list[int], list[int]]]:
        """`_few_word_spans` of ``words`` given as (start, end, expression, unit) and units
        ``inside`` as a set (None: all)."""
        mine = self._words_of[index]
        spans: dict[int, tuple[list[int], list[int]]] = {}
        if not mine:
            return spans
        for start, end, expression, u in words:
            if expression in mine and (inside is None or u in inside):
                base = begins[u]
                if u not in spans:
                    spans[u] = ([], [])
                spans[u][0].append(start - base)
                spans[u][1].append(end - base)
        return spans

    def _resolve_overlaps(self, found: list[FindingBatch]) -> None:
        """Drop findings overlapped, in their unit, by a finding of a detector they yield to."""
        by_id = self._index_of
        spans: dict[str, tuple[Ints, Ints, Ints]] = {}
        for index, detector in enumerate(self.detectors):
            if not found[index] or detector.id not in self._yields:
                continue
            # Detectors without findings win nothing: leaving them out saves a pass per
            # winner over the findings of a detector that yields (a phone number a row).
            winners = [w for w in self._yields[detector.id] if w in by_id and found[by_id[w]]]
            if not winners:
                continue
            batch = found[index]
            wins = [found[by_id[w]] for w in winners]
            if overlapped is not None:
                pairs = [(w.units, w.findings) for w in wins]
                flags = overlapped(batch.units, batch.findings, pairs)
                if b"\x01" not in flags:
                    continue  # (most scans: a byte search, not an array and its reduction)
                hit = np.frombuffer(flags, np.bool_)
            else:
                hit = _overlapped_py(batch, dict(zip(winners, wins, strict=True)), spans)
            if hit.any():
                kept = FindingBatch()
                for i in np.flatnonzero(~hit).tolist():
                    kept.add(batch.units[i], batch.findings[i])
                found[index] = kept


# Up to this many context words in a scan, `DetectorSet._few_word_spans` finds each
# detector's (a short mail's).
_FEW_WORDS = 32

# Up to this many hits (matches and context words) in units without table headings,
# `DetectorSet._analyze_few` works them out (a short mail's).
_FEW_HITS = 64

# Below this many hits `numpy.lexsort` is the faster of the two orderings (same order).
_ONE_KEY_FROM = 512


def _hit_order(
    starts: Ints, ends: Ints, expressions: Ints, owners: Ints, numbers: int, limit: int
) -> Ints:
    """The order of hits by owner, start, longest first, then expression (offsets at most
    ``limit``, expressions below ``numbers``).

    When the four fit in one 63-bit key (with the built-in detectors, buffers up to 16 MB),
    the hits are grouped by owner first (a radix sort of small integers), where each group
    is nearly in order already (hyperscan reports matches by end): sorting them by the key
    then takes a fifth of a `numpy.lexsort` by two keys.
    """
    offset_bits = max(limit, 1).bit_length()
    number_bits = numbers.bit_length()
    owner_bits = int(owners.max()).bit_length() if len(owners) else 0
    if (
        len(owners) >= _ONE_KEY_FROM
        and owner_bits <= 16
        and owner_bits + 2 * offset_bits + number_bits <= 63
    ):
        shortest = (1 << offset_bits) - 1
        key = ((owners << offset_bits | starts) << offset_bits | shortest - (ends - starts)) << (
            number_bits
        ) | expressions
        grouped = np.argsort(owners.astype(np.uint16), kind="stable")
        order: Ints = grouped[np.argsort(key[grouped], kind="stable")]
        return order
    # Two keys (the extraction limits keep offsets far below 2**40; detectors and
    # expressions number below 2**20); for a small mail's few hits, one call where the
    # one key takes six.
    return np.lexsort((expressions - (ends - starts) * numbers, (owners << 40) | starts))


_START = attrgetter("start")
_END = attrgetter("end")


def _spans_of(batch: FindingBatch) -> tuple[Ints, Ints, Ints]:
    """Units, starts and ends of a batch's findings, as arrays (read-only where compiled)."""
    count = len(batch)
    if finding_spans is not None:
        spans = np.frombuffer(finding_spans(batch.units, batch.findings), dtype=np.int64)
        return spans[:count], spans[count : 2 * count], spans[2 * count :]
    return (
        np.fromiter(batch.units, dtype=np.int64, count=count),
        np.fromiter(map(_START, batch.findings), dtype=np.int64, count=count),
        np.fromiter(map(_END, batch.findings), dtype=np.int64, count=count),
    )


def _overlapped_py(
    batch: FindingBatch,
    winners: dict[str, FindingBatch],
    spans: dict[str, tuple[Ints, Ints, Ints]],
) -> npt.NDArray[np.bool_]:
    """Which findings of ``batch`` a finding of one of ``winners`` (by detector id) overlaps
    in their unit, with arrays (``spans``: each winner's sorted spans, kept between calls).

    Spans of one detector do not nest, so of a winner's spans sorted by unit, start and
    end, only the last one starting before a finding's end can still reach past its
    start: one ``searchsorted`` per winner instead of a bisection per finding.
    """
    units, starts, ends = _spans_of(batch)
    hit = np.zeros(len(units), dtype=np.bool_)
    for w, won in winners.items():
        if w not in spans:
            w_units, w_starts, w_ends = _spans_of(won)
            order = np.lexsort((w_ends, w_starts, w_units))
            spans[w] = ((w_units[order] << 40) | w_starts[order], w_units[order], w_ends[order])
        keys, w_units, w_ends = spans[w]
        last = np.searchsorted(keys, (units << 40) | ends, side="left") - 1
        at = np.maximum(last, 0)
        hit |= (last >= 0) & (w_units[at] == units) & (w_ends[at] > starts)
    return hit


def _by_unit(found: list[FindingBatch], count: int) -> list[Finding]:
    """The findings of every batch by unit (of ``count``), stably: within a unit, detectors
    in their order, each detector's in its own (compiled: a counting sort)."""
    if by_unit is not None and any(found):
        ordered = by_unit([b.units for b in found], [b.findings for b in found], count)
        if ordered is not None:
            return ordered
    return _by_unit_py(found)


def _by_unit_py(found: list[FindingBatch]) -> list[Finding]:
    """`_by_unit` with a list sort: the detectors' runs, each in unit order, merge in a few
    passes, and a small mail's few findings cost no arrays."""
    findings = [f for batch in found for f in batch.findings]
    if not findings:
        return findings
    unit_order = [u for batch in found for u in batch.units]
    return list(map(findings.__getitem__, sorted(range(len(findings)), key=unit_order.__getitem__)))


def _cell_bounds(text: str, cells: tuple[str, ...]) -> list[int]:
    """Start and end of each cell in ``text`` (the row's cells joined), as far as found."""
    out: list[int] = []
    position = 0
    for cell in cells:
        at = text.find(cell, position)
        if at < 0:
            break
        position = at + len(cell)
        out.append(at)
        out.append(position)
    return out
