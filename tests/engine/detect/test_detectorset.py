"""Scanning many units in one pass: offsets map back to each unit, nothing crosses units."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from postwarden.engine.detect import default_detectors
from postwarden.engine.detect import detectorset as detectorset_module
from postwarden.engine.detect.detectorset import _hit_order
from postwarden.model import TextUnit


def test_detectorset_offsets_map_back_into_each_unit() -> None:
    units = [
        TextUnit("Tel: 9123 4567", "body"),
        TextUnit("姓名：陳大文，電話 6123 4567，電郵 tai.man@example.com", "attachment:a.docx"),
        TextUnit("", "empty"),
        TextUnit("沒有個人資料的一段中文。" * 50, "page 2"),
        TextUnit("身份證：Ａ１２３４５６（３） 及 A123456(3)", "attachment:b.pdf#page 3"),
        TextUnit(
            "陳小明\tCHAN Siu Ming\t9876 5432",
            "attachment:c.xlsx#Sheet1!R2",
            ("陳小明", "CHAN Siu Ming", "9876 5432"),
        ),
        TextUnit("Flat A, 12/F, Block 3, Kwong Fuk Estate, Tai Po, N.T. 2123 4567", "body#2"),
    ]
    by_where = {u.where: u for u in units}
    findings = default_detectors().scan(units)
    got = {(f.where, f.detector, f.value) for f in findings}
    for f in findings:
        assert by_where[f.where].text[f.start : f.end] == f.value
    assert got >= {
        ("body", "phone", "9123 4567"),
        ("attachment:a.docx", "name_zh", "陳大文"),
        ("attachment:a.docx", "phone", "6123 4567"),
        ("attachment:a.docx", "email", "tai.man@example.com"),
        ("attachment:b.pdf#page 3", "hkid", "Ａ１２３４５６（３）"),
        ("attachment:b.pdf#page 3", "hkid", "A123456(3)"),
        ("attachment:c.xlsx#Sheet1!R2", "name_zh", "陳小明"),
        ("attachment:c.xlsx#Sheet1!R2", "name_en", "CHAN Siu Ming"),
        ("attachment:c.xlsx#Sheet1!R2", "phone", "9876 5432"),
        ("body#2", "phone", "2123 4567"),
    }
    assert not any(f.where in ("empty", "page 2") for f in findings)


def test_detectorset_matches_do_not_cross_units() -> None:
    units = [TextUnit("Tel: 9123", "a"), TextUnit("4567 is half a number", "b")]
    assert default_detectors().scan(units) == []


def test_detectorset_same_findings_alone_and_together() -> None:
    texts = ["電話 9123 4567", "陳大文先生 A123456(3)", "mail: x@example.org", "DOB 1990-01-02"]
    units = [TextUnit(t, f"u{i}") for i, t in enumerate(texts)]
    together = default_detectors().scan(units)
    alone = [f for u in units for f in default_detectors().scan([u])]
    assert together == alone
    assert len(together) == 5


def test_detectorset_survives_lone_surrogates() -> None:
    # Text decoded with surrogateescape (undecodable mail bytes) must not break the pass.
    text = "bad \udcff byte, Tel: 9123 4567"
    findings = default_detectors().scan([TextUnit(text, "body")])
    assert [(f.value, text[f.start : f.end]) for f in findings] == [("9123 4567", "9123 4567")]


def test_detectorset_offsets_after_four_byte_characters() -> None:
    # 2-, 3- and 4-byte UTF-8 characters before and between matches, and a lone surrogate.
    texts = [
        "é中𝄞 Tel: 9123 4567 𝄞𝄞 A123456(3)",
        "\udcff𝄞 mail: x@example.org",
        "𝄞" * 100 + " 6123 4567",
    ]
    units = [TextUnit(t, f"u{i}") for i, t in enumerate(texts)]
    findings = default_detectors().scan(units)
    by_where = {u.where: u.text for u in units}
    assert {(f.where, f.value) for f in findings} >= {
        ("u0", "9123 4567"),
        ("u0", "A123456(3)"),
        ("u1", "x@example.org"),
        ("u2", "6123 4567"),
    }
    for f in findings:
        assert by_where[f.where][f.start : f.end] == f.value


def test_detectorset_findings_come_unit_by_unit() -> None:
    units = [TextUnit(f"Tel: 9123 456{i} 陳大文先生", f"u{i}") for i in range(5)]
    wheres = [f.where for f in default_detectors().scan(units)]
    assert wheres == sorted(wheres)
    assert len(wheres) == 10


def _row(cells: tuple[str, ...], header: tuple[str, ...] | None) -> TextUnit:
    return TextUnit(" | ".join(cells), "attachment:t.xlsx#Sheet1!R2", cells, header)


@pytest.mark.parametrize(
    ("cells", "header", "expected"),
    [
        (("R1", "CHAN Tai Man", "02/01/1990"), ("ID", "Name", "DOB"), ["02/01/1990"]),
        (("R1", "CHAN Tai Man", "1990-01-02"), ("ID", "Name", "Date of Birth"), ["1990-01-02"]),
        (("R1", "02/01/2020", "1990年1月2日"), ("ID", "登記日期", "出生日期"), ["1990年1月2日"]),
        (("R1", "CHAN Tai Man", "02/01/1990"), ("ID", "Name", "Issue date"), []),
        (("R1", "CHAN Tai Man", "02/01/1990"), None, []),
        # The heading speaks for its own column only, however close the next cell is.
        (("02/01/1990", "03/04/1985"), ("Joined", "DOB"), ["03/04/1985"]),
        # A row shorter than its header, and a header shorter than its row.
        (("R1", "02/01/1990"), ("ID", "Name", "DOB"), []),
        (("R1", "x", "02/01/1990", "03/04/1985"), ("ID", "x", "DOB"), ["02/01/1990"]),
    ],
)
def test_detectorset_dob_by_column_heading(
    cells: tuple[str, ...], header: tuple[str, ...] | None, expected: list[str]
) -> None:
    findings = default_detectors().scan([_row(cells, header)])
    assert [f.value for f in findings if f.detector == "dob"] == expected


def test_detectorset_column_heading_raises_confidence() -> None:
    cells = ("陳大文", "9123 4567")
    plain, headed = (
        next(f for f in default_detectors().scan([_row(cells, header)]) if f.detector == "phone")
        for header in (None, ("姓名", "Tel"))
    )
    assert (plain.value, headed.value) == ("9123 4567", "9123 4567")
    assert headed.confidence > plain.confidence


def test_detectorset_headed_rows_match_unheaded_elsewhere() -> None:
    # Many rows under one header: the same findings as without it, bar the header's effect.
    rows = [
        _row((f"陳大文{i % 3}", f"CHAN Tai Man {i}", f"9123 {4560 + i}"), ("姓名", "Name", "Tel"))
        for i in range(50)
    ]
    bare = [TextUnit(u.text, u.where, u.cells) for u in rows]
    headed, plain = default_detectors().scan(rows), default_detectors().scan(bare)
    assert [(f.detector, f.start, f.end) for f in headed] == [
        (f.detector, f.start, f.end) for f in plain
    ]
    assert all(
        h.confidence > p.confidence
        for h, p in zip(headed, plain, strict=True)
        if h.detector in ("phone", "name_en")
    )


def test_detectorset_a_finding_yields_only_to_overlaps_in_its_own_unit() -> None:
    """Phone numbers yield to a card number they are part of, not to one in another unit
    at the same offsets, nor to one merely nearby."""
    units = [
        TextUnit("Card 4111 1111 1111 1111 Tel 9123 4567", "a"),
        TextUnit("Tel: 4111 1111 and more", "b"),
        TextUnit("Tel: 6123 4567 then card 4111 1111 1111 1111", "c"),
    ]
    found = {(f.where, f.detector, f.value) for f in default_detectors().scan(units)}
    assert ("a", "card", "4111 1111 1111 1111") in found
    assert ("a", "phone", "4111 1111") not in found
    assert ("a", "phone", "9123 4567") in found
    assert ("b", "phone", "4111 1111") in found
    assert ("c", "phone", "6123 4567") in found
    assert ("c", "card", "4111 1111 1111 1111") in found
    assert not any(w == "c" and v == "4111 1111" for w, _, v in found)


def _lexsorted(
    starts: np.ndarray, ends: np.ndarray, numbers: np.ndarray, owners: np.ndarray
) -> np.ndarray:
    return np.lexsort((numbers, -(ends - starts), starts, owners))


def test_one_key_and_two_keys_give_the_same_order() -> None:
    rng = np.random.default_rng(5)
    # The last limit too long for one key; a few hits take two keys too.
    for limit, size in ((10, 5000), (1000, 5000), (10_000_000, 5000), (2**30, 5000), (99, 40)):
        starts = rng.integers(0, limit, size)
        ends = np.minimum(starts + rng.integers(0, 40, size), limit)
        numbers = rng.integers(0, 300, size)
        owners = numbers % 9
        # (start, end, expression) rows are unique, as hyperscan reports them.
        _, unique = np.unique(np.stack([starts, ends, numbers]), axis=1, return_index=True)
        starts, ends, numbers, owners = (
            a[np.sort(unique)] for a in (starts, ends, numbers, owners)
        )
        order = _hit_order(starts, ends, numbers, owners, 300, limit)
        np.testing.assert_array_equal(order, _lexsorted(starts, ends, numbers, owners))
    empty = np.zeros(0, dtype=np.int64)
    assert len(_hit_order(empty, empty, empty, empty, 300, 0)) == 0


def test_context_words_far_from_every_hit_change_nothing() -> None:
    """Words left out of a detector's contexts for being far from all its hits (see
    `DetectorSet._word_spans`): the same findings, with the same confidence, as with every
    word kept, over texts with context words at every distance from names, phones, mail
    addresses, dates and identity numbers, alone and in many units."""
    import random

    detectors = default_detectors()
    assert any(detectors._near_only)
    every_word = default_detectors()
    every_word._near_only = [False] * len(every_word.detectors)
    pieces = (
        "Mr ", "Dear ", "name: ", "Name ", "Tel: ", "phone ", "mobile ", "e-mail ", "DOB ",
        "born ", "HKID ", "card ", "CHAN Tai Man", "Wong Siu Ming", "9123 4567", "2891 1001",
        "a.b@example.com.hk", "12 March 1980", "A123456(3)", "4111 1111 1111 1111", " ", ", ",
        "\n", "x" * 20, "the report ", "y" * 45, "z" * 70, "電話", "陳大文先生",
    )  # fmt: skip
    rng = random.Random(5)
    for _ in range(40):
        units = [
            TextUnit("".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40))), f"u{i}")
            for i in range(rng.randrange(1, 30))
        ]
        found = detectors.scan(units)
        assert found == every_word.scan(units)
        assert [f.confidence for f in found] == [f.confidence for f in every_word.scan(units)]


def test_few_context_words_are_spanned_as_many_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """`DetectorSet._few_word_spans` (a short mail's words, in Python) gives the general
    path's spans, and scans give the same findings through either, in one unit or many."""
    import random

    from postwarden.engine.detect import detectorset

    detectors = default_detectors()
    pieces = (
        "Mr ", "Dear ", "name: ", "Tel: ", "phone ", "e-mail ", "DOB ", "HKID ", "card ",
        "CHAN Tai Man", "9123 4567", "a.b@example.com.hk", "12 March 1980", "A123456(3)",
        " ", "\n", "x" * 30, "the report ", "電話", "陳大文先生",
    )  # fmt: skip
    rng = random.Random(9)
    spanned = 0
    for _ in range(60):
        units = [
            TextUnit("".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12))), f"u{i}")
            for i in range(rng.randrange(1, 6))
        ]
        found = detectors.scan(units)
        monkeypatch.setattr(detectorset, "_FEW_WORDS", -1)
        assert detectors.scan(units) == found
        monkeypatch.setattr(detectorset, "_FEW_WORDS", 10**9)
        assert detectors.scan(units) == found
        # The spans themselves, for every detector and a choice of units.
        texts = [u.text for u in units]
        lengths = np.array([len(t) for t in texts], dtype=np.int64)
        begins = np.concatenate([[0], np.cumsum(lengths[:-1] + 3)]).astype(np.int64)
        raw, _ = detectors._text_hits(texts)
        order = np.lexsort((raw[:, 2], raw[:, 0]))
        starts, ends, expressions = raw[order, 0], raw[order, 1], raw[order, 2]
        unit_of = np.searchsorted(begins, starts, side="right") - 1
        words_only = detectors._owner[expressions] == len(detectors.detectors)
        words = tuple(a[words_only] for a in (starts, ends, expressions, unit_of))
        only = np.array(sorted(rng.sample(range(len(units)), len(units) // 2 + 1)))
        for index in range(len(detectors.detectors)):
            for chosen in (None, only):
                monkeypatch.setattr(detectorset, "_FEW_WORDS", -1)
                general = detectors._word_spans(index, words, begins, chosen)
                few = detectors._few_word_spans(index, words, begins, chosen)
                assert few == general
                assert list(few) == list(general)
                spanned += len(few)
    assert spanned > 50


def test_few_hits_are_analysed_as_many_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """`DetectorSet._analyze_few` (a short mail's hits, in Python) finds what the general
    path finds: the same findings in the same order, with the same confidences, in one unit
    or many, with vetoed places, table rows and cells, and hits crowding one another."""
    import random

    from postwarden.engine.detect import detectorset

    detectors = default_detectors()
    pieces = (
        "Mr ", "Dear ", "name: ", "Tel: ", "phone ", "e-mail ", "DOB ", "HKID ", "card ",
        "Regards,\n", "CHAN Tai Man", "Chan Tai Man Road", "Wong Siu Ming", "Tai Po ",
        "Kwong Fuk Estate", "9123 4567", "2891 1001", "a.b@example.com.hk", "12 March 1980",
        "A123456(3)", "4111 1111 1111 1111", " ", ", ", "\n", "x" * 30, "the report ",
        "電話", "陳大文先生", "香港九龍彌敦道100號", "Flat A, 12/F, Block 3, ",
    )  # fmt: skip
    rng = random.Random(14)
    few = 0
    for case in range(150):
        units = []
        for i in range(rng.randrange(1, 6)):
            text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 14)))
            cells = tuple(text.split(", ")) if rng.random() < 0.2 else None
            header = ("Name", "Tel") if cells is not None and case % 7 == 0 else None
            units.append(TextUnit(text, f"u{i}", cells, header))
        raw, _ = detectors._text_hits([u.text for u in units])
        few += len(raw) <= detectorset._FEW_HITS
        found = detectors.scan(units)
        monkeypatch.setattr(detectorset, "_FEW_HITS", -1)
        general = detectors.scan(units)
        monkeypatch.setattr(detectorset, "_FEW_HITS", 10**9)
        everything_few = detectors.scan(units)
        monkeypatch.setattr(detectorset, "_FEW_HITS", 64)
        assert found == general
        assert [f.confidence for f in found] == [f.confidence for f in general]
        if not any(u.header for u in units):
            assert everything_few == general
            assert [f.confidence for f in everything_few] == [f.confidence for f in general]
    assert few > 100


