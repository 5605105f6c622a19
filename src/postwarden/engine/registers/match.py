"""Finding register records in a message: candidates from its text, batch lookups, presence.

A record is *present* when one of its unique fields (HKID, email, phone) is found, or when
two or more of its fields occur in one group: a table row, or two adjacent lines of running
text.  Every lookup of a message runs as one vectorised numpy batch per register.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from postwarden.engine.registers.digest import Digester, Hashes
from postwarden.engine.registers.index import RegisterIndex
from postwarden.engine.registers.normalise import (
    FACTS,
    NORMALISERS,
    UNIQUE_FIELDS,
    Field,
    address_en,
    address_zh,
    has_cjk,
    other_candidates,
    unique_candidates,
)
from postwarden.model import Finding, TextUnit

Ints = npt.NDArray[np.int64]

DETECTOR_FIELDS = {
    "hkid": Field.HKID,
    "phone": Field.PHONE,
    "email": Field.EMAIL,
    "name_en": Field.NAME_EN,
    "name_zh": Field.NAME_ZH,
    "address_en": Field.ADDRESS_EN,
    "address_zh": Field.ADDRESS_ZH,
    "dob": Field.DOB,
}
"""Detector ids whose spans are looked up, and the field each one's value is."""

UNIQUE_MAX = 4
"""A unique-field value shared by more records than this (a family's landline, a dummy
"00000000") identifies nobody on its own and only counts together with another field."""
EXPAND_MAX = 64
"""Lookups matching at most this many records are expanded; larger ones (common names)
are only tested against the candidates the group already has."""
PIVOT_MAX = 8192
"""A group whose every match is large expands its smallest one up to this size."""
MAX_TEXT_LINES = 20_000
"""Lines of running text per message looked up whole (detector spans are always looked
up); past this the cost of a huge text attachment would dwarf detection."""
_FACT_OF = np.zeros(16, dtype=np.int64)
_FACT_OF[[int(f) for f in FACTS]] = list(FACTS.values())
_JOIN_LINES = 5
_JOIN_LINE_CHARS = 100
_DIGIT = re.compile(r"[0-9０-９]")
_SEGMENT = re.compile(r"\t|\s{2,}|\s*[|:：;；]\s*")


