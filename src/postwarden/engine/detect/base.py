"""The detector contract: a `Detector` base and a `PatternDetector` with validation hooks."""

from __future__ import annotations

import functools
import re
import unicodedata
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from itertools import repeat
from typing import ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from postwarden.model import Finding, TextUnit

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built (no libhs headers at install): the slots set from Python
    _hsscan = None  # type: ignore[assignment]

# The compiled gap test of `ClusterDetector`; None when not built.
spans_holding: Callable[..., bytes] | None = getattr(_hsscan, "spans_holding", None)
# The compiled checks of the HKID and phone detectors (`judged`); None when not built.
judge_hits: Callable[..., bytes] | None = getattr(_hsscan, "judge_hits", None)
# The compiled finder of table cells that are a Chinese name (name_zh); None when not built.
name_cells: Callable[..., tuple[list[str], bytes, bytes]] | None = getattr(
    _hsscan, "name_cells", None
)
# The compiled maker of slotted instances; None when not built (or built before it had one).
slot_maker: Callable[..., Callable[..., Finding]] | None = getattr(_hsscan, "slot_maker", None)

__all__ = [
    "Candidate",
    "ClusterDetector",
    "Context",
    "Detector",
    "FindingBatch",
    "Hit",
    "HitBatch",
    "Pattern",
    "PatternDetector",
    "is_word_char",
    "judged",
    "make_candidate",
    "make_finding",
]


@dataclass(frozen=True, slots=True)
class Pattern:
    """One expression of a detector, compiled into the shared hyperscan database.

    ``regex`` uses the hyperscan dialect (PCRE without lookaround or backreferences); it is
    always compiled in UTF-8 mode without UCP, so ``\\w``, ``\\d`` and ``\\b`` stay ASCII and
    non-ASCII characters are written literally or as ``\\x{....}``.  ``score`` is the confidence
    of a validated match without context.  A ``veto`` pattern finds no value of its own: its
    matches drop the detector's other matches they overlap (a place name inside a "name").
    """

    name: str
    regex: str
    score: float = 0.5
    caseless: bool = False
    veto: bool = False


def _finding_maker() -> Callable[[str, str, str, int, int, float], Finding]:
    """``Finding(detector, where, value, start, end, confidence)``, built faster.

    Finding is a frozen dataclass: its generated ``__init__`` sets each field through
    ``object.__setattr__``, which on a spreadsheet (four findings a row) costs more than a
    row's checks.  Setting the slots directly builds the same value (a test compares them);
    should Finding ever change its fields or check them in ``__post_init__``, the plain
    constructor is used.  With the compiled extension the slots are set in C (0.06 µs a
    finding instead of 0.5 µs: a scan of 10 MB of mail makes 6,000).
    """
    names = [f.name for f in fields(Finding)]
    expected = [
        "detector",
        "where",
        "value",
        "start",
        "end",
        "confidence",
        "detail",
        "ocr_confidence",
    ]
    if names != expected or hasattr(Finding, "__post_init__"):
        return Finding
    if slot_maker is not None:
        # Untracked by the garbage collector: a finding holds str and numbers (see the C).
        return slot_maker(Finding, tuple(names), ("", None), True)
    (
        set_detector,
        set_where,
        set_value,
        set_start,
        set_end,
        set_confidence,
        set_detail,
        set_ocr_confidence,
    ) = (getattr(Finding, name).__set__ for name in names)
    new = object.__new__

    def make(
        detector: str, where: str, value: str, start: int, end: int, confidence: float
    ) -> Finding:
        finding: Finding = new(Finding)
        set_detector(finding, detector)
        set_where(finding, where)
        set_value(finding, value)
        set_start(finding, start)
        set_end(finding, end)
        set_confidence(finding, confidence)
        set_detail(finding, "")
        set_ocr_confidence(finding, None)
        return finding

    return make


make_finding = _finding_maker()

Ints = npt.NDArray[np.int64]
_NONE = np.zeros(0, dtype=np.int64)
_NO_ARRAYS: tuple[Ints, Ints, Ints, Ints, Sequence[Pattern]] = (_NONE, _NONE, _NONE, _NONE, ())

# The compiled maker of a batch of findings; None when not built.
make_findings: Callable[..., list[Finding]] | None = getattr(_hsscan, "make_findings", None)
# The compiled `PatternDetector._settled_batch`; None when not built.
settled_findings: Callable[..., tuple[list[int], list[Finding]] | None] | None = getattr(
    _hsscan, "settled_findings", None
)
# The compiled `judged` and `settled_findings` in one call; None when not built.
settle_hits: Callable[..., tuple[list[int], list[Finding]] | bytes] | None = getattr(
    _hsscan, "settle_hits", None
)


def findings_of(
    detector: str,
    units: Sequence[TextUnit],
    unit_of: Ints,
    starts: Ints,
    ends: Ints,
    scores: npt.NDArray[np.float64],
) -> list[Finding]:
    """``make_finding(detector, u.where, u.text[start:end], start, end, score)`` for each
    hit, ``u`` its unit ``units[unit_of[i]]``: a table's settled columns of findings, made
    in one compiled call where `make_finding` is the compiled maker (0.1 µs a finding
    instead of 0.6 µs: a 15,070-row table has 60,000 such)."""
    if make_findings is not None and slot_maker is not None and make_finding is not Finding:
        return make_findings(
            make_finding,
            detector,
            units,
            *(np.ascontiguousarray(a, dtype=np.int64) for a in (unit_of, starts, ends)),
            np.ascontiguousarray(scores, dtype=np.float64),
        )
    return [
        make_finding(detector, unit.where, unit.text[start:end], start, end, score)
        for unit, start, end, score in zip(
            map(units.__getitem__, unit_of.tolist()),
            starts.tolist(),
            ends.tolist(),
            scores.tolist(),
            strict=True,
        )
    ]


