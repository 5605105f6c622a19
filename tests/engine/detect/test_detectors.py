"""Table-driven tests per detector: hits and near misses side by side."""

from __future__ import annotations

import random

import pytest

from postwarden.engine.detect import Context, default_detectors, name_zh
from postwarden.engine.detect.hkid import hkid_check_digit
from postwarden.engine.detect.name_zh import NameZhDetector
from postwarden.model import TextUnit


def found(detector: str, text: str, cells: tuple[str, ...] | None = None) -> list[str]:
    unit = TextUnit(text=text, where="body", cells=cells)
    return [f.value for f in default_detectors().scan([unit]) if f.detector == detector]


@pytest.mark.parametrize(
    ("prefix", "digits", "check"),
    # A123456(3) is the Immigration Department's published example; the rest are worked by hand.
    [
        ("A", "123456", "3"),
        ("C", "668668", "9"),
        ("AB", "987654", "3"),
        ("Z", "683365", "A"),
        ("XA", "000000", "8"),
    ],
)
def test_hkid_check_digit_known_values(prefix: str, digits: str, check: str) -> None:
    assert hkid_check_digit(prefix, digits) == check


CASES = [
    # detector, text, expected values
    ("hkid", "HKID A123456(3) on file", ["A123456(3)"]),
    ("hkid", "HKID A123456(4) on file", []),  # wrong check digit
    ("hkid", "ID A1234563.", ["A1234563"]),
    ("hkid", "ID A123456 (3).", ["A123456 (3)"]),
    ("hkid", "身份證：Ａ１２３４５６（３）", ["Ａ１２３４５６（３）"]),
    ("hkid", "身份證：Ａ１２３４５６（４）", []),
    ("hkid", "AB987654(3) and XA000000(8)", ["AB987654(3)", "XA000000(8)"]),
    ("hkid", "SKUA1234563X", []),  # glued to letters
    ("hkid", "A12345(6)", []),
    ("phone", "Tel: 9123 4567", ["9123 4567"]),
    ("phone", "call +852 2123-4567 now", ["+852 2123-4567"]),
    ("phone", "(852) 6123 4567", ["(852) 6123 4567"]),
    ("phone", "852-9123 4567", ["852-9123 4567"]),
    ("phone", "手機：91234567", ["91234567"]),
    ("phone", "Order 12345678 shipped", []),  # starts with 1
    ("phone", "Invoice 20231105", []),  # a date
    ("phone", "Tel: 20231105", ["20231105"]),  # ... unless it is labelled a phone
    ("phone", "ext. 2345", []),
    ("phone", "Pi 3.14159265", []),
    ("phone", "HK$ 98765432", []),
    ("phone", "88888888", []),
    ("phone", "912345678", []),  # nine digits
    ("phone", "Total 9123 4567.50 paid", []),  # an amount
    ("phone", "Ref 9123-4567-12 x", []),  # part of a longer number
    ("phone", "Growth 91234567% y", []),
    ("phone", "Ref A-9123 4567", []),  # a reference
    ("phone", "Tel 9123 4567.", ["9123 4567"]),  # the sentence's full stop
    ("phone", "Card 4111 1111 1111 1111", []),  # the card, not a phone
    ("phone", "91234567@qq.com", []),  # the e-mail, not a phone
    ("email", "Email: tai.man@example.com.hk.", ["tai.man@example.com.hk"]),
    ("email", "<a+b@mail.gov.hk>", ["a+b@mail.gov.hk"]),
    ("email", "icon@2x.png", []),
    ("email", "john..doe@example.com", []),
    ("email", "user@localhost", []),
    ("card", "Visa 4111 1111 1111 1111", ["4111 1111 1111 1111"]),
    ("card", "Amex 3782-822463-10005", ["3782-822463-10005"]),
    ("card", "MC 5555555555554444", ["5555555555554444"]),
    ("card", "4111 1111 1111 1112", []),  # Luhn
    ("card", "9111 1111 1111 1113", []),  # no issuer starts with 9
    ("card", "0000 0000 0000 0000", []),
    ("name_zh", "姓名：陳大文", ["陳大文"]),
    ("name_zh", "請聯絡歐陽美玲女士", ["歐陽美玲"]),
    ("name_zh", "李明先生已到", ["李明"]),
    ("name_zh", "陳大文今日到訪", []),  # no context
    ("name_zh", "周年紀念", []),
    ("name_zh", "陳先生已到", []),  # a surname alone
    ("name_en", "Dear CHAN Tai Man,", ["CHAN Tai Man"]),
    ("name_en", "Tai Man CHAN signed", ["Tai Man CHAN"]),
    ("name_en", "by Chan Tai-man today", ["Chan Tai-man"]),
    ("name_en", "CHAN, Tai Man", ["CHAN, Tai Man"]),
    ("name_en", "Mr. Chan Tai Man", ["Chan Tai Man"]),
    ("name_en", "Lee Gardens", []),
    ("name_en", "Wong Tai Sin", []),
    ("name_en", "12 Man Lee Street", []),
    ("name_en", "Chan", []),
    (
        "address_en",
        "Flat A, 12/F, Block 3, Kwong Fuk Estate, Tai Po, N.T.",
        ["Flat A, 12/F, Block 3, Kwong Fuk Estate, Tai Po, N.T."],
    ),
    (
        "address_en",
        "G/F, 23 Temple Street, Yau Ma Tei, Kowloon",
        ["G/F, 23 Temple Street, Yau Ma Tei, Kowloon"],
    ),
    ("address_en", "The Hong Kong office moves to Kowloon.", []),
    ("address_en", "Wong Tai Sin. Lee Gardens. Man Lee Street.", []),
    ("address_zh", "地址：香港灣仔告士打道50號12樓1201室", ["香港灣仔告士打道50號12樓1201室"]),
    ("address_zh", "新界沙田第一城12座20樓B室", ["新界沙田第一城12座20樓B室"]),
    ("address_zh", "香港的天氣很好，三樓會議室。", []),
    ("dob", "DOB: 02/01/1990", ["02/01/1990"]),
    ("dob", "出生日期：1990年1月2日", ["1990年1月2日"]),
    ("dob", "born on 2 Jan 1990 in Kowloon", ["2 Jan 1990"]),
    ("dob", "Meeting on 02/01/1990", []),  # no context
    ("dob", "DOB: 31/02/1990", []),  # no such day
    ("dob", "DOB: 01/01/2099", []),  # in the future
]


