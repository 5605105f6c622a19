"""The compiled settled batch (``settled_findings`` in ``_hsscan.c``) gives what
`PatternDetector._settled_batch_arrays` gives: on every batch a scan of real and generated
tables settles, and on generated batches that reach each of its answers (None included)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from benchmarks.realtext import DATA, units

from postwarden.engine.detect import DetectorSet, base, default_detectors
from postwarden.engine.detect.base import (
    ACCEPTED,
    ASKED,
    REJECTED,
    Context,
    FindingBatch,
    HitBatch,
    Pattern,
    PatternDetector,
)
from postwarden.engine.detect.hkid import HkidDetector, hkid_check_digit
from postwarden.engine.detect.name_en import NameEnDetector
from postwarden.engine.detect.phone import PhoneDetector
from postwarden.model import TextUnit

pytestmark = pytest.mark.skipif(base.settled_findings is None, reason="_hsscan is not built")

_GLUED = 16


def _same(compiled: FindingBatch | None, arrays: FindingBatch | None) -> None:
    assert (compiled is None) == (arrays is None)
    if compiled is not None and arrays is not None:
        assert compiled.units == arrays.units
        assert compiled.findings == arrays.findings
        # The same types too (an int64 is not an int in a JSON report).
        assert all(type(u) is int for u in compiled.units)
        assert all(type(f.confidence) is float for f in compiled.findings)


def _both_ways(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each batch settled compared with `_settled_batch_arrays`; whether it settled."""
    seen: list[bool] = []
    original = PatternDetector._settled_batch

    def both(
        self: PatternDetector,
        units: list[TextUnit],
        hits: HitBatch,
        contexts: dict[int, Context],
        verdicts: bytes,
    ) -> FindingBatch | None:
        compiled = original(self, units, hits, contexts, verdicts)
        headed = self._has_context(hits, contexts)
        _same(compiled, self._settled_batch_arrays(units, hits, headed, verdicts))
        seen.append(compiled is not None)
        return compiled

    monkeypatch.setattr(PatternDetector, "_settled_batch", both)
    return seen


def _table(seed: int, rows: int) -> list[TextUnit]:
    """A voters' list as the scan benchmark's spreadsheets have it, with some rows headed,
    some with a context word, some with two names or an odd value."""
    rng = random.Random(seed)
    surnames = ["CHAN", "WONG", "LEE", "CHEUNG", "LAM", "HO", "NG", "TO"]
    given = ["Tai", "Man", "Ka", "Kei", "Siu", "Ming", "Fong", "Wah"]
    units = []
    for n in range(rows):
        name = f"{rng.choice(surnames)} {' '.join(rng.sample(given, rng.choice((1, 2))))}"
        if rng.random() < 0.1:
            name += f" and {rng.choice(surnames)} {rng.choice(given)}"
        prefix = rng.choice("ABCKMPZ")
        digits = f"{rng.randrange(10**6):06d}"
        check = hkid_check_digit(prefix, digits) if rng.random() < 0.9 else "0"
        phone = f"{rng.choice('5689')}{rng.randrange(10**7):07d}"
        note = rng.choice(("", "", "HKID", "tel", "x"))
        cells = (f"V-{n:07d}", name, f"{prefix}{digits}({check})", phone, note)
        header = ("id", "name", "hkid", "phone", "note") if rng.random() < 0.3 else None
        units.append(
            TextUnit(text=" | ".join(cells), where=f"t.xlsx#s!R{n}", cells=cells, header=header)
        )
    return units