class Hit(NamedTuple):
    """Where the shared pass saw a pattern match, in character offsets of the unit's text.

    Hyperscan reports every end of a match (for the leftmost start of each end), so one
    string can produce several hits; `PatternDetector` keeps the longest one that validates.
    """

    start: int
    end: int
    pattern: Pattern


class HitBatch:
    """One detector's hits over many units, as parallel lists, sorted by unit, start and
    longest first.  Iterating yields ``(unit index, start, end, pattern)``.

    Parallel lists rather than a tuple per hit: a spreadsheet brings hundreds of thousands
    of hits, and that many live tuples would set off the cyclic garbage collector again
    and again over everything the process holds.  The scan hands over numpy arrays
    (`of_arrays`) and the lists are made when first asked for: a `ClusterDetector` reads
    the arrays (`arrays`) and never needs them.
    """

    __slots__ = ("_arrays", "_int64s", "_lists", "headed")

    def __init__(self) -> None:
        self.headed: npt.NDArray[np.bool_] | None = None
        """Per hit, when the scan worked it out for a detector that `takes_headed_hits`:
        whether the hit lies in a table cell whose column heading holds one of the
        detector's context words (the contexts given with the batch then hold its words
        only)."""
        self._lists: tuple[list[int], list[int], list[int], list[Pattern]] | None = (
            [],
            [],
            [],
            [],
        )
        self._arrays: tuple[Ints, Ints, Ints, Ints, Sequence[Pattern]] | None = None
        self._int64s = False
        """Whether `arrays` are C-contiguous int64 whatever they were made from (the compiled
        checks take them as they are)."""

    @classmethod
    def of_arrays(
        cls, units: Ints, starts: Ints, ends: Ints, numbers: Ints, table: Sequence[Pattern]
    ) -> HitBatch:
        """A batch of the hits ``table[numbers[i]]`` at ``starts[i]:ends[i]`` of ``units[i]``."""
        batch = cls()
        batch._lists = None
        batch._arrays = (units, starts, ends, numbers, table)
        return batch

    @classmethod
    def of_int64s(
        cls, units: Ints, starts: Ints, ends: Ints, numbers: Ints, table: Sequence[Pattern]
    ) -> HitBatch:
        """`of_arrays` of C-contiguous int64 arrays (a `DetectorSet` scan's): the compiled
        checks read them without `numpy.ascontiguousarray`'s five calls a batch (4 us of a
        200-row sheet's three judged batches)."""
        batch = cls.of_arrays(units, starts, ends, numbers, table)
        batch._int64s = True
        return batch

    def _as_lists(self) -> tuple[list[int], list[int], list[int], list[Pattern]]:
        if self._lists is None:
            units, starts, ends, numbers, table = self._arrays or _NO_ARRAYS
            self._lists = (
                units.tolist(),
                starts.tolist(),
                ends.tolist(),
                list(map(table.__getitem__, numbers.tolist())),
            )
            self._arrays = None
        return self._lists

    def arrays(self) -> tuple[Ints, Ints, Ints, Ints, Sequence[Pattern]]:
        """Units, starts, ends and pattern numbers as arrays, and the patterns they number."""
        if self._arrays is not None:
            return self._arrays
        units, starts, ends, patterns = self._as_lists()
        table = list({id(p): p for p in patterns}.values())
        number = {id(p): i for i, p in enumerate(table)}
        return (
            np.array(units, dtype=np.int64),
            np.array(starts, dtype=np.int64),
            np.array(ends, dtype=np.int64),
            np.array([number[id(p)] for p in patterns], dtype=np.int64),
            table,
        )

    @property
    def units(self) -> list[int]:
        return self._as_lists()[0]

    @property
    def starts(self) -> list[int]:
        return self._as_lists()[1]

    @property
    def ends(self) -> list[int]:
        return self._as_lists()[2]

    @property
    def patterns(self) -> list[Pattern]:
        return self._as_lists()[3]

    def __len__(self) -> int:
        if self._arrays is not None:
            return len(self._arrays[0])
        return len(self._as_lists()[0])

    @property
    def held_as_arrays(self) -> bool:
        """Whether the batch holds arrays (`of_arrays`, not yet read as lists)."""
        return self._arrays is not None

    def __iter__(self) -> Iterator[tuple[int, int, int, Pattern]]:
        # zip reuses its result tuple when the loop lets go of it: no allocation per hit.
        return zip(*self._as_lists(), strict=True)

    def add(self, unit: int, hit: Hit) -> None:
        units, starts, ends, patterns = self._as_lists()
        units.append(unit)
        starts.append(hit.start)
        ends.append(hit.end)
        patterns.append(hit.pattern)


@dataclass(slots=True)
class FindingBatch:
    """Findings over many units, each with the index of its unit (parallel lists)."""

    units: list[int] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.units)

    def add(self, unit: int, finding: Finding) -> None:
        self.units.append(unit)
        self.findings.append(finding)

    def extend(self, unit: int, findings: list[Finding]) -> None:
        self.units.extend([unit] * len(findings))
        self.findings.extend(findings)