@dataclass(slots=True)
class RegisterMatch:
    """Register subjects present in one message."""

    subjects: dict[str, int] = field(default_factory=dict)
    record_ids: dict[str, set[int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@dataclass(slots=True)
class Queries:
    """Hashed candidate values of a message: one entry per (group, value) pair."""

    hashes: Hashes
    fields: npt.NDArray[np.uint8]
    groups: Ints
    group_where: list[str]


@dataclass(slots=True)
class _Row:
    group: int
    cells: tuple[str, ...]
    spans: list[Finding]


class Collector:
    """Turns text units and detector spans into grouped (field, normalised value) pairs.

    Table rows are read in two phases: first only their unique fields (cheap shape tests),
    then, by :meth:`finish_rows`, names, addresses and dates of the rows where no unique
    field found a record — a leaked register dump has an HKID on every row, and skipping
    the rest of those rows saves most of the cost of matching it.
    """

    def __init__(self) -> None:
        self.keys: dict[tuple[int, str], int] = {}
        self.key_of: list[int] = []
        self.group_of: list[int] = []
        self.group_where: list[str] = []
        self.rows: list[_Row] = []
        self._unique: dict[str, list[int]] = {}
        self._other: dict[str, list[int]] = {}
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._fields = np.zeros(0, dtype=np.uint8)
        self.lines_left = MAX_TEXT_LINES

    def scan(self, units: Sequence[TextUnit], findings: Sequence[Finding]) -> None:
        """Phase one: running text whole, table rows for their unique fields."""
        by_where: dict[str, list[int]] = {}
        for u, unit in enumerate(units):
            by_where.setdefault(unit.where, []).append(u)
        spans: dict[int, list[Finding]] = {}
        for f in findings:
            if f.detector not in DETECTOR_FIELDS:
                continue
            for u in by_where.get(f.where, ()):
                if units[u].text[f.start : f.end] == f.value:
                    spans.setdefault(u, []).append(f)
                    break
        stream: list[TextUnit] = []
        stream_spans: dict[int, list[Finding]] = {}
        for u, unit in enumerate(units):
            if unit.cells is not None:
                self._running(stream, stream_spans)
                stream, stream_spans = [], {}
                self._row(unit, unit.cells, spans.get(u, []))
                continue
            if stream and stream[-1].source != unit.source:
                self._running(stream, stream_spans)
                stream, stream_spans = [], {}
            if u in spans:
                stream_spans[len(stream)] = spans[u]
            stream.append(unit)
        self._running(stream, stream_spans)

    def finish_rows(self, skip: set[int]) -> None:
        """Phase two: names, addresses and dates of the rows whose group is not in ``skip``."""
        for row in self.rows:
            if row.group in skip:
                continue
            keys: list[int] = []
            for cell in row.cells:
                keys.extend(self._keys(cell, self._other, other_candidates))
            self._add(keys, (row.group,))
            whole = set(row.cells)
            for f in row.spans:
                if DETECTOR_FIELDS[f.detector] not in UNIQUE_FIELDS and f.value not in whole:
                    self._add_span(f, (row.group,))
        self.rows = []

    def queries(self, digester: Digester) -> Queries:
        """The (group, value) pairs so far, hashed; each distinct value is hashed once."""
        keys = list(self.keys)
        done = len(self._hashes)
        if len(keys) > done:
            fresh = keys[done:]
            fields = np.array([f for f, _ in fresh], dtype=np.uint8)
            hashes = np.zeros(len(fresh), dtype=np.uint64)
            for fld in Field:
                idx = np.flatnonzero(fields == fld)
                if len(idx):
                    hashes[idx] = digester.many(fld, [fresh[i][1] for i in idx])
            self._hashes = np.concatenate([self._hashes, hashes])
            self._fields = np.concatenate([self._fields, fields])
        key_of = np.array(self.key_of, dtype=np.int64)
        groups = np.array(self.group_of, dtype=np.int64)
        # One entry per (group, value): a name twice in a row is still one field of that row.
        if len(key_of):
            pair = _distinct(groups * len(keys) + key_of)
            groups, key_of = pair // len(keys), pair % len(keys)
        return Queries(
            hashes=self._hashes[key_of],
            fields=self._fields[key_of],
            groups=groups,
            group_where=self.group_where,
        )

    def _new_group(self, where: str) -> int:
        self.group_where.append(where)
        return len(self.group_where) - 1

    def _key(self, fld: Field, norm: str) -> int:
        # Plain int, not the enum, in the dict key: Enum.__hash__ runs in Python.
        key = (int(fld), norm)
        k = self.keys.get(key)
        if k is None:
            k = self.keys[key] = len(self.keys)
        return k

    def _keys(
        self,
        text: str,
        cache: dict[str, list[int]],
        find: Callable[[str], list[tuple[Field, str]]],
    ) -> list[int]:
        """Keys of the fields ``text`` could be, cached: cells repeat a lot in tables."""
        ks = cache.get(text)
        if ks is None:
            ks = cache[text] = [self._key(f, n) for f, n in find(text)]
        return ks

    def _text_keys(self, text: str) -> list[int]:
        return self._keys(text, self._unique, unique_candidates) or self._keys(
            text, self._other, other_candidates
        )

    def _add(self, keys: Sequence[int], groups: Sequence[int]) -> None:
        for g in groups:
            self.key_of.extend(keys)
            self.group_of.extend([g] * len(keys))

    def _add_span(self, finding: Finding, groups: Sequence[int]) -> None:
        fld = DETECTOR_FIELDS[finding.detector]
        norm = NORMALISERS[fld](finding.value)
        if norm is not None:
            self._add((self._key(fld, norm),), groups)

    def _row(self, unit: TextUnit, cells: tuple[str, ...], spans: list[Finding]) -> None:
        g = self._new_group(unit.where)
        keys: list[int] = []
        cache = self._unique
        for cell in cells:
            ks = cache.get(cell)
            if ks is None:
                # Inline shape test: most cells (names, addresses, words) can be no email,
                # HKID or phone, and a row has many cells.
                if "@" not in cell and (len(cell) > 40 or _DIGIT.search(cell) is None):
                    continue
                ks = self._keys(cell, cache, unique_candidates)
            keys.extend(ks)
        self._add(keys, (g,))
        whole = set(cells)
        for f in spans:
            if DETECTOR_FIELDS[f.detector] in UNIQUE_FIELDS and f.value not in whole:
                self._add_span(f, (g,))
        self.rows.append(_Row(g, cells, spans))

    def _running(self, units: list[TextUnit], spans: dict[int, list[Finding]]) -> None:
        """A stream of running-text units: each line joins the window groups of the pairs
        (previous line, line) and (line, next line), so fields on adjacent lines (a name
        above an address block) count together."""
        window = -1  # the group of (previous line, this line), -1 before the first line
        for u, unit in enumerate(units):
            text = unit.text
            starts = [0]
            starts.extend(m.end() for m in re.finditer("\n", text))
            lines = text.split("\n")
            line_groups: list[tuple[int, ...]] = []
            for line in lines:
                if not line.strip():
                    line_groups.append((window,) if window >= 0 else ())
                    continue
                nxt = self._new_group(unit.where)
                groups = (window, nxt) if window >= 0 else (nxt,)
                line_groups.append(groups)
                window = nxt
                if self.lines_left > 0:
                    self.lines_left -= 1
                    self._add(self._line_keys(line), groups)
            if self.lines_left > 0:
                self._joined(lines, line_groups)
            for f in spans.get(u, ()):
                if window < 0:
                    window = self._new_group(unit.where)
                i = bisect.bisect_right(starts, f.start) - 1
                self._add_span(f, line_groups[i] or (window,))

    def _line_keys(self, line: str) -> list[int]:
        keys = list(self._text_keys(line))
        parts = _SEGMENT.split(line)
        if len(parts) > 1:
            for part in parts:
                if part:
                    keys.extend(self._text_keys(part))
        return keys

    def _joined(self, lines: list[str], line_groups: list[tuple[int, ...]]) -> None:
        """Addresses written over several lines: join up to five short lines."""
        for i, first in enumerate(lines):
            if not first.strip() or len(first) > _JOIN_LINE_CHARS:
                continue
            parts = [first.strip()]
            for nxt in lines[i + 1 : i + _JOIN_LINES]:
                if not nxt.strip() or len(nxt) > _JOIN_LINE_CHARS:
                    break
                parts.append(nxt.strip())
                text = ", ".join(parts)
                if has_cjk(text):
                    fld, norm = Field.ADDRESS_ZH, address_zh(text)
                else:
                    fld, norm = Field.ADDRESS_EN, address_en(text)
                if norm is not None:
                    self._add((self._key(fld, norm),), line_groups[i])


def _distinct(values: Ints) -> Ints:
    """Sorted distinct values; numpy 2's ``np.unique`` hashes instead, 8x slower here."""
    s = np.sort(values)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


def _expand(lo: Ints, n: Ints) -> tuple[Ints, Ints]:
    """For ranges ``[lo, lo+n)``: (index of the range, position) for every position."""
    owner = np.repeat(np.arange(len(lo)), n)
    starts = np.cumsum(n) - n
    pos = np.repeat(lo - starts, n) + np.arange(int(n.sum()))
    return owner, pos


def _contains(
    records: npt.NDArray[np.uint32], lo: Ints, n: Ints, wanted: Ints
) -> npt.NDArray[np.bool_]:
    """Whether ``wanted[i]`` is in the sorted run ``records[lo[i] : lo[i] + n[i]]``: a binary
    search run on all pairs at once (numpy's searchsorted takes one run only)."""
    a = lo.copy()
    b = lo + n
    while True:
        active = a < b
        if not active.any():
            break
        mid = (a + b) >> 1
        less = np.zeros(len(a), dtype=bool)
        less[active] = records[mid[active]] < wanted[active]
        a = np.where(active & less, mid + 1, a)
        b = np.where(active & ~less, mid, b)
    end = lo + n
    hit = a < end
    out = np.zeros(len(a), dtype=bool)
    out[hit] = records[a[hit]] == wanted[hit]
    return out


@dataclass(frozen=True, slots=True)
class Presence:
    """Records present in a message: number, first group seen in, bit mask of fields."""

    records: Ints
    groups: Ints
    masks: Ints


def present(index: RegisterIndex, q: Queries) -> Presence:
    """The records of ``index`` present in the queries of one message."""
    empty = np.zeros(0, dtype=np.int64)
    if not len(q.hashes) or not len(index.hashes):
        return Presence(empty, empty, empty)
    uniq, inv = np.unique(q.hashes, return_inverse=True)
    lo_u = np.searchsorted(index.hashes, uniq, side="left").astype(np.int64)
    hi_u = np.searchsorted(index.hashes, uniq, side="right").astype(np.int64)
    lo, n = lo_u[inv], (hi_u - lo_u)[inv]
    hit = n > 0
    if not hit.any():
        return Presence(empty, empty, empty)
    g, f, lo, n = q.groups[hit], q.fields[hit].astype(np.int64), lo[hit], n[hit]
    strong = np.isin(f, [int(x) for x in UNIQUE_FIELDS]) & (n <= UNIQUE_MAX)
    # A group with one match and no unique field can make nobody present: skip its
    # expansion (a column of names alone would otherwise expand every namesake).
    _, at, per_group = np.unique(g, return_inverse=True, return_counts=True)
    useful = strong | (per_group[at] >= 2)
    if not useful.any():
        return Presence(empty, empty, empty)
    g, f, lo, n, strong = g[useful], f[useful], lo[useful], n[useful], strong[useful]

    # The smallest lookup of each group is its pivot.
    order = np.lexsort((n, g))
    pivot = np.zeros(len(g), dtype=bool)
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[order][1:] != g[order][:-1]
    pivot[order[first]] = True
    expand = (n <= EXPAND_MAX) | (pivot & (n <= PIVOT_MAX))

    owner, pos = _expand(lo[expand], n[expand])
    eg = g[expand][owner]
    er = index.records[pos].astype(np.int64)
    ef = f[expand][owner]
    es = strong[expand][owner]

    # Large lookups (common names): test each against the group's candidate records.
    verify = ~expand
    if verify.any() and len(eg):
        cand = _distinct(eg << 32 | er)
        cg, cr = cand >> 32, cand & 0xFFFFFFFF
        vg, vlo, vn, vf = g[verify], lo[verify], n[verify], f[verify]
        left = np.searchsorted(cg, vg, side="left")
        right = np.searchsorted(cg, vg, side="right")
        v_owner, c_pos = _expand(left, right - left)
        found = _contains(index.records, vlo[v_owner], vn[v_owner], cr[c_pos])
        eg = np.concatenate([eg, vg[v_owner][found]])
        er = np.concatenate([er, cr[c_pos][found]])
        ef = np.concatenate([ef, vf[v_owner][found]])
        es = np.concatenate([es, np.zeros(int(found.sum()), dtype=bool)])

    # Per (group, record): the distinct facts found, and whether a unique field is one.
    key = (eg << 36) | (er << 4) | ef
    order = np.argsort(key)
    key, es = key[order], es[order]
    gr = key >> 4
    runs = np.flatnonzero(np.r_[True, gr[1:] != gr[:-1]])
    run_strong = np.logical_or.reduceat(es, runs)
    run_mask = np.bitwise_or.reduceat(np.left_shift(1, key & 0xF), runs)
    facts = np.bitwise_or.reduceat(np.left_shift(1, _FACT_OF[key & 0xF]), runs)
    ok = (np.bitwise_count(facts) >= 2) | run_strong
    if not ok.any():
        return Presence(empty, empty, empty)
    pg, pr, pm = gr[runs][ok] >> 32, gr[runs][ok] & 0xFFFFFFFF, run_mask[ok]

    # Per record: the first group it was seen in and every field that matched.
    order = np.lexsort((pg, pr))
    pr, pg, pm = pr[order], pg[order], pm[order]
    starts = np.flatnonzero(np.r_[True, pr[1:] != pr[:-1]])
    return Presence(
        records=pr[starts],
        groups=pg[starts],
        masks=np.bitwise_or.reduceat(pm, starts),
    )


def mask_label(mask: int) -> str:
    """``hkid+name_en`` for a bit mask of fields."""
    return "+".join(f.label for f in Field if mask >> f & 1)


def strong_groups(index: RegisterIndex, q: Queries) -> set[int]:
    """Groups where a unique field of some record of ``index`` was found."""
    unique = np.isin(q.fields, [int(x) for x in UNIQUE_FIELDS])
    if not unique.any() or not len(index.hashes):
        return set()
    hashes = q.hashes[unique]
    n = np.searchsorted(index.hashes, hashes, side="right") - np.searchsorted(
        index.hashes, hashes, side="left"
    )
    hit = (n > 0) & (n <= UNIQUE_MAX)
    return set(q.groups[unique][hit].tolist())


def match(
    indexes: Sequence[RegisterIndex],
    units: Sequence[TextUnit],
    findings: Sequence[Finding],
    digester: Digester,
) -> RegisterMatch:
    """Register subjects present in a message, with one finding per record present."""
    out = RegisterMatch()
    if not indexes:
        return out
    col = Collector()
    col.scan(units, findings)
    if col.rows:
        # Rows whose unique field found a record in every register need nothing more.
        q = col.queries(digester)
        skip = set.intersection(*(strong_groups(index, q) for index in indexes))
        col.finish_rows(skip)
    q = col.queries(digester)
    labels: dict[int, str] = {}
    for index in indexes:
        p = present(index, q)
        out.subjects[index.name] = len(p.records)
        out.record_ids[index.name] = set(p.records.tolist())
        detector = f"register:{index.name}"
        for group, mask in zip(p.groups.tolist(), p.masks.tolist(), strict=True):
            label = labels.get(mask)
            if label is None:
                label = labels[mask] = mask_label(mask)
            out.findings.append(
                Finding(detector=detector, where=q.group_where[group], detail=label)
            )
    return out