@pytest.mark.parametrize("seed", range(3))
def test_tables_are_settled_the_same(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _both_ways(monkeypatch)
    findings = default_detectors().scan(_table(seed, 400))
    assert len(findings) > 800
    assert any(seen)


def test_real_text_is_settled_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """The labelled real texts (their tables as rows under headings), a scan each."""
    seen = _both_ways(monkeypatch)
    detectors = default_detectors()
    for path in sorted(DATA.glob("*.txt")):
        detectors.scan([unit for _, unit in units(path.name)])
    assert any(seen)


def _batch(rng: random.Random, table: list[Pattern]) -> tuple[list[TextUnit], HitBatch]:
    """Hits in a few units, sorted by unit, start and longest first, some sharing a start."""
    units = [
        TextUnit(text="".join(rng.choice("ab 1") for _ in range(40)), where=f"u{k}")
        for k in range(8)
    ]
    rows = []
    for u in sorted(rng.sample(range(8), rng.randint(1, 8))):
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            start = rng.randrange(30)
            rows.append((u, start, start + rng.randint(1, 10), rng.randrange(len(table))))
    rows.sort(key=lambda r: (r[0], r[1], -r[2]))
    unit_of, starts, ends, numbers = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return units, HitBatch.of_arrays(unit_of, starts, ends, numbers, table)


@pytest.mark.parametrize(
    "detector", [HkidDetector(), PhoneDetector(), NameEnDetector()], ids=lambda d: d.id
)
def test_generated_batches_are_settled_the_same(detector: PatternDetector) -> None:
    table = list(DetectorSet([detector]).detectors[0].patterns)
    # A pattern of another detector: its confidence is not known, so such batches go back.
    table.append(Pattern("other", "x"))
    rng = random.Random(detector.id)
    answers = {True: 0, False: 0}
    for _ in range(3000):
        units, hits = _batch(rng, table)
        count = len(hits)
        said = [REJECTED, ACCEPTED, ACCEPTED, ACCEPTED] + [ASKED] * (rng.random() < 0.05)
        verdicts = bytes(
            rng.choice(said) | rng.choice(said) << 2 | _GLUED * (rng.random() < 0.1)
            for _ in range(count)
        )
        hits.headed = (
            np.array([rng.random() < 0.3 for _ in range(count)], dtype=np.bool_)
            if rng.random() < 0.5
            else None
        )
        contexts = {0: Context([(0, 3)])} if rng.random() < 0.3 else {}
        compiled = detector._settled_batch(units, hits, contexts, verdicts)
        headed = detector._has_context(hits, contexts)
        _same(compiled, detector._settled_batch_arrays(units, hits, headed, verdicts))
        answers[compiled is not None] += 1
    # Both answers often: settled batches, and those left to the loop.
    assert min(answers.values()) > 300, answers


def test_wrong_arguments_are_refused() -> None:
    assert base.settled_findings is not None
    units = [TextUnit(text="A123456(3)", where="u")]
    one, zero = np.zeros(1, dtype=np.int64), np.zeros(2, dtype=np.float64)
    ten = one + 10
    fine = (units, one, one, ten, one, bytes([ACCEPTED | ACCEPTED << 2]), b"", zero)
    found = base.settled_findings(base.make_finding, "hkid", *fine, False, True)
    assert found is not None
    assert found[0] == [0]
    assert [f.value for f in found[1]] == ["A123456(3)"]
    with pytest.raises(TypeError):
        base.settled_findings(base.make_candidate, "hkid", *fine, False, True)
    with pytest.raises(ValueError, match="a byte a hit"):  # a verdict short
        base.settled_findings(base.make_finding, "hkid", *fine[:5], b"", b"", zero, False, True)
    with pytest.raises(IndexError):  # a pattern number without scores
        base.settled_findings(base.make_finding, "hkid", *fine[:4], one + 1, *fine[5:], False, True)
    with pytest.raises(IndexError):  # past the text
        base.settled_findings(base.make_finding, "hkid", *fine[:3], ten + 1, *fine[4:], False, True)


class _Shrinking:
    """A unit whose text, once read, empties the list of units it is in."""

    where = "u"

    def __init__(self, units: list[object]) -> None:
        self._units = units

    @property
    def text(self) -> str:
        self._units.clear()
        return "A123456(3)"


def _shrinking_units() -> list[object]:
    units: list[object] = []
    units.append(_Shrinking(units))
    return units


def test_units_that_shrink_while_read_are_refused() -> None:
    """A unit whose text, once read, empties the list of units: its place is not read
    from the emptied list (a read past the list's items before)."""
    assert base.settled_findings is not None

    shrinking = _shrinking_units()
    one, zero = np.zeros(1, dtype=np.int64), np.zeros(2, dtype=np.float64)
    verdict = bytes([ACCEPTED | ACCEPTED << 2])
    with pytest.raises(RuntimeError, match="changed size"):
        base.settled_findings(
            base.make_finding,
            "hkid",
            shrinking,
            one,
            one,
            one + 10,
            one,
            verdict,
            b"",
            zero,
            False,
            True,
        )


# ---- judged and settled in one compiled call (settle_hits, seventh round) ----


def _apart(
    detector: PatternDetector,
    units: list[TextUnit],
    hits: HitBatch,
    contexts: dict[int, Context],
    together: FindingBatch | bytes | None,
) -> bool | None:
    """Assert `_judged_settled`'s answer ``together`` is `judge` then `_settled_batch`'s:
    the same findings, or the same verdicts where those settle nothing.  Whether it
    settled (None: not asked of the compiled checks)."""
    if together is None:
        return None
    verdicts = detector.judge(units, hits)
    assert verdicts is not None
    apart = detector._settled_batch(units, hits, contexts, verdicts)
    if isinstance(together, FindingBatch):
        _same(together, apart)
        return True
    assert apart is None
    assert together == verdicts
    return False


def _one_call_compared(monkeypatch: pytest.MonkeyPatch) -> list[bool | None]:
    """Each batch a scan judges and settles in one call compared with the two calls."""
    seen: list[bool | None] = []
    original = PatternDetector._judged_settled

    def both(
        self: PatternDetector, units: list[TextUnit], hits: HitBatch, contexts: dict[int, Context]
    ) -> FindingBatch | bytes | None:
        together = original(self, units, hits, contexts)
        seen.append(_apart(self, units, hits, contexts, together))
        return together

    monkeypatch.setattr(PatternDetector, "_judged_settled", both)
    return seen


@pytest.mark.parametrize("seed", range(3))
def test_tables_are_judged_and_settled_in_one_call_as_in_two(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _one_call_compared(monkeypatch)
    findings = default_detectors().scan(_table(seed, 400))
    assert len(findings) > 800
    assert True in seen


def test_real_text_is_judged_and_settled_in_one_call_as_in_two(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _one_call_compared(monkeypatch)
    detectors = default_detectors()
    for path in sorted(DATA.glob("*.txt")):
        detectors.scan([unit for _, unit in units(path.name)])
    assert seen


@pytest.mark.parametrize(
    "detector", [HkidDetector(), PhoneDetector(), NameEnDetector()], ids=lambda d: d.id
)
def test_generated_batches_are_judged_and_settled_in_one_call_as_in_two(
    detector: PatternDetector,
) -> None:
    table = list(DetectorSet([detector]).detectors[0].patterns)
    table.append(Pattern("other", "x"))
    rng = random.Random(f"{detector.id} in one call")
    answers: dict[bool | None, int] = {True: 0, False: 0}
    values = ["A123456(3)", "Z683365(5)", "A123456(4)", "a123456(3)", "91234567", "2345 6789"]
    values += ["88888888", "20231105", "CHAN Tai Man", "CHAN Tai", "LEE Road", "x-91234567"]
    for _ in range(2000):
        units, rows = [], []
        for u in range(rng.randint(1, 4)):
            cells = tuple(rng.choice(values) for _ in range(rng.randint(1, 3)))
            text = " | ".join(cells)
            units.append(TextUnit(text=text, where=f"x.xlsx#s!R{u}", cells=cells))
            at = 0
            for cell in cells:
                if rng.random() < 0.7:
                    end = at + len(cell)
                    rows.append((u, at, end, _pattern_number(rng, table)))
                    if rng.random() < 0.2:  # a shorter match at the same start
                        rows.append((u, at, end - rng.randint(1, 3), _pattern_number(rng, table)))
                at += len(cell) + 3
        if not rows:
            continue
        rows.sort(key=lambda r: (r[0], r[1], -r[2]))
        unit_of, starts, ends, numbers = (
            np.array(c, dtype=np.int64) for c in zip(*rows, strict=True)
        )
        hits = HitBatch.of_arrays(unit_of, starts, ends, numbers, table)
        hits.headed = (
            np.array([rng.random() < 0.3 for _ in range(len(hits))], dtype=np.bool_)
            if rng.random() < 0.3
            else None
        )
        contexts = {0: Context([(0, 3)])} if rng.random() < 0.3 else {}
        together = detector._judged_settled(units, hits, contexts)
        answers[_apart(detector, units, hits, contexts, together)] += 1
    assert None not in answers
    # Both answers often: settled batches, and the verdicts of those left to the loop.
    assert min(answers.values()) > 100, answers


def _pattern_number(rng: random.Random, table: list[Pattern]) -> int:
    """Mostly one of the detector's patterns, now and then the other detector's (last)."""
    return rng.randrange(len(table) - 1) if rng.random() < 0.97 else len(table) - 1


def test_a_changed_check_is_not_judged_in_one_call() -> None:
    """A subclass changing `judge`, `validate` or `invalidate` is asked through them."""

    class Stricter(HkidDetector):
        def invalidate(self, candidate: base.Candidate) -> bool:
            return True

    class Judged(HkidDetector):
        def judge(self, units: object, hits: HitBatch) -> bytes | None:
            return None

    rows = _table(0, 100)
    hits = HitBatch()
    hits.add(0, base.Hit(0, 3, HkidDetector.patterns[0]))
    assert HkidDetector()._judged_settled(rows, hits, {}) is not None
    assert Stricter()._judged_settled(rows, hits, {}) is None
    assert Judged()._judged_settled(rows, hits, {}) is None
    assert not [f for f in DetectorSet([Stricter()]).scan(rows) if f.detector == "hkid"]


def test_checks_named_over_an_inherited_judge_are_that_judges() -> None:
    """A subclass naming the compiled checks over its parent's `judge`, with a `validate`
    of its own, is judged by its hooks as that `judge` does, not in one call."""

    class Renamed(HkidDetector):
        compiled_checks = (0, None)

        def validate(self, candidate: base.Candidate) -> bool:
            return False

    rows = _table(1, 100)
    hits = HitBatch()
    hits.add(0, base.Hit(0, 3, HkidDetector.patterns[0]))
    assert Renamed()._judged_settled(rows, hits, {}) is None
    assert not [f for f in DetectorSet([Renamed()]).scan(rows) if f.detector == "hkid"]


def test_one_call_reads_each_units_text_and_place_once() -> None:
    """`settle_hits` reads a unit's text once for its verdicts and its findings (and its
    place once), where the two calls read them again: the same findings all the same."""
    assert base.settle_hits is not None
    reads: list[str] = []

    class Counted:
        def __init__(self, text: str) -> None:
            self._text = text

        @property
        def text(self) -> str:
            reads.append("text")
            return self._text

        @property
        def where(self) -> str:
            reads.append("where")
            return "sheet!R1"

    units = [Counted("T637673(2) | 9123"), Counted("Tel | A123456(3)")]
    unit_of, starts, ends = (np.array(a, dtype=np.int64) for a in ([0, 1], [0, 6], [10, 16]))
    kinds = numbers = np.zeros(2, dtype=np.int64)
    scores = np.array([0.75, 1.0], dtype=np.float64)
    found = base.settle_hits(
        0,
        base.make_finding,
        "hkid",
        units,
        unit_of,
        starts,
        ends,
        kinds,
        numbers,
        b"",
        scores,
        False,
        True,
    )
    assert isinstance(found, tuple)
    assert len(found[1]) == 2
    assert reads == ["text", "text", "where", "where"]
    assert base.judge_hits is not None
    assert base.settled_findings is not None
    verdicts = base.judge_hits(0, units, unit_of, starts, ends, kinds)
    apart = base.settled_findings(
        base.make_finding,
        "hkid",
        units,
        unit_of,
        starts,
        ends,
        numbers,
        verdicts,
        b"",
        scores,
        False,
        True,
    )
    assert found == apart


def test_verdicts_of_units_that_shrink_while_read_are_refused() -> None:
    """A unit whose text, once read, empties the list of units: the unit is not then read
    from the emptied list for its cells (a read past the list's items before)."""
    assert base.judge_hits is not None

    shrinking = _shrinking_units()
    one = np.zeros(1, dtype=np.int64)
    with pytest.raises(RuntimeError, match="changed size"):
        base.judge_hits(0, shrinking, one, one, one + 10, one)


@pytest.mark.parametrize("seed", range(2))
def test_a_scans_batches_are_settled_as_any_arrays_are(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan's batches are `HitBatch.of_int64s` (handed to the compiled checks as they
    are): each settles as the same hits held as arrays of another width and layout do."""
    seen: list[bool] = []
    original = PatternDetector._judged_settled

    def compared(
        self: PatternDetector, units: list[TextUnit], hits: HitBatch, contexts: dict[int, Context]
    ) -> FindingBatch | bytes | None:
        together = original(self, units, hits, contexts)
        unit_of, starts, ends, numbers, table = hits.arrays()
        # Strided int32 copies: made contiguous int64 again before the compiled call.
        w_units, w_starts, w_ends, w_numbers = (
            np.repeat(a.astype(np.int32), 2)[::2] for a in (unit_of, starts, ends, numbers)
        )
        other = HitBatch.of_arrays(w_units, w_starts, w_ends, w_numbers, table)  # type: ignore[arg-type]
        other.headed = hits.headed
        assert not other._int64s
        again = original(self, units, other, contexts)
        if isinstance(together, FindingBatch):
            assert isinstance(again, FindingBatch)
            _same(together, again)
        else:
            assert together == again
        seen.append(hits._int64s)
        return together

    monkeypatch.setattr(PatternDetector, "_judged_settled", compared)
    assert len(default_detectors().scan(_table(seed, 300))) > 600
    assert seen
    assert all(seen)
