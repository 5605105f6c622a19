"""The detector contract: batches, veto patterns, plug-ins that refine ``analyze``."""

from __future__ import annotations

import gc
import random
from collections.abc import Sequence
from dataclasses import fields
from typing import ClassVar

import numpy as np
import pytest

from postwarden.engine.detect import (
    Context,
    Detector,
    DetectorRegistry,
    DetectorSet,
    Hit,
    Pattern,
    PatternDetector,
    base,
    default_detectors,
)
from postwarden.engine.detect.address_en import AddressEnDetector
from postwarden.engine.detect.address_zh import AddressZhDetector
from postwarden.engine.detect.base import ClusterDetector, FindingBatch, HitBatch, make_finding
from postwarden.model import Finding, TextUnit


def _build(cls: type[Detector]) -> DetectorSet:
    registry = DetectorRegistry()
    registry.register(cls)
    return registry.build()


def test_make_finding_equals_the_plain_constructor() -> None:
    fast = make_finding("phone", "body#2", "9123 4567", 5, 14, 0.95)
    plain = Finding("phone", "body#2", "9123 4567", 5, 14, 0.95)
    assert fast == plain
    assert hash(fast) == hash(plain)
    assert (fast.detail, fast.source) == ("", "body")


def test_make_finding_without_the_compiled_maker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "slot_maker", None)
    make = base._finding_maker()
    assert make("email", "body", "a@b.hk", 1, 7, 0.9) == Finding(
        "email", "body", "a@b.hk", 1, 7, 0.9
    )


def test_make_candidate_equals_the_plain_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    unit = TextUnit(text="Tel: 9123 4567", where="body")
    pattern = Pattern("mobile", r"\d{4} \d{4}")
    for has_context in (False, True):
        plain = base.Candidate(unit, 5, 14, pattern, has_context)
        assert base.make_candidate(unit, 5, 14, pattern, has_context) == plain
        assert base.make_candidate(unit, 5, 14, pattern, has_context).text == "9123 4567"
    monkeypatch.setattr(base, "slot_maker", None)
    assert base._candidate_maker() is base.Candidate


@pytest.mark.skipif(base.slot_maker is None, reason="the _hsscan extension is not built")
def test_the_compiled_maker_checks_its_class_and_arguments() -> None:
    assert base.slot_maker is not None
    with pytest.raises(TypeError):
        make_finding("phone", "body")  # type: ignore[call-arg]
    with pytest.raises(TypeError):  # a property, not a slot
        base.slot_maker(Finding, ("source",), ())


@pytest.mark.skipif(base.slot_maker is None, reason="the _hsscan extension is not built")
def test_the_compiled_maker_leaves_out_of_the_collector_only_what_holds_no_container() -> None:
    # A finding holds str and numbers: no cycle can pass through it, so the collector need
    # not walk it (a spreadsheet's 90,000 findings cost 60 ms of collections a scan).
    assert not gc.is_tracked(make_finding("phone", "body", "9123 4567", 5, 14, 0.95))
    # A candidate holds its unit (a container) and its maker does not untrack: tracked.
    unit = TextUnit(text="Tel: 9123 4567", where="body")
    assert gc.is_tracked(base.make_candidate(unit, 5, 14, Pattern("m", "x"), False))
    assert base.slot_maker is not None
    names = tuple(f.name for f in fields(Finding))
    args: list[object] = ["phone", "body", "x", 0, 1, 0.5, "", None]
    assert gc.is_tracked(base.slot_maker(Finding, names, ())(*args))  # not asked to
    holding = base.slot_maker(Finding, names, (), True)
    assert not gc.is_tracked(holding(*args))
    assert holding(*args) == Finding(*args)  # type: ignore[arg-type]
    for i, container in ((6, ["held"]), (7, ("held", [])), (2, {"a": 1})):
        made = holding(*args[:i], container, *args[i + 1 :])
        assert gc.is_tracked(made)
    # An untracked tuple (CPython's own rule) does not keep it tracked.
    atoms = ("a", 1)
    gc.collect()
    if not gc.is_tracked(atoms):
        assert not gc.is_tracked(holding(*args[:7], atoms))