@pytest.mark.parametrize(("detector", "text", "expected"), CASES)
def test_detector_table(detector: str, text: str, expected: list[str]) -> None:
    assert found(detector, text) == expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (("1", "陳大文", "9123 4567"), ["陳大文"]),
        (("2", "歐陽美玲", "x"), ["歐陽美玲"]),
        (("3", "黃金", "x"), []),
        (("4", "文件", "x"), []),
        (("5", "陳大文今日到訪", "x"), []),  # a sentence, not a name cell
    ],
)
def test_name_zh_table_cells(cells: tuple[str, ...], expected: list[str]) -> None:
    assert found("name_zh", "\t".join(cells), cells) == expected


def test_confidence_rises_with_context() -> None:
    bare, labelled = (
        next(f for f in default_detectors().scan([TextUnit(t, "body")]) if f.detector == "phone")
        for t in ("see 9123 4567", "Mobile: 9123 4567")
    )
    assert labelled.confidence > bare.confidence
    assert 0 < bare.confidence < 1
    assert labelled.confidence <= 1


def test_name_zh_analyze_alone_reads_cells() -> None:
    # The per-unit entry point gives what the batched scan gives.
    unit = TextUnit("1\t陳大文\t黃金", "attachment:a.csv#R2", ("1", "陳大文", "黃金"))
    found = NameZhDetector().analyze(unit, [], Context([]))
    assert [(f.value, f.start) for f in found] == [("陳大文", 2)]
    assert found == [f for f in default_detectors().scan([unit]) if f.detector == "name_zh"]