def test_few_address_parts_are_clustered_as_many_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster detector's batch of a few parts whose kinds all together may not suffice
    ends without arrays (`base._FEW_PARTS`): the same findings as the general path, on lone
    parts (a street name in a sheet), parts too far apart, and whole addresses."""
    import random

    from postwarden.engine.detect import base

    detectors = default_detectors()
    pieces = (
        "Nathan Road", "Tai Po", "Kowloon", "Flat A, ", "12/F, ", "Block 3, ", "Kwong Fuk Estate",
        "Chan Tai Man Road", "100 Queen's Road Central", "Sha Tin", " ", ", ", "\n", "x" * 30,
        "彌敦道", "九龍", "香港九龍彌敦道100號", "大埔廣福邨", "3座", "12樓", "the report ", "; ",
    )  # fmt: skip
    rng = random.Random(21)
    lone = whole = 0
    for _ in range(200):
        units = []
        for i in range(rng.randrange(1, 5)):
            text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 6)))
            cells = tuple(text.split(", ")) if rng.random() < 0.3 else None
            units.append(TextUnit(text, f"u{i}", cells))
        found = detectors.scan(units)
        monkeypatch.setattr(base, "_FEW_PARTS", -1)
        general = detectors.scan(units)
        monkeypatch.setattr(base, "_FEW_PARTS", 64)
        assert found == general
        assert [f.confidence for f in found] == [f.confidence for f in general]
        addresses = sum(f.detector.startswith("address") for f in found)
        whole += addresses > 0
        lone += addresses == 0 and any(("Road" in u.text or "道" in u.text) for u in units)
    assert lone > 20
    assert whole > 20


def test_finding_spans_read_as_numpy_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled `_spans_of` gives the arrays numpy's does: of each detector's findings in
    text with overlaps to resolve (phones inside card numbers, in one unit and in another)
    and in table rows, of findings the dataclass made itself, and of none; and the
    scan resolves the overlaps alike either way.  A wrong type or length is an error."""
    from dataclasses import replace

    from postwarden.engine.detect import detectorset
    from postwarden.engine.detect.base import FindingBatch

    if detectorset.finding_spans is None:
        pytest.skip("the compiled finding_spans is not built")
    header = ("Name", "HKID", "Tel")
    units = [
        TextUnit("Card 4111 1111 1111 1111 Tel 9123 4567, CHAN Tai Man A123456(3)", "a"),
        TextUnit("Tel: 4111 1111 and 6123 4567 then card 4111 1111 1111 1111", "b"),
        *(_row((f"CHAN Tai Man {i}", f"A12345{i}(3)", f"9{i}23 4567"), header) for i in range(10)),
    ]
    detectors = default_detectors()
    batches: list[FindingBatch] = []
    found = {}
    for native in (True, False):
        if not native:
            monkeypatch.setattr(detectorset, "finding_spans", None)
        findings = detectors.scan(units)
        found[native] = (findings, [f.confidence for f in findings])
        batch = FindingBatch()
        for f in findings:
            batch.add(next(u for u, unit in enumerate(units) if unit.where == f.where), f)
        batches.append(batch)
    assert found[True] == found[False]
    plain = FindingBatch([3, 1], [replace(f, start=f.start + 1) for f in batches[0].findings[:2]])
    batches += [plain, FindingBatch()]
    for batch in batches:
        monkeypatch.undo()
        compiled = detectorset._spans_of(batch)
        monkeypatch.setattr(detectorset, "finding_spans", None)
        general = detectorset._spans_of(batch)
        assert [a.tolist() for a in compiled] == [a.tolist() for a in general]
        assert all(a.dtype == np.int64 for a in compiled)
    assert sum(len(b) for b in batches) > 40
    monkeypatch.undo()
    with pytest.raises(TypeError):
        detectorset._spans_of(FindingBatch([0], [replace(plain.findings[0], start="1")]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one unit per finding"):
        detectorset._spans_of(FindingBatch([0, 1], plain.findings[:1]))


def _laid_out_lists(laid: tuple[np.ndarray, ...] | tuple[object, ...]) -> list[object]:
    return [a.tolist() if isinstance(a, np.ndarray) else a for a in laid]


@pytest.mark.skipif(detectorset_module.hit_layout is None, reason="hit_layout is not built")
def test_compiled_hit_layout_equals_the_numpy_one() -> None:
    """Generated hits of every count over texts of every length: hits across a separator,
    at a text's very end, repeated, nested, in any order and crowding one owner (past the
    insertion sort's budget) laid out as numpy lays them out; an expression or start out of
    range is left to numpy (None)."""
    detectors = default_detectors()
    owner = detectors._owner
    rng = np.random.default_rng(33)
    kept = dropped = crowded = 0
    for case in range(300):
        texts = ["x" * int(n) for n in rng.integers(0, 40, int(rng.integers(1, 30)))]
        total = sum(map(len, texts)) + 3 * len(texts)
        count = int(rng.integers(0, 1200 if case % 10 == 0 else 60))
        starts = rng.integers(0, max(total, 1), count)
        ends = starts + rng.integers(0, 12, count)
        expressions = rng.integers(0, len(owner), count)
        if case % 5 == 0:  # crowd one expression's owner, hits in reverse
            expressions[:] = int(rng.integers(0, len(owner)))
            order = np.argsort(-starts, kind="stable")
            starts, ends = starts[order], ends[order]
            crowded += 1
        if case % 3 == 0 and count:  # repeats
            starts[1::2], ends[1::2], expressions[1::2] = starts[0], ends[0], expressions[0]
        raw = np.stack([starts, ends, expressions], axis=1).astype(np.int64)
        want = _laid_out_lists(detectors._laid_out_py(texts, raw, total))
        got = _laid_out_lists(detectors._laid_out(texts, raw, total))
        assert got == want
        kept += len(want[1])
        dropped += count - len(want[1])
    assert kept > 10_000
    assert dropped > 1_000
    assert crowded > 50
    raw = np.array([[0, 1, len(owner)]], dtype=np.int64)
    assert (
        detectorset_module.hit_layout(["ab"], raw, 3, owner, len(detectors.detectors) + 1) is None
    )
    raw = np.array([[-1, 1, 0]], dtype=np.int64)
    assert (
        detectorset_module.hit_layout(["ab"], raw, 3, owner, len(detectors.detectors) + 1) is None
    )
    raw = np.array([[5, 0, 0]], dtype=np.int64)  # an end before its start: past its text
    assert (
        detectorset_module.hit_layout(["ab"], raw, 3, owner, len(detectors.detectors) + 1) is None
    )
    with pytest.raises(OverflowError):  # offsets past int64 are refused, not wrapped
        detectorset_module.hit_layout(["ab", "cd"], raw, sys.maxsize, owner, 2)


def test_scans_equal_with_and_without_the_compiled_hit_layout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whole scans of generated table rows and running text: the same findings, in the same
    order, with the same confidences, with the compiled layout and without it."""
    import random

    detectors = default_detectors()
    pieces = (
        "Mr ", "Dear ", "name: ", "Tel: ", "DOB ", "HKID ", "CHAN Tai Man", "Wong Siu Ming",
        "Tai Po ", "9123 4567", "a.b@example.com.hk", "12 March 1980", "A123456(3)", " ",
        ", ", "\n", "電話", "陳大文先生", "香港九龍彌敦道100號", "Flat A, 12/F, Block 3, ",
    )  # fmt: skip
    rng = random.Random(15)
    found = 0
    for _ in range(60):
        units = []
        for i in range(rng.randrange(1, 80)):
            text = " | ".join(rng.choice(pieces) for _ in range(rng.randrange(1, 6)))
            cells = tuple(text.split(" | ")) if rng.random() < 0.6 else None
            header = ("Name", "Tel", "HKID") if cells is not None and i % 2 else None
            units.append(TextUnit(text, f"u{i}", cells, header))
        got = detectors.scan(units)
        monkeypatch.setattr(detectorset_module, "hit_layout", None)
        want = detectors.scan(units)
        monkeypatch.undo()
        assert got == want
        assert [f.confidence for f in got] == [f.confidence for f in want]
        found += len(got)
    assert found > 1000


# ---- seventh round: the units' fields in C, few vetoes, ASCII scans without name_zh ----


class _Duck:
    """A unit by duck typing: its fields read by the generic getattr, not at slots."""

    def __init__(self, text: object, header: object) -> None:
        self.text, self.header, self.where, self.cells = text, header, "duck", None


def test_unit_fields_are_read_as_the_maps_read_them() -> None:
    import random

    rng = random.Random(7)
    headers: list[object] = [None, (), ("Name",), ("Name", "Tel"), ""]
    texts: list[object] = ["", "CHAN Tai Man | 91234567", "陳大文", "\ud800?", "x" * 300]
    assert detectorset_module.unit_fields is not None
    for _ in range(300):
        units = [
            TextUnit(rng.choice(texts), "u", None, rng.choice(headers))  # type: ignore[arg-type]
            if rng.random() < 0.7
            else _Duck(rng.choice(texts), rng.choice(headers))
            for _ in range(rng.randrange(0, 12))
        ]
        got = detectorset_module.unit_fields(units)  # type: ignore[arg-type]
        assert got == detectorset_module._unit_fields_py(units)  # type: ignore[arg-type]
        assert all(a is b for a, b in zip(got[0], (u.text for u in units), strict=True))
    odd = [_Duck(b"bytes", None), _Duck("text", ("h",))]
    assert detectorset_module.unit_fields(odd)[2] == -1  # type: ignore[arg-type]
    assert detectorset_module._unit_fields_py(odd)[2] == -1  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        detectorset_module.unit_fields([object()])  # type: ignore[list-item]


def test_few_vetoes_are_found_as_many_are(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    for _ in range(500):
        count, vetoes = int(rng.integers(0, 40)), int(rng.integers(1, 5))
        starts = np.sort(rng.integers(0, 200, count))
        ends = starts + rng.integers(1, 30, count)
        veto_starts = np.sort(rng.integers(0, 200, vetoes))
        veto_ends = veto_starts + rng.integers(1, 30, vetoes)
        few = detectorset_module._vetoed(starts, ends, veto_starts, veto_ends)
        monkeypatch.setattr(detectorset_module, "_FEW_VETOES", -1)
        many = detectorset_module._vetoed(starts, ends, veto_starts, veto_ends)
        monkeypatch.undo()
        assert few.tolist() == many.tolist()


def _sheet(rows: int, names: tuple[str, ...]) -> list[TextUnit]:
    units = []
    for n in range(rows):
        cells = (f"V-{n:07d}", names[n % len(names)], "A123456(3)", f"9{n:07d}")
        units.append(TextUnit(" | ".join(cells), f"x.xlsx#s!R{n}", cells))
    return units


def test_ascii_scans_find_what_they_found_reading_every_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """name_zh left out of a scan of ASCII text changes nothing: sheets of English names,
    of Chinese names (found as cells), with a lone surrogate, few rows and many."""
    from postwarden.engine.detect.name_zh import NameZhDetector

    detectors = default_detectors()
    sheets = [
        _sheet(200, ("CHAN Tai Man", "LAM Ling")),
        _sheet(200, ("陳大文", "LAM Ling")),
        _sheet(3, ("CHAN Tai Man",)),
        _sheet(3, ("李小明",)),
        _sheet(50, ("CHAN \ud800 Man", "WONG Siu Ming")),
        [TextUnit("陳大文", "body"), *_sheet(2, ("LAM Ling",))],
    ]
    for units in sheets:
        got = detectors.scan(units)
        monkeypatch.setattr(NameZhDetector, "cells_outside_ascii", False)
        want = detectors.scan(units)
        monkeypatch.undo()
        assert got == want
    assert any(f.detector == "name_zh" for f in detectors.scan(sheets[1]))
    assert any(f.detector == "name_zh" for f in detectors.scan(sheets[3]))


def test_scans_equal_with_and_without_the_compiled_unit_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detectors = default_detectors()
    for units in (_sheet(200, ("CHAN Tai Man", "陳大文")), _sheet(5, ("LAM Ling",))):
        headed = [TextUnit(u.text, u.where, u.cells, ("ID", "Name", "HKID", "Tel")) for u in units]
        for scanned in (units, headed):
            got = detectors.scan(scanned)
            monkeypatch.setattr(detectorset_module, "unit_fields", None)
            want = detectors.scan(scanned)
            monkeypatch.undo()
            assert got == want
            assert got


def test_scans_without_hits_find_what_the_analysis_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan with no hit and no table headings returns at once (`_finds_nothing`): the
    same findings as `_analyze_few` over every detector, in ASCII text and in Chinese, with
    table rows (name_zh reads their cells without a hit) and without."""
    detectors = default_detectors()
    cases = [
        [TextUnit("the annual budget and the agenda", "body"), TextUnit("f0 .docx", "file names")],
        [TextUnit("會議紀錄：下星期三開會", "body")],
        [TextUnit("minutes", "body"), TextUnit("陳大文 | 會議", "R1", ("陳大文", "會議"))],
        [TextUnit("陳大文", "R1", ("陳大文",)), TextUnit("李小明", "R2", ("李小明",))],
        [TextUnit("budget", "R1", ("budget",)), TextUnit("agenda", "R2", ())],
        [TextUnit("x \ud800 y", "body")],
    ]
    scanned = []
    for units in cases:
        raw, _ = detectors._text_hits([u.text for u in units])
        assert not len(raw)
        got = detectors.scan(units)
        monkeypatch.setattr(type(detectors), "_finds_nothing", lambda *_: False)
        want = detectors.scan(units)
        monkeypatch.undo()
        assert got == want
        assert [f.confidence for f in got] == [f.confidence for f in want]
        scanned.append(got)
    assert any(f.detector == "name_zh" for f in scanned[3])