def test_findings_of_a_batch_are_those_made_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """`findings_of` (compiled: one call for a batch) makes what `make_finding` makes for
    each hit, on ASCII and Chinese texts, empty spans and spans to a text's end."""
    rng = random.Random(3)
    texts = ["Tel: 9123 4567", "地址：香港中環德輔道中24號", "", "A123456(3) and 陳大文"]
    units = [TextUnit(rng.choice(texts), f"body#{n}") for n in range(50)]
    spans = sorted(
        (u, a, rng.randint(a, len(units[u].text)))
        for u in range(len(units))
        for a in rng.sample(range(len(units[u].text) + 1), min(3, len(units[u].text) + 1))
    )
    unit_of, starts, ends = (
        np.array(column, dtype=np.int64) for column in zip(*spans, strict=True)
    )
    scores = np.array([rng.choice([0.5, 0.95, 0.123, 1.0]) for _ in spans])
    expected = [
        Finding("x", units[u].where, units[u].text[a:b], a, b, float(score))
        for (u, a, b), score in zip(spans, scores.tolist(), strict=True)
    ]
    made = base.findings_of("x", units, unit_of, starts, ends, scores)
    assert made == expected
    assert [type(f.start) for f in made] == [int] * len(made)
    monkeypatch.setattr(base, "make_findings", None)
    assert base.findings_of("x", units, unit_of, starts, ends, scores) == expected


@pytest.mark.skipif(base.make_findings is None, reason="the _hsscan extension is not built")
def test_the_compiled_batch_maker_checks_its_maker_and_spans() -> None:
    assert base.make_findings is not None
    unit = [TextUnit("abc", "body")]
    one, score = np.array([0], dtype=np.int64), np.array([0.5])
    with pytest.raises(TypeError):  # not a compiled maker
        base.make_findings(Finding, "x", unit, one, one, one, score)
    with pytest.raises(TypeError):  # a maker of another number of arguments
        base.make_findings(base.make_candidate, "x", unit, one, one, one, score)
    with pytest.raises(IndexError):  # past the text's end
        base.make_findings(base.make_finding, "x", unit, one, one, one + 4, score)
    with pytest.raises(IndexError):  # no such unit
        base.make_findings(base.make_finding, "x", unit, one + 1, one, one, score)
    with pytest.raises(ValueError, match="int64s"):  # arrays of different lengths
        base.make_findings(base.make_finding, "x", unit, one, one, one, np.zeros(2))


class CodeDetector(PatternDetector):
    """Codes such as K-123, except inside a place name such as "Block K-123 Tower"."""

    id = "code"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern("code", r"\bK-\d{3}\b", 0.6),
        Pattern("place", r"\bBlock K-\d{3} Tower\b", veto=True),
    )
    context = ("code",)


def _codes(texts: list[str]) -> list[tuple[str, str]]:
    detectors = _build(CodeDetector)
    units = [TextUnit(t, f"u{i}") for i, t in enumerate(texts)]
    return [(f.where, f.value) for f in detectors.scan(units)]


def test_veto_pattern_drops_the_matches_it_overlaps() -> None:
    assert _codes(["K-123 and Block K-456 Tower", "Block K-789 Tower", "K-111"]) == [
        ("u0", "K-123"),
        ("u2", "K-111"),
    ]


def test_veto_pattern_applies_to_a_direct_analyze_call() -> None:
    unit = TextUnit("Block K-456 Tower, K-123", "body")
    code, place = CodeDetector.patterns
    hits = [Hit(6, 11, code), Hit(0, 17, place), Hit(19, 24, code)]
    assert [f.value for f in CodeDetector().analyze(unit, hits, Context([]))] == ["K-123"]