# Cells that are names, words, names with spaces, digits, full-width digits, an "@", a
# Latin letter, a sentence, empty, blank, and repeats (judged once).
_ZH_CELLS = [
    "陳大文",
    " 陳大文 ",
    "歐陽美玲",
    "歐陽",
    "黃金",
    "王國興",
    "許多位",
    "陳大文今日到訪",
    "陳1",
    "陳１文",
    "陳@文",
    "陳a文",
    "陳\u3000大文",
    "\t李明\n",
    "",
    "   ",
    "x",
    "司徒小",
    "葉劉淑儀",
    "李明是",
]


@pytest.mark.parametrize("seed", range(30))
def test_name_zh_cells_found_in_c_are_those_cell_matches(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled walk of a table's cells (`name_cells`) finds the cells `_CELL` matches
    whole, with its group's span, and the scan the same names."""
    if name_zh.name_cells is None:
        pytest.skip("the _hsscan extension is not built")
    rng = random.Random(seed)
    units = [TextUnit("姓名：陳大文", "body")]
    for n in range(40):
        cells = tuple(rng.choice(_ZH_CELLS) for _ in range(rng.randint(0, 6)))
        text = " | ".join(cells) if n % 5 else "\t".join(cells) + " 陳大文"
        units.append(TextUnit(text or "-", f"t.xlsx#R{n}", cells or None))
    rows = [u for u, unit in enumerate(units) if unit.cells]
    compiled = name_zh._name_cells(units, rows)
    assert compiled == name_zh._name_cells_py(units, rows)
    fast = default_detectors().scan(units)
    monkeypatch.setattr(name_zh, "name_cells", None)
    assert default_detectors().scan(units) == fast
    assert any(f.detector == "name_zh" and f.where.startswith("t.xlsx") for f in fast)


def test_name_zh_cells_of_every_shape_found_in_c_as_by_the_cell_match() -> None:
    """Each character a cell of a name's shape can hold, at each place: spaces of every
    kind, surnames single and double, Chinese characters at the range's ends and outside."""
    if name_zh.name_cells is None:
        pytest.skip("the _hsscan extension is not built")
    spaces = [" ", "\t", "\u3000", "\xa0", "\x1c", "\u200b", ""]
    heads = ["陳", "歐陽", "歐", "x", "一", "丁", "\u4e00", "\u9fff", "\u3400", "１"]
    givens = ["大", "\u4e00", "\u9fff", "\ua000", "a", " ", "大文", "大文明"]
    cells = tuple(
        f"{before}{head}{given}{after}"
        for before in spaces
        for head in heads
        for given in [*givens, ""]
        for after in spaces
    )
    units = [TextUnit(" | ".join(cells), "t.xlsx#R1", cells)]
    compiled = name_zh._name_cells(units, [0])
    assert compiled == name_zh._name_cells_py(units, [0])
    assert len(compiled[1]) > 100


def test_name_zh_plausible_by_first_two_characters_is_the_word_by_word_test() -> None:
    """`_plausible`'s lookup of a name's first two characters says what testing it against
    every everyday word of its first character says."""

    def word_by_word(name: str) -> bool:
        for word in name_zh.COMMON_WORDS:
            if name.startswith(word):
                if len(word) == 2 and len(name) == 3 and word[1] in name_zh._GIVEN_FIRST:
                    continue
                return False
        return True

    rng = random.Random(7)
    given = "".join(name_zh._GIVEN_FIRST) + "安大小美玲年末金業"
    names = [w + rng.choice(given) for w in name_zh.COMMON_WORDS]
    names += [w[:2] for w in name_zh.COMMON_WORDS] + list(name_zh.COMMON_WORDS)
    names += [
        rng.choice(name_zh.SURNAMES) + "".join(rng.choices(given, k=rng.randint(1, 2)))
        for _ in range(3000)
    ]
    assert [name_zh._plausible(n) for n in names] == [word_by_word(n) for n in names]
    assert not all(map(name_zh._plausible, names))
