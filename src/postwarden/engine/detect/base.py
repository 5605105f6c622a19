"""The detector contract: a `Detector` base and a `PatternDetector` with validation hooks."""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from bisect import bisect_left
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from postwarden.model import Finding, TextUnit

__all__ = [
    "Candidate",
    "ClusterDetector",
    "Context",
    "Detector",
    "Hit",
    "Pattern",
    "PatternDetector",
    "is_word_char",
]


@dataclass(frozen=True, slots=True)
class Pattern:
    """One expression of a detector, compiled into the shared hyperscan database.

    ``regex`` uses the hyperscan dialect (PCRE without lookaround or backreferences); it is
    always compiled in UTF-8 mode without UCP, so ``\\w``, ``\\d`` and ``\\b`` stay ASCII and
    non-ASCII characters are written literally or as ``\\x{....}``.  ``score`` is the confidence
    of a validated match without context.
    """

    name: str
    regex: str
    score: float = 0.5
    caseless: bool = False


class Hit(NamedTuple):
    """Where the shared pass saw a pattern match, in character offsets of the unit's text.

    Hyperscan reports every end of a match (for the leftmost start of each end), so one
    string can produce several hits; `PatternDetector` keeps the longest one that validates.
    """

    start: int
    end: int
    pattern: Pattern


class Context:
    """Spans of a detector's context words in one unit, to ask "is one near this match?"."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans.sort()
        self._starts = [s for s, _ in spans]
        self._ends = [e for _, e in spans]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def near(self, start: int, end: int, window: int) -> bool:
        """True when a context word lies within ``window`` characters of ``[start, end)``."""
        i = bisect_left(self._starts, start - window - 64)
        starts, ends = self._starts, self._ends
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


def is_word_char(ch: str) -> bool:
    """ASCII or full-width letter or digit: what a number must not be glued to."""
    if ch.isascii():
        return ch.isalnum()
    return "０" <= ch <= "９" or "Ａ" <= ch <= "Ｚ" or "ａ" <= ch <= "ｚ"


def nfkc(text: str) -> str:
    """Full-width digits, letters and brackets folded to ASCII (``Ａ１（７）`` → ``A1(7)``)."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


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
    - ``yields_to``: detector ids whose findings win over this one's where they overlap
      (a phone number inside a card number is the card).
    """

    id: ClassVar[str]
    patterns: ClassVar[tuple[Pattern, ...]] = ()
    context: ClassVar[tuple[str, ...]] = ()
    context_window: ClassVar[int] = 30
    reads_cells: ClassVar[bool] = False
    yields_to: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def analyze(self, unit: TextUnit, hits: list[Hit], context: Context) -> list[Finding]:
        """Findings in ``unit``.

        :param unit: the text unit the hits are in.
        :param hits: matches of this detector's patterns in ``unit.text``, sorted by start.
        :param context: spans of this detector's context words in ``unit.text``.
        """


class PatternDetector(Detector):
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

    def narrow(self, candidate: Candidate) -> Candidate | None:
        """The part of the match that is the value (default: all of it); None drops it."""
        return candidate

    def validate(self, candidate: Candidate) -> bool:
        """True when the value is well formed (check digit, ranges)."""
        return True

    def invalidate(self, candidate: Candidate) -> bool:
        """True when the value is a known false positive."""
        return False

    def confidence(self, candidate: Candidate) -> float:
        """The pattern's score, raised when a context word is near."""
        score = candidate.pattern.score
        return min(1.0, score + self.context_boost) if candidate.has_context else score

    def analyze(self, unit: TextUnit, hits: list[Hit], context: Context) -> list[Finding]:
        accepted: list[Candidate] = []
        taken_until = -1
        text = unit.text
        # Longest first for each start, so the first accepted hit of a start is its longest.
        if len(hits) > 1:
            hits = sorted(hits, key=lambda h: (h.start, -h.end))
        for hit in hits:
            if hit.start < taken_until:
                continue
            has_context = bool(context) and context.near(hit.start, hit.end, self.context_window)
            if self.requires_context and not has_context:
                continue
            candidate = self.narrow(Candidate(unit, hit.start, hit.end, hit.pattern, has_context))
            if candidate is None:
                continue
            start, end = candidate.start, candidate.end
            if self.bounded and (
                (start > 0 and is_word_char(text[start - 1]))
                or (end < len(text) and is_word_char(text[end]))
            ):
                continue
            if not self.validate(candidate) or self.invalidate(candidate):
                continue
            if accepted and accepted[-1].end > start:
                # Overlapping matches of different patterns: the longer one is the value.
                if accepted[-1].end - accepted[-1].start >= end - start:
                    continue
                accepted.pop()
            accepted.append(candidate)
            taken_until = hit.start + 1
        return [
            Finding(
                detector=self.id,
                where=unit.where,
                value=text[c.start : c.end],
                start=c.start,
                end=c.end,
                confidence=round(self.confidence(c), 3),
            )
            for c in accepted
        ]


class ClusterDetector(Detector):
    """A detector for things made of parts, such as addresses: each pattern's name is the
    kind of part it finds (``floor``, ``street``, ``district`` ...), and parts of at least
    ``min_kinds`` different kinds, each within ``max_gap`` characters of the previous one,
    make one finding spanning them all.
    """

    min_kinds: ClassVar[int] = 3
    max_gap: ClassVar[int] = 25
    base_score: ClassVar[float] = 0.6
    score_per_kind: ClassVar[float] = 0.1
    # Parts in different sentences are not one thing; "Rd. Sha Tin" is still one address.
    sentence_end: ClassVar[re.Pattern[str]] = re.compile(
        r"[!?。！？；;]|\n\s*\n|(?<![A-Z])(?<!Rd)(?<!St)(?<!Ave)(?<!Bldg)(?<!Blk)(?<!No)\.\s"
    )

    def analyze(self, unit: TextUnit, hits: list[Hit], context: Context) -> list[Finding]:
        found: list[Finding] = []
        cluster: list[Hit] = []
        reach = -1
        text = unit.text
        for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
            if cluster and (
                hit.start - reach > self.max_gap
                or (hit.start > reach and self.sentence_end.search(text, reach, hit.start))
            ):
                found.extend(self._finding(unit, cluster))
                cluster = []
            cluster.append(hit)
            reach = max(reach, hit.end) if len(cluster) > 1 else hit.end
        found.extend(self._finding(unit, cluster))
        return found

    def _finding(self, unit: TextUnit, cluster: list[Hit]) -> list[Finding]:
        kinds = {hit.pattern.name for hit in cluster}
        if len(kinds) < self.min_kinds:
            return []
        start = cluster[0].start
        end = max(hit.end for hit in cluster)
        score = self.base_score + self.score_per_kind * (len(kinds) - self.min_kinds)
        return [
            Finding(
                detector=self.id,
                where=unit.where,
                value=unit.text[start:end],
                start=start,
                end=end,
                confidence=round(min(0.95, score), 3),
            )
        ]