class RecordingDetector(Detector):
    """A plug-in with only ``analyze``: sees each unit with hits, and table rows."""

    id = "recording"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern("num", r"\d+"),
        Pattern("word", r"\b[a-z]+\b"),
    )
    context = ("near",)
    reads_cells = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[int, int, str]], bool]] = []

    def analyze(self, unit: TextUnit, hits: list[Hit], context: Context) -> list[Finding]:
        self.calls.append(
            (unit.where, [(h.start, h.end, h.pattern.name) for h in hits], bool(context))
        )
        return [
            Finding(self.id, unit.where, unit.text[h.start : h.end], h.start, h.end)
            for h in hits[:1]
        ]


def test_plugin_analyze_sees_each_unit_once_with_its_hits_sorted() -> None:
    units = [
        TextUnit("ab 12", "u0"),
        TextUnit("---", "u1"),
        TextUnit("near 7", "u2"),
        TextUnit("--", "u3", ("--",)),
    ]
    detectors = _build(RecordingDetector)
    (detector,) = detectors.detectors
    assert isinstance(detector, RecordingDetector)
    findings = detectors.scan(units)
    assert [f.where for f in findings] == ["u0", "u2"]
    # Hyperscan reports each end of "12" (with its leftmost start): longest first.
    assert detector.calls == [
        ("u0", [(0, 2, "word"), (3, 5, "num"), (3, 4, "num")], False),
        ("u2", [(0, 4, "word"), (5, 6, "num")], True),
        ("u3", [], False),
    ]


class RefinedCodeDetector(CodeDetector):
    """A pattern detector whose own ``analyze`` must not be bypassed by the batch path."""

    id = "refined_code"

    def analyze(self, unit: TextUnit, hits: list[Hit], context: Context) -> list[Finding]:
        return [f for f in super().analyze(unit, hits, context) if f.value != "K-111"]


def test_pattern_detector_subclass_analyze_is_honoured() -> None:
    detectors = _build(RefinedCodeDetector)
    units = [TextUnit("K-111 K-222", "a"), TextUnit("code K-111", "b")]
    found = [(f.where, f.value, f.confidence) for f in detectors.scan(units)]
    assert found == [("a", "K-222", 0.6)]


def _cluster(
    detector: ClusterDetector, unit: TextUnit, start: int, end: int, kinds: set[str]
) -> Finding:
    score = detector._score(len(kinds))
    return Finding(detector.id, unit.where, unit.text[start:end], start, end, score)


def _clusters_one_by_one(
    detector: ClusterDetector, units: list[TextUnit], hits: HitBatch
) -> list[tuple[int, Finding]]:
    """Clusters as the plain walk over the parts finds them: the model the array version
    must agree with."""
    out: list[tuple[int, Finding]] = []
    kinds: set[str] = set()
    current, first, reach, text = -1, 0, -1, ""
    for u, start, end, pattern in hits:
        if u != current or (
            start - reach > detector.max_gap
            or (start > reach and detector.sentence_end.search(text, reach, start))
        ):
            if kinds and detector._enough(kinds, text, first, reach):
                out.append((current, _cluster(detector, units[current], first, reach, kinds)))
            kinds = set()
            if u != current:
                current, text = u, units[u].text
            first, reach = start, end
        elif end > reach:
            reach = end
        kinds.add(pattern.name)
    if kinds and detector._enough(kinds, text, first, reach):
        out.append((current, _cluster(detector, units[current], first, reach, kinds)))
    return out


@pytest.mark.parametrize("cls", [AddressEnDetector, AddressZhDetector])
def test_clusters_found_with_arrays_are_those_of_the_plain_walk(
    cls: type[ClusterDetector],
) -> None:
    import random

    pieces = (
        "Flat A", "12/F", "Block 3", "Kwong Fuk Estate", "Tai Po", "N.T.", "71 Kai Tin Road",
        "Lam Tin", "Hong Kong", "Central", ", ", " ", ". ", "; ", "\n\n", "Rd. ", "the office",
        "香港", "九龍", "彌敦道12號", "3樓", "A室", "第2座", "沙田", "，", "。",
    )  # fmt: skip
    rng = random.Random(11)
    units = [
        TextUnit("".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40))), f"u{i}")
        for i in range(400)
    ]
    detectors = DetectorSet([cls()])
    detector = detectors.detectors[0]
    assert isinstance(detector, ClusterDetector)
    batches: list[HitBatch] = []
    original = detector.analyze_all

    def keep(units: Sequence[TextUnit], hits: HitBatch, contexts: object) -> FindingBatch:
        batches.append(hits)
        return original(units, hits, {})

    detector.analyze_all = keep  # type: ignore[method-assign]
    found = detectors.scan(units)
    (hits,) = batches
    expected = _clusters_one_by_one(detector, units, HitBatch.of_arrays(*hits.arrays()))
    assert len(expected) > 50
    assert [f for _, f in sorted(expected, key=lambda x: x[0])] == found


