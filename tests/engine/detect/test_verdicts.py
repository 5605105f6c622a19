"""The compiled verdicts of the HKID and phone checks (`PatternDetector.judge`, ``judge_hits``
in ``_hsscan.c``) agree with the hooks (validate, invalidate) on every hit they settle, and
a scan gives the same findings with them as without."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import numpy as np
import pytest
from benchmarks.realtext import DATA

from postwarden.engine.detect import DetectorSet, base
from postwarden.engine.detect.base import (
    ACCEPTED,
    ASKED,
    REJECTED,
    HitBatch,
    PatternDetector,
    make_candidate,
)
from postwarden.engine.detect.hkid import HkidDetector, hkid_check_digit
from postwarden.engine.detect.name_en import _PLACE_WORDS, NameEnDetector
from postwarden.engine.detect.phone import PhoneDetector
from postwarden.model import Finding, TextUnit

pytestmark = pytest.mark.skipif(base.judge_hits is None, reason="_hsscan is not built")

# Characters around a value: glue, URL marks, spaces of several scripts, newlines, digits,
# full-width forms, CJK, and the words the phone checks look for.
NOISE = [
    *"aZ09 ./=?&%#@_-\\:+$,|()\n\t\x1c\u3000\xa0陳年個（）Ａ１٣",
    " bytes",
    "ICQ ",
    "Tel: ",
    "HKID ",
    "http://x.hk/",
    "?id=",
    " | ",
    "No. ",
    "%",
    ".com",
    ".5",
    "-1",
    "年度",
]
HEADERS = [("id", "phone", "hkid"), ("a", "b", "c")]


def _hkid(rng: random.Random) -> str:
    prefix = "".join(rng.choice("ABCKMPXZ") for _ in range(rng.choice((1, 2))))
    digits = "".join(rng.choice("0123456789") for _ in range(6))
    check = hkid_check_digit(prefix, digits) if rng.random() < 0.7 else rng.choice("0123A")
    if rng.random() < 0.2:
        prefix = prefix.lower()
    if rng.random() < 0.1:
        check = check.lower()
    shape = rng.choice(("{}", "({})", " ({})"))
    value = prefix + digits + shape.format(check)
    if rng.random() < 0.1:  # full-width forms
        value = value.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    return value


def _phone(rng: random.Random) -> str:
    digits = rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(7))
    roll = rng.random()
    if roll < 0.1:
        digits = rng.choice("2345689") * 8
    elif roll < 0.2:
        digits = rng.choice(("1999", "2012", "4852", "2000", "3100")) + rng.choice(
            ("2013", "2002", "4900", "5000", "3099", "1234")
        )
    elif roll < 0.3:
        digits = rng.choice(("2023", "2001")) + rng.choice(("1105", "0229", "1340"))
    value = rng.choice(("{}", "{}", "{} {}", "{}-{}")).format(digits[:4], digits[4:])
    if "{}" not in value and rng.random() < 0.5:
        value = digits[:4] + rng.choice(" -") + digits[4:]
    if rng.random() < 0.2:
        value = rng.choice(("+852 ", "+852-", "(852) ", "(+852)", "00852", "852 ")) + value
    return value


def _noise(rng: random.Random) -> str:
    return "".join(rng.choice(NOISE) for _ in range(rng.choice((0, 0, 1, 2, 3, 5))))


def _units(seed: int, count: int, rows: float = 0.4) -> list[TextUnit]:
    """Units of prose and (a share ``rows`` of them) table rows."""
    rng = random.Random(seed)
    units = []
    for n in range(count):
        values = [_hkid(rng), _phone(rng)]
        if rng.random() < rows:  # a table row, its values cells of their own
            cells = ("V-1", _noise(rng) + values[1] + _noise(rng), values[0] + _noise(rng))
            units.append(
                TextUnit(
                    text=" | ".join(cells),
                    where=f"x.xlsx#R{n}",
                    cells=cells,
                    header=rng.choice(HEADERS),
                )
            )
        else:
            rng.shuffle(values)
            text = _noise(rng) + values[0] + _noise(rng) + " " + values[1] + _noise(rng)
            units.append(TextUnit(text=text, where=f"u{n}"))
    return units


class _Spy:
    """The batches a detector's `judge` was asked about."""

    def __init__(self) -> None:
        self.batches: list[tuple[PatternDetector, Sequence[TextUnit], HitBatch]] = []


