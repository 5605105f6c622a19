"""Presence rules on text units and detector findings built by hand."""

from __future__ import annotations

import dataclasses
import gc
import itertools
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.engine.registers.conftest import Imported
from tests.engine.registers.people import People, name_en_as

from postwarden.engine.registers import RegisterSet, native
from postwarden.engine.registers import match as match_module
from postwarden.engine.registers.match import (
    _ROW_NUMBER,
    _SEGMENT,
    EXPAND_MAX,
    PHONE_COLUMN_ODDS,
    PHONE_COLUMN_RATE,
    PIVOT_MAX,
    Collector,
    Queries,
    _in_sorted,
    _present_pairs,
    _present_pairs_py,
    _row_cells,
    _row_cells_py,
    _run_lengths,
    _screen,
    _screen_points,
    _segmented_py,
    _spans,
    _spans_py,
    phone_columns,
)
from postwarden.engine.registers.normalise import (
    Field,
    address_en,
    hkid_or_phone,
    name_en,
    unique_candidates,
)
from postwarden.model import Finding, TextUnit


def _rows(p: People, idx: np.ndarray, columns: tuple[str, ...]) -> list[TextUnit]:
    return [
        TextUnit(text=" | ".join(r), where=f"attachment:x.xlsx#Sheet1!R{i + 2}", cells=tuple(r))
        for i, r in enumerate(p.rows(columns, idx))
    ]


@pytest.fixture(scope="module")
def registers(voters: Imported) -> RegisterSet:
    return voters.registers()


def _sample(n: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).choice(20_000, size=n, replace=False)


@pytest.mark.parametrize(
    "columns",
    [
        ("hkid",),
        ("phone",),
        ("email",),
        ("name_en", "address_en"),
        ("name_zh", "address_zh"),
        ("name_en", "dob"),
        ("address_zh", "dob"),
    ],
)
def test_match_rows_count_each_record_once(
    registers: RegisterSet, voters: Imported, columns: tuple[str, ...]
) -> None:
    idx = _sample(400)
    units = _rows(voters.people, idx, columns) + _rows(voters.people, idx[:50], columns)
    found = registers.match(units, [])
    assert found.subjects == {"voters": 400}
    assert found.record_ids["voters"] == set(idx.tolist())
    assert len(found.findings) == 400


@pytest.mark.parametrize(
    "columns",
    [("name_en",), ("name_zh",), ("name_en", "name_zh"), ("address_en", "address_zh"), ("dob",)],
)
def test_match_one_fact_alone_counts_nobody(
    registers: RegisterSet, voters: Imported, columns: tuple[str, ...]
) -> None:
    # A name (in one script or two) is shared by many; an address by a household.
    found = registers.match(_rows(voters.people, _sample(400), columns), [])
    assert found.subjects == {"voters": 0}


def test_match_fields_of_different_people_in_one_row_count_only_who_has_both(
    registers: RegisterSet, voters: Imported
) -> None:
    p = voters.people
    a, b = _sample(300, seed=5), _sample(300, seed=6)
    pairs = [(str(p.name_en[x]), str(p.address_en[y])) for x, y in zip(a, b, strict=True)]
    units = [TextUnit(text="", where=f"R{i}", cells=pair) for i, pair in enumerate(pairs)]
    # Someone holds both only if y's household has a namesake of x (rare, but it happens).
    wanted = {(name_en(n), address_en(ad)) for n, ad in pairs}
    holders = {
        r
        for r, (n, ad) in enumerate(zip(p.column("name_en"), p.column("address_en"), strict=True))
        if (name_en(n), address_en(ad)) in wanted
    }
    assert len(holders) < 30
    assert registers.match(units, []).record_ids == {"voters": holders}


def test_match_finding_says_which_fields_matched(registers: RegisterSet, voters: Imported) -> None:
    found = registers.match(_rows(voters.people, _sample(1), ("name_en", "address_zh")), [])
    (finding,) = found.findings
    assert finding.detector == "register:voters"
    assert finding.detail == "name_en+address_zh"
    assert finding.where == "attachment:x.xlsx#Sheet1!R2"
    assert finding.value == ""


def test_match_hkid_in_a_body_counts_one(registers: RegisterSet, voters: Imported) -> None:
    text = f"Dear colleague,\nthe applicant's HKID is {voters.people.hkid[42]}.\nRegards"
    span_at = text.index(str(voters.people.hkid[42]))
    hkid = Finding("hkid", "body", str(voters.people.hkid[42]), span_at, span_at + 10)
    found = registers.match([TextUnit(text=text, where="body")], [hkid])
    assert found.subjects == {"voters": 1}
    assert found.record_ids == {"voters": {42}}


def test_match_name_above_an_address_block_in_running_text(
    registers: RegisterSet, voters: Imported
) -> None:
    p = voters.people
    i = 77
    flat, floor, block, estate, street, district = str(p.address_en[i]).split(", ")
    block_lines = [f"{flat}, {floor}, {block}", estate, street, district]
    text = "\n".join(
        ["Dear Sir,", name_en_as(p, [i], "hyphen")[0], *block_lines, "", "Yours faithfully"]
    )
    found = registers.match([TextUnit(text=text, where="body")], [])
    assert found.record_ids == {"voters": {i}}


def _letter(p: People, i: int) -> str:
    flat, floor, block, estate, street, district = str(p.address_en[i]).split(", ")
    block_lines = [f"{flat}, {floor}, {block}", estate, street, district]
    return "\n".join(["Dear Sir,", name_en_as(p, [i], "hyphen")[0], *block_lines, "Regards"])


@pytest.mark.parametrize("place", ["body#hidden", "body#attributes", "file names"])
def test_markup_does_not_use_up_the_lines_of_the_text_after_it(
    registers: RegisterSet, voters: Imported, place: str
) -> None:
    markup = "\n".join(f"data-row-{n}" for n in range(match_module.MAX_TEXT_LINES + 1))
    units = [
        TextUnit(text=markup, where=place),
        TextUnit(text=_letter(voters.people, 77), where="attachment:letter.txt"),
    ]
    assert registers.match(units, []).record_ids == {"voters": {77}}
    # Markup is still looked up whole: the letter in an attribute value is found.
    hidden = TextUnit(text=_letter(voters.people, 78), where=place)
    assert registers.match([hidden], []).record_ids == {"voters": {78}}


def test_match_spans_on_distant_lines_do_not_combine(
    registers: RegisterSet, voters: Imported
) -> None:
    p = voters.people
    text = "\n".join([str(p.name_en[9]), "a", "b", "c", str(p.address_zh[9])])
    assert registers.match([TextUnit(text=text, where="body")], []).subjects == {"voters": 0}


