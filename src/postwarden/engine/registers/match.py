"""Finding register records in a message: candidates from its text, batch lookups, presence.

A record is *present* when one of its unique fields (HKID, email, phone) is found, or when
two or more of its fields occur in one group: a table row, or two adjacent lines of running
text.  Every distinct value of a message is normalised and hashed once and looked up once
per register, in one sorted, vectorised batch.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from postwarden.engine.registers import native
from postwarden.engine.registers.digest import Digester, Hashes
from postwarden.engine.registers.fields import (
    DETECTOR_FIELDS,
    FACTS,
    NORMALISERS,
    UNIQUE_FIELDS,
)
from postwarden.engine.registers.index import RegisterIndex
from postwarden.engine.registers.normalise import (
    CANDIDATE_CHARS,
    CJK_RANGES,
    UNIQUE_CHARS,
    Field,
    address_en,
    address_zh,
    candidates,
    has_cjk,
    hkids_or_phones,
    other_candidates,
    unique_candidates,
)
from postwarden.engine.registers.table import heading_field
from postwarden.model import Finding, TextUnit

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

UNIQUE_MAX = 4
"""A unique-field value shared by more records than this (a family's landline, a dummy
"00000000") identifies nobody on its own and only counts together with another field."""
EXPAND_MAX = 64
"""Lookups matching at most this many records are expanded; larger ones (common names)
are only tested against the candidates the group already has."""
PIVOT_MAX = 8192
"""A group whose every match is large expands its smallest one up to this size."""
SAMPLE_ROWS = 200
"""Rows of a table whose unique field found a record that are still read whole (names,
addresses, dates), to learn which columns carry that record's other fields."""
CARRIED_SHARE = 0.9
"""A column carries the identified record's field when it matched in this share of the
sample; the table's other identified rows then get that field where the cell is filled."""
LOOKUP_UNSORTED = 4096
"""Hashes looked up as they come, unsorted: the compiled search overlaps the cache misses of
sixteen at a time, so walking the index in order first pays only for tens of thousands
(measured at 100,000 and 4.5 million rows alike: 5,000 hashes unsorted 2-5 % faster than
sorted, 20,000 10 % slower); a 200-row sheet's 600 are 30 us sooner."""
MAX_TEXT_LINES = 20_000
"""Lines of running text per message looked up whole (detector spans are always looked
up); past this the cost of a huge text attachment would dwarf detection.  What a reader does
not see as text (:data:`UNSEEN_TEXT`) has a budget of its own: an HTML body's thousands of
attribute values or a long script cannot use up the lines of the letter attached after it."""
UNSEEN_TEXT = ("#hidden", "#attributes", "file names", "#xmp")
"""The ends of the places of units that hold markup rather than what a reader sees as text:
an HTML part's hidden content and attribute values, a container's file names, a pdf's XMP
packet."""
LINE_MEMO = 20_000
"""Short lines of running text (and joins of them) whose normal forms are remembered across
messages: mail repeats its greetings, signatures, letterheads and disclaimers message after
message, and normalising them is most of the matching of a short letter.  A line of prose
is longer than :data:`MEMO_CHARS` and no candidate (it costs nothing to look at)."""
SPANS_IN_PYTHON = 64
"""Findings of a message read in Python rather than by the compiled ``span_units``, whose
array passes cost more than a letter's few findings."""
MEMO_CHARS = CANDIDATE_CHARS
"""Lines up to this long are remembered (a longer one is no candidate once stripped)."""
RUN_MEMO = 4096
"""Runs of short lines (up to :data:`_MEMO_RUN` lines of up to 100 characters: a signature
block) whose joins are remembered across messages: fewer than lines, as each holds up to
twelve of them."""

PHONE_SPACE = 80_000_000
"""Eight-digit numbers a Hong Kong phone can be (first digit 2-9)."""
PHONE_CROWDING = 4
"""Registered phones crowd into the mobile blocks: a block is taken to be this much denser
than the register's share of the whole space when a column of bare numbers is judged."""
PHONE_DENSITY_MIN = 0.05
PHONE_COLUMN_RATE = 0.5
"""At least this share of a column's bare eight-digit numbers must be registered phones
for the column to count as phones: a real phone column of a leaked list is mostly hits,
a column of order numbers hits only as often as the register is dense (~10-20 % at
4.5 M rows)."""
PHONE_COLUMN_ODDS = 1e-9
"""...and chance must explain that many hits at most this rarely (a Chernoff bound on the
binomial tail), so a few lucky order numbers in a short table never make a phone column."""
PHONE_CONFIDENCE = 0.5
"""A phone detector span above this had a context word, grouping or a +852 prefix; a bare
eight-digit number scores 0.4."""
_PHONE_WORD = re.compile(
    r"\b(?:tel|phone|telephone|mobile|mob|cell|fax|contact|call|whatsapp)\b"
    r"|電話|手提|手機|聯絡|傳真|致電",
    re.IGNORECASE,
)

_FACT_OF = np.zeros(16, dtype=np.int64)
_FACT_OF[[int(f) for f in FACTS]] = list(FACTS.values())
# Per field number: whether it is a unique field (a table lookup; np.isin sorts, ~25 us).
_IS_UNIQUE = np.zeros(16, dtype=np.bool_)
_IS_UNIQUE[[int(f) for f in UNIQUE_FIELDS]] = True
_UNIQUE_NUMBERS = frozenset(map(int, UNIQUE_FIELDS))
# A plain int for array comparisons: numpy asks an IntEnum member's class for its array
# hooks, and the enum metaclass answers each miss in Python (4 µs a comparison).
_PHONE = int(Field.PHONE)
_EMAIL_KEY = chr(Field.EMAIL)
_WHERE = operator.attrgetter("where")
_JOIN_LINES = 5
_JOIN_LINE_CHARS = 100
_MEMO_RUN = 12  # runs of short lines up to this many are remembered whole
_SEGMENT = re.compile(r"\t|\s{2,}|\s*[|:：;；]\s*")
_ROW_NUMBER = re.compile(r"R[0-9]+$")
# A text's candidate keys packed in one int (a text is at most two fields: a name and an
# address), so the per-text cache is a dict of ints that the garbage collector never walks.
_KEY_BITS = 30
_KEY_MASK = (1 << _KEY_BITS) - 1
_INTERNATIONAL = 1 << (2 * _KEY_BITS)
_COLUMN_BITS = 16
_ONE = 1
_FEW_MASKS = 1024  # masks labelled through a dict up to this many (_mask_labels)
_FEW_COLUMNS = 8  # phone columns up to this many are compared one by one (_cell_entries)
_FEW_RUNS = 4  # runs of table rows up to this many are numbered by np.arange (_run_array)
# A running-text entry's group and key packed in one int.
_PAIR_BITS = 32
_PAIR_MASK = (1 << _PAIR_BITS) - 1