@pytest.mark.parametrize("seed", range(4))
def test_every_settled_verdict_is_the_hooks(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy()
    for cls in (HkidDetector, PhoneDetector):
        original = cls.judge

        def judge(
            self: PatternDetector,
            units: Sequence[TextUnit],
            hits: HitBatch,
            _original: object = original,
        ) -> bytes | None:
            spy.batches.append((self, units, hits))
            return _original(self, units, hits)  # type: ignore[operator]

        monkeypatch.setattr(cls, "judge", judge)
    detectors = DetectorSet([HkidDetector(), PhoneDetector()], native=True)
    detectors.scan(_units(seed, 1500))
    assert {type(d) for d, _, _ in spy.batches} == {HkidDetector, PhoneDetector}
    settled = {ACCEPTED: 0, REJECTED: 0, ASKED: 0}
    for detector, units, hits in list(spy.batches):
        verdicts = detector.judge(units, hits)
        assert verdicts is not None
        assert len(verdicts) == len(hits)
        for verdict, (u, start, end, pattern) in zip(verdicts, hits, strict=True):
            for has_context, shift in ((False, 0), (True, 2)):
                said = verdict >> shift & 3
                settled[said] += 1
                if said == ASKED:
                    continue
                candidate = make_candidate(units[u], start, end, pattern, has_context)
                hooks = detector.validate(candidate) and not detector.invalidate(candidate)
                assert said == (ACCEPTED if hooks else REJECTED), (
                    type(detector).__name__,
                    units[u].text,
                    candidate.text,
                    has_context,
                )
    # Both ways seen often: the generated text reaches every check.
    assert min(settled.values()) > 200, settled


def _spreadsheet(seed: int, count: int) -> list[TextUnit]:
    """Table rows under a Phone heading, without full-width forms, a few with context words:
    every hit settled, at most one a unit passing (`PatternDetector._settled_batch`)."""
    rng = random.Random(seed)
    units = []
    for n in range(count):
        hkid = _hkid(rng)
        while not hkid.isascii():
            hkid = _hkid(rng)
        cells = ("V-1", _phone(rng), hkid, rng.choice(("", "HKID", "x", "tel", "a.b")))
        header = ("id", "phone", "hkid", "note") if rng.random() < 0.9 else ("a", "b", "c", "d")
        units.append(
            TextUnit(text=" | ".join(cells), where=f"x.xlsx#R{n}", cells=cells, header=header)
        )
    return units


def _findings(units: list[TextUnit]) -> list[Finding]:
    return DetectorSet([HkidDetector(), PhoneDetector()], native=True).scan(units)


@pytest.mark.parametrize("seed", range(3))
def test_a_scan_finds_the_same_without_them(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    units = _units(100 + seed, 1500)
    judged = _findings(units)
    monkeypatch.setattr(base, "judge_hits", None)
    asked = _findings(units)
    assert len(asked) > 500
    assert judged == asked


def _settled_spy(
    monkeypatch: pytest.MonkeyPatch, kind: type[PatternDetector] = PatternDetector
) -> list[bool]:
    """Whether each batch of a ``kind`` detector was settled with arrays, appended as scanned."""
    settled: list[bool] = []
    original = PatternDetector._settled_batch

    def spy(self: PatternDetector, *args: object) -> object:
        found = original(self, *args)  # type: ignore[arg-type]
        if isinstance(self, kind):
            settled.append(found is not None)
        return found

    monkeypatch.setattr(PatternDetector, "_settled_batch", spy)
    return settled


@pytest.mark.parametrize("seed", range(3))
def test_a_spreadsheet_settled_with_arrays_finds_the_same(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    units = _spreadsheet(200 + seed, 1500)
    settled = _settled_spy(monkeypatch)
    judged = _findings(units)
    assert any(settled)
    monkeypatch.setattr(base, "judge_hits", None)
    asked = _findings(units)
    assert len(asked) > 1000
    assert judged == asked


def test_a_span_that_is_no_match_is_left_to_the_hooks() -> None:
    assert base.judge_hits is not None
    units = [TextUnit(text="A123456(3)", where="u")]
    zero, end = np.zeros(1, dtype=np.int64), np.array([10], dtype=np.int64)
    assert base.judge_hits(0, units, zero, zero, zero, zero) == bytes([ASKED | ASKED << 2])
    assert base.judge_hits(0, units, zero, zero, end + 1, zero) == bytes([ASKED | ASKED << 2])
    assert base.judge_hits(0, units, zero, zero, end, zero) == bytes([ACCEPTED | ACCEPTED << 2])


@pytest.mark.parametrize("owner", [HkidDetector, PhoneDetector])
@pytest.mark.parametrize("hook", ["validate", "invalidate"])
def test_a_subclass_that_changes_a_check_is_judged_by_its_hooks(
    owner: type[PatternDetector], hook: str
) -> None:
    units = [TextUnit(text="A123456(3) Tel: 2891 1001", where="u")]
    hits = HitBatch.of_arrays(
        np.zeros(2, dtype=np.int64),
        np.array([0, 16], dtype=np.int64),
        np.array([10, 25], dtype=np.int64),
        np.zeros(2, dtype=np.int64),
        owner().patterns[:1],
    )
    assert owner().judge(units, hits) is not None
    changed = type("Changed", (owner,), {hook: lambda self, candidate: True})
    assert changed().judge(units, hits) is None


# What the phone checks look for around a number without context (phone.py's _COUNT_AFTER
# and _LABEL_BEFORE, _whole_cell, _is_date), each spelt as the patterns have it and nearly.
LABELS = [
    *"ICQ UIN QQ uin icq Icq Message Messages message messages MESSAGE Msg Msgs msg msgs".split(),
    *"No Nos No. Nos. no nos no. nos. NO Page Pages page pages pp pp. Pp Range range".split(),
    *"Issue Issues issue issues Vol Vol. vol vol. Rev Revision rev revision REV Build".split(),
    *"build Version version ID Id iD id Ref Ref. ref ref. Android Nobody Qq Pp. ICq nO".split(),
]
GAPS = ["", " ", ":", "#", ": ", " :", " : ", " # ", "\n", ":\n", " : \n", "  \n", "#\n\n"]
GAPS += ["\u3000", "\xa0:", "  ", "::", "\n "]
COUNTS = [
    *"年 學年 財政年 個 人 元 次 字 萬 億 份 項 頁 % 年度 學 財政 陳".split(),
    *"byte bytes word words line lines char chars characters hits visits visitors".split(),
    *"message messages post posts user users members times downloads record records".split(),
    *"row rows kb KB MB bps Bytes kB mb bytesX rows_ rowsé rows1 row. visit visitor".split(),
]
AFTER = ["", " ", ".", "X", "_", "1", "é", "陳", "\n", " more", "|"]


def test_the_word_lists_here_are_the_patterns_words() -> None:
    """LABELS and COUNTS are spelt by hand (the patterns' optional parts make them hard to
    read back), and _hsscan.c repeats the words: every alternative of the patterns must be
    one of ours, so a word added to phone.py alone fails here before it can pass unchecked
    by the C."""
    from postwarden.engine.detect.phone import _COUNT_AFTER, _LABEL_BEFORE

    def alternatives(pattern: str) -> list[str]:
        body = pattern[pattern.index("(?:") + 3 : pattern.rindex(")")]
        return [a.replace("\\b", "") for a in body.split("|")]

    counts = set(COUNTS)
    for word in alternatives(_COUNT_AFTER.pattern):
        plain = word.replace("?", "")
        assert plain in counts or plain.rstrip("s") in counts, word
    labels = set(LABELS)
    for word in alternatives(_LABEL_BEFORE.pattern):
        spelt = re.sub(r"\[(.)(.)\]", r"\1", word).replace("\\.", ".")
        longer = re.sub(r"\(\?:([^)]*)\)\??", r"\1", spelt)
        shorter = re.sub(r"\(\?:[^)]*\)\??", "", spelt)
        for form in {longer.replace("?", ""), shorter.replace("?", "")}:
            assert form in labels or form.rstrip(".s") in labels, word


DATES = ["20231105", "20230229", "20240229", "19991231", "31122023", "29022023", "29022024"]
DATES += ["20001340", "20230000", "19000229", "20000229", "25129999", "30012019", "20133112"]
DATES += ["29021900", "29022000", "29022023", "31042023", "30042023", "01012000", "31131999"]


def _bare_number(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(DATES)
    return rng.choice("23456789") + "".join(rng.choice("0123456789") for _ in range(7))


def _uncontexted(seed: int, count: int) -> list[TextUnit]:
    """Numbers after labels and before counts, in prose and as table cells (whole, padded
    with spaces, or with more in the cell), with no phone word near."""
    rng = random.Random(seed)
    units = []
    for n in range(count):
        number = rng.choice((_bare_number(rng), _bare_number(rng), _phone(rng)))
        before = rng.choice(("", "", "x ", "a\n", "Noted ")) + rng.choice(LABELS + [""] * 9)
        before += rng.choice(GAPS)
        after = rng.choice(("", " ", "")) + rng.choice(COUNTS + [""] * 9) + rng.choice(AFTER)
        if rng.random() < 0.5:
            cell = rng.choice(("{}", " {} ", "\u3000{}", "{}\t", "{} x", before + "{}" + after))
            cells = ("V-1", "LAM Ling", cell.format(number), rng.choice(("", after, "12")))
            text = " | ".join(cells)
            if rng.random() < 0.2:  # cells that are not the text's
                cells = ("V-1", number + "0")
            units.append(TextUnit(text=text, where=f"x.xlsx#R{n}", cells=cells))
        else:
            units.append(TextUnit(text=before + number + after, where=f"u{n}"))
    return units


def _real_lines() -> list[TextUnit]:
    """The lines of the real texts of tests/data/realtext, each also as a table row whose
    cells are its runs between two spaces or tabs."""
    units = []
    for path in sorted(DATA.glob("*.txt")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            units.append(TextUnit(text=line, where=f"{path.name}#{n}"))
            cells = tuple(re.split(r"\t|  +", line))
            units.append(TextUnit(text=line, where=f"{path.name}#R{n}", cells=cells))
    return units


def _phone_verdicts(
    units: list[TextUnit], owner: type[PatternDetector] = PhoneDetector
) -> dict[tuple[bool, int], int]:
    """How often the compiled checks of ``owner`` said what, with and without context,
    asserting each settled verdict is the hooks' (every hit of a scan of ``units``)."""
    batches: list[tuple[Sequence[TextUnit], HitBatch]] = []

    def judge(self: PatternDetector, units: Sequence[TextUnit], hits: HitBatch) -> bytes | None:
        batches.append((units, hits))
        return None

    detector = owner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "_JUDGED_FROM", 0)
        patch.setattr(PhoneDetector, "judge", judge)
        patch.setattr(NameEnDetector, "judge", judge)
        patch.setattr(base, "_narrows", lambda hits, narrowing: False)
        DetectorSet([owner()], native=True).scan(units)
    assert batches
    said: dict[tuple[bool, int], int] = {}
    for units_of, hits in batches:
        verdicts = owner.judge(detector, units_of, hits)
        assert verdicts is not None
        for verdict, (u, start, end, pattern) in zip(verdicts, hits, strict=True):
            for has_context, shift in ((False, 0), (True, 2)):
                verdict_here = verdict >> shift & 3
                said[has_context, verdict_here] = said.get((has_context, verdict_here), 0) + 1
                if verdict_here == ASKED:
                    continue
                candidate = make_candidate(units_of[u], start, end, pattern, has_context)
                hooks = detector.validate(candidate) and not detector.invalidate(candidate)
                assert verdict_here == (ACCEPTED if hooks else REJECTED), (
                    units_of[u],
                    candidate.text,
                    has_context,
                )
    return said


@pytest.mark.parametrize("seed", range(3))
def test_a_number_without_context_is_judged_as_the_hooks(seed: int) -> None:
    said = _phone_verdicts(_uncontexted(300 + seed, 6000))
    # Both ways seen often, and most settled: counts, labels, dates and cells are judged.
    assert said[False, ACCEPTED] > 300, said
    assert said[False, REJECTED] > 2000, said
    assert said.get((False, ASKED), 0) < said[False, REJECTED] / 4, said


def test_real_text_without_context_is_judged_as_the_hooks() -> None:
    said = _phone_verdicts(_real_lines())
    assert said[False, ACCEPTED] > 20, said
    assert said[False, REJECTED] > 100, said


def test_a_register_without_a_heading_is_settled_with_arrays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sheet of bare phone numbers under no heading (the discovery scan's registers): every
    hit settled in C, the findings those of the hooks."""
    rng = random.Random(7)
    units = []
    for n in range(300):
        cells = (f"V-{n:07d}", "LAM Ling", _bare_number(rng), rng.choice(("", "2023", "x")))
        units.append(TextUnit(text=" | ".join(cells), where=f"x.xlsx#s!R{n}", cells=cells))
    settled = _settled_spy(monkeypatch, PhoneDetector)
    judged = _findings(units)
    assert settled == [True]
    monkeypatch.setattr(base, "judge_hits", None)
    asked = _findings(units)
    assert len([f for f in asked if f.detector == "phone"]) > 150
    assert judged == asked


# Every word _PLACE_WORDS names (read from it: a word added there is tried here), and near.
PLACES = [*re.findall(r"[A-Z][a-z]*", _PLACE_WORDS.pattern), "road", "ROAD", "Sto", "Cos", "Tsuen_"]
NAMES = ["CHAN Tai Man", "Tai Man CHAN", "Chan Tai-man", "LAM Ling", "CHAN, Tai Man"]
NAMES += ["CHAN TAI MAN", "Peter CHAN", "Kowloon WONG", "Harbour CHAN", "Peter WONG"]
REGISTER = ["CHAN Tai Man", "LAM Ling", "CHAN, Tai Man", "CHAN TAI MAN", "WONG Siu Ming"]
TITLED = ["Mr Chan", "Dear Tai Man", "Regards, Chan Tai Man", "Dear LAM Ling Man"]


def _named(
    seed: int, count: int, rows: float, names: Sequence[str], places: Sequence[str] = PLACES
) -> list[TextUnit]:
    """Names with places after them (``CHAN Tai Man Road``, ``LEE, Co``), in table rows and
    in prose."""
    rng = random.Random(seed)
    units = []
    for n in range(count):
        place = rng.choice([*places, *[""] * 10])
        gap = rng.choice(("", " ", " ", ",", ", ", " ,", "  ", " " * rng.randrange(8, 14)))
        after = rng.choice(("", "", " ", "s", "1", "_", ".", "é", "陳", "\n", " | x"))
        name = rng.choice(names) + gap + place + after
        if rng.random() < rows:
            cells = (f"V-{n:07d}", name, "A123456(3)")
            units.append(TextUnit(text=" | ".join(cells), where=f"x.xlsx#s!R{n}", cells=cells))
        else:
            units.append(TextUnit(text=_noise(rng) + name + _noise(rng), where=f"u{n}"))
    return units


@pytest.mark.parametrize("seed", range(3))
def test_a_name_is_judged_as_the_hooks(seed: int) -> None:
    said = _phone_verdicts(_named(400 + seed, 3000, 0.5, NAMES + TITLED), NameEnDetector)
    assert said[False, ACCEPTED] > 300, said
    assert said[False, REJECTED] > 300, said


def test_real_names_are_judged_as_the_hooks() -> None:
    said = _phone_verdicts(_real_lines(), NameEnDetector)
    assert said[False, ACCEPTED] > 100, said


@pytest.mark.parametrize("seed", range(3))
def test_names_are_found_the_same_judged(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a register of names (two hits a row at one start, settled with arrays) and in prose
    (names narrowed, judged by the hooks) the findings are those of the hooks."""
    settled = _settled_spy(monkeypatch)
    for rows, names, places in (
        (1.0, REGISTER, ["Road", "Street", "Co", "Ltd", "Building", "Rd", "Company"]),
        (0.5, NAMES + TITLED, PLACES),
        (0.0, NAMES + TITLED, PLACES),
    ):
        units = _named(500 + seed, 1500, rows, names, places)
        judged = DetectorSet([NameEnDetector()], native=True).scan(units)
        with monkeypatch.context() as patch:
            patch.setattr(base, "judge_hits", None)
            asked = DetectorSet([NameEnDetector()], native=True).scan(units)
        assert len(asked) > 500
        assert judged == asked
    assert settled[0], settled


@pytest.mark.parametrize(("rows", "judged_in_c"), [(10, False), (30, True), (63, True)])
def test_a_small_sheet_held_as_arrays_is_judged(
    rows: int, judged_in_c: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet of a few dozen rows (more hits than the few-hits path takes, each detector's
    fewer than `base._JUDGED_FROM`) is judged in C from `base._JUDGED_ARRAYS_FROM` hits on,
    and finds what the hooks find."""
    asked: list[int] = []
    original = PhoneDetector.judge

    def judge(self: PhoneDetector, units: Sequence[TextUnit], hits: HitBatch) -> bytes | None:
        asked.append(len(hits))
        return original(self, units, hits)

    monkeypatch.setattr(PhoneDetector, "judge", judge)
    rng = random.Random(rows)
    units = []
    for n in range(rows):
        cells = (f"V-{n:07d}", rng.choice(REGISTER), _bare_number(rng), _hkid(rng))
        units.append(TextUnit(text=" | ".join(cells), where=f"x.xlsx#s!R{n}", cells=cells))
    detectors = [HkidDetector(), PhoneDetector(), NameEnDetector()]
    judged = DetectorSet(detectors, native=True).scan(units)
    assert bool(asked) == judged_in_c, asked  # ten rows: the few-hits path, hooks asked
    assert all(base._JUDGED_ARRAYS_FROM <= n < base._JUDGED_FROM for n in asked), asked
    monkeypatch.setattr(base, "judge_hits", None)
    assert DetectorSet(detectors, native=True).scan(units) == judged
    assert len(judged) > rows