def test_match_detector_spans_inside_lines(registers: RegisterSet, voters: Imported) -> None:
    p = voters.people
    name, address = str(p.name_zh[123]), str(p.address_zh[123])
    text = f"申請人{name}，住址：{address}。"
    spans = [
        Finding("name_zh", "page", name, text.index(name), text.index(name) + len(name)),
        Finding("address_zh", "page", address, text.index(address), len(text) - 1),
    ]
    found = registers.match([TextUnit(text=text, where="page")], spans)
    assert found.record_ids == {"voters": {123}}


def test_records_with_email_finds_own_records(registers: RegisterSet, voters: Imported) -> None:
    p = voters.people
    assert registers.email_registers() == frozenset({"voters"})
    own = str(p.email[5]).upper()
    assert registers.records_with_email("voters", [own, "someone@else.example"]) == {5}
    assert registers.hash_email("not an address") is None


def test_match_without_registers_is_empty(tmp_path: object, voters: Imported) -> None:
    empty = RegisterSet(voters.registers_dir, b"register-tests-secret-0123456789", [])
    found = empty.match([TextUnit(text=str(voters.people.hkid[0]), where="body")], [])
    assert found.subjects == {}


@pytest.mark.parametrize(
    "line",
    [
        "",
        " ",
        "  ",
        "\t",
        "a",
        "plain prose with single spaces only",
        " leading space",
        "trailing space ",
        "two  spaces",
        "tab\there",
        "Tel: 2891 1001",
        "a|b",
        "姓名：陳大文",
        "a;b",
        "甲；乙",
        "no-break\xa0space",
        "no-break\xa0 and space",
        "ideographic\u3000\u3000spaces",
        "unit\x1fseparator",
        "\x0b\x0c",
        "\xa0",
        "end\u2003",
    ],
)
def test_segmented_says_exactly_when_the_separator_pattern_splits(line: str) -> None:
    # The shortcut must agree with the regex it spares, or a segment would go unlooked-up;
    # so must the compiled one-pass check (match._segmented where built).
    assert _segmented_py(line) == (len(_SEGMENT.split(line)) > 1)
    if native.segmented is not None:
        assert native.segmented(line) == (len(_SEGMENT.split(line)) > 1)


_LINE_CHARS = list("ab |:;\t\n\r\x0b\x0c\x1c\x1f\x7f\x85\xa0\u2003\u3000：；:")


@given(st.text(st.sampled_from(_LINE_CHARS), max_size=24))
def test_segmented_agrees_with_the_pattern_on_generated_lines(line: str) -> None:
    # ASCII lines take a shortcut of their own (bytes passes); others the general one.
    assert _segmented_py(line) == (len(_SEGMENT.split(line)) > 1)


@pytest.mark.skipif(native.segmented is None, reason="the compiled segmented is not built")
@given(st.text(st.sampled_from([*_LINE_CHARS, "中", "😀", "é"]), max_size=40) | st.text())
def test_the_compiled_segmented_is_the_pattern(line: str) -> None:
    assert native.segmented is not None
    assert native.segmented(line) == (len(_SEGMENT.split(line)) > 1)
    assert match_module._segmented is native.segmented


@pytest.mark.skipif(native.segmented is None, reason="the compiled segmented is not built")
def test_the_compiled_segmented_classes_every_latin1_character_as_the_pattern() -> None:
    # A Latin-1 line is read through a table of its 256 characters: each character alone,
    # doubled, and next to a space and a no-break space, inside a long line of prose.
    assert native.segmented is not None
    prose = "word " * 400
    for code in range(256):
        c = chr(code)
        for line in (f"a{c}b", f"a{c}{c}b", f"a {c}b", f"a{c}\xa0b", c, f"{prose}{c}{c}{prose}"):
            assert native.segmented(line) == (len(_SEGMENT.split(line)) > 1), repr(line)


@pytest.mark.skipif(native.segmented is None, reason="the compiled segmented is not built")
def test_the_compiled_segmented_takes_str_only() -> None:
    with pytest.raises(TypeError):
        native.segmented(b"a  b")  # type: ignore[misc,arg-type]


def _screen_agrees_with_unique_candidates(cells: list[str]) -> int:
    """Assert that the table screen keys ``cells`` to what ``unique_candidates`` finds in each
    cell, cell for cell; returns how many (cell, field, value) it found."""
    want = sorted(
        (g, int(f), norm) for g, cell in enumerate(cells) for f, norm in unique_candidates(cell)
    )
    n = len(cells)
    for screen in (_screen, _screen_points):  # compiled (where built) and numpy
        collector = Collector()
        codes = collector._unique_codes(cells, screen(cells))
        collector._cell_entries(codes, np.arange(n), np.zeros(n, dtype=np.int64), [])
        texts = list(collector.keys)
        none = np.zeros(0, dtype=np.int64)
        keys, groups, _, _ = match_module._table_entries_py(
            collector._table_entries, none, none, np.zeros(0, dtype=np.bool_)
        )
        got = sorted(
            (int(g), ord(texts[k][0]), texts[k][1:])
            for k, g in zip(keys.tolist(), groups.tolist(), strict=True)
        )
        assert got == want
    return len(want)


def test_table_cells_screened_give_what_unique_candidates_finds() -> None:
    # The C-level screen skips cells before the per-text checks: what it skips must be
    # what unique_candidates would find nothing in (spaces around, long cells, no digit).
    cells = [
        "",
        "  ",
        "a@example.com",
        " x.y@example.org.hk ",
        "A123456(3)",
        " A1234563 ",
        "91234567",
        "  9123 4567  ",
        "+852 9123 4567",
        " " * 20 + "91234567" + " " * 20,
        "Flat A, 12/F, Some Building, 1 Some Road, Wan Chai",
        "V-0000001",
        "陳大文",
        "2024-01-01",
        "1" * 30,
        "A123456(3)",
        "灣仔道1號",
        "９１２３４５６７",
        "Ａ１２３４５６（３）",
        "陳@example.com",
    ]
    assert _screen_agrees_with_unique_candidates(cells) == 12