class Context:
    """Where a detector's context words are in one unit, to ask "is one near this match?".

    ``spans`` are the words found in the text.  ``cells`` are the bounds (start, end,
    start, end ...) of table cells whose column heading holds such a word (a date under
    ``DOB``): a match inside one of those cells has context whatever the distance.
    """

    __slots__ = ("_cells", "_ends", "_starts")

    def __init__(self, spans: Sequence[tuple[int, int]], cells: Sequence[int] = ()) -> None:
        # Flat and shared where empty: a spreadsheet scan builds one of these per row.
        self._starts: Sequence[int] = ()
        self._ends: Sequence[int] = ()
        if spans:
            ordered = sorted(spans)
            self._starts = [s for s, _ in ordered]
            self._ends = [e for _, e in ordered]
        self._cells = cells

    @classmethod
    def of_sorted(
        cls, starts: Sequence[int], ends: Sequence[int], cells: Sequence[int] = ()
    ) -> Context:
        """The context of words at ``starts`` (ascending) to ``ends``, and ``cells``."""
        # Slots set directly: a scan of many units builds one per unit with words.
        context = cls.__new__(cls)
        context._starts, context._ends, context._cells = starts, ends, cells
        return context

    def __bool__(self) -> bool:
        return bool(self._starts or self._cells)

    def near(self, start: int, end: int, window: int) -> bool:
        """True when a context word lies within ``window`` characters of ``[start, end)``,
        or ``[start, end)`` lies in a cell whose heading holds one."""
        cells = self._cells
        for k in range(0, len(cells), 2):
            if cells[k] <= start and end <= cells[k + 1]:
                return True
        starts, ends = self._starts, self._ends
        i = bisect_left(starts, start - window - 64)
        while i < len(starts) and starts[i] <= end + window:
            if ends[i] >= start - window:
                return True
            i += 1
        return False


NO_CONTEXT = Context([])


@dataclass(slots=True)
class Candidate:
    """A match a `PatternDetector` is deciding on: its span, its unit, context nearby."""

    unit: TextUnit
    start: int
    end: int
    pattern: Pattern
    has_context: bool = False

    @property
    def text(self) -> str:
        return self.unit.text[self.start : self.end]

    def before(self, n: int) -> str:
        """Up to ``n`` characters of the unit's text before the match."""
        return self.unit.text[max(0, self.start - n) : self.start]

    def after(self, n: int) -> str:
        """Up to ``n`` characters of the unit's text after the match."""
        return self.unit.text[self.end : self.end + n]


def _candidate_maker() -> Callable[[TextUnit, int, int, Pattern, bool], Candidate]:
    """``Candidate(unit, start, end, pattern, has_context)``, built faster: a scan builds one
    per match, and the compiled maker sets the five slots in 0.09 µs where the dataclass's
    ``__init__`` takes 0.3 µs.  The plain class when not built (or its fields change)."""
    names = tuple(f.name for f in fields(Candidate))
    if (
        slot_maker is None
        or names != ("unit", "start", "end", "pattern", "has_context")
        or hasattr(Candidate, "__post_init__")
    ):
        return Candidate
    return slot_maker(Candidate, names, ())  # type: ignore[return-value]


make_candidate = _candidate_maker()


# A set lookup instead of a call per character: the bounds check runs on every match.
_WORD_CHARS = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    + "".join(
        chr(c)
        for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
        for c in range(r[0], r[1] + 1)
    )
)


def is_word_char(ch: str) -> bool:
    """ASCII or full-width letter or digit: what a number must not be glued to."""
    return ch in _WORD_CHARS