def test_gaps_holding_an_end_are_found_alike_with_and_without_the_extension(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`_spans_holding_end` (compiled when built, else Python) over random spans of texts
    with and without the characters that may end a sentence, some past a text's end; and
    address clusters split the same either way."""
    import random

    import numpy as np

    rng = random.Random(3)
    pool = "ab ,.;!?。！？；\n陳大文😀é"
    units = [
        TextUnit("".join(rng.choice(pool) for _ in range(rng.randrange(0, 40))), f"u{i}")
        for i in range(50)
    ]
    unit_of = np.array([rng.randrange(50) for _ in range(3000)], dtype=np.int64)
    starts = np.array([rng.randrange(45) for _ in range(3000)], dtype=np.int64)
    ends = starts + np.array([rng.randrange(0, 8) for _ in range(3000)], dtype=np.int64)
    want = [
        i
        for i, (u, s, e) in enumerate(zip(unit_of, starts, ends, strict=True))
        if set(units[u].text[s:e]) & set(base._END_CHARS)
    ]
    assert 100 < len(want) < 2900
    assert base._spans_holding_end(units, unit_of, starts, ends).tolist() == want
    texts = [
        "Flat A, 12/F, Block 3, Kwong Fuk Estate, Tai Po, N.T. and Room 5, 3/F. Next, Sha Tin",
        "香港九龍旺角彌敦道123號4樓A室。新界沙田；大圍村5號",
        "Flat B, 2/F, Tower 1! Mei Foo Sun Chuen, Kowloon? Rm 3, 8/F, Lai Chi Kok Road",
    ]
    scan_units = [TextUnit(t * rng.randrange(1, 4), f"t{i}") for i, t in enumerate(texts * 5)]
    compiled = default_detectors().scan(scan_units)
    monkeypatch.setattr(base, "spans_holding", None)
    assert base._spans_holding_end(units, unit_of, starts, ends).tolist() == want
    assert default_detectors().scan(scan_units) == compiled
    assert {f.detector for f in compiled} >= {"address_en", "address_zh"}


@pytest.mark.skipif(base.make_findings is None, reason="the _hsscan extension is not built")
def test_units_that_shrink_while_read_are_refused() -> None:
    """A unit whose text, once read, empties the list of units: its place is not read from
    the emptied list (a read of the freed list before)."""
    assert base.make_findings is not None

    class Shrinking:
        where = "u"

        @property
        def text(self) -> str:
            units.clear()
            return "abc"

    units: list[object] = [Shrinking()]
    one, score = np.array([0], dtype=np.int64), np.array([0.5])
    with pytest.raises(RuntimeError, match="changed size"):
        base.make_findings(base.make_finding, "x", units, one, one, one + 1, score)


@pytest.mark.skipif(base.slot_maker is None, reason="the _hsscan extension is not built")
def test_the_compiled_maker_keeps_tracked_what_a_default_container_holds() -> None:
    """A maker's defaults are looked at once, when it is made: a container among them keeps
    every instance tracked, whatever its arguments."""
    assert base.slot_maker is not None
    names = tuple(f.name for f in fields(Finding))
    args: list[object] = ["phone", "body", "x", 0, 1, 0.5]
    assert not gc.is_tracked(base.slot_maker(Finding, names, ("", None), True)(*args))
    assert gc.is_tracked(base.slot_maker(Finding, names, (["held"], None), True)(*args))
    assert gc.is_tracked(base.slot_maker(Finding, names, ("", ("held", [])), True)(*args))