def test_table_cells_screened_over_code_points_give_what_unique_candidates_finds() -> None:
    # The screen reads every cell's code points at once: characters outside the Basic
    # Multilingual Plane, lone surrogates (undecodable mail bytes), NULs and line breaks
    # inside a cell must not shift one cell's flags onto its neighbour.
    cells = [
        "\U00020000 12",  # a Chinese character of extension B, and digits
        "91234567",
        "\ud800",
        "A123456(3)",
        "a\x00b 91234567",
        "\x0091234567",
        "9123\n4567",
        "",
        "𝟗𝟏𝟐𝟑𝟒𝟓𝟔𝟕",  # mathematical digits: NFKC makes them ASCII, no digit to the screen
        "x@example.com\U00020000",
        "+852 9123 4567",
        "\U0003134f91234567",
        "\U00031350A123456(3)",
        "\uf90091234567",
        "\u33ff91234567",
        "62345678",
    ]
    assert _screen_agrees_with_unique_candidates(cells) >= 5


# Code points at and around every edge the screen tests: digits, full-width digits, "@",
# each Chinese range's ends, whitespace, Latin-1, surrogates and the astral planes.
_SCREEN_POINTS = [
    0x09, 0x20, 0x85, 0x1F, 0x3000, 0x2028, 0x00, 0x2F, 0x30, 0x39, 0x3A, 0x3F, 0x40, 0x41,
    0x7F, 0xA0, 0xFF, 0x100,
    0x33FF, 0x3400, 0x9FFF, 0xA000, 0xD800, 0xDFFF, 0xF8FF, 0xF900, 0xFAFF, 0xFB00,
    0xFF0F, 0xFF10, 0xFF19, 0xFF1A, 0xFF20, 0x1FFFF, 0x20000, 0x3134F, 0x31350, 0x10FFFF,
]  # fmt: skip


@pytest.mark.skipif(native.screen_cells is None, reason="the compiled screen_cells is not built")
@given(st.lists(st.lists(st.sampled_from(_SCREEN_POINTS), max_size=6), max_size=12))
def test_compiled_screen_equals_the_numpy_screen(points: list[list[int]]) -> None:
    cells = ["".join(map(chr, cell)) for cell in points] + [" ", "\u3000\t", "\x85", " a "]
    for got, want in zip(_screen(cells), _screen_points(cells), strict=True):
        assert got.tolist() == want.tolist()


@pytest.mark.skipif(native.screen_cells is None, reason="the compiled screen_cells is not built")
def test_compiled_screen_refuses_what_is_no_str() -> None:
    with pytest.raises(TypeError):
        native.screen_cells(["a", b"b"])  # type: ignore[list-item]


def test_register_findings_made_in_c_equal_the_dataclass_s() -> None:
    made = native.make_register_finding("register:voters", "body", "hkid+name_en")
    plain = Finding(detector="register:voters", where="body", detail="hkid+name_en")
    assert made == plain
    assert type(made) is Finding
    assert [getattr(made, f) for f in Finding.__slots__] == [
        getattr(plain, f) for f in Finding.__slots__
    ]


def test_table_rows_places_name_their_tables_as_the_row_number_pattern_does() -> None:
    # Successive rows of a table skip the search: their place is the last one's table, "R"
    # and a number.  Places that only look alike must still be searched.
    places = [
        "a.xlsx#S!R1", "a.xlsx#S!R2", "a.xlsx#S!R10", "a.xlsx#S!R١", "a.xlsx#S!R2x",
        "a.xlsx#S!R", "a.xlsx#S!R3", "b.csv#R1", "b.csv#R2R3", "b.csv#R2", "\x005", "c",
        "a.xlsx#S!R4\n", "a.xlsx#S!R5",
    ]  # fmt: skip
    units = [TextUnit(text="x", where=w, cells=("x",)) for w in places]
    collector = Collector()
    collector._rows(units, list(range(len(units))), list(range(len(units))))
    tables: dict[str, int] = {}
    for w in places:
        m = _ROW_NUMBER.search(w)
        tables.setdefault(w[: m.start()] if m else w, len(tables))
    want = [tables[w[: m.start()] if (m := _ROW_NUMBER.search(w)) else w] for w in places]
    assert collector.table.tables.tolist() == want


_UNIQUE_CELLS = st.one_of(
    st.from_regex(r"\s?[A-Za-zＡ(]{0,3}[0-9１]{5,9}[(（\[]?[0-9Aa]?[)）\]]?\s?", fullmatch=True),
    st.from_regex(r"[+(]?[0-9٣ ]{1,4}[0-9 ()\-.]{4,12}\s?", fullmatch=True),
    st.from_regex(r"[A-Za-z]{1,3}-?[0-9]{1,9}[\- ]?[0-9A]?@?", fullmatch=True),
    st.text(st.sampled_from(list("AZaz09()[] -+.@（）Ａ１٣\u3000\t\x1c\x85")), max_size=18),
)


@pytest.mark.skipif(native.unique_keys is None, reason="the compiled unique_keys is not built")
@given(st.lists(_UNIQUE_CELLS, max_size=24))
def test_compiled_unique_keys_read_cells_as_hkid_or_phone(cells: list[str]) -> None:
    # What the C decides is hkid_or_phone of the stripped text; the rest it leaves unsure.
    at = np.arange(len(cells), dtype=np.int64)[::-1].copy()
    keys, found, unsure = native.unique_keys(cells, at)
    found_at = np.frombuffer(found, np.int64).tolist()
    unsure_at = set(np.frombuffer(unsure, np.int64).tolist())
    assert found_at == sorted(found_at)
    assert len(keys) == len(found_at)
    assert not unsure_at & set(found_at)
    keyed = dict(zip(found_at, keys, strict=True))
    for j, i in enumerate(at.tolist()):
        if j in unsure_at:
            continue
        s = cells[i].strip()
        assert s
        assert "@" not in s
        pair = hkid_or_phone(s, len(s))
        assert keyed.get(j) == (None if pair is None else chr(pair[0]) + pair[1])


@given(st.lists(_UNIQUE_CELLS, max_size=24))
def test_unique_codes_equal_with_and_without_the_compiled_reader(cells: list[str]) -> None:
    # The C-read keys are numbered in the cells' order with the ones Python reads: the same
    # codes and keys as Python reading them all.
    cells = [*cells, "a@example.com", *cells[:3], "+852 9123 4567", "91234567"]
    compiled = Collector()
    codes = compiled._unique_codes(cells, _screen(cells)).tolist()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "unique_keys", None)
        plain = Collector()
        assert plain._unique_codes(cells, _screen(cells)).tolist() == codes
    assert list(plain.keys.items()) == list(compiled.keys.items())


def test_unique_keys_of_a_leaked_tables_columns() -> None:
    cells = ["V-0000001", "A123456(3)", "91234567", " 91234567 ", "ab123456a", "+85291234567"]
    assert _screen_agrees_with_unique_candidates(cells * 3) == 15