def nfkc(text: str) -> str:
    """Full-width digits, letters and brackets folded to ASCII (``Ａ１（７）`` → ``A1(7)``)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


# What `PatternDetector.judge` says of a hit: rejected, accepted, or left to the hooks.
REJECTED, ACCEPTED, ASKED = 0, 1, 2
_ASKED_EITHER = ASKED | ASKED << 2
_GLUED = 16  # with them: the hit is glued to a letter or digit (see `PatternDetector.bounded`)
# Below this many hits a batch asks the hooks: arrays for a few hits cost more than the calls.
_JUDGED_FROM = 64
# ... or below this many, in a batch already held as arrays (a sheet of 16 to 64 rows: its
# arrays are made, and judged a 40-row sheet's detection takes 0.4 ms instead of 0.7).
_JUDGED_ARRAYS_FROM = 16


def judged(
    judge: PatternDetector,
    owner: type[PatternDetector],
    detector: int,
    units: Sequence[TextUnit],
    hits: HitBatch,
    kinds: Mapping[str, int] | None = None,
) -> bytes | None:
    """The compiled `PatternDetector.judge` of detector ``detector`` (0 HKID, 1 phone,
    2 name_en; see ``_hsscan.c``) for ``judge``, an ``owner`` whose checks the C repeats;
    None when not built, or when ``judge``'s class changed ``validate`` or ``invalidate``
    (the C would no longer say what they say).  ``kinds``: the number the compiled checks
    know each pattern by (-1 for others, whose hits are left to the hooks)."""
    cls = type(judge)
    if (
        judge_hits is None
        or cls.validate is not owner.validate
        or cls.invalidate is not owner.invalidate
    ):
        return None
    unit_of, starts, ends, numbers, table = hits.arrays()
    if kinds is not None:
        codes = _kind_codes(judge, kinds, table)
        numbers = codes[numbers] if len(table) else numbers
    return judge_hits(
        detector,
        units,
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (unit_of, starts, ends, numbers)),
    )


def _kind_codes(judge: PatternDetector, kinds: Mapping[str, int], table: Sequence[Pattern]) -> Ints:
    """The number ``kinds`` gives each pattern of ``table`` (-1 for others).  Every scan's
    batches number the same table (the `DetectorSet`'s patterns): the detector keeps its
    last answer, with what it answered (held, so their identities stay theirs)."""
    kept = judge._codes_kept
    if kept is not None and kept[0] is kinds and kept[1] is table:
        return kept[2]
    codes = np.array([kinds.get(p.name, -1) for p in table], dtype=np.int64)
    judge._codes_kept = (kinds, table, codes)  # one tuple replaced whole: safe across threads
    return codes


def _narrows(hits: HitBatch, narrowing: frozenset[str] | None) -> bool:
    """Whether a detector that narrows the patterns ``narrowing`` (None: all) narrows a hit
    of the batch.  Which patterns of the table those name is kept for the next batch, as
    `_kind_codes` keeps its numbers (every scan's batches number the same table of 107
    patterns: asked afresh, 3 us a batch)."""
    global _narrowed_kept
    if narrowing is None:
        return True
    numbers, table = hits.arrays()[3:]
    kept = _narrowed_kept
    if kept is None or kept[0] is not narrowing or kept[1] is not table:
        narrowed = np.array([p.name in narrowing for p in table], dtype=np.bool_)
        # One tuple replaced whole: safe across threads.
        kept = _narrowed_kept = (narrowing, table, narrowed, bool(narrowed.any()))
    return kept[3] and bool(kept[2][numbers].any())


# The narrowed names and table `_narrows` last asked of, which patterns of it those name,
# and whether any.
_narrowed_kept: tuple[frozenset[str], Sequence[Pattern], npt.NDArray[np.bool_], bool] | None = None


def _drop_vetoed(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` without the veto patterns' matches and the matches they overlap."""
    vetoes = [h for h in hits if h.pattern.veto]
    if not vetoes:
        return list(hits)
    return [
        h
        for h in hits
        if not h.pattern.veto and not any(v.start < h.end and v.end > h.start for v in vetoes)
    ]


def _unit_batch(hits: Sequence[Hit]) -> HitBatch:
    """One unit's hits as a batch of unit 0, sorted by start, longest first."""
    batch = HitBatch()
    for hit in sorted(_drop_vetoed(hits), key=lambda h: (h.start, -h.end)):
        batch.add(0, hit)
    return batch


class Detector(ABC):
    """A kind of personal data, found from the hits of the shared pass.

    Class attributes a detector sets:

    - ``id``: the detector id in findings (lowercase, unique in a registry).
    - ``patterns``: expressions for the shared hyperscan pass; only units where one of them
      matched reach :meth:`analyze` (unless ``reads_cells``).
    - ``context``: words (matched caseless, ASCII words on word boundaries) whose presence
      within ``context_window`` characters of a match raises confidence.
    - ``reads_cells``: also call :meth:`analyze` for table-row units without hits, so the
      detector can judge whole cells.
    - ``cells_outside_ascii``: with ``reads_cells``, every finding the detector makes
      without a hit holds a character UTF-8 writes in more than one byte (name_zh's cells
      are Chinese names): a scan whose text has none, where no pattern hit it, leaves it out.
    - ``yields_to``: detector ids whose findings win over this one's where they overlap
      (a phone number inside a card number is the card).
    """

    id: ClassVar[str]
    patterns: ClassVar[tuple[Pattern, ...]] = ()
    context: ClassVar[tuple[str, ...]] = ()
    context_window: ClassVar[int] = 30
    reads_cells: ClassVar[bool] = False
    cells_outside_ascii: ClassVar[bool] = False
    yields_to: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def analyze(self, unit: TextUnit, hits: list[Hit], context: Context) -> list[Finding]:
        """Findings in ``unit``.

        :param unit: the text unit the hits are in.
        :param hits: matches of this detector's patterns in ``unit.text``, sorted by start,
            longest first; matches overlapping a ``veto`` pattern's are already dropped.
        :param context: this detector's context words in ``unit.text`` (and the cells of a
            table row whose column heading holds one).
        """

    @classmethod
    def takes_headed_hits(cls) -> bool:
        """Whether :meth:`analyze_all` reads `HitBatch.headed`: then the scan tells which
        hits lie in a cell under a heading with a context word, for a whole table at once,
        and leaves those cells out of the contexts (no cell bounds built row by row)."""
        return False

    def analyze_all(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: Mapping[int, Context],
    ) -> FindingBatch:
        """Findings in a batch of units, each with the index of its unit.

        The default calls :meth:`analyze` once per unit with hits (and per table row, with
        ``reads_cells``); built-in detectors override it to walk the batch in one loop,
        since a spreadsheet is thousands of units with a few hits each.

        :param units: every unit of the scan.
        :param hits: matches of this detector's patterns, sorted by unit, start, longest
            first; matches overlapping a ``veto`` pattern's are already dropped.
        :param contexts: the `Context` of each unit that has one, by unit index.
        """
        out = FindingBatch()
        by_unit: dict[int, list[Hit]] = {}
        for u, start, end, pattern in hits:
            if u in by_unit:
                by_unit[u].append(Hit(start, end, pattern))
            else:
                by_unit[u] = [Hit(start, end, pattern)]
        for u, unit_hits in by_unit.items():
            out.extend(u, self.analyze(units[u], unit_hits, contexts.get(u, NO_CONTEXT)))
        if self.reads_cells:
            for u, unit in enumerate(units):
                if unit.cells is not None and u not in by_unit:
                    out.extend(u, self.analyze(unit, [], contexts.get(u, NO_CONTEXT)))
        return out


class _BatchDetector(Detector):
    """A detector whose checks walk a whole batch of units in one loop (`_analyze_batch`)."""

    def analyze(self, unit: TextUnit, hits: list[Hit], context: Context) -> list[Finding]:
        contexts = {0: context} if context else {}
        return self._analyze_batch([unit], _unit_batch(hits), contexts).findings

    def analyze_all(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: Mapping[int, Context],
    ) -> FindingBatch:
        if type(self).analyze is not _BatchDetector.analyze:
            # A subclass that refines analyze() must see every unit through it.
            return super().analyze_all(units, hits, contexts)
        return self._analyze_batch(units, hits, contexts)

    @abstractmethod
    def _analyze_batch(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: Mapping[int, Context],
    ) -> FindingBatch:
        """Findings in every unit of a batch, each with the index of its unit."""


class PatternDetector(_BatchDetector):
    """A detector that is its patterns plus checks on each match (presidio's shape).

    Each hit becomes a `Candidate`; :meth:`narrow` may shrink its span, the match must not be
    glued to a letter or digit (``bounded``), :meth:`validate` must accept it (check digits)
    and :meth:`invalidate` must not reject it (known false positives).  Confidence is the
    pattern's score, raised by ``context_boost`` when a context word is near; with
    ``requires_context`` a match without context is dropped.
    """

    context_boost: ClassVar[float] = 0.35
    requires_context: ClassVar[bool] = False
    bounded: ClassVar[bool] = True
    narrowed: ClassVar[frozenset[str] | None] = None
    """Names of the patterns :meth:`narrow` applies to (None: all); the others skip the call."""
    _scores_kept: tuple[Sequence[Pattern], npt.NDArray[np.float64]] | None = None
    """The table `_table_scores` last answered for, and its answer."""
    _codes_kept: tuple[Mapping[str, int], Sequence[Pattern], Ints] | None = None
    """The kinds and table `judged` last numbered, and their numbers."""
    compiled_checks: ClassVar[tuple[int, Mapping[str, int] | None] | None] = None
    """What the class's `judge` asks of `judged`: the compiled checks' detector number and
    the numbers they know its patterns by (None: `judge` is not theirs).  Set, a batch is
    judged and settled in one compiled call (`_judged_settled`)."""
    _checks_of: ClassVar[tuple[object, ...] | None] = None
    """`judge`, `validate`, `invalidate` and `_settled_batch` of the class that set
    ``compiled_checks``: one changed since (a subclass, a patch), batches go through them."""

    @classmethod
    def takes_headed_hits(cls) -> bool:
        # Unless a subclass analyses otherwise, its batches go through the loop below.
        return (
            cls.analyze is _BatchDetector.analyze
            and cls.analyze_all is _BatchDetector.analyze_all
            and cls._analyze_batch is PatternDetector._analyze_batch
        )

    def narrow(self, candidate: Candidate) -> Candidate | None:
        """The part of the match that is the value (default: all of it); None drops it."""
        return candidate

    def validate(self, candidate: Candidate) -> bool:
        """True when the value is well formed (check digit, ranges)."""
        return True

    def invalidate(self, candidate: Candidate) -> bool:
        """True when the value is a known false positive."""
        return False

    def judge(self, units: Sequence[TextUnit], hits: HitBatch) -> bytes | None:
        """:meth:`validate` and :meth:`invalidate` settled for a whole batch where they can
        be, without calling them: per hit, the verdict without context in bits 0-1 and with
        context in bits 2-3 (`REJECTED`, `ACCEPTED`, or `ASKED`: the hooks decide).  Only
        asked of batches of many hits none of which :meth:`narrow` applies to.  None (the
        default): every hit asks the hooks."""
        return None

    def confidence(self, candidate: Candidate) -> float:
        """The pattern's score, raised when a context word is near."""
        score = candidate.pattern.score
        return min(1.0, score + self.context_boost) if candidate.has_context else score

    @functools.cached_property
    def _pattern_scores(self) -> tuple[dict[int, float], dict[int, float]]:
        """The default confidence of each pattern, without and with context, worked out once
        per detector, not per scan (keyed by identity: a dataclass hash would hash every
        field on each lookup)."""
        boost = self.context_boost
        return (
            {id(p): round(p.score, 3) for p in self.patterns},
            {id(p): round(min(1.0, p.score + boost), 3) for p in self.patterns},
        )

    def _analyze_batch(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: Mapping[int, Context],
    ) -> FindingBatch:
        """The checks on every hit of a batch, in one loop."""
        cls = type(self)
        # Hooks left at their defaults are not called: this loop runs once per match.
        narrow = None if cls.narrow is PatternDetector.narrow else self.narrow
        custom_confidence = cls.confidence is not PatternDetector.confidence
        narrowing = self.narrowed
        # The hooks' verdicts worked out for the whole batch, where the detector can (a
        # batch settled so returns before the loop's locals below are set up).
        verdicts: bytes | None = None
        judged_from = _JUDGED_ARRAYS_FROM if hits.held_as_arrays else _JUDGED_FROM
        if len(hits) >= judged_from and (narrow is None or not _narrows(hits, narrowing)):
            settles = not custom_confidence and isinstance(contexts, dict)
            together = (
                self._judged_settled(units, hits, contexts)
                if settles and isinstance(contexts, dict)
                else None
            )
            if isinstance(together, FindingBatch):
                return together
            if together is not None:
                verdicts = together  # judged, and not settled: the loop decides
            else:
                verdicts = self.judge(units, hits)
                if verdicts is not None and settles and isinstance(contexts, dict):
                    settled = self._settled_batch(units, hits, contexts, verdicts)
                    if settled is not None:
                        return settled
        validate = None if cls.validate is PatternDetector.validate else self.validate
        invalidate = None if cls.invalidate is PatternDetector.invalidate else self.invalidate
        window = self.context_window
        requires_context, bounded = self.requires_context, self.bounded
        plain, boosted = self._pattern_scores
        out = FindingBatch()
        add_unit, add_finding = out.units.append, out.findings.append
        detector = self.id
        last_start = last_end = -1  # the current unit's last accepted value
        current, taken_until = -1, -1
        unit: TextUnit
        text, size, context = "", 0, None
        # Hits in a cell headed by a context word have context whatever the words near.
        headed: list[bool] = [False] * len(hits) if hits.headed is None else hits.headed.tolist()
        judgements: Iterable[int] = repeat(_ASKED_EITHER) if verdicts is None else verdicts
        for u, hit_start, hit_end, pattern, in_headed_cell, judgement in zip(
            hits.units, hits.starts, hits.ends, hits.patterns, headed, judgements, strict=False
        ):
            if u != current:
                current, taken_until, last_end = u, -1, -1
                unit = units[u]
                text, size, context = unit.text, len(unit.text), contexts.get(u)
            if hit_start < taken_until:
                continue
            has_context = in_headed_cell or (
                context is not None and context.near(hit_start, hit_end, window)
            )
            if requires_context and not has_context:
                continue
            verdict = (judgement >> 2 if has_context else judgement) & 3
            if verdict == REJECTED:
                continue
            candidate = make_candidate(unit, hit_start, hit_end, pattern, has_context)
            if narrow is not None and (narrowing is None or pattern.name in narrowing):
                narrowed = narrow(candidate)
                if narrowed is None:
                    continue
                candidate = narrowed
            start, end = candidate.start, candidate.end
            if bounded and (
                (start > 0 and text[start - 1] in _WORD_CHARS)
                or (end < size and text[end] in _WORD_CHARS)
            ):
                continue
            if verdict == ASKED:
                if validate is not None and not validate(candidate):
                    continue
                if invalidate is not None and invalidate(candidate):
                    continue
            if last_end > start:
                # Overlapping matches of different patterns: the longer one is the value.
                if last_end - last_start >= end - start:
                    continue
                out.units.pop()
                out.findings.pop()
            known = (boosted if candidate.has_context else plain).get(id(candidate.pattern))
            if custom_confidence or known is None:
                score = round(self.confidence(candidate), 3)
            else:
                score = known
            add_unit(u)
            add_finding(make_finding(detector, unit.where, text[start:end], start, end, score))
            last_start, last_end = start, end
            taken_until = hit_start + 1
        return out

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # Where the class writes both its `judge` and what that asks of `judged`: a subclass
        # naming compiled checks over an inherited `judge` is held to that `judge`'s class.
        if "compiled_checks" in vars(cls) and "judge" in vars(cls):
            cls._checks_of = (cls.judge, cls.validate, cls.invalidate, cls._settled_batch)

    def _judged_settled(
        self, units: Sequence[TextUnit], hits: HitBatch, contexts: dict[int, Context]
    ) -> FindingBatch | bytes | None:
        """`judge`, then `_settled_batch`, in one compiled call (`settle_hits`: 5 us less
        glue for a 200-row sheet's HKIDs, phones and names) where the class's `judge` is the
        compiled checks' (``compiled_checks``; none of `judge`, `validate`, `invalidate` and
        `_settled_batch` changed since): the findings, or the verdicts when they settle
        nothing.  None where not: `judge` is asked.  tests/engine/detect/test_settled.py
        compares the two."""
        checks, cls = self.compiled_checks, type(self)
        if (
            checks is None
            or settle_hits is None
            or slot_maker is None
            or make_finding is Finding
            or cls._checks_of != (cls.judge, cls.validate, cls.invalidate, cls._settled_batch)
        ):
            return None
        detector, kinds = checks
        unit_of, starts, ends, numbers, table = hits.arrays()
        codes = (
            numbers if kinds is None or not len(table) else _kind_codes(self, kinds, table)[numbers]
        )
        has_context = self._has_context(hits, contexts)
        arrays = (unit_of, starts, ends, codes, numbers)
        found = settle_hits(
            detector,
            make_finding,
            self.id,
            units,
            *(arrays if hits._int64s else (np.ascontiguousarray(a, np.int64) for a in arrays)),
            b"" if has_context is None else has_context,
            self._table_scores(table),
            self.requires_context,
            self.bounded,
        )
        return FindingBatch(*found) if isinstance(found, tuple) else found

    def _settled_batch(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: dict[int, Context],
        verdicts: bytes,
    ) -> FindingBatch | None:
        """The findings of `_analyze_batch`'s loop, with arrays, for a batch whose every hit
        `judge` settled and of whose hits at most one a unit passes, once those after a hit
        passed at the same start are left out (the loop skips them: ``CHAN Tai Man`` and
        ``CHAN Tai`` start together): then no hit's fate depends on another's, and the loop
        would keep exactly those (a spreadsheet's column of HKIDs).  None otherwise, or when
        a pattern's confidence is not known in advance.  Worked out in one compiled pass
        where built (`_settled_batch_arrays` otherwise: a test compares)."""
        unit_of, starts, ends, numbers, table = hits.arrays()
        has_context = self._has_context(hits, contexts)
        if settled_findings is None or slot_maker is None or make_finding is Finding:
            return self._settled_batch_arrays(units, hits, has_context, verdicts)
        found = settled_findings(
            make_finding,
            self.id,
            units,
            *(np.ascontiguousarray(a, dtype=np.int64) for a in (unit_of, starts, ends, numbers)),
            verdicts,
            b"" if has_context is None else has_context,
            self._table_scores(table),
            self.requires_context,
            self.bounded,
        )
        return None if found is None else FindingBatch(*found)

    def _has_context(
        self, hits: HitBatch, contexts: dict[int, Context]
    ) -> npt.NDArray[np.bool_] | None:
        """Per hit, whether it has context (in a headed cell, or a word near); None: none."""
        if not contexts:
            return hits.headed
        unit_of, starts, ends = hits.arrays()[:3]
        has_context = (
            np.zeros(len(unit_of), dtype=np.bool_) if hits.headed is None else hits.headed.copy()
        )
        window = self.context_window
        inside = np.flatnonzero(np.isin(unit_of, np.fromiter(contexts, dtype=np.int64)))
        for i, u, start, end in zip(
            inside.tolist(),
            unit_of[inside].tolist(),
            starts[inside].tolist(),
            ends[inside].tolist(),
            strict=True,
        ):
            if not has_context[i] and contexts[u].near(start, end, window):
                has_context[i] = True
        return has_context

    def _table_scores(self, table: Sequence[Pattern]) -> npt.NDArray[np.float64]:
        """The confidence of each pattern of ``table`` without context, then with (NaN for
        those not the detector's): every scan's batches number the same table, kept here."""
        kept = self._scores_kept
        if kept is not None and kept[0] is table:
            return kept[1]
        plain, boosted = self._pattern_scores
        scores = np.array(
            [[known.get(id(p), np.nan) for p in table] for known in (plain, boosted)],
            dtype=np.float64,
        ).reshape(-1)
        self._scores_kept = (table, scores)  # one tuple replaced whole: safe across threads
        return scores

    def _settled_batch_arrays(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        headed: npt.NDArray[np.bool_] | None,
        verdicts: bytes,
    ) -> FindingBatch | None:
        """`_settled_batch` with arrays, given which hits have context (``headed``)."""
        unit_of, starts, ends, numbers, table = hits.arrays()
        has_context = np.zeros(len(unit_of), dtype=np.bool_) if headed is None else headed
        judged = np.frombuffer(verdicts, dtype=np.uint8)
        verdict = np.where(has_context, judged >> 2, judged) & 3
        if (verdict == ASKED).any():
            return None
        keep = verdict == ACCEPTED
        if self.requires_context:
            keep &= has_context
        if self.bounded:
            keep &= (judged & _GLUED) == 0
        chosen = np.flatnonzero(keep)
        kept_units = unit_of[chosen]
        again = kept_units[1:] == kept_units[:-1]
        if again.any():
            # Sorted by unit and start: a hit at the start of the one kept before it is skipped.
            again &= starts[chosen[1:]] == starts[chosen[:-1]]
            chosen = chosen[np.flatnonzero(~np.concatenate(([False], again)))]
            kept_units = unit_of[chosen]
            if (kept_units[1:] == kept_units[:-1]).any():
                return None
        # Each pattern's two confidences, looked up by its number.
        plain, boosted = self._pattern_scores
        kept_numbers = numbers[chosen]
        by_number = np.zeros((2, len(table)), dtype=np.float64)
        # The distinct numbers, sorted: counted, where np.unique hashes (~20 us on a column).
        for n in np.flatnonzero(np.bincount(kept_numbers)).tolist():
            without, with_context = plain.get(id(table[n])), boosted.get(id(table[n]))
            if without is None or with_context is None:
                return None
            by_number[0, n], by_number[1, n] = without, with_context
        scores = by_number[has_context[chosen].astype(np.int64), kept_numbers]
        return FindingBatch(
            units=kept_units.tolist(),
            findings=findings_of(self.id, units, kept_units, starts[chosen], ends[chosen], scores),
        )


_OFFSET = (1 << 40) - 1


def _kinds(mask: int, bit: dict[str, int]) -> set[str]:
    """The kinds whose bits are set in ``mask``."""
    return {name for name, b in bit.items() if mask & b}


# Every match of ``ClusterDetector.sentence_end`` holds one of these: a gap without any
# needs no regex search (addresses are mostly parts joined by ", ").
_END_CHARS = "!?。！？；;\n."
_NO_END = frozenset(_END_CHARS)


def _spans_holding_end(units: Sequence[TextUnit], unit_of: Ints, starts: Ints, ends: Ints) -> Ints:
    """The indices ``i`` where ``units[unit_of[i]].text[starts[i]:ends[i]]`` holds one of
    `_END_CHARS` (offsets at least 0).  A scan of long mail asks it of thousands of gaps
    between address parts, of which a few dozen hold one: the compiled extension looks
    without a slice and a set per gap."""
    if spans_holding is not None:
        holding = spans_holding(units, unit_of, starts, ends, _END_CHARS)
        return np.flatnonzero(np.frombuffer(holding, dtype=np.bool_))
    return np.flatnonzero(
        [
            not _NO_END.isdisjoint(units[u].text[start:end])
            for u, start, end in zip(unit_of.tolist(), starts.tolist(), ends.tolist(), strict=True)
        ]
    )


_FEW_PARTS = 64
"""Up to this many hits, a `ClusterDetector` first asks whether all their kinds together may
suffice (a set of a few names, where the arrays cost ~0.1 ms)."""


class ClusterDetector(_BatchDetector):
    """A detector for things made of parts, such as addresses: each pattern's name is the
    kind of part it finds (``floor``, ``street``, ``district`` ...), and parts of at least
    ``min_kinds`` different kinds, each within ``max_gap`` characters of the previous one,
    make one finding spanning them all.
    """

    min_kinds: ClassVar[int] = 3
    # When set, a cluster needs a part of one of these kinds too: a flat, a floor or a
    # street number makes a place someone's address; a landmark, its street and its district
    # alone do not (issue 11).
    specific_kinds: ClassVar[frozenset[str]] = frozenset()
    # Kinds that count twice towards ``min_kinds`` (a street with its number is two parts).
    double_kinds: ClassVar[frozenset[str]] = frozenset()
    max_gap: ClassVar[int] = 25
    base_score: ClassVar[float] = 0.6
    score_per_kind: ClassVar[float] = 0.1
    # Parts in different sentences are not one thing; "Rd. Sha Tin" is still one address.
    sentence_end: ClassVar[re.Pattern[str]] = re.compile(
        r"[!?。！？；;]|\n\s*\n|(?<![A-Z])(?<!Rd)(?<!St)(?<!Ave)(?<!Bldg)(?<!Blk)(?<!No)\.\s"
    )

    def _analyze_batch(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: Mapping[int, Context],
    ) -> FindingBatch:
        """Clusters of parts in every unit of a batch, found with arrays.

        Walking the hits in order, a hit starts a new cluster when it is in another unit,
        starts more than ``max_gap`` after the furthest end so far (the reach), or starts
        past the reach with the end of a sentence between.  Since every cluster starts
        past the reach of those before it, a cluster's reach is the furthest end of all
        the unit's hits so far: a running maximum.  Only the gaps that could hold the end
        of a sentence, in clusters whose kinds `_may_suffice`, are looked at in Python, and
        only clusters whose kinds may suffice are asked whether they make one thing.
        """
        out = FindingBatch()
        unit_of, starts, ends, numbers, table = hits.arrays()
        count = len(unit_of)
        if not count:
            return out
        kinds_here = {table[n].name for n in numbers.tolist()} if count <= _FEW_PARTS else None
        if kinds_here is not None and len(kinds_here) <= 63 and not self._may_suffice(kinds_here):
            # Not even all the parts together may suffice, so no cluster of some of them
            # does (`_may_suffice` holds for fewer kinds only if for more): a sheet's one
            # stray street name costs no arrays (~0.1 ms of numpy's fixed costs).
            return out
        reach = np.maximum.accumulate((unit_of << 40) | ends) & _OFFSET
        new = np.ones(count, dtype=np.bool_)
        np.not_equal(unit_of[1:], unit_of[:-1], out=new[1:])
        gap = np.empty(count, dtype=np.int64)
        gap[0] = 0
        np.subtract(starts[1:], reach[:-1], out=gap[1:])
        new |= gap > self.max_gap
        # Each kind a bit, each cluster the bits of its kinds.
        present = np.flatnonzero(np.bincount(numbers)).tolist()
        names = sorted({table[n].name for n in present})
        if len(names) > 63:
            raise ValueError(f"{self.id}: a cluster detector has at most 63 kinds of part")
        bit = {name: 1 << i for i, name in enumerate(names)}
        bits = np.zeros(present[-1] + 1, dtype=np.int64)
        bits[present] = [bit[table[n].name] for n in present]
        kind_bits = bits[numbers]
        if len(names) <= 12:  # every set of kinds asked once: a table by bits
            table_of = np.array(
                [self._may_suffice(_kinds(mask, bit)) for mask in range(1 << len(names))],
                dtype=np.bool_,
            )

            def may_suffice(masks: Ints) -> npt.NDArray[np.bool_]:
                """Which clusters of these kinds (bits) `_may_suffice`."""
                suffices: npt.NDArray[np.bool_] = table_of[masks]
                return suffices
        else:

            def may_suffice(masks: Ints) -> npt.NDArray[np.bool_]:
                distinct, inverse = np.unique(masks, return_inverse=True)
                answers = [self._may_suffice(_kinds(m, bit)) for m in distinct.tolist()]
                return np.array(answers, dtype=np.bool_)[inverse]

        # The end of a sentence only splits a cluster further: looked for only in the
        # clusters that may suffice without it.
        rich = may_suffice(np.bitwise_or.reduceat(kind_bits, np.flatnonzero(new)))
        near = np.flatnonzero(~new & (gap > 0) & rich[np.cumsum(new) - 1])
        near = near[_spans_holding_end(units, unit_of[near], reach[near - 1], starts[near])]
        search = self.sentence_end.search
        for i, u, start, end in zip(
            near.tolist(),
            unit_of[near].tolist(),
            reach[near - 1].tolist(),
            starts[near].tolist(),
            strict=True,
        ):
            if search(units[u].text, start, end):
                new[i] = True
        firsts = np.flatnonzero(new)
        kinds = np.bitwise_or.reduceat(kind_bits, firsts)
        lasts = np.append(firsts[1:], count) - 1
        chosen = np.flatnonzero(may_suffice(kinds))
        firsts, lasts = firsts[chosen], lasts[chosen]
        # Clusters whose kinds alone make one thing are kept with arrays; the others are
        # asked `_enough` one by one (a spreadsheet's addresses all have a flat or a floor).
        masks = kinds[chosen]
        distinct, inverse = np.unique(masks, return_inverse=True)
        kinds_of = [_kinds(mask, bit) for mask in distinct.tolist()]
        sure = np.array([self._sure(cluster) for cluster in kinds_of], dtype=np.bool_)
        counts = np.array([len(cluster) for cluster in kinds_of], dtype=np.int64)
        kept = sure[inverse]
        cluster_units = unit_of[firsts]
        cluster_starts, cluster_ends = starts[firsts], reach[lasts]
        unsure = np.flatnonzero(~kept)
        for i, k, u, start, end in zip(
            unsure.tolist(),
            inverse[unsure].tolist(),
            cluster_units[unsure].tolist(),
            cluster_starts[unsure].tolist(),
            cluster_ends[unsure].tolist(),
            strict=True,
        ):
            if self._enough(kinds_of[k], units[u].text, start, end):
                kept[i] = True
        kept_at = np.flatnonzero(kept)
        scores = np.array([self._score(int(k)) for k in counts], dtype=np.float64)
        out.units = cluster_units[kept_at].tolist()
        out.findings = findings_of(
            self.id,
            units,
            cluster_units[kept_at],
            cluster_starts[kept_at],
            cluster_ends[kept_at],
            scores[inverse[kept_at]],
        )
        return out

    def _may_suffice(self, kinds: set[str]) -> bool:
        """False when parts of these kinds (or of fewer) can never make one thing: only the
        clusters it passes are asked `_enough`.  A subclass that widens `_enough` widens
        this too, and keeps it monotone (true of some kinds, true of more): a batch whose
        kinds all together fail it has no cluster that passes."""
        return self._counted(kinds) >= self.min_kinds

    def _counted(self, kinds: set[str]) -> int:
        return len(kinds) + len(self.double_kinds & kinds)

    def _enough(self, kinds: set[str], text: str, start: int, end: int) -> bool:
        """True when parts of these kinds, spanning ``text[start:end]``, make one thing."""
        if self._counted(kinds) < self.min_kinds:
            return False
        return self._sure(kinds) or self._specific(text, start, end)

    def _specific(self, text: str, start: int, end: int) -> bool:
        """True when ``text[start:end]`` holds a specific part no pattern names (a number)."""
        return False

    def _sure(self, kinds: set[str]) -> bool:
        """True when parts of these kinds make one thing whatever the text between: then
        `_enough` is not asked.  A subclass whose `_enough` may refuse such parts (it only
        widens it here) makes this False for them."""
        if self._counted(kinds) < self.min_kinds:
            return False
        specific = self.specific_kinds
        return not specific or not specific.isdisjoint(kinds)

    def _score(self, kinds: int) -> float:
        """The confidence of a cluster of parts of ``kinds`` kinds."""
        raw = self.base_score + self.score_per_kind * (kinds - self.min_kinds)
        return round(min(0.95, raw), 3)
