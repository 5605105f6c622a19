"""`DetectorSet`: detectors compiled into one hyperscan database, scanned in one pass."""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import hyperscan

from postwarden.engine.detect.base import NO_CONTEXT, Context, Detector, Hit, Pattern
from postwarden.model import Finding, TextUnit

__all__ = ["DetectorSet"]

# Units are scanned joined into one buffer: a call into hyperscan costs a few microseconds,
# which dominates on spreadsheets of 15,000 one-line rows.  No pattern matches NUL, so no
# match can run from one unit into the next.
SEPARATOR = b"\n\x00\n"

_ASCII = bytes(range(128))
_BASE_FLAGS = hyperscan.HS_FLAG_SOM_LEFTMOST | hyperscan.HS_FLAG_UTF8
_HS_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}/-])")


def _context_regex(word: str) -> str:
    """A context word as a hyperscan expression; ASCII words only on word boundaries."""
    body = _HS_SPECIAL.sub(r"\\\1", word)
    if word.isascii() and word[:1].isalnum() and word[-1:].isalnum():
        return rf"\b{body}\b"
    return body


class DetectorSet:
    """Detectors compiled together; :meth:`scan` runs them all over many units at once.

    Build it once per process (compiling the database takes a noticeable fraction of a
    second) and share it: scanning keeps its per-thread scratch space to itself.
    """

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.detectors = tuple(detectors)
        ids = [d.id for d in self.detectors]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate detector id(s): {', '.join(duplicates)}")
        # Expression number -> (detector index, pattern or None for a context word).
        self._table: list[tuple[tuple[int, ...], Pattern | None]] = []
        expressions: list[bytes] = []
        flags: list[int] = []
        for index, detector in enumerate(self.detectors):
            for pattern in detector.patterns:
                self._table.append(((index,), pattern))
                expressions.append(pattern.regex.encode())
                flags.append(_BASE_FLAGS | (hyperscan.HS_FLAG_CASELESS if pattern.caseless else 0))
        words: dict[str, list[int]] = {}
        for index, detector in enumerate(self.detectors):
            for word in detector.context:
                words.setdefault(_context_regex(word), []).append(index)
        for regex, owners in words.items():
            self._table.append((tuple(owners), None))
            expressions.append(regex.encode())
            flags.append(_BASE_FLAGS | hyperscan.HS_FLAG_CASELESS)
        self._cell_readers = tuple(i for i, d in enumerate(self.detectors) if d.reads_cells)
        self._patterns = [pattern for _, pattern in self._table]
        self._owners = [owners for owners, _ in self._table]
        self._yields = {d.id: frozenset(d.yields_to) for d in self.detectors if d.yields_to}
        self._db: hyperscan.Database | None = None
        if expressions:
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._db.compile(
                expressions=expressions, ids=list(range(len(expressions))), flags=flags
            )
        self._local = threading.local()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.detectors)

    def _scratch(self) -> hyperscan.Scratch:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        return scratch

    def _raw_hits(self, blob: bytes) -> list[tuple[int, int, int]]:
        """(start, end, expression) byte offsets of every match in ``blob``."""
        raw: list[tuple[int, int, int]] = []
        append = raw.append

        def on_match(expression: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            append((start, end, expression))

        if self._db is not None and blob:
            self._db.scan(blob, match_event_handler=on_match, scratch=self._scratch())
        return raw

    def scan(self, units: Sequence[TextUnit]) -> list[Finding]:
        """Findings of every detector in ``units``, offsets relative to each unit's text."""
        if not units:
            return []
        encoded = [u.text.encode("utf-8", "replace") for u in units]
        raw = self._raw_hits(SEPARATOR.join(encoded))
        raw.sort()
        starts = [hit[0] for hit in raw]
        findings: list[Finding] = []
        cell_readers = bool(self._cell_readers)
        r, n, base = 0, len(raw), 0
        for unit, data in zip(units, encoded, strict=True):
            limit = base + len(data)
            if r < n and starts[r] < limit:
                j = bisect_left(starts, limit, r)
                found = self._analyze(unit, *self._unit_hits(unit, data, raw, r, j, base))
                r = j
            elif cell_readers and unit.cells is not None:
                found = self._analyze(unit, {}, {})
            else:
                found = []
            findings.extend(found)
            base = limit + len(SEPARATOR)
        return findings

    def _unit_hits(
        self,
        unit: TextUnit,
        data: bytes,
        raw: list[tuple[int, int, int]],
        r: int,
        j: int,
        base: int,
    ) -> tuple[dict[int, list[Hit]], dict[int, list[tuple[int, int]]]]:
        """Hits and context spans of one unit (``raw[r:j]``), by detector, in characters."""
        hits: dict[int, list[Hit]] = {}
        context: dict[int, list[tuple[int, int]]] = {}
        patterns, owners_of = self._patterns, self._owners
        size = len(data)
        extra = size - len(unit.text)  # bytes beyond one per character
        # From the last non-ASCII byte on, a character offset is the byte offset - extra.
        ascii_from = len(data.rstrip(_ASCII)) if extra else 0
        last_byte = last_char = 0
        for k in range(r, j):
            start, end, expression = raw[k]
            start -= base
            end -= base
            if end > size:
                continue
            if start >= ascii_from:
                start -= extra
                end -= extra
            else:
                # Matches come sorted by start, so decoding the gap since the previous one
                # keeps the byte -> character mapping linear in the unit's length.
                last_char += len(data[last_byte:start].decode())
                last_byte = start
                end = last_char + len(data[start:end].decode())
                start = last_char
            pattern = patterns[expression]
            if pattern is None:
                for owner in owners_of[expression]:
                    if owner in context:
                        context[owner].append((start, end))
                    else:
                        context[owner] = [(start, end)]
            else:
                owner = owners_of[expression][0]
                if owner in hits:
                    hits[owner].append(Hit(start, end, pattern))
                else:
                    hits[owner] = [Hit(start, end, pattern)]
        return hits, context

    def _analyze(
        self,
        unit: TextUnit,
        hits: dict[int, list[Hit]],
        context: dict[int, list[tuple[int, int]]],
    ) -> list[Finding]:
        found: list[Finding] = []
        for index, detector_hits in hits.items():
            spans = context.get(index)
            found.extend(
                self.detectors[index].analyze(
                    unit, detector_hits, Context(spans) if spans else NO_CONTEXT
                )
            )
        if unit.cells is not None:
            for index in self._cell_readers:
                if index not in hits:
                    spans = context.get(index)
                    found.extend(
                        self.detectors[index].analyze(
                            unit, [], Context(spans) if spans else NO_CONTEXT
                        )
                    )
        if len(found) > 1:
            found = self._resolve_overlaps(found)
        return found

    def _resolve_overlaps(self, found: list[Finding]) -> list[Finding]:
        """Drop findings overlapped by a finding of a detector they yield to."""
        present = {f.detector for f in found}
        losers = [d for d in present if self._yields.get(d, frozenset()) & present]
        if not losers:
            return found
        spans: dict[str, list[tuple[int, int]]] = {}
        for f in found:
            spans.setdefault(f.detector, []).append((f.start, f.end))
        for detector_spans in spans.values():
            detector_spans.sort()
        return [
            f
            for f in found
            if f.detector not in losers
            or not any(
                _overlaps(spans.get(w, ()), f.start, f.end) for w in self._yields[f.detector]
            )
        ]


def _overlaps(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    """True when a span of the sorted ``spans`` overlaps ``[start, end)``."""
    i = bisect_right(spans, (end,))
    # Spans of one detector do not nest, so the last one starting before ``end`` is the only
    # candidate that can still reach past ``start``.
    return i > 0 and spans[i - 1][1] > start