_SPAN_TEXTS = ["91234567", "A123456(3)", "陳大文", "x", "91234567 A123456(3)", ""]


@pytest.mark.skipif(native.span_units is None, reason="the compiled span_units is not built")
@given(
    st.lists(st.tuples(st.sampled_from(["body", "a#R1", "a#R2", "b"]), st.booleans()), max_size=8),
    st.lists(
        st.tuples(
            st.sampled_from(["phone", "hkid", "name_zh", "email", "register:voters", "card"]),
            st.sampled_from(["body", "a#R1", "a#R2", "b", "c"]),
            st.sampled_from(_SPAN_TEXTS),
            st.integers(0, 12),
        ),
        max_size=30,
    ),
)
def test_compiled_span_units_equal_the_python_spans(
    places: list[tuple[str, bool]], found: list[tuple[str, str, str, int]]
) -> None:
    # Places repeat (a text split in units), rows hold the values as whole cells or inside
    # one, findings name places no unit has and detectors the registers do not read.
    units = [
        TextUnit(
            text=" | ".join(_SPAN_TEXTS[k:] if row else _SPAN_TEXTS[:k]),
            where=where,
            cells=tuple(_SPAN_TEXTS[k:]) if row else None,
        )
        for k, (where, row) in enumerate(places)
    ]
    findings = [
        Finding(detector=d, where=w, value=v, start=s, end=s + len(v)) for d, w, v, s in found
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(match_module, "SPANS_IN_PYTHON", -1)  # the compiled one even for few
        assert _spans(units, findings) == _spans_py(units, findings)
    # The same with every place's text holding the value where the finding says.
    texts = itertools.cycle([u.text for u in units] or [""])
    findings = [
        Finding(detector=d, where=w, value=t[s : s + 3], start=s, end=s + 3)
        for (d, w, _, s), t in zip(found, texts, strict=False)
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(match_module, "SPANS_IN_PYTHON", -1)
        assert _spans(units, findings) == _spans_py(units, findings)


@pytest.mark.skipif(native.row_cells is None, reason="the compiled row_cells is not built")
@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from(list("aR#!0159١\n x")), max_size=8),
            st.one_of(st.none(), st.lists(st.sampled_from(["", "1", "陳", "a b"]), max_size=4)),
        ),
        max_size=12,
    )
)
def test_compiled_row_cells_equal_the_python_rows(rows: list[tuple[str, list[str] | None]]) -> None:
    # Places with and without a row number, numbers in other scripts, newlines at the end;
    # rows without cells; units that are no rows in between.
    units = [TextUnit(text="x", where=w, cells=None if c is None else tuple(c)) for w, c in rows]
    units.insert(len(units) // 2, TextUnit(text="x", where="body"))
    at = [u for u, unit in enumerate(units) if unit.cells is not None or u % 3 == 0]
    texts, lengths, tables, firsts = _row_cells(units, at)
    want = _row_cells_py(units, at)
    assert texts == want[0]
    assert lengths.tolist() == want[1].tolist()
    assert tables.tolist() == want[2].tolist()
    assert firsts == want[3]


def test_rows_between_running_text_get_their_groups_in_order() -> None:
    # Groups are numbered in the order of the units, running text's lines and rows alike.
    units = [
        TextUnit(text="Dear Sir,\nsee below", where="body"),
        TextUnit(text="91234567", where="a.csv#R1", cells=("91234567",)),
        TextUnit(text="A123456(3)", where="a.csv#R2", cells=("A123456(3)",)),
        TextUnit(text="Regards\nChan Tai Man", where="body"),
        TextUnit(text="x", where="a.csv#R3", cells=("x",)),
    ]
    collector = Collector()
    collector.scan(units, [])
    assert collector.group_where == ["body", "body", "a.csv#R1", "a.csv#R2"] + ["body"] * 2 + [
        "a.csv#R3"
    ]
    assert collector.table.groups.tolist() == [2, 3, 6]


@pytest.mark.skipif(native.untracked is None, reason="the compiled untracked is not built")
def test_untracked_leaves_out_of_the_collector_only_what_holds_no_container() -> None:
    made = native.make_register_finding("register:voters", "body", "hkid")
    assert gc.is_tracked(made)
    assert native.untracked(made) is made
    assert not gc.is_tracked(made)
    assert made == Finding(detector="register:voters", where="body", detail="hkid")
    # A finding holding a list (no register's: its fields are str) stays tracked.
    holding = Finding(detector="x", where="body", value=[1])  # type: ignore[arg-type]
    assert native.untracked(holding) is holding
    assert gc.is_tracked(holding)


def test_register_findings_of_a_match_are_untracked(
    registers: RegisterSet, voters: Imported
) -> None:
    units = _rows(voters.people, _sample(20), ("hkid",))
    found = registers.match(units, []).findings
    assert len(found) == 20
    assert not any(map(gc.is_tracked, found)) or native.untracked is None


@given(st.lists(st.text(st.sampled_from(list("\x01\x02\x03ab陳1")), min_size=1, max_size=4)))
def test_key_arrays_number_keys_as_one_by_one(texts: list[str]) -> None:
    # Numbered in C (where built) or with dict passes, keys get the numbers _key_of would
    # give them one at a time, after the keys a collector already has.
    one_by_one, bulk = Collector(), Collector()
    for collector in (one_by_one, bulk):
        collector._key_of("\x04chan")
    want = [one_by_one._key_of(text) for text in texts]
    assert bulk._key_array(texts).tolist() == want
    assert list(bulk.keys.items()) == list(one_by_one.keys.items())


def _letters(p: People, count: int, seed: int) -> list[list[TextUnit]]:
    """Letters of prose and short lines holding register people's fields: one person's on
    adjacent lines (present), different people's, lone common names, blank lines between."""
    import random

    rng = random.Random(seed)
    prose = "please review the attached minutes of the district council meeting".split()
    fields = ("name_en", "name_zh", "address_en", "address_zh", "phone", "hkid", "email", "dob")
    letters = []
    for _ in range(count):
        lines = ["Dear Mr Chan,", ""]
        for _ in range(rng.randrange(1, 8)):
            roll = rng.random()
            if roll < 0.3:
                lines.append(" ".join(rng.choices(prose, k=rng.choice((4, 40, 120)))))
            elif roll < 0.5:
                lines.append("")
            else:
                person = rng.randrange(len(p))
                for f in rng.sample(fields, rng.randrange(1, 3)):
                    value = str(
                        getattr(p, f)[person if rng.random() < 0.7 else rng.randrange(len(p))]
                    )
                    lines.append(rng.choice(("", "Tel: ", "Name: ", "  ")) + value)
        lines += ["", "Regards,", "CHAN Tai Man", "Tel: 2891 1001"]
        units = [TextUnit(text="\n".join(lines), where="body")]
        if rng.random() < 0.3:
            units.insert(0, TextUnit(text=str(p.name_en[rng.randrange(len(p))]), where="subject"))
        letters.append(units)
    return letters


def test_nobody_present_told_without_arrays_is_what_the_arrays_say(
    registers: RegisterSet, voters: Imported, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Collector.none_present` (match's shortcut for a letter) answers as `present` would:
    on generated letters with register people's fields, the matches with the shortcut are
    those without it, and it is taken on some letters and not on others."""
    from postwarden.engine.detect import default_detectors

    detectors = default_detectors()
    letters = _letters(voters.people, 150, seed=5)
    scanned = [(units, detectors.scan(units)) for units in letters]
    told = []
    real = Collector.none_present

    def spy(self: Collector, n_of: np.ndarray) -> bool:
        told.append(real(self, n_of))
        return told[-1]

    monkeypatch.setattr(Collector, "none_present", spy)
    fast = [registers.match(units, found) for units, found in scanned]
    monkeypatch.setattr(Collector, "none_present", lambda self, n_of: False)
    slow = [registers.match(units, found) for units, found in scanned]
    assert fast == slow
    assert sum(told) > 20
    assert len(told) - sum(told) > 20
    assert sum(1 for m in slow if m.findings) > 20


def _joins_line_by_line(lines: list[str]) -> list[tuple[int, str]]:
    """(first line, key) of each address up to five consecutive short lines joined are, line
    by line: what `Collector._joined` finds through runs of short lines."""
    stripped = [line.strip() for line in lines]
    found = []
    for i, first in enumerate(stripped):
        if not first or len(lines[i]) > match_module._JOIN_LINE_CHARS:
            continue
        parts = [first]
        for k in range(i + 1, min(i + match_module._JOIN_LINES, len(lines))):
            if not stripped[k] or len(lines[k]) > match_module._JOIN_LINE_CHARS:
                break
            parts.append(stripped[k])
            key = match_module._joined_key(", ".join(parts))
            if key is not None:
                found.append((i, key))
    return found


def test_joins_through_runs_of_short_lines_are_those_line_by_line(voters: Imported) -> None:
    """Runs of short lines (remembered whole up to `_MEMO_RUN` lines, longer ones not) give
    the keys, in the order, that joining line by line gives: address blocks, signatures,
    long lines and blank lines between, runs of every length."""
    import random

    p = voters.people
    rng = random.Random(9)
    pool = [
        *(part for a in p.address_en[:40].tolist() for part in str(a).split(", ")),
        *(str(n) for n in p.name_en[:20].tolist()),
        "Regards,", "  Executive Officer ", "Tel: 2891 1001", "", "   ", "x" * 101, "香港中環",
    ]  # fmt: skip
    joined = 0
    for _ in range(300):
        lines = [rng.choice(pool) for _ in range(rng.randrange(1, 30))]
        want = _joins_line_by_line(lines)
        col = Collector()
        col._joined(lines, [line.strip() for line in lines], [(i,) for i in range(len(lines))])
        texts = list(col.keys)
        got = sorted((pair >> 32, texts[pair & 0xFFFFFFFF]) for pair in col._entries)
        assert got == sorted(set(want))
        assert texts == list(dict.fromkeys(key for _, key in want))
        joined += len(want)
    assert joined > 500


def _phone_columns_by_unique(
    columns: np.ndarray, registered: np.ndarray, density: float
) -> list[bool]:
    """`phone_columns` as first written, with np.unique and np.errstate."""
    _, at, shaped = np.unique(columns, return_inverse=True, return_counts=True)
    hits = np.bincount(at, weights=registered)
    rate = hits / shaped
    with np.errstate(divide="ignore", invalid="ignore"):
        surprise = shaped * (
            rate * np.log(rate / density)
            + (1 - rate) * np.log(np.where(rate < 1, (1 - rate) / (1 - density), 1.0))
        )
    supported = (rate >= PHONE_COLUMN_RATE) & (surprise >= -np.log(PHONE_COLUMN_ODDS))
    return list(supported[at].tolist())


def test_phone_columns_judge_as_np_unique_did() -> None:
    """Columns of every size with every share of registered phones, at several densities."""
    rng = np.random.default_rng(8)
    judged = 0
    for _ in range(300):
        count = int(rng.integers(1, 400))
        columns = rng.choice(rng.integers(0, 1 << 20, 6), size=count).astype(np.int64)
        share = rng.random()
        registered = rng.random(count) < share
        for density in (0.05, 0.2, 0.5):
            got = phone_columns(columns, registered, density).tolist()
            assert got == _phone_columns_by_unique(columns, registered, density)
            judged += sum(got)
    assert judged > 1000


def test_phone_columns_of_one_column_judge_as_np_unique_did() -> None:
    """The one-column fast path (a sheet's column of phones) against the general judgment:
    every count of entries with every number of them registered, both verdicts seen."""
    verdicts: set[bool] = set()
    for count in (1, 2, 3, 5, 8, 13, 40, 200, 399):
        for registered_count in sorted({0, 1, count // 3, count // 2, count - 1, count}):
            registered = np.zeros(count, dtype=np.bool_)
            registered[: max(registered_count, 0)] = True
            columns = np.full(count, 7, dtype=np.int64)
            for density in (0.05, 0.2, 0.5):
                got = phone_columns(columns, registered, density).tolist()
                assert got == _phone_columns_by_unique(columns, registered, density)
                verdicts.update(got)
    assert verdicts == {True, False}


def test_in_sorted_is_np_isin() -> None:
    """Values in order, in reverse, shuffled and in order but for a few (a message's matches,
    then the verified ones appended), with repeats and values past either end."""
    rng = np.random.default_rng(11)
    for size in (1, 2, 3, 16, 200, 2000):
        distinct = np.unique(rng.integers(-(1 << 40), 1 << 40, size))
        pool = np.concatenate([distinct, distinct + 1, distinct - 1, [-(1 << 62), 1 << 62]])
        values = rng.choice(pool, 3 * size + 5)
        mostly = np.sort(values)
        mostly[rng.integers(0, len(mostly), 3)] = rng.choice(pool, 3)
        for order in (np.sort(values), np.sort(values)[::-1], values, mostly):
            wanted = np.ascontiguousarray(order, dtype=np.int64)
            got = _in_sorted(distinct, wanted)
            assert got.tolist() == np.isin(wanted, distinct).tolist()
            assert got.any()


def test_run_lengths_are_the_differences_of_the_run_starts() -> None:
    for starts, total in (([], 0), ([0], 1), ([0], 5), ([0, 2, 3], 7), ([0, 1, 2], 3)):
        got = _run_lengths(np.array(starts, dtype=np.int64), total)
        assert got.tolist() == np.diff(np.array(starts, dtype=np.int64), append=total).tolist()


def _generated_entries(
    rng: np.random.Generator, groups: int, per_group: int, pool: int, big: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Useful entries of ``groups`` groups as `present` hands them on, over an index whose
    runs are sorted records drawn from ``pool`` (small: namesakes and households share
    records), a few runs up to ``big`` long (common names past EXPAND_MAX and PIVOT_MAX)."""
    count = groups * per_group
    lengths = rng.choice([1, 1, 2, 3, 4, 5, 17, 64, 65, big, big + 1], size=count)
    lengths = np.minimum(lengths, pool)
    runs = [np.sort(rng.choice(pool, size=int(m), replace=False)) for m in lengths]
    records = np.concatenate(runs).astype(np.uint32)
    lo = np.cumsum([0, *lengths])[:-1].astype(np.int64)
    g = np.repeat(np.arange(groups), per_group).astype(np.int64)
    keys = rng.integers(0, count // 2 + 1, count).astype(np.int64)  # a key in several groups
    fields = rng.choice([1, 2, 4, 6, 7, 9], size=count).astype(np.int64)
    columns = rng.integers(-1, 4, count).astype(np.int64)
    strong = rng.random(count) < 0.3
    return [g, keys, fields, lo, lengths.astype(np.int64), columns, strong], records


@pytest.mark.skipif(native.presence is None, reason="the compiled presence is not built")
def test_compiled_presence_equals_the_numpy_pairs() -> None:
    """Tables of every size and shape (one group, one entry a group, crowded groups), runs
    on either side of EXPAND_MAX and PIVOT_MAX, unique fields identifying records whose
    namesakes share the row: the same pairs, field bits and matched values both ways."""
    rng = np.random.default_rng(17)
    present_pairs = 0
    shapes = [(1, 1, 10, 8), (1, 5, 40, 70), (3, 2, 5, 8), (200, 3, 600, 70), (50, 6, 90, 70)]
    # Runs of PIVOT_MAX and one more: a group's smallest is expanded only up to it.
    shapes += [(8, 1, 9000, 8192), (8, 2, 9000, 8192), (4, 4, 9000, 8192)]
    shapes += [(int(rng.integers(1, 80)), int(rng.integers(1, 8)), 100, 70) for _ in range(60)]
    for groups, per_group, pool, big in shapes:
        entries, records = _generated_entries(rng, groups, per_group, pool, big)
        got = _present_pairs(*entries, records)
        want = _present_pairs_py(*entries, records)
        for a, b in zip(got[:3], want[:3], strict=True):
            assert a.tolist() == b.tolist()
        for a, b in zip(got[3], want[3], strict=True):
            assert a.tolist() == b.tolist()
        present_pairs += len(got[0])
    # A group of runs of about PIVOT_MAX alone: its pivot is expanded only up to it.
    for size in (8191, 8192, 8193):
        records = np.concatenate([np.arange(size), np.arange(5, size + 5)]).astype(np.uint32)
        entries = [
            np.zeros(2, dtype=np.int64),
            np.arange(2, dtype=np.int64),
            np.array([1, 4], dtype=np.int64),
            np.array([0, size], dtype=np.int64),
            np.array([size, size], dtype=np.int64),
            np.full(2, -1, dtype=np.int64),
            np.array([True, False]),
        ]
        got = _present_pairs(*entries, records)
        want = _present_pairs_py(*entries, records)
        assert got[0].tolist() == want[0].tolist()
        assert got[1].tolist() == want[1].tolist()
        assert (len(got[0]) > 0) == (size <= PIVOT_MAX)
    assert present_pairs > 1000


def _one_wide_row(small: int, large: int) -> tuple[list[np.ndarray], np.ndarray]:
    """One row (group) of ``small`` values of EXPAND_MAX records each (value i: records
    64i to 64i + 63, the row's candidates) and ``large`` values of EXPAND_MAX + 1 records
    each: every third large one (i) is a namesake of record 64 * (3i % small), the rest are
    nobody's there."""
    runs = [np.arange(i * 64, i * 64 + EXPAND_MAX, dtype=np.uint32) for i in range(small)]
    for i in range(large):
        start = 100_000_000 + i * 100
        run = np.arange(start, start + EXPAND_MAX + 1, dtype=np.uint32)
        if i % 3 == 0:
            run[0] = 64 * (3 * i % small)
        runs.append(np.sort(run))
    lengths = np.array([len(r) for r in runs], dtype=np.int64)
    count = small + large
    entries = [
        np.zeros(count, dtype=np.int64),
        np.arange(count, dtype=np.int64),
        np.where(np.arange(count) < small, 2, 4).astype(np.int64),  # a phone, then a name
        np.cumsum(lengths) - lengths,
        lengths,
        np.arange(count, dtype=np.int64),
        np.zeros(count, dtype=np.bool_),
    ]
    return entries, np.concatenate(runs)


def test_presence_is_not_quadratic_in_the_values_of_one_row() -> None:
    """A row of 20,000 values (640,000 candidates, 10,000 large lookups): each large one was
    tested against every candidate of the row -- 6.4 billion searches, tens of seconds in C
    and more memory than the machine in numpy; now each walks the smaller side."""
    entries, records = _one_wide_row(10_000, 10_000)
    ways = [_present_pairs_py] if native.presence is None else [_present_pairs, _present_pairs_py]
    answers = []
    for way in ways:
        started = time.process_time()
        answers.append(way(*entries, records))
        assert time.process_time() - started < 3.0, way
    got = answers[0]
    # the namesakes: record 64 * (3i % 10,000) (a phone) and large value i's name
    pairs = sorted({64 * (3 * i % 10_000) for i in range(0, 10_000, 3)})
    assert (got[0] & 0xFFFFFFFF).tolist() == pairs
    assert set(got[1].tolist()) == {1 << 2 | 1 << 4}
    for other in answers[1:]:
        for a, b in zip(got[:3], other[:3], strict=True):
            assert a.tolist() == b.tolist()


@pytest.mark.skipif(native.presence is None, reason="the compiled presence is not built")
def test_compiled_presence_refuses_runs_outside_the_records() -> None:
    one = np.ones(1, dtype=np.int64)
    args = (one, one, one, one * 3, one * 2, one, np.ones(1, dtype=np.bool_))
    fact_of = np.zeros(16, dtype=np.int64)
    records = np.arange(4, dtype=np.uint32)
    with pytest.raises(IndexError, match="outside"):
        native.presence(*args, records, fact_of, 64, 8192)
    with pytest.raises(ValueError, match="mismatched"):
        native.presence(*args[:6], np.ones(2, dtype=np.bool_), records, fact_of, 64, 8192)


def test_matches_equal_with_and_without_the_compiled_presence(
    registers: RegisterSet, voters: Imported, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole messages: leaked rows of every width and running text, matched the same way
    with the compiled presence and without it."""
    p = voters.people
    rng = np.random.default_rng(3)
    layouts = [("hkid", "name_en"), ("name_en", "phone"), ("name_en", "address_en")]
    layouts += [("name_en",), ("hkid", "name_en", "phone", "address_en")]
    present = 0
    for rows in (1, 2, 63, 64, 65, 199, 200, 201, 450):
        columns = layouts[rows % len(layouts)]
        units = _rows(p, rng.choice(len(p.hkid), size=rows, replace=False), columns)
        units.append(TextUnit(text=f"Dear {p.name_en[0]}\n{p.address_en[0]}", where="body"))
        got = registers.match(units, [])
        monkeypatch.setattr(native, "presence", None)
        want = registers.match(units, [])
        monkeypatch.undo()
        assert got.subjects == want.subjects
        assert got.record_ids == want.record_ids
        assert got.record_fields == want.record_fields
        assert got.findings == want.findings
        present += sum(got.subjects.values())
    assert present > 1000


def test_phone_columns_marked_one_by_one_as_by_isin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables with no, one, a few and more than `_FEW_COLUMNS` columns headed as phones:
    the same sure entries compared one by one as with np.isin."""
    rng = np.random.default_rng(4)
    for phones in (0, 1, 2, 8, 9, 12):
        width = phones + 2
        header = tuple(["Tel"] * phones + ["Name", "Ref"])
        units = [
            TextUnit(
                text=" | ".join(cells),
                where=f"attachment:x.xlsx#Sheet1!R{i + 2}",
                cells=cells,
                header=header,
            )
            for i in range(30)
            for cells in [
                tuple(f"{rng.integers(5, 10)}{rng.integers(0, 10**7):07d}" for _ in range(width))
            ]
        ]
        entries = []
        for few in (match_module._FEW_COLUMNS, -1):
            monkeypatch.setattr(match_module, "_FEW_COLUMNS", few)
            col = Collector()
            col.scan(units, [])
            entries.append([[a.tolist() for a in part] for part in col._table_entries])
        assert entries[0] == entries[1]
        sure = sum(sum(part[3]) for part in entries[0])
        assert sure == 30 * phones


def test_one_columns_remembered_verdict_is_the_judgment() -> None:
    """A lone column's phone verdict, remembered by its counts, is the one judged afresh
    (`_phone_column_supported` on one-element arrays), whether remembered or not."""
    match_module._one_column_holds_phones.cache_clear()
    verdicts: set[bool] = set()
    for count in (1, 7, 40, 200):
        for hits in sorted({0, count // 4, count // 2, count - 1, count}):
            registered = np.arange(count) < hits
            columns = np.full(count, 3, dtype=np.int64)
            for density in (0.05, 0.3):
                judged = match_module._phone_column_supported(
                    np.array([hits], dtype=np.float64), np.array([count]), density
                )[0]
                for _ in range(2):  # computed, then remembered
                    got = phone_columns(columns, registered, density)
                    assert got.dtype == np.bool_
                    assert got.tolist() == [bool(judged)] * count
                verdicts.add(bool(judged))
    assert verdicts == {True, False}
    assert match_module._one_column_holds_phones.cache_info().hits > 0


@pytest.mark.parametrize("count", [0, 1, 63, 700, 5000])
def test_lookups_sorted_or_not_find_the_same_runs(
    registers: RegisterSet, voters: Imported, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """`_lookup` finds the same runs whether it sorts the hashes first or takes them as they
    come (LOOKUP_UNSORTED either side of them), with and without the first keys' runs
    already known: registered hashes, repeated ones and absent ones, shuffled."""
    index = registers.get("voters")
    hashes = np.asarray(index.hashes)
    rng = np.random.default_rng(count)
    wanted = np.concatenate(
        [
            rng.choice(hashes, count // 2),
            rng.integers(0, 1 << 63, count - count // 2).astype(np.uint64),
        ]
    )
    rng.shuffle(wanted)
    runs = []
    for unsorted in (0, count + 1):
        monkeypatch.setattr(match_module, "LOOKUP_UNSORTED", unsorted)
        whole = match_module._lookup(index, wanted)
        first = match_module._lookup(index, wanted[: count // 3])
        runs.append([a.tolist() for a in (*whole, *match_module._lookup(index, wanted, *first))])
    assert runs[0] == runs[1]
    lo, n = runs[0][:2]
    assert runs[0][2:] == [lo, n]
    assert sum(1 for x in n if x) >= count // 2 - count // 100


def _generated_queries(
    rng: np.random.Generator, entries: int
) -> tuple[Queries, np.ndarray, np.ndarray]:
    """Entries of random keys (many phones, some HKIDs, names, addresses) in groups in
    order, some in table columns and some sure, with run starts and lengths of every size
    around UNIQUE_MAX: what `present` takes."""
    size = max(entries // 2, 1)
    fields = rng.choice(
        [int(Field.PHONE)] * 3 + [int(Field.HKID), int(Field.NAME_EN), int(Field.ADDRESS_EN)],
        size,
    ).astype(np.uint8)
    queries = Queries(
        hashes=np.zeros(size, dtype=np.uint64),
        fields=fields,
        keys=rng.integers(0, size, entries),
        groups=np.sort(rng.integers(0, entries // 3 + 1, entries)),
        columns=rng.choice([-1, 0, 1, 1 << 16], entries).astype(np.int64),
        sure=rng.random(entries) < 0.3,
        group_where=["x"] * (entries // 3 + 1),
    )
    n_of = rng.choice([0, 0, 0, 1, 2, 3, 4, 5, 70, 9000], size).astype(np.int64)
    return queries, rng.integers(0, 10_000, size), n_of


@pytest.mark.skipif(native.useful_entries is None, reason="useful_entries is not built")
def test_compiled_useful_entries_equal_the_numpy_ones(registers: RegisterSet) -> None:
    """Generated entries of every count: the compiled pass keeps the entries, in order, with
    the fields, runs, columns and strength numpy gives; groups out of order are left to
    numpy (None), and the answer is then numpy's."""
    index = registers.get("voters")
    rng = np.random.default_rng(21)
    kept = strong = dropped = 0
    for entries in [0, 1, 2, 3, 5, 8, *rng.integers(10, 700, 120).tolist()]:
        q, lo_of, n_of = _generated_queries(rng, entries)
        want = [a.tolist() for a in match_module._useful_entries_py(index, q, lo_of, n_of)]
        got = [a.tolist() for a in match_module._useful_entries(index, q, lo_of, n_of)]
        assert got == want
        kept += len(want[0])
        strong += sum(want[6])
        dropped += int(np.count_nonzero(n_of[q.keys])) - len(want[0])
        if entries > 2:
            shuffled = dataclasses.replace(q, groups=q.groups[::-1].copy())
            assert native.useful_entries(
                shuffled.keys, shuffled.groups, shuffled.columns, shuffled.sure,
                shuffled.fields, lo_of, n_of, match_module._IS_UNIQUE, 4, int(Field.PHONE),
            ) is None  # fmt: skip
            want = match_module._useful_entries_py(index, shuffled, lo_of, n_of)
            got = match_module._useful_entries(index, shuffled, lo_of, n_of)
            assert [a.tolist() for a in got] == [a.tolist() for a in want]
    assert kept > 5000
    assert strong > 1000
    assert dropped > 1000


def _matched_the_same_without(
    switched: str,
    layouts: list[tuple[str, ...]],
    seed: int,
    registers: RegisterSet,
    voters: Imported,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whole messages (leaked rows of each layout, 1 to 450 of them, and running text) are
    matched the same with the compiled ``native.<switched>`` and without it."""
    p = voters.people
    rng = np.random.default_rng(seed)
    present = 0
    for rows in (1, 2, 5, 63, 200, 201, 450):
        for columns in layouts:
            units = _rows(p, rng.choice(len(p.hkid), size=rows, replace=False), columns)
            units.append(TextUnit(text=f"Dear {p.name_en[1]}\n{p.address_en[1]}", where="body"))
            got = registers.match(units, [])
            monkeypatch.setattr(native, switched, None)
            want = registers.match(units, [])
            monkeypatch.undo()
            assert got == want
            present += sum(got.subjects.values())
    assert present > 2000


def test_matches_equal_with_and_without_the_compiled_useful_entries(
    registers: RegisterSet, voters: Imported, monkeypatch: pytest.MonkeyPatch
) -> None:
    layouts = [("hkid", "name_en"), ("name_en", "phone"), ("name_en", "address_en")]
    layouts += [("name_en",), ("phone",), ("hkid", "name_en", "phone", "address_en")]
    _matched_the_same_without("useful_entries", layouts, 5, registers, voters, monkeypatch)


def _generated_cells(
    rng: np.random.Generator, rows: int, keys: int
) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Table cells' packed keys (as `Collector._cell_entries` keeps them: up to two keys, an
    international flag, repeats in a row and across parts) and running text's entries."""
    bits = match_module._KEY_BITS
    parts = []
    for _ in range(int(rng.integers(1, 4))):
        width = int(rng.integers(1, 6))
        n = rows * width
        low = rng.integers(0, keys + 1, n) * (rng.random(n) < 0.7)
        high = rng.integers(0, keys + 1, n) * (rng.random(n) < 0.3)
        codes = low | high << bits | (rng.random(n) < 0.1).astype(np.int64) << 2 * bits
        groups = np.repeat(np.sort(rng.integers(0, rows, rows)), width)
        if rng.random() < 0.3:
            groups = rng.permutation(groups)  # any order
        columns = np.tile(np.arange(width, dtype=np.int64), rows) | int(rng.integers(0, 3)) << 16
        parts.append((codes.astype(np.int64), groups, columns, rng.random(n) < 0.4))
    pairs = np.unique(rng.integers(0, rows + 3, 40) << 32 | rng.integers(0, keys, 40))
    return parts, pairs, rng.random(len(pairs)) < 0.5


@pytest.mark.skipif(native.table_entries is None, reason="table_entries is not built")
def test_compiled_table_entries_equal_the_numpy_ones() -> None:
    """Generated cells of every size, keys repeated within rows, across columns and parts:
    one entry per (group, key) in order, its first entry's column, sure if any is; a group
    out of range is left to numpy (None)."""
    rng = np.random.default_rng(14)
    bits = match_module._KEY_BITS
    sizes = zip(rng.integers(3, 400, 150).tolist(), rng.integers(1, 60, 150).tolist(), strict=True)
    merged = repeated = refused = 0
    for rows, keys in [(1, 1), (2, 3), (5, 2), *sizes]:
        parts, pairs, sure = _generated_cells(rng, rows, keys)
        keys_of, groups_of = pairs & 0xFFFFFFFF, pairs >> 32
        want = [a.tolist() for a in match_module._table_entries_py(parts, keys_of, groups_of, sure)]
        got = native.table_entries(parts, keys_of, groups_of, sure, bits, rows + 3)
        assert got is not None
        ints = [np.frombuffer(b, np.int64).tolist() for b in got[:3]]
        assert [*ints, np.frombuffer(got[3], np.bool_).tolist()] == want
        used = match_module._table_entries(parts, keys_of, groups_of, sure, rows + 3)
        assert [a.tolist() for a in used] == want
        merged += len(want[0])
        repeated += sum(len(p[0]) for p in parts) + len(pairs) - len(want[0])
        if max(want[1], default=-1) >= rows:  # a group past n_groups: numpy's answer
            refused += 1
            assert native.table_entries(parts, keys_of, groups_of, sure, bits, rows) is None
            used = match_module._table_entries(parts, keys_of, groups_of, sure, rows)
            assert [a.tolist() for a in used] == want
    assert merged > 20_000
    assert repeated > 20_000
    assert refused > 20
    with pytest.raises(ValueError, match="mismatched"):
        native.table_entries([(b"\0" * 8, b"", b"", b"")], b"", b"", b"", bits, 1)


def test_matches_equal_with_and_without_the_compiled_table_entries(
    registers: RegisterSet, voters: Imported, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name in two columns too."""
    layouts = [("hkid", "name_en"), ("name_en", "phone", "name_en"), ("name_en", "address_en")]
    layouts += [("phone",), ("hkid", "name_en", "phone", "address_en", "hkid")]
    _matched_the_same_without("table_entries", layouts, 6, registers, voters, monkeypatch)