@dataclass(slots=True)
class RegisterMatch:
    """Register subjects present in one message."""

    subjects: dict[str, int] = field(default_factory=dict)
    record_ids: dict[str, set[int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    record_fields: dict[str, dict[int, str]] = field(default_factory=dict)
    """Per register, each present record's matched fields (``hkid+name_en``): what a letter
    to that person lists as the data that left."""


@dataclass(slots=True)
class Queries:
    """Hashed candidate values of a message: distinct keys, and one entry per (group, key)."""

    hashes: Hashes
    """Per key: the keyed hash of its (field, normal form)."""
    fields: npt.NDArray[np.uint8]
    """Per key: its field."""
    keys: Ints
    groups: Ints
    columns: Ints
    """Per entry: the table column it came from (-1 outside tables)."""
    sure: Bools
    """Per entry: for phones, whether the context says it is one (a heading, a label, +852)."""
    group_where: list[str]


class Collector:
    """Turns text units and detector spans into grouped (field, normalised value) entries.

    Table rows are read in two phases: first only their unique fields (cheap shape tests),
    then, by :meth:`finish_rows`, names, addresses and dates of the rows where no unique
    field found a record, and of a sample of those where one did.  A leaked register dump
    has an HKID on every row, and normalising its names and addresses would cost most of
    the matching; the sample shows which columns carry the identified person's other
    fields, and :func:`carried` adds them to the other identified rows.
    """

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        """Every key (a field's number as a character, then a normal form) and its number,
        in the order numbered."""
        self.table = _Table()
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._fields = b""
        """Every hashed key's field, a byte each."""
        self.group_where: list[str] = []
        self.lines_left = [MAX_TEXT_LINES, MAX_TEXT_LINES]
        """Lines still looked up whole: of what a reader sees, of markup (`UNSEEN_TEXT`)."""
        self._entries: dict[int, bool] = {}
        """Running text's entries, one per (group, key) (``group << _PAIR_BITS | key``): a
        value twice in a line or window is still one field of it, sure if any of its
        occurrences is."""
        self._table_entries: list[tuple[Ints, Ints, Ints, Bools]] = []
        """Table cells' packed keys (``_unique_codes``, ``_other_codes``), each with its
        group, column and whether it is sure (`_cell_entries`)."""

    def scan(self, units: Sequence[TextUnit], findings: Sequence[Finding]) -> None:
        """Running text line by line, table rows cell by cell, and the detectors' spans."""
        spans = _spans(units, findings)
        # The runs of table rows and of their groups (a sheet's is one run of each).
        row_runs: list[range] = []
        group_runs: list[range] = []
        stream: list[TextUnit] = []
        stream_spans: dict[int, list[Finding]] = {}
        # The running text's units, then an end: the rows between two of them (a sheet's
        # thousands) are taken a run at a time, each row a group in order.
        running = [u for u, unit in enumerate(units) if unit.cells is None]
        last = -1
        for u in [*running, len(units)]:
            if u > last + 1:
                if stream:  # rows after rows (a sheet) have no running text between them
                    self._running(stream, stream_spans)
                    stream, stream_spans = [], {}
                first = len(self.group_where)
                self.group_where.extend(map(_WHERE, units[last + 1 : u]))
                row_runs.append(range(last + 1, u))
                group_runs.append(range(first, len(self.group_where)))
            last = u
            if u == len(units):
                break
            unit = units[u]
            if stream and stream[-1].source != unit.source:
                self._running(stream, stream_spans)
                stream, stream_spans = [], {}
            if u in spans:
                stream_spans[len(stream)] = spans[u]
            stream.append(unit)
        self._running(stream, stream_spans)
        if row_runs:
            rows, row_groups = _run_array(row_runs), _run_array(group_runs)
            self._rows(units, rows, row_groups)
            # Rows are numbered in order: a row's group is found by its place among them.
            in_rows = [u for u in sorted(spans) if units[u].cells is not None]
            if not in_rows:  # a sheet's spans are its cells, looked up whole (see _spans)
                return
            at = np.searchsorted(rows, in_rows).tolist()
            groups = row_groups.tolist()
            for u, i in zip(in_rows, at, strict=True):
                for f in spans[u]:
                    self._add_span(f, (groups[i],))

    def hashes(self, digester: Digester) -> Hashes:
        """Every key's hash, each distinct key hashed once (those new since the last call)."""
        done = len(self._hashes)
        if done < len(self.keys):
            fresh, fields = digester.keys(list(itertools.islice(self.keys, done, None)))
            self._hashes = np.concatenate([self._hashes, fresh]) if done else fresh
            self._fields += fields
        return self._hashes

    def none_present(self, n_of: Ints) -> bool:
        """Whether :func:`present` is sure to find nobody, given how many records each key
        matches (``n_of``, of the keys :meth:`hashes` hashed), told from the running
        text's entries in Python without the arrays of :meth:`queries` (a letter's usual
        answer, 20 µs sooner): no table rows, and
        of the keys that match a record, none a unique field matching at most
        :data:`UNIQUE_MAX` and no two in one group.  False when it cannot tell."""
        if self._table_entries or len(self.table.groups):
            return False
        counts = n_of.tolist()
        fields = self._fields
        groups: set[int] = set()
        for pair in self._entries:
            n = counts[pair & _PAIR_MASK]
            if n:
                if n <= UNIQUE_MAX and fields[pair & _PAIR_MASK] in _UNIQUE_NUMBERS:
                    return False
                group = pair >> _PAIR_BITS
                if group in groups:
                    return False
                groups.add(group)
        return True

    def queries(self, digester: Digester) -> Queries:
        """The entries, one per (group, key), with every distinct key hashed once."""
        hashes = self.hashes(digester)
        fields = np.frombuffer(self._fields, dtype=np.uint8)
        # The running text's entries, one per (group, key) already (a dict in Python costs
        # less than numpy's sorting on a letter's few dozen).
        merged = self._entries
        pairs = np.array(sorted(merged), dtype=np.int64)
        keys, groups = pairs & _PAIR_MASK, pairs >> _PAIR_BITS
        columns = np.full(len(pairs), -1, dtype=np.int64)
        sure = np.array([merged[p] for p in pairs.tolist()], dtype=np.bool_)
        if self._table_entries:
            keys, groups, columns, sure = _table_entries(
                self._table_entries, keys, groups, sure, len(self.group_where)
            )
        return Queries(
            hashes=hashes,
            fields=fields,
            keys=keys,
            groups=groups,
            columns=columns,
            sure=sure,
            group_where=self.group_where,
        )

    def _enter(self, texts: Sequence[str], sure: Sequence[bool], groups: Sequence[int]) -> None:
        """Running text's entries of the keys of ``texts`` (`_key_of`; each sure or not) in
        each of ``groups``."""
        merged, keys = self._entries, self.keys
        for text, s in zip(texts, sure, strict=True):
            k = keys.get(text)
            if k is None:
                k = self._key_of(text)
            for g in groups:
                if s:
                    merged[g << _PAIR_BITS | k] = True
                else:
                    merged.setdefault(g << _PAIR_BITS | k, False)

    def _enter_one(self, key: int, sure: bool, groups: Sequence[int]) -> None:
        """`_enter` of one key."""
        merged = self._entries
        for g in groups:
            if sure:
                merged[g << _PAIR_BITS | key] = True
            else:
                merged.setdefault(g << _PAIR_BITS | key, False)

    def _new_group(self, where: str) -> int:
        self.group_where.append(where)
        return len(self.group_where) - 1

    def _key(self, fld: Field, norm: str) -> int:
        # The field as the first character: a str key keeps the dict out of the GC's walks.
        return self._key_of(chr(fld) + norm)

    def _key_of(self, text: str) -> int:
        """The key of ``text``, a field's number as a character then a normal form."""
        k = self.keys.get(text)
        if k is None:
            k = self.keys[text] = len(self.keys)
        return k

    def _keys_of(self, pairs: list[tuple[Field, str]]) -> list[int]:
        """``_key`` of many (field, normal form) pairs, new keys numbered in order of first
        appearance as one call each would (dict passes in C instead of a call each)."""
        return self._keys_of_texts([chr(fld) + norm for fld, norm in pairs])

    def _keys_of_texts(self, texts: Sequence[str]) -> list[int]:
        """``_key_of`` of many texts, as ``_keys_of``."""
        if len(texts) <= 4:  # a line's few: the dict passes cost more than the calls
            return [self._key_of(text) for text in texts]
        keys = self.keys
        new = [text for text in dict.fromkeys(texts) if text not in keys]
        keys.update(zip(new, itertools.count(len(keys))))
        return list(map(keys.__getitem__, texts))

    def _key_array(self, texts: list[str]) -> Ints:
        """``_keys_of_texts`` as an array, numbered in C where built (``number_keys``: a
        table's tens of thousands of keys in 2 ms instead of 7)."""
        if native.number_keys is None or len(texts) <= 4:
            return np.array(self._keys_of_texts(texts), dtype=np.int64)
        return np.frombuffer(native.number_keys(self.keys, texts, len(self.keys)), np.int64)

    def _cell_entries(
        self, codes: Ints, group: Ints, column: Ints, phone_columns: list[int]
    ) -> None:
        """Entries of table cells, given the packed keys of each (``_unique_codes``,
        ``_other_codes``): kept packed, each sure if international or in a phone column,
        and split by :func:`_table_entries`."""
        sure = codes >= _INTERNATIONAL
        if len(phone_columns) > _FEW_COLUMNS:
            sure |= np.isin(column, phone_columns)
        else:
            # A table's phone column or two: a comparison each, where np.isin costs 7 us
            # with none and 30 with one.
            for phones in phone_columns:
                sure |= column == phones
        self._table_entries.append((codes, group, column, sure))

    def _other_codes(self, cells: list[str]) -> Ints:
        """Per cell, the packed keys of the other fields (date of birth, names, addresses)
        it could be, as :func:`other_candidates` gives them, numbered in the cells' order
        (as a call each in turn would number them).  In one compiled call where built and
        every cell is settled there (``other_codes``: a sheet's ASCII names, ids and
        numbers), else by :func:`_other_keys`."""
        settled = None
        if native.other_codes is not None and native.other_keys is not None:
            answer = native.other_codes(self.keys, cells, len(self.keys))
            if isinstance(answer, bytes):
                return np.frombuffer(answer, np.int64)
            settled = answer
        at, second, keys = _other_keys(cells, settled)
        numbers = self._key_array(keys) + 1
        codes = np.zeros(len(cells), dtype=np.int64)
        codes[at[~second]] = numbers[~second]
        # At most two fields a text (a name and an address, or a date alone): see _KEY_BITS.
        codes[at[second]] |= numbers[second] << _KEY_BITS
        return codes

    def _unique_codes(self, cells: list[str], screen: Screen) -> Ints:
        """Per cell, the packed key of the unique field it is (0: none), as
        :func:`unique_candidates` gives it, flagged international if so; in C-level and numpy
        passes over the column of cells: a 15,000-row table has a hundred thousand of them."""
        if not cells:
            return np.zeros(0, dtype=np.int64)
        return self._unique_codes_at(cells, _deep_cells(cells, screen))

    def _unique_codes_at(self, cells: list[str], deep: Ints) -> Ints:
        """:meth:`_unique_codes` given the cells that could be a unique field (``deep``, as
        :func:`_deep_cells` finds them).  In one compiled call where built and every such
        cell is settled there (``unique_codes``: a sheet's HKIDs, local phones and ids),
        else by :func:`_unique_keys` and :func:`_unsure_keys`."""
        settled = None
        if native.unique_codes is not None and native.unique_keys is not None:
            answer = native.unique_codes(
                self.keys, cells, np.ascontiguousarray(deep, dtype=np.int64), len(self.keys)
            )
            if isinstance(answer, bytes):
                return np.frombuffer(answer, np.int64)
            settled = answer
        codes = np.zeros(len(cells), dtype=np.int64)
        keys, found, unsure = _unique_keys(cells, deep, settled)
        flagged = _NO_INTS
        if len(unsure):
            read, international = _unsure_keys(list(map(cells.__getitem__, deep[unsure].tolist())))
            # Emails are numbered first, as when each distinct text was keyed in turn.
            self._keys_of_texts([k for k in read if k is not None and k[0] == _EMAIL_KEY])
            has = np.fromiter(map(operator.is_not, read, itertools.repeat(None)), np.bool_)
            if has.any():
                # In the order of the cells, as their keys are numbered.
                found = np.concatenate([found, unsure[has]])
                order = np.argsort(found, kind="stable")
                merged = [*keys, *(k for k in read if k is not None)]
                keys, found = list(map(merged.__getitem__, order.tolist())), found[order]
            flagged = unsure[np.array(international, dtype=np.bool_)]
        packed = np.zeros(len(deep), dtype=np.int64)
        packed[found] = self._key_array(keys) + 1
        packed[flagged] |= _INTERNATIONAL
        codes[deep] = packed
        return codes

    def finish_rows(self, identified: Ints | None) -> None:
        """Phase two: names, addresses and dates of the rows whose group is not in
        ``identified`` (sorted), and of the first :data:`SAMPLE_ROWS` of each table that are;
        of every row when ``identified`` is ``None`` (see :meth:`_Table.read_whole`)."""
        t = self.table
        if not len(t.groups):
            return
        if identified is None:
            self._read_whole(t.texts, t.cell_groups, t.cell_columns)
            return
        found = np.isin(t.groups, identified)
        # Rank of each identified row within its table, in row order.
        order = np.lexsort((np.arange(len(t.groups)), t.tables))
        ranked = found[order].astype(np.int64)
        table_sorted = t.tables[order]
        starts = _run_starts(table_sorted)
        running = np.cumsum(ranked)
        before = np.repeat(running[starts] - ranked[starts], _run_lengths(starts, len(order)))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = running - before - 1
        sampled = found & (rank < SAMPLE_ROWS)
        t.sampled = t.groups[sampled]
        t.unread = np.flatnonzero(found & ~sampled)
        # Positions, not a mask over every cell: a leaked dump reads a few hundred rows.
        whole = np.flatnonzero(np.repeat(~found | sampled, t.lengths))
        cells = list(map(t.texts.__getitem__, whole.tolist()))
        self._read_whole(cells, t.cell_groups[whole], t.cell_columns[whole])

    def _read_whole(self, cells: list[str], groups: Ints, columns: Ints) -> None:
        """The entries of the other fields of ``cells`` (in ``groups`` and ``columns``)."""
        self._cell_entries(self._other_codes(cells), groups, columns, [])

    def _add_span(self, finding: Finding, groups: Sequence[int]) -> None:
        fld = DETECTOR_FIELDS[finding.detector]
        norm = _span_value(fld, finding.value)
        if norm is not None:
            sure = fld is not Field.PHONE or finding.confidence > PHONE_CONFIDENCE
            self._enter_one(self._key(fld, norm), sure, groups)

    def _rows(
        self,
        units: Sequence[TextUnit],
        rows: Sequence[int] | Ints,
        row_groups: Sequence[int] | Ints,
    ) -> None:
        """Phase one of the table rows at ``rows`` (in ``row_groups``): the unique fields of
        every cell."""
        texts, n, table_ids, firsts = _row_cells(units, rows)
        # The extractor's headings, else the table's first row (a header or a data row:
        # headings only ever add support for a phone column).
        heads = [units[int(rows[j])] for j in firsts]
        headings = [unit.header or unit.cells or () for unit in heads]
        groups = np.asarray(row_groups, dtype=np.int64)
        cell_groups, column = _cell_layout(n, table_ids, groups)
        deep, blank = _unique_cells(texts)
        self.table = _Table(texts, n, groups, table_ids, cell_groups, column, blank=blank)
        phone_columns = [
            t << _COLUMN_BITS | c
            for t, heading in enumerate(headings)
            for c, title in enumerate(heading[: 1 << _COLUMN_BITS])
            if title and len(title) <= 40 and _heading_field(title) == "phone"
        ]
        codes = self._unique_codes_at(texts, deep) if texts else np.zeros(0, dtype=np.int64)
        self._cell_entries(codes, cell_groups, column, phone_columns)

    def _running(self, units: list[TextUnit], spans: dict[int, list[Finding]]) -> None:
        """A stream of running-text units: each line joins the window groups of the pairs
        (previous line, line) and (line, next line), so fields on adjacent lines (a name
        above an address block) count together."""
        window = -1  # the group of (previous line, this line), -1 before the first line
        group_where = self.group_where
        for u, unit in enumerate(units):
            text, where = unit.text, unit.where
            lines = text.split("\n")
            stripped = list(map(str.strip, lines))
            line_groups: list[tuple[int, ...]] = []
            markup = where.endswith(UNSEEN_TEXT)
            left = self.lines_left[markup]
            for line, bare in zip(lines, stripped, strict=True):
                if not bare:
                    line_groups.append((window,) if window >= 0 else ())
                    continue
                group_where.append(where)  # a new group, numbered in order
                nxt = len(group_where) - 1
                groups = (window, nxt) if window >= 0 else (nxt,)
                line_groups.append(groups)
                window = nxt
                if left > 0:
                    left -= 1
                    if len(bare) > CANDIDATE_CHARS and not _segmented(line):
                        continue  # prose: no candidate whole, no segments
                    keys, sure = _line_keys(line)
                    if keys:
                        self._enter(keys, sure, groups)
            self.lines_left[markup] = left
            if left > 0:
                self._joined(lines, stripped, line_groups)
            if u in spans:
                # Where each line starts (its length and a newline after each before it).
                starts = list(itertools.accumulate(map(_ONE.__add__, map(len, lines)), initial=0))
                for f in spans[u]:
                    if window < 0:
                        window = self._new_group(where)
                    i = bisect.bisect_right(starts, f.start) - 1
                    self._add_span(f, line_groups[i] or (window,))

    def _joined(
        self, lines: list[str], stripped: list[str], line_groups: list[tuple[int, ...]]
    ) -> None:
        """Addresses written over several lines: join up to five short lines, in each run of
        short lines (``stripped``: each of ``lines`` stripped)."""
        run = -1  # where the current run of short lines starts
        for i in range(len(lines) + 1):
            if i < len(lines) and stripped[i] and len(lines[i]) <= _JOIN_LINE_CHARS:
                run = i if run < 0 else run
                continue
            if run >= 0 and i - run > 1:
                for offset, key in _run_keys(tuple(stripped[run:i])):
                    self._enter_one(self._key_of(key), True, line_groups[run + offset])
            run = -1


_PART_TYPES = (np.int64, np.int64, np.int64, np.bool_)


def _table_entries(
    cells: list[tuple[Ints, Ints, Ints, Bools]],
    keys: Ints,
    groups: Ints,
    sure: Bools,
    n_groups: int,
) -> tuple[Ints, Ints, Ints, Bools]:
    """The entries of table ``cells`` (packed keys, group, column, sure: see
    `Collector._cell_entries`) and of running text (``keys``, ``groups``, ``sure``: one per
    (group, key) already, no column), one per (group, key) in that order: the first entry
    of each gives its column, sure if any is.  In one compiled pass where built
    (``table_entries``: numpy's ~40 array operations cost a 200-row sheet ~0.1 ms), else
    :func:`_table_entries_py`."""
    if native.table_entries is not None:
        merged = native.table_entries(
            [
                tuple(
                    np.ascontiguousarray(a, dtype=t) for a, t in zip(part, _PART_TYPES, strict=True)
                )
                for part in cells
            ],
            np.ascontiguousarray(keys, dtype=np.int64),
            np.ascontiguousarray(groups, dtype=np.int64),
            np.ascontiguousarray(sure, dtype=np.bool_),
            _KEY_BITS,
            n_groups,
        )
        if merged is not None:
            *ints, sure_of = merged
            k, g, c = (np.frombuffer(part, np.int64) for part in ints)
            return k, g, c, np.frombuffer(sure_of, np.bool_)
    return _table_entries_py(cells, keys, groups, sure)


def _table_entries_py(
    cells: list[tuple[Ints, Ints, Ints, Bools]], keys: Ints, groups: Ints, sure: Bools
) -> tuple[Ints, Ints, Ints, Bools]:
    """:func:`_table_entries` in numpy."""
    parts = []
    for codes, group, column, sured in cells:
        for shift in (0, _KEY_BITS):
            key = ((codes >> shift) & _KEY_MASK) - 1
            has = key >= 0
            parts.append((key[has], group[has], column[has], sured[has]))
    parts.append((keys, groups, np.full(len(keys), -1, dtype=np.int64), sure))
    keys, groups, columns, sure = (np.concatenate([p[i] for p in parts]) for i in range(4))
    # The first entry of each (group, key) gives its column.
    paired = groups * (int(keys.max(initial=0)) + 1) + keys
    order = np.argsort(paired, kind="stable")
    starts = _run_starts(paired[order])
    sure = np.logical_or.reduceat(sure[order], starts)
    first = order[starts]
    return keys[first], groups[first], columns[first], sure


def _find_line_keys(line: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """The keys (field number as a character, then normal form: as ``Collector._key_of``
    takes them) of the fields a line of running text could be, whole and in its tab- and
    label-separated segments, in order; each with whether a phone number is one for sure
    there: when the line names it (``Tel:``, ``電話``) or has a country code."""
    texts = [] if len(line.strip()) > CANDIDATE_CHARS else [line]
    if _segmented(line):
        texts.extend(part for part in _SEGMENT.split(line) if part)
    found = [(text, candidates(text)) for text in texts]
    if not any(pairs for _, pairs in found):
        return (), ()
    # Only a line with a candidate on it asks whether it names a phone: the search costs
    # as much as the split on a long line of prose, which has none.
    named = _PHONE_WORD.search(line) is not None
    keys: list[str] = []
    sure: list[bool] = []
    for text, pairs in found:
        flagged = named or any(_international(fld, text) for fld, _ in pairs)
        for fld, norm in pairs:
            keys.append(chr(fld) + norm)
            sure.append(flagged)
    return tuple(keys), tuple(sure)


_short_line_keys = functools.lru_cache(maxsize=LINE_MEMO)(_find_line_keys)


def _line_keys(line: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """``_find_line_keys(line)``, remembered across messages for a short line."""
    return _short_line_keys(line) if len(line) <= MEMO_CHARS else _find_line_keys(line)


def _find_run_keys(run: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """The keys of the addresses that up to five consecutive lines of a ``run`` of short
    lines (stripped) joined are, each with its first line's place in the run, in order."""
    found = []
    for i in range(len(run)):
        for k in range(i + 1, min(i + _JOIN_LINES, len(run))):
            key = _joined_key(", ".join(run[i : k + 1]))
            if key is not None:
                found.append((i, key))
    return tuple(found)


_short_run_keys = functools.lru_cache(maxsize=RUN_MEMO)(_find_run_keys)


def _run_keys(run: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    """``_find_run_keys(run)``, remembered across messages for a short run (a signature
    block comes back with every message: its ten joins are then one lookup)."""
    return _short_run_keys(run) if len(run) <= _MEMO_RUN else _find_run_keys(run)


@functools.lru_cache(maxsize=LINE_MEMO)
def _joined_key(text: str) -> str | None:
    """The key of the address short lines joined into ``text`` are, if any (remembered as
    lines are)."""
    if has_cjk(text):
        fld, norm = Field.ADDRESS_ZH, address_zh(text)
    else:
        fld, norm = Field.ADDRESS_EN, address_en(text)
    return None if norm is None else chr(fld) + norm


_heading_field = functools.lru_cache(maxsize=4096)(heading_field)
"""``heading_field``, remembered: a table's headings (or first row) come back sheet after
sheet, and NFKC, case folding and the conversion to traditional characters cost ~2 us a
title (a 4-column sheet's 8 us of 0.52 ms).  Titles are at most 40 characters."""


@functools.lru_cache(maxsize=LINE_MEMO)
def _span_value(fld: Field, value: str) -> str | None:
    """The normal form of a detector's span for its field (remembered as lines are: the
    names and numbers of a signature come back with it)."""
    return NORMALISERS[fld](value)


def _unique_keys(
    cells: list[str], at: Ints, settled: tuple[list[str], bytes, bytes] | None = None
) -> tuple[list[str], Ints, Ints]:
    """The keys of the HKIDs and phone numbers among the cells at ``at`` that the compiled
    ``unique_keys`` reads (its answer ``settled`` already when given), the indices into
    ``at`` they are for, and the indices it leaves to :func:`_unsure_keys` (without the
    extension: all of them)."""
    if settled is None and native.unique_keys is not None:
        settled = native.unique_keys(cells, np.ascontiguousarray(at, dtype=np.int64))
    if settled is None:
        return [], _NO_INTS, np.arange(len(at), dtype=np.int64)
    keys, found, unsure = settled
    return keys, np.frombuffer(found, np.int64), np.frombuffer(unsure, np.int64)


def _other_keys(
    cells: list[str], settled: tuple[list[str], bytes, bytes] | None = None
) -> tuple[Ints, Bools, list[str]]:
    """The keys of the fields :func:`other_candidates` finds each of ``cells`` could be, in
    order: the cell of each, whether it is that cell's second, and the keys.  Read by the
    compiled ``other_keys`` where it can (an ASCII name, or no field: the numbers and
    codes of a table; its answer ``settled`` already when given), else by
    :func:`other_candidates`, once per distinct text."""
    if settled is None and native.other_keys is not None:
        settled = native.other_keys(cells)
    if settled is None:
        keys: list[str] = []
        found, unsure = _NO_INTS, np.arange(len(cells), dtype=np.int64)
    else:
        keys, found_at, unsure_at = settled
        found, unsure = np.frombuffer(found_at, np.int64), np.frombuffer(unsure_at, np.int64)
    if not len(unsure):
        return found, np.zeros(len(found), dtype=np.bool_), keys
    read: dict[str, list[str]] = {}
    more_at: list[int] = []
    more_second: list[bool] = []
    for j in unsure.tolist():
        text = cells[j]
        more = read.get(text)
        if more is None:
            more = read[text] = [chr(fld) + norm for fld, norm in other_candidates(text)]
        for i, key in enumerate(more):
            more_at.append(j)
            more_second.append(i > 0)
            keys.append(key)
    at = np.concatenate([found, np.array(more_at, dtype=np.int64)])
    second = np.concatenate([np.zeros(len(found), np.bool_), np.array(more_second, np.bool_)])
    order = np.lexsort((second, at))
    return at[order], second[order], list(map(keys.__getitem__, order.tolist()))


def _unsure_keys(texts: list[str]) -> tuple[list[str | None], list[bool]]:
    """Per text (with an "@", or a digit and at most :data:`UNIQUE_CHARS` long stripped), the
    key of the unique field it is, or ``None``; and whether it is a phone number written with
    a country code."""
    read: dict[str, tuple[str | None, bool]] = {}
    numbers = []
    for text in dict.fromkeys(texts):
        if "@" in text:
            pairs = unique_candidates(text)
            read[text] = (chr(pairs[0][0]) + pairs[0][1] if pairs else None, False)
        else:
            numbers.append(text)
    for text, pair in zip(numbers, hkids_or_phones(numbers), strict=True):
        if pair is None:
            read[text] = (None, False)
        else:
            fld, norm = pair
            read[text] = (chr(fld) + norm, _international(fld, text) > 0)
    keys = [read[text][0] for text in texts]
    return keys, [read[text][1] for text in texts]


def _row_cells(
    units: Sequence[TextUnit], rows: Sequence[int] | Ints
) -> tuple[list[str], Ints, Ints, list[int]]:
    """The table rows at ``rows`` flattened: every cell's text, each row's cell count, each
    row's table (its place without the row number, numbered in order of first appearance)
    and the index into ``rows`` of each table's first row.  Compiled where built, else
    :func:`_row_cells_py`."""
    if native.row_cells is None:
        return _row_cells_py(units, list(map(int, rows)))
    texts, lengths, tables, firsts = native.row_cells(units, np.asarray(rows, dtype=np.int64))
    return (
        texts,
        np.frombuffer(lengths, np.int64),
        np.frombuffer(tables, np.int64),
        np.frombuffer(firsts, np.int64).tolist(),
    )


def _row_cells_py(
    units: Sequence[TextUnit], rows: list[int]
) -> tuple[list[str], Ints, Ints, list[int]]:
    """:func:`_row_cells` in Python."""
    texts: list[str] = []
    lengths: list[int] = []
    table_of: list[int] = []
    tables: dict[str, int] = {}
    firsts: list[int] = []
    # The last table's name and "R": the place of its next row is that and a number.
    row_prefix: str | None = None
    for j, u in enumerate(rows):
        unit = units[u]
        cells = unit.cells or ()
        texts.extend(cells)
        lengths.append(len(cells))
        where = unit.where
        if (
            row_prefix is not None
            and where.startswith(row_prefix)
            and (number := where[len(row_prefix) :]).isdigit()
            and number.isascii()
        ):
            table = row_prefix[:-1]  # what the search below finds, without searching
        else:
            table = where[: m.start()] if (m := _ROW_NUMBER.search(where)) else where
            row_prefix = table + "R" if m else None
        t = tables.get(table)
        if t is None:
            t = tables[table] = len(firsts)
            firsts.append(j)
        table_of.append(t)
    return texts, np.array(lengths, dtype=np.int64), np.array(table_of, dtype=np.int64), firsts


def _international(fld: Field, text: str) -> int:
    """:data:`_INTERNATIONAL` for a phone number written with +852 or another country code
    (more than eight digits): a phone for sure; else 0."""
    if fld is Field.PHONE and len(text) > 8 and sum(map(str.isdigit, text)) > 8:
        return _INTERNATIONAL
    return 0


def _cell_layout(lengths: Ints, tables: Ints, groups: Ints) -> tuple[Ints, Ints]:
    """Per cell of the table rows flattened (each row's cell count, table and group): its
    row's group, and its column (``table << _COLUMN_BITS | place in the row``, the place at
    most all ones).  Compiled where built (``cell_layout``), else :func:`_cell_layout_py`."""
    if native.cell_layout is None:
        return _cell_layout_py(lengths, tables, groups)
    cell_groups, columns = native.cell_layout(
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (lengths, tables, groups)),
        _COLUMN_BITS,
    )
    return np.frombuffer(cell_groups, np.int64), np.frombuffer(columns, np.int64)


def _cell_layout_py(lengths: Ints, tables: Ints, groups: Ints) -> tuple[Ints, Ints]:
    """:func:`_cell_layout` in numpy."""
    cell = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    column = (np.repeat(tables, lengths) << _COLUMN_BITS) | np.minimum(
        cell, (1 << _COLUMN_BITS) - 1
    )
    return np.repeat(groups, lengths), column


def _unique_cells(cells: list[str]) -> tuple[Ints, Bools]:
    """The cells that could be a unique field (:func:`_deep_cells`), and per cell whether it
    is blank.  Compiled where built (``unique_cells``, one pass a cell), else
    :func:`_unique_cells_py`."""
    if native.unique_cells is None:
        return _unique_cells_py(cells)
    deep, blank = native.unique_cells(cells, UNIQUE_CHARS)
    return np.frombuffer(deep, np.int64), np.frombuffer(blank, np.bool_)


def _unique_cells_py(cells: list[str]) -> tuple[Ints, Bools]:
    """:func:`_unique_cells` from :func:`_screen`."""
    screen = _screen(cells)
    return _deep_cells(cells, screen), screen[4]


def _deep_cells(cells: list[str], screen: Screen) -> Ints:
    """The indices of the cells (with their ``screen``) that could be a unique field."""
    # A cell with no "@" whose text has no digit or is longer than an HKID or phone
    # number can be is none of them (most cells: names, words, addresses).
    size, at, digit, cjk, _ = screen
    long = np.flatnonzero(digit & ~at & (size > UNIQUE_CHARS))
    if len(long):
        # Longer with its spaces: the stripped text is what counts.
        stripped = map(len, map(str.strip, map(cells.__getitem__, long.tolist())))
        size = size.copy()
        size[long] = np.fromiter(stripped, np.int64, len(long))
    # A short Chinese address has digits too; no HKID or phone has a Chinese character,
    # before NFKC or after (it maps ideographs to ideographs).
    deep: Ints = np.flatnonzero(at | (digit & (size <= UNIQUE_CHARS) & ~cjk))
    return deep


_FULLWIDTH_ZERO = ord("０")


Screen = tuple[Ints, Bools, Bools, Bools, Bools]


def _screen(cells: list[str]) -> Screen:
    """Per cell: its length, whether it has an "@", a digit (0-9 or full-width, as
    normalise's ``_DIGIT``) and a Chinese character (as ``has_cjk``), and whether it is
    blank (``not text.strip()``): compiled, one pass over each cell (3 ms for the 120,568
    cells of a 15,070-row sheet), else numpy's."""
    if native.screen_cells is None:
        return _screen_points(cells)
    packed = np.frombuffer(native.screen_cells(cells), dtype=np.int64)
    return packed >> 4, (packed & 2) > 0, (packed & 1) > 0, (packed & 4) > 0, (packed & 8) > 0


def _screen_points(cells: list[str]) -> Screen:
    """:func:`_screen` read off the code points of all the cells at once: 20 ms for the
    120,568 cells of a 15,070-row sheet, where a regex search and map passes per cell took
    30 ms."""
    count = len(cells)
    size = np.fromiter(map(len, cells), np.int64, count)
    # Each cell and one newline after it: no empty segment, and a newline is none of them.
    points = np.frombuffer(
        "\n".join(cells).encode("utf-32-le", "surrogatepass") + b"\n\0\0\0", dtype="<u4"
    )
    starts = np.cumsum(size + 1) - (size + 1)
    # Unsigned: a code point below the range wraps round to a large number.
    digit = ((points - ord("0")) < 10) | ((points - _FULLWIDTH_ZERO) < 10)
    cjk = np.zeros(len(points), dtype=np.bool_)
    for low, high in CJK_RANGES:
        cjk |= (points - low) <= high - low
    flags = digit.view(np.uint8) | ((points == ord("@")).view(np.uint8) << 1)
    flags |= cjk.view(np.uint8) << 2
    per_cell = np.bitwise_or.reduceat(flags, starts)
    blank = np.fromiter(map(operator.not_, map(str.strip, cells)), np.bool_, count)
    return size, (per_cell & 2) > 0, (per_cell & 1) > 0, (per_cell & 4) > 0, blank


_SEPARATORS = ("\t", "|", ":", "：", ";", "；")
# The ASCII separators and every ASCII whitespace character but the space (str.isspace's).
_ASCII_SPLITTERS = bytes(c for c in range(128) if chr(c) in "|:;" or (chr(c).isspace() and c != 32))


def _segmented_py(line: str) -> bool:
    """Whether :data:`_SEGMENT` splits ``line``: a tab or a separator character in it, or a
    run of two whitespace characters.  Checked in C-level passes since a paragraph of prose
    is one long line with neither, and the regex split costs ~30 µs on it (``str.split``
    and the regex's ``\\s`` both take whitespace as ``str.isspace`` does)."""
    if line.isascii():
        raw = line.encode()
        # Without separators and with no whitespace but spaces (a line of prose), only two
        # spaces in a row split it: three C-level passes instead of the split below.
        if len(raw.translate(None, _ASCII_SPLITTERS)) == len(raw):
            return b"  " in raw
    if any(sep in line for sep in _SEPARATORS):
        return True
    words = line.split()
    # Every whitespace run is one character iff there are as many whitespace characters
    # as runs: one between each two words, and one at either end that has any.
    runs = len(words) - 1 + line[:1].isspace() + line[-1:].isspace()
    return len(line) - len("".join(words)) != max(runs, 0)


_segmented: Callable[[str], bool] = native.segmented or _segmented_py
"""`_segmented_py`, in one pass in C where built (a tenth of the bytes passes on a line of
prose, six of which a short letter has)."""


_NO_INTS = np.zeros(0, dtype=np.int64)
_NO_INTS.flags.writeable = False
_NO_BOOLS = np.zeros(0, dtype=np.bool_)
_NO_BOOLS.flags.writeable = False


def _no_ints() -> Ints:
    """An empty array, the same one each time: a table's fields are replaced, never written."""
    return _NO_INTS


@dataclass(slots=True)
class _Table:
    """Every table row of a message, flattened: cell texts, and per row its cell count,
    group and table; per cell its group and column."""

    texts: list[str] = field(default_factory=list)
    lengths: Ints = field(default_factory=_no_ints)
    groups: Ints = field(default_factory=_no_ints)
    tables: Ints = field(default_factory=_no_ints)
    cell_groups: Ints = field(default_factory=_no_ints)
    cell_columns: Ints = field(default_factory=_no_ints)
    sampled: Ints = field(default_factory=_no_ints)
    """Groups of the identified rows read whole."""
    unread: Ints = field(default_factory=_no_ints)
    """Row numbers of the identified rows not read whole."""
    blank: Bools = field(default_factory=lambda: _NO_BOOLS)
    """Per cell: whether it is blank (``not text.strip()``)."""

    def read_whole(self) -> bool:
        """Whether every table has at most :data:`SAMPLE_ROWS` rows: ``finish_rows`` then
        reads all their rows whole, whichever a unique field identified, and none is left to
        :func:`carried` (a letter's or a small sheet's tables: their first lookup, to learn
        which rows are identified, is skipped, and ``finish_rows(None)`` reads them all)."""
        return int(np.bincount(self.tables).max()) <= SAMPLE_ROWS


def _spans(units: Sequence[TextUnit], findings: Sequence[Finding]) -> dict[int, list[Finding]]:
    """The detector spans to look up, by unit: all of running text, and in table rows
    those that are not a whole cell (the cell itself is looked up).  Compiled where built
    (``span_units``: 105,000 findings of a 15,070-row table in a few ms), else
    :func:`_spans_py`."""
    if native.span_units is None or len(findings) <= SPANS_IN_PYTHON:
        return _spans_py(units, findings)
    unit_of = np.frombuffer(native.span_units(units, findings, DETECTOR_FIELDS), np.int64)
    spans: dict[int, list[Finding]] = {}
    kept = np.flatnonzero(unit_of >= 0)
    for i, u in zip(kept.tolist(), unit_of[kept].tolist(), strict=True):
        spans.setdefault(u, []).append(findings[i])
    return spans


def _spans_py(units: Sequence[TextUnit], findings: Sequence[Finding]) -> dict[int, list[Finding]]:
    """:func:`_spans` in Python."""
    first: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}
    for u, unit in enumerate(units):
        if (v := first.setdefault(unit.where, u)) != u:
            repeated.setdefault(unit.where, [v]).append(u)
    spans: dict[int, list[Finding]] = {}
    for f in findings:
        if f.detector not in DETECTOR_FIELDS:
            continue
        where = f.where
        u = first.get(where, -1)
        if where in repeated:
            u = next((v for v in repeated[where] if units[v].text[f.start : f.end] == f.value), -1)
        if u < 0:
            continue
        cells = units[u].cells
        if cells is not None and f.value in cells:
            continue
        spans.setdefault(u, []).append(f)
    return spans


def _run_array(runs: list[range]) -> Ints:
    """The numbers of ``runs`` (ascending ranges) in one array: by ``np.arange`` for a few
    (a sheet's 200 rows in 0.4 us, where an array made from a list of them took 3.6), else
    read off the ranges in one pass (a message of many short tables)."""
    if len(runs) <= _FEW_RUNS:
        return np.concatenate([np.arange(r.start, r.stop, dtype=np.int64) for r in runs])
    total = sum(map(len, runs))
    return np.fromiter(itertools.chain.from_iterable(runs), np.int64, total)


def _distinct(values: Ints) -> Ints:
    """Sorted distinct values; numpy 2's ``np.unique`` hashes instead, 8x slower here.  A
    stable sort (timsort): the values come in group order, mostly sorted already, where it
    runs in linear time (0.14 ms for 35,000 values, the default quicksort 1.1 ms)."""
    s = np.sort(values, kind="stable")
    return s[_run_starts(s)]


def _shared(values: Ints) -> Ints:
    """Per value, how many of ``values`` equal it (``np.unique``'s counts at its inverse,
    whose quicksort costs ten times a stable sort on values in group order: see
    :func:`_distinct`)."""
    order = np.argsort(values, kind="stable")
    starts = _run_starts(values[order])
    sizes = _run_lengths(starts, len(values))
    shared = np.empty(len(values), dtype=np.int64)
    shared[order] = np.repeat(sizes, sizes)
    return shared


def _distinct_masks(masks: Ints) -> tuple[Ints, Ints]:
    """``np.unique(masks, return_inverse=True)`` of field bit masks (small non-negative
    ints) by counting them, where np.unique sorts: 2 ms for a 15,070-row leak's masks."""
    seen = np.bincount(masks) > 0
    rank = np.cumsum(seen) - 1
    return np.flatnonzero(seen), rank[masks]


def _run_lengths(starts: Ints, total: int) -> Ints:
    """The length of each run of ``total`` values starting at ``starts`` (ascending):
    ``np.diff(starts, append=total)`` without np.diff's broadcast and concatenation, which
    cost four times the subtraction on a message's few runs."""
    ends = np.empty(len(starts), dtype=np.int64)
    ends[:-1] = starts[1:]
    ends[-1:] = total
    lengths: Ints = ends - starts
    return lengths


def _run_starts(values: npt.NDArray[np.int64]) -> Ints:
    """Where each run of equal values starts (``np.flatnonzero(np.r_[True, v[1:] != v[:-1]])``
    without ``np.r_``, which costs more than the rest on a message's few entries)."""
    new = np.empty(len(values), dtype=np.bool_)
    new[:1] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return np.flatnonzero(new)


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
    """Records present in a message: number, first group seen in, bit mask of fields; and
    the (group, record) pairs behind them, with the table column of each field matched."""

    records: Ints
    groups: Ints
    masks: Ints
    identified: tuple[Ints, Ints] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    """(group, record) pairs present through a unique field, sorted."""
    matched: tuple[Ints, Ints, Ints, Ints] = (np.zeros(0, np.int64),) * 4
    """(group, record, field, column) of every value matched for those pairs."""


def strong_entries(index: RegisterIndex, q: Queries, lo_of: Ints, n_of: Ints) -> Bools:
    """Per entry: whether it is a unique field that identifies a record of ``index``."""
    n = n_of[q.keys]
    f = q.fields[q.keys]
    strong: Bools = (
        (n > 0) & _IS_UNIQUE[f] & (n <= UNIQUE_MAX) & (_sure(index, q, n) | (f != _PHONE))
    )
    return strong


def _sure(index: RegisterIndex, q: Queries, n: Ints) -> Bools:
    """Per entry: whether it is sure to be the field it was read as, given how many records
    of ``index`` each entry's key matches (``n``): a bare eight-digit number in a table
    column is a phone when its column holds phones (:func:`phone_columns`)."""
    sure = q.sure
    bare = (q.fields[q.keys] == _PHONE) & ~sure & (q.columns >= 0)
    if bare.any():
        sure = sure.copy()
        matched = n[bare]
        sure[bare] = phone_columns(
            q.columns[bare], (matched <= UNIQUE_MAX) & (matched > 0), phone_density(index)
        )
    return sure


def _sure_of_keys(index: RegisterIndex, q: Queries, n_of: Ints, n_all: Ints) -> Bools:
    """:func:`_sure`, given how many records each key matches (``n_of``; ``n_all`` per
    entry): the bare phone numbers found in one compiled pass where built (``bare_phones``),
    and one column of them judged as :func:`phone_columns` judges it (a sheet's column of
    phones: ~12 us of numpy passes, now 2), else by :func:`_sure`."""
    if native.bare_phones is None:
        return _sure(index, q, n_all)
    at, hits, columns = native.bare_phones(
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (q.keys, q.columns)),
        np.ascontiguousarray(q.sure, dtype=np.bool_),
        np.ascontiguousarray(q.fields, dtype=np.uint8),
        np.ascontiguousarray(n_of, dtype=np.int64),
        _PHONE,
        UNIQUE_MAX,
    )
    if columns > 1:
        return _sure(index, q, n_all)
    if not columns or not _one_column_holds_phones(len(at) // 8, hits, phone_density(index)):
        return q.sure  # none bare, or a column that does not hold phones: none made sure
    sure = q.sure.copy()
    sure[np.frombuffer(at, np.int64)] = True
    return sure


def phone_density(index: RegisterIndex) -> float:
    """How likely an unrelated eight-digit number in a crowded block is a phone of ``index``."""
    share = PHONE_CROWDING * index.info.fields.get("phone", 0) / PHONE_SPACE
    return min(0.5, max(PHONE_DENSITY_MIN, share))


def phone_columns(columns: Ints, registered: Bools, density: float) -> Bools:
    """Per entry: whether its column of bare eight-digit numbers holds phones, judged by how
    many of them are registered phones (``registered``) against what ``density`` explains."""
    if len(columns) and (columns == columns[0]).all():
        # One column (a sheet's column of phones): its counts without the grouping below,
        # which costs twice the rest; judged by the same arithmetic on the same one-element
        # arrays (tests/engine/registers/test_match.py compares the two).
        holds = _one_column_holds_phones(len(columns), int(np.count_nonzero(registered)), density)
        return np.full(len(columns), holds, dtype=np.bool_)
    # np.unique's inverse and counts by a stable sort (numpy 2's np.unique hashes: 40 us on
    # a 200-row sheet's column of phones, where the sort takes a tenth).
    order = np.argsort(columns, kind="stable")
    starts = _run_starts(columns[order])
    shaped = _run_lengths(starts, len(columns))
    at = np.empty(len(columns), dtype=np.int64)
    at[order] = np.repeat(np.arange(len(starts)), shaped)
    return _phone_column_supported(np.bincount(at, weights=registered), shaped, density)[at]


@functools.lru_cache(maxsize=4096)
def _one_column_holds_phones(shaped: int, hits: int, density: float) -> bool:
    """:func:`_phone_column_supported` of one column of ``shaped`` bare numbers, ``hits`` of
    them registered phones, remembered: its dozen numpy calls on one-element arrays cost
    20 us, and the sheets of one sender (or one leak cut into files) repeat their counts."""
    shaped_one = np.array([shaped], dtype=np.int64)
    hits_one = np.array([hits], dtype=np.float64)
    return bool(_phone_column_supported(hits_one, shaped_one, density)[0])


def _phone_column_supported(
    hits: npt.NDArray[np.float64 | np.intp], shaped: Ints, density: float
) -> Bools:
    """Per column, ``hits`` of its ``shaped`` entries registered phones: whether it holds
    phones (``hits`` floats: np.bincount's stubs call its weighted sums intp)."""
    rate = hits / shaped
    # n * KL(rate || density): -log of a Chernoff bound on P(that many hits by chance).  The
    # log of a rate of 0 is left out (its term is 0): no np.errstate, which costs as much as
    # the rest here; such a column is below PHONE_COLUMN_RATE whatever its surprise.
    ratio = np.log(rate / density, out=np.zeros(len(rate)), where=rate > 0)
    surprise = shaped * (
        rate * ratio + (1 - rate) * np.log(np.where(rate < 1, (1 - rate) / (1 - density), 1.0))
    )
    supported: Bools = (rate >= PHONE_COLUMN_RATE) & (surprise >= -math.log(PHONE_COLUMN_ODDS))
    return supported


def present(index: RegisterIndex, q: Queries, lo_of: Ints, n_of: Ints) -> Presence:
    """The records of ``index`` present in the queries of one message, given where each
    key's run starts in the index (``lo_of``) and its length (``n_of``).  In one compiled
    call where built (:func:`_present_chain`), else step by step."""
    empty = np.zeros(0, dtype=np.int64)
    chained = _present_chain(index, q, lo_of, n_of)
    if chained is not None:
        return chained
    g, k, f, lo, n, c, strong = _useful_entries(index, q, lo_of, n_of)
    if not len(g):
        return Presence(empty, empty, empty)
    records = np.asarray(index.records)  # the plain ndarray: memmap's subclass hooks are slow
    gr, pm, ident, matched = _present_pairs(g, k, f, lo, n, c, strong, records)
    if not len(gr):
        return Presence(empty, empty, empty)
    present_ids, groups, masks, identified = _present_records(gr, pm, ident)
    return Presence(present_ids, groups, masks, identified, matched)


def _present_chain(index: RegisterIndex, q: Queries, lo_of: Ints, n_of: Ints) -> Presence | None:
    """:func:`present` by the compiled ``present_chain``: :func:`_useful_entries`,
    ``owned_runs``, ``presence`` and :func:`_present_records` in one call, on the bytes each
    step gives the next, where each step's answer was taken as numpy views and handed on
    through ``ascontiguousarray`` (~35 numpy calls and three frames: 6 us of a 200-row
    sheet's 60 of presence, process time);
    ``None`` where not built (nor ``bare_phones``), or when the groups are out of order
    (``useful_entries`` then declines: the steps one by one take the numpy path)."""
    chain = native.present_chain
    if chain is None or native.bare_phones is None:
        return None
    n_all = n_of[q.keys]
    if not n_all.any():  # nothing matches: nobody present, no phone test
        empty = np.zeros(0, dtype=np.int64)
        return Presence(empty, empty, empty)
    chained = chain(
        *_entry_arguments(index, q, lo_of, n_of, n_all),
        np.ascontiguousarray(index.records, dtype=np.uint32),
        _FACT_OF,
        EXPAND_MAX,
        PIVOT_MAX,
    )
    if chained is None:
        return None
    records, groups, masks, ig, ir, mg, mr, mf, mc = (
        np.frombuffer(part, np.int64) for part in chained
    )
    return Presence(records, groups, masks, (ig, ir), (mg, mr, mf, mc))


def _present_records(gr: Ints, pm: Ints, ident: Bools) -> tuple[Ints, Ints, Ints, Pairs]:
    """Per record present (``gr``: its pairs' ``group << 32 | record``, ascending, each
    with its field bits ``pm``), ascending: the first group it was seen in and every field
    that matched there and in every other group where it was present; and the (group,
    record) of the pairs ``ident`` marks.  Compiled where built (``present_records``: the
    dozen numpy calls below cost a 200-row sheet ~20 us), else
    :func:`_present_records_py`."""
    if native.present_records is None:
        return _present_records_py(gr, pm, ident)
    parts = native.present_records(
        np.ascontiguousarray(gr, dtype=np.int64),
        np.ascontiguousarray(pm, dtype=np.int64),
        np.ascontiguousarray(ident, dtype=np.bool_),
    )
    records, groups, masks, ig, ir = (np.frombuffer(part, np.int64) for part in parts)
    return records, groups, masks, (ig, ir)


def _present_records_py(gr: Ints, pm: Ints, ident: Bools) -> tuple[Ints, Ints, Ints, Pairs]:
    """:func:`_present_records` in numpy."""
    pg, pr = gr >> 32, gr & 0xFFFFFFFF
    identified = (pg[ident], pr[ident])
    order = np.lexsort((pg, pr))
    pr, pg, pm = pr[order], pg[order], pm[order]
    starts = _run_starts(pr)
    return pr[starts], pg[starts], np.bitwise_or.reduceat(pm, starts), identified


Matched = tuple[Ints, Ints, Ints, Ints]
Pairs = tuple[Ints, Ints]


Entries = tuple[Ints, Ints, Ints, Ints, Ints, Ints, Bools]


def _entry_arguments(
    index: RegisterIndex, q: Queries, lo_of: Ints, n_of: Ints, n_all: Ints
) -> tuple[object, ...]:
    """What the compiled ``useful_entries`` takes (and ``present_chain`` first): the
    queries' keys, groups, columns, sureness and fields, each key's run start and length,
    and the field constants, as contiguous arrays of the types it reads."""
    return (
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (q.keys, q.groups, q.columns)),
        np.ascontiguousarray(_sure_of_keys(index, q, n_of, n_all), dtype=np.bool_),
        np.ascontiguousarray(q.fields, dtype=np.uint8),
        np.ascontiguousarray(lo_of, dtype=np.int64),
        np.ascontiguousarray(n_of, dtype=np.int64),
        _IS_UNIQUE,
        UNIQUE_MAX,
        _PHONE,
    )


def _useful_entries(index: RegisterIndex, q: Queries, lo_of: Ints, n_of: Ints) -> Entries:
    """The entries :func:`present` expands, given each key's run start (``lo_of``) and
    length (``n_of``) in ``index``: those matching a record that are strong (a unique field
    that identifies it) or share their group with another match (a group with one match
    and no unique field can make nobody present, and a column of names alone would
    otherwise expand every namesake); each with its group, key, field, run start and
    length, column, and whether it is strong.  In one compiled pass where built
    (``useful_entries``, given the groups in order, as :meth:`Collector.queries` gives
    them), else :func:`_useful_entries_py`."""
    n_all = n_of[q.keys]
    if native.useful_entries is None or not n_all.any():  # nothing matches: no phone test
        return _useful_entries_py(index, q, lo_of, n_of)
    picked = native.useful_entries(*_entry_arguments(index, q, lo_of, n_of, n_all))
    if picked is None:
        return _useful_entries_py(index, q, lo_of, n_of)
    *ints, strong = picked
    g, k, f, lo, n, c = (np.frombuffer(part, np.int64) for part in ints)
    return g, k, f, lo, n, c, np.frombuffer(strong, np.bool_)


def _useful_entries_py(index: RegisterIndex, q: Queries, lo_of: Ints, n_of: Ints) -> Entries:
    """:func:`_useful_entries` in numpy."""
    empty = np.zeros(0, dtype=np.int64)
    none = (empty, empty, empty, empty, empty, empty, np.zeros(0, dtype=np.bool_))
    n_all = n_of[q.keys]
    # The entries that match a record, by position: each array is taken at them once.
    at = np.flatnonzero(n_all)
    if not len(at):
        return none
    k, n, g = q.keys[at], n_all[at], q.groups[at]
    f = q.fields[k].astype(np.int64)
    unique = _IS_UNIQUE[f] & (n <= UNIQUE_MAX)
    if not unique.any():
        # No entry can be strong: a record needs two matches in one group.  A message of
        # prose with a common name in it ends here.
        gs = g.tolist()
        if len(gs) == len(set(gs)):
            return none
        strong = unique
    else:
        strong = unique & (_sure(index, q, n_all)[at] | (f != _PHONE))
    useful = strong | (_shared(g) >= 2)
    at = at[useful]
    k = k[useful]
    return g[useful], k, f[useful], lo_of[k], n[useful], q.columns[at], strong[useful]


def _present_pairs(
    g: Ints,
    k: Ints,
    f: Ints,
    lo: Ints,
    n: Ints,
    c: Ints,
    strong: Bools,
    records: npt.NDArray[np.uint32],
) -> tuple[Ints, Ints, Bools, Matched]:
    """The middle of :func:`present`, given its useful entries (group, key, field, run start
    and length, column, strong) and the index's records: per (group, record) present, in
    that order, its ``group << 32 | record``, its field bits and whether a unique field
    identified it; and the (group, record, field, column) of every value matched for the
    identified ones.  In one compiled pass where built (``presence``: a 200-row sheet's
    ~80 array operations cost ~0.3 ms), else :func:`_present_pairs_py`."""
    if native.presence is None:
        return _present_pairs_py(g, k, f, lo, n, c, strong, records)
    records = np.ascontiguousarray(records, dtype=np.uint32)
    entries: tuple[object, ...] = (
        *(np.ascontiguousarray(a, dtype=np.int64) for a in (g, k, f, lo, n, c)),
        np.ascontiguousarray(strong, dtype=np.bool_),
    )
    if native.owned_runs is not None:
        # The values a unique field's record owns, cut down to its places (see owned_runs):
        # the same pairs from a fifth of the matches on a sheet whose rows have an HKID.
        entries = native.owned_runs(*entries, records, EXPAND_MAX) or entries
    parts = native.presence(*entries, records, _FACT_OF, EXPAND_MAX, PIVOT_MAX)
    gr, masks, ident, mg, mr, mf, mc = parts
    return (
        np.frombuffer(gr, np.int64),
        np.frombuffer(masks, np.int64),
        np.frombuffer(ident, np.bool_),
        (
            np.frombuffer(mg, np.int64),
            np.frombuffer(mr, np.int64),
            np.frombuffer(mf, np.int64),
            np.frombuffer(mc, np.int64),
        ),
    )


def _present_pairs_py(
    g: Ints,
    k: Ints,
    f: Ints,
    lo: Ints,
    n: Ints,
    c: Ints,
    strong: Bools,
    records: npt.NDArray[np.uint32],
) -> tuple[Ints, Ints, Bools, Matched]:
    """:func:`_present_pairs` in numpy."""
    # The smallest lookup of each group is its pivot.
    order = np.lexsort((n, g))
    pivot = np.zeros(len(g), dtype=bool)
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[order][1:] != g[order][:-1]
    pivot[order[first]] = True
    expand = (n <= EXPAND_MAX) | (pivot & (n <= PIVOT_MAX))

    owner, pos = _expand(lo[expand], n[expand])
    eg = g[expand][owner]
    er = records[pos].astype(np.int64)
    ef = f[expand][owner]
    ek = k[expand][owner]
    ec = c[expand][owner]
    es = strong[expand][owner]

    # Large lookups (common names): test each against the group's candidate records.
    verify = ~expand
    if verify.any() and len(eg):
        vg, vk, vf, vc = g[verify], k[verify], f[verify], c[verify]
        v_owner, v_record = _verified(_distinct(eg << 32 | er), records, vg, lo[verify], n[verify])
        eg = np.concatenate([eg, vg[v_owner]])
        er = np.concatenate([er, v_record])
        ef = np.concatenate([ef, vf[v_owner]])
        ek = np.concatenate([ek, vk[v_owner]])
        ec = np.concatenate([ec, vc[v_owner]])
        es = np.concatenate([es, np.zeros(len(v_owner), dtype=bool)])

    eg, er, ef, ec, es = _unclaimed(eg, er, ef, ek, ec, es)

    # Per (group, record): the distinct facts found, and whether a unique field is one.
    key = (eg << 36) | (er << 4) | ef
    order = np.argsort(key, kind="stable")  # in group order already: see _distinct
    key, es, ec = key[order], es[order], ec[order]
    gr = key >> 4
    runs = _run_starts(gr)
    run_strong = np.logical_or.reduceat(es, runs)
    run_mask = np.bitwise_or.reduceat(np.left_shift(1, key & 0xF), runs)
    facts = np.bitwise_or.reduceat(np.left_shift(1, _FACT_OF[key & 0xF]), runs)
    ok = (np.bitwise_count(facts) >= 2) | run_strong
    pick = np.repeat(ok & run_strong, _run_lengths(runs, len(gr)))
    matched = (gr[pick] >> 32, gr[pick] & 0xFFFFFFFF, key[pick] & 0xF, ec[pick])
    return gr[runs][ok], run_mask[ok], run_strong[ok], matched


def _verified(
    cand: Ints, records: npt.NDArray[np.uint32], vg: Ints, vlo: Ints, vn: Ints
) -> tuple[Ints, Ints]:
    """The large lookups (group ``vg``, run ``vlo``/``vn``) tested against their group's
    candidate records (``cand``: distinct ``group << 32 | record``): (lookup, record) of
    each found, lookup by lookup, records ascending.  Each distinct (group, run) once,
    walking the smaller of its run and the group's candidates and searching the other:
    testing every candidate against every large lookup of a row took its candidates times
    its lookups (4,000 values in one row: 1.2 s in C)."""
    order = np.lexsort((vn, vlo, vg))
    new = np.ones(len(order), dtype=bool)
    for column in (vg, vlo, vn):
        new[1:] |= column[order][1:] != column[order][:-1]
    run_of = np.empty(len(order), dtype=np.int64)
    run_of[order] = np.cumsum(new) - 1
    first = order[new]
    ug, ulo, un = vg[first], vlo[first], vn[first]
    left = np.searchsorted(cand >> 32, ug, side="left")
    many = np.searchsorted(cand >> 32, ug, side="right") - left
    by_cand = many <= un
    # The candidates of a group no larger than its run, each sought in the run...
    a = np.flatnonzero(by_cand)
    a_owner, a_pos = _expand(left[a], many[a])
    a_record = cand[a_pos] & 0xFFFFFFFF
    a_found = _contains(records, ulo[a][a_owner], un[a][a_owner], a_record)
    # ... else the records of the run, each sought among the candidates.
    b = np.flatnonzero(~by_cand)
    b_owner, b_pos = _expand(ulo[b], un[b])
    b_record = records[b_pos].astype(np.int64)
    b_found = _in_sorted(cand, ug[b][b_owner] << 32 | b_record) if len(cand) else b_record < 0
    hit_run = np.concatenate([a[a_owner][a_found], b[b_owner][b_found]])
    hit_record = np.concatenate([a_record[a_found], b_record[b_found]])
    hit = hit_run << 32 | hit_record
    hit = _distinct(hit)  # by run, records ascending; a record a run repeats once
    hit_run, hit_record = hit >> 32, hit & 0xFFFFFFFF
    starts = np.searchsorted(hit_run, np.arange(len(first)), side="left")
    ends = np.searchsorted(hit_run, np.arange(len(first)), side="right")
    owner, pos = _expand(starts[run_of], (ends - starts)[run_of])
    return owner, hit_record[pos]


def carried(table: _Table, p: Presence) -> tuple[Ints, Ints]:
    """Fields of the identified records in the rows not read whole: (record, field bits).

    A column carries field F when, in the sampled rows, the row's identified record
    matched F there at least :data:`CARRIED_SHARE` of the time (a leaked dump repeats its
    layout row after row); every other identified row of that table whose cell there is
    filled then shows F of its record too.
    """
    none = np.zeros(0, dtype=np.int64)
    if not len(table.unread) or not len(table.sampled) or not len(p.identified[0]):
        return none, none
    mg, _, mf, mc = p.matched
    sampled = np.isin(mg, table.sampled) & (mc >= 0)
    # One vote per (row, column, field).
    votes = _distinct((mc[sampled] << 36) | (mf[sampled] << 32) | mg[sampled])
    column_field = votes >> 32
    runs = _run_starts(column_field)
    count = _run_lengths(runs, len(votes))
    cf = column_field[runs]
    row_of = np.searchsorted(table.groups, table.sampled)
    per_table = np.bincount(table.tables[row_of], minlength=int(table.tables.max()) + 1)
    column = cf >> 4
    keep = count >= CARRIED_SHARE * per_table[column >> _COLUMN_BITS]
    if not keep.any():
        return none, none
    starts = np.cumsum(table.lengths) - table.lengths
    rows = table.unread
    bits = np.zeros(len(rows), dtype=np.int64)
    for col, fld in zip(column[keep].tolist(), (cf[keep] & 0xF).tolist(), strict=True):
        t, c = col >> _COLUMN_BITS, col & ((1 << _COLUMN_BITS) - 1)
        here = np.flatnonzero((table.tables[rows] == t) & (table.lengths[rows] > c))
        bits[here[~table.blank[starts[rows[here]] + c]]] |= 1 << fld
    has = bits > 0
    ig, ir = p.identified
    lo = np.searchsorted(ig, table.groups[rows[has]], side="left")
    hi = np.searchsorted(ig, table.groups[rows[has]], side="right")
    owner, pos = _expand(lo, hi - lo)
    return ir[pos], bits[has][owner]


def _unclaimed(
    eg: Ints, er: Ints, ef: Ints, ek: Ints, ec: Ints, es: Bools
) -> tuple[Ints, Ints, Ints, Ints, Bools]:
    """The matches left once a group's values that belong to a record identified there by
    a unique field are that record's alone: a namesake in the same household does not
    share the row of a person whose HKID is on it, but someone else's name and address
    next to that HKID are still that someone else's."""
    pair = eg << 32 | er
    owners = _distinct(pair[es])
    if not len(owners):
        return eg, er, ef, ec, es
    own = _in_sorted(owners, pair)
    values = eg << 32 | ek
    taken = _in_sorted(_distinct(values[own]), values)
    keep = own | ~taken
    return eg[keep], er[keep], ef[keep], ec[keep], es[keep]


def _in_sorted(distinct: Ints, values: Ints) -> Bools:
    """Per value, whether it is one of ``distinct`` (ascending, not empty)."""
    found: Bools = (
        distinct[np.minimum(np.searchsorted(distinct, values), len(distinct) - 1)] == values
    )
    return found


def mask_label(mask: int) -> str:
    """``hkid+name_en`` for a bit mask of fields."""
    return "+".join(f.label for f in Field if mask >> f & 1)


@functools.lru_cache(maxsize=4096)
def _label_of(mask: int) -> str:
    """:func:`mask_label`, remembered: a mask is one of a few field sets (2.5 us each)."""
    return mask_label(mask)


def _mask_labels(masks: Ints) -> list[str]:
    """:func:`mask_label` of each of ``masks``: by a dict of the distinct ones for a sheet's
    few hundred (7 us for 200, where :func:`_distinct_masks`' numpy passes took 16), else
    by counting them (a 15,070-row leak's masks)."""
    if len(masks) > _FEW_MASKS:
        distinct, which = _distinct_masks(masks)
        names = list(map(_label_of, distinct.tolist()))
        return list(map(names.__getitem__, which.tolist()))
    listed = masks.tolist()
    labels = {mask: _label_of(mask) for mask in set(listed)}
    return list(map(labels.__getitem__, listed))


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
    looked: list[tuple[Ints, Ints]] | None = None
    if not len(col.table.groups):
        looked = [_lookup(index, col.hashes(digester)) for index in indexes]
        if all(col.none_present(n) for _, n in looked):
            for index in indexes:  # nobody present in any register (as below, without arrays)
                out.subjects[index.name] = 0
                out.record_ids[index.name] = set()
                out.record_fields[index.name] = {}
            return out
    elif col.table.read_whole():
        col.finish_rows(None)  # no lookup first: see _Table.read_whole
    else:
        q = col.queries(digester)
        looked = [_lookup(index, q.hashes) for index in indexes]
        # Rows whose unique field found a record in every register: phase two samples them.
        identified = [
            _distinct(q.groups[strong_entries(index, q, lo, n)])
            for index, (lo, n) in zip(indexes, looked, strict=True)
        ]
        col.finish_rows(functools.reduce(np.intersect1d, identified))
    q = col.queries(digester)
    if looked is None:
        looked = [_lookup(index, q.hashes) for index in indexes]
    else:
        looked = [
            _lookup(index, q.hashes, *done) for index, done in zip(indexes, looked, strict=True)
        ]
    for index, (lo, n) in zip(indexes, looked, strict=True):
        p = present(index, q, lo, n)
        masks = p.masks.copy()
        more_records, more_bits = carried(col.table, p)
        if len(more_records):
            np.bitwise_or.at(masks, np.searchsorted(p.records, more_records), more_bits)
        out.subjects[index.name] = len(p.records)
        records = p.records.tolist()
        out.record_ids[index.name] = set(records)
        if not records:  # a letter's usual answer: none of numpy's fixed costs below
            out.record_fields[index.name] = {}
            continue
        # One label per distinct mask, and the findings made in C-level passes: a leaked
        # table has a record on each of its thousands of rows.
        labels = _mask_labels(masks)
        out.record_fields[index.name] = dict(zip(records, labels, strict=True))
        wheres = map(q.group_where.__getitem__, p.groups.tolist())
        detector = itertools.repeat(f"register:{index.name}")
        # Untracked, they never reach the oldest generation, whose full collections (10-50
        # ms with a leak's findings in it) would otherwise follow every few such matches.
        if native.make_untracked_register_finding is not None:
            out.findings.extend(
                map(native.make_untracked_register_finding, detector, wheres, labels)
            )
            continue
        made = map(native.make_register_finding, detector, wheres, labels)
        out.findings.extend(made if native.untracked is None else map(native.untracked, made))
    return out


def _lookup(
    index: RegisterIndex,
    hashes: Hashes,
    lo: Ints | None = None,
    n: Ints | None = None,
) -> tuple[Ints, Ints]:
    """Run start and length in ``index`` of each hash, sorted first unless they are few (see
    RegisterIndex.find); ``lo`` and ``n`` of the first keys when already known."""
    done = 0 if lo is None or n is None else len(lo)
    if lo is not None and n is not None and done == len(hashes):
        return lo, n  # nothing new since (a letter whose nobody-present test failed)
    fresh = hashes[done:]
    if len(fresh) <= LOOKUP_UNSORTED:
        new_lo, new_n = index.find(fresh)
    else:
        order = np.argsort(fresh)
        new_lo = np.zeros(len(fresh), dtype=np.int64)
        new_n = np.zeros(len(fresh), dtype=np.int64)
        new_lo[order], new_n[order] = index.find(fresh[order])
    if lo is None or n is None:
        return new_lo, new_n
    return np.concatenate([lo, new_lo]), np.concatenate([n, new_n])
