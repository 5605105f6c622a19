"""Precision and recall per detector on labelled sets generated here (issue 2 acceptance)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from postwarden.engine.detect import default_detectors
from postwarden.engine.detect.card import luhn_ok
from postwarden.engine.detect.hkid import hkid_check_digit
from postwarden.model import TextUnit

SEED = 20240502
N = 220

Sample = tuple[str, str | None]  # (carrier text with "{}" or the whole text, value or None)

_UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


# --- HKID -------------------------------------------------------------------------------


def _hkid_parts(rng: random.Random) -> tuple[str, str, str]:
    prefix = rng.choice(_UP) if rng.random() < 0.7 else rng.choice(_UP) + rng.choice(_UP)
    digits = _digits(rng, 6)
    return prefix, digits, hkid_check_digit(prefix, digits)


def _hkid_format(rng: random.Random, prefix: str, digits: str, check: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"{prefix}{digits}({check})"
    if style == 1:
        return f"{prefix}{digits}{check}"
    if style == 2:
        return f"{prefix}{digits} ({check})"
    plain = f"{prefix}{digits}（{check}）"
    return plain.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})


def hkid_true(rng: random.Random) -> Sample:
    value = _hkid_format(rng, *_hkid_parts(rng))
    carrier = rng.choice(
        (
            "HKID: {}",
            "身份證號碼：{}",
            "Please verify ID card {} before the visit.",
            "申請人 陳大文，證件 {}，已核實。",
            "{}",
            "Holder {} renewed the licence on Monday.",
        )
    )
    return carrier, value


def hkid_false(rng: random.Random) -> Sample:
    prefix, digits, check = _hkid_parts(rng)
    kind = rng.randrange(5)
    if kind <= 1:  # the hard case: the right shape with a wrong check digit
        wrong = rng.choice([c for c in "0123456789A" if c != check])
        text = _hkid_format(rng, prefix, digits, wrong)
    elif kind == 2:
        text = f"{prefix}{digits[:5]}({check})"  # five digits
    elif kind == 3:
        text = f"SKU{prefix}{digits}{check}X"  # glued into a product code
    else:
        text = f"{prefix}{digits}{check}{_digits(rng, 2)}"  # too many digits
    return rng.choice(("HKID: {}", "Ref {} attached", "{}")).format(text), None


# --- phone ------------------------------------------------------------------------------


def _hk_number(rng: random.Random) -> str:
    return rng.choice("235679") + _digits(rng, 7)


def phone_true(rng: random.Random) -> Sample:
    n = _hk_number(rng)
    while len(set(n)) == 1:
        n = _hk_number(rng)
    value = rng.choice(
        (
            f"{n[:4]} {n[4:]}",
            f"{n[:4]}-{n[4:]}",
            f"+852 {n[:4]} {n[4:]}",
            f"+852-{n}",
            f"(852) {n[:4]} {n[4:]}",
            f"852-{n[:4]} {n[4:]}",
            f"+852{n}",
            n,
        )
    )
    carrier = rng.choice(
        (
            "Tel: {}",
            "Please call me at {} tomorrow.",
            "手機：{}",
            "聯絡電話 {}",
            "Mobile {}",
            "Contact Ms Lee ({}) for details.",
            "如有查詢，請致電{}。",
        )
    )
    return carrier, value


def phone_false(rng: random.Random) -> Sample:
    year = rng.randrange(1990, 2030)
    date = f"{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
    text = rng.choice(
        (
            f"Order no. 1{_digits(rng, 7)} has shipped.",
            f"Order number 0{_digits(rng, 7)} confirmed.",
            f"Invoice #{date} is overdue.",
            f"Reference {date} attached.",
            f"Please dial ext. {_digits(rng, 4)} for IT support.",
            f"Office extension x{_digits(rng, 4)}.",
            f"The budget is HK${rng.randrange(10, 99)},{_digits(rng, 3)},{_digits(rng, 3)}.",
            f"Pi is about 3.{_digits(rng, 8)}.",
            f"Account {_digits(rng, 3)}-{_digits(rng, 6)}-{_digits(rng, 3)}.",
            f"In an emergency call 999 or 1{_digits(rng, 2)}.",
            f"Tracking {rng.choice('23456789')}{_digits(rng, 9)} in transit.",
            f"Population {rng.randrange(1, 9)}.{_digits(rng, 1)} million in {year}.",
            f"Room {_digits(rng, 4)}, meeting at {rng.randrange(1, 12)}pm.",
            f"Amount HK$ {rng.choice('23456789')}{_digits(rng, 7)} received.",
            f"INV-{rng.choice('23456789')}{_digits(rng, 7)} paid.",
        )
    )
    return text, None


# --- email ------------------------------------------------------------------------------

_FIRST = ("peter", "mary", "tai.man", "siu-ming", "kawai", "john", "wing", "yuk_ling", "ho")
_DOMAINS = (
    "example.com",
    "mail.gov.hk",
    "abc.com.hk",
    "company.org",
    "cuhk.edu.hk",
    "x.co.uk",
    "sub.domain.io",
    "netvigator.com",
    "hku.hk",
    "ha.org.hk",
)


def email_true(rng: random.Random) -> Sample:
    local = rng.choice(_FIRST) + rng.choice(("", ".chan", "_wong", "99", "+news", ".lee2"))
    value = f"{local}@{rng.choice(_DOMAINS)}"
    carrier = rng.choice(
        (
            "Email: {}",
            "<{}>",
            "({})",
            "Please contact {}.",
            "電郵：{}。",
            "{}",
            "Send the form to {}, thanks",
            "mailto:{}",
        )
    )
    return carrier, value


def email_false(rng: random.Random) -> Sample:
    name = rng.choice(_FIRST)
    text = rng.choice(
        (
            f"icon@{rng.randrange(2, 4)}x.png",
            f"{name}@localhost",
            f"{name}@server",
            f"{name}..x@example.com",
            f"{name}.@example.com",
            f"@{name} on social media",
            f"{name}@example.invalidtld",
            f"{name}@-example.com",
            f"{name}@x.y",
            f"version {rng.randrange(9)}.{rng.randrange(9)}@build",
            f"{name} at example dot com",
            f"{name}@example.c",
            f"photo_{rng.randrange(99)}@backup.jpg",
        )
    )
    return f"See {text} for details.", None


# --- card -------------------------------------------------------------------------------


def _luhn_complete(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


def _card_number(rng: random.Random) -> str:
    prefix, length = rng.choice(
        (
            ("4", 16),
            ("4", 13),
            ("51", 16),
            ("55", 16),
            ("2221", 16),
            ("2720", 16),
            ("34", 15),
            ("37", 15),
            ("62", 16),
            ("62", 19),
            ("3530", 16),
            ("6011", 16),
        )
    )
    body = prefix + _digits(rng, length - len(prefix) - 1)
    return _luhn_complete(body)


def _group(rng: random.Random, number: str) -> str:
    sep = rng.choice((" ", "-", ""))
    if len(number) == 15:
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def card_true(rng: random.Random) -> Sample:
    carrier = rng.choice(
        ("Card: {}", "信用卡號碼 {}", "It was charged to {} yesterday.", "Visa {} exp 12/27", "{}")
    )
    return carrier, _group(rng, _card_number(rng))


def card_false(rng: random.Random) -> Sample:
    number = _card_number(rng)
    kind = rng.randrange(5)
    if kind <= 1:  # Luhn fails
        last = str((int(number[-1]) + rng.randrange(1, 10)) % 10)
        number = number[:-1] + last
    elif kind == 2:  # Luhn passes, no issuer starts with 9 or 1
        number = _luhn_complete(rng.choice("19") + number[1:-1])
    elif kind == 3:  # twelve digits
        number = number[:12]
    else:  # two phone numbers in a row
        a, b = _hk_number(rng), _hk_number(rng)
        return f"Tel {a[:4]} {a[4:]} / {b[:4]} {b[4:]}", None
    return f"Ref {_group(rng, number)} noted.", None


# --- Chinese names ----------------------------------------------------------------------

_SURNAMES_ZH = "陳李張黃何林吳劉蔡楊鄭梁謝郭曾羅鄧周許蕭馮朱潘袁余葉蘇盧譚麥彭伍鍾"
_GIVEN_ZH = "大文明家偉志強美玲嘉欣子健詠詩俊傑儀國華淑芬少芳麗珊慧敏佩雯浩然卓穎"


def _name_zh(rng: random.Random) -> str:
    surname = rng.choice(_SURNAMES_ZH) if rng.random() < 0.93 else rng.choice(("歐陽", "司徒"))
    return surname + "".join(rng.choice(_GIVEN_ZH) for _ in range(rng.choice((1, 2, 2))))


def name_zh_true(rng: random.Random) -> Sample:
    carrier = rng.choice(
        (
            "姓名：{}",
            "申請人：{}，已遞交表格。",
            "{}先生已確認出席。",
            "致{}女士：",
            "收件人 {}",
            "Name: {}",
            "多謝{}小姐的查詢。",
            "聯絡人：{} 電話稍後提供",
        )
    )
    return carrier, _name_zh(rng)


def name_zh_false(rng: random.Random) -> Sample:
    text = rng.choice(
        (
            "周年紀念活動將於下月舉行。",
            "林業處今日發出通告。",
            "黃金價格今日上升。",
            "我們很高興宣佈新計劃。",
            "請勿在此張貼告示。",
            "何時召開會議仍未決定。",
            "請把文件交給陳先生。",
            "黃大仙區的居民反映意見。",
            "方法及程序見附件。",
            "高級經理將出席。",
            "這是林先生的座位。",
            "曾經有人提出類似建議。",
            "許多市民關注事件。",
            "馬上處理這份報告。",
            "羅馬假期電影欣賞會。",
            "王國維的文章很有名。",
            "成本上升影響利潤。",
            "何文田站即將關閉。",
        )
    )
    return text, None


_COMMON_CELLS = ("黃金", "方法", "文件", "高級", "周年", "成本", "許多", "曾經", "林業", "金額")


# --- English names ----------------------------------------------------------------------

_SURNAMES_EN = (
    "Chan",
    "Wong",
    "Lee",
    "Cheung",
    "Lau",
    "Ng",
    "Ho",
    "Lam",
    "Leung",
    "Tsang",
    "Yeung",
    "Chow",
    "Tang",
    "Choi",
    "Kwok",
    "Mak",
    "Fung",
    "Siu",
    "Poon",
    "Cheng",
)
_GIVEN_EN = (
    "Tai",
    "Man",
    "Siu",
    "Ming",
    "Ka",
    "Wai",
    "Kwok",
    "Chi",
    "Yuk",
    "Wing",
    "Mei",
    "Hoi",
    "Ling",
    "Kin",
    "Shan",
    "Yee",
    "Sze",
    "Hung",
    "Fai",
    "Chun",
)


def name_en_true(rng: random.Random) -> Sample:
    s, a, b = rng.choice(_SURNAMES_EN), rng.choice(_GIVEN_EN), rng.choice(_GIVEN_EN)
    value = rng.choice(
        (
            f"{s.upper()} {a} {b}",
            f"{a} {b} {s.upper()}",
            f"{s} {a}-{b.lower()}",
            f"{s.upper()}, {a} {b}",
            f"{s} {a} {b}",
            f"{s.upper()} {a.upper()} {b.upper()}",
            f"Peter {s.upper()}" if len(s) > 2 else f"{s.upper()} {a}",
        )
    )
    carrier = rng.choice(
        (
            "Dear {},",
            "Applicant: {}",
            "Prepared by {} on Monday.",
            "Mr. {} will attend.",
            "{}",
            "Please ask {} to sign the form.",
            "Patient name {} (bed 12)",
        )
    )
    return carrier, value


def name_en_false(rng: random.Random) -> Sample:
    text = rng.choice(
        (
            "Meet me at Lee Gardens.",
            "The office is in Wong Tai Sin.",
            "Turn left at Man Lee Street.",
            "Mr Chan called.",
            "Hang Seng Bank branch is closed.",
            "Take the bus along Tai Po Road.",
            "Ho Man Tin Station exit B.",
            "Kwai Chung container port is busy.",
            "So Uk Estate redevelopment.",
            "Lam Tin and To Kwa Wan are in Kowloon.",
            "The Project Manager will call.",
            "Hong Kong Island traffic is heavy.",
            "Wing On Department Store sale.",
            "Ma On Shan Park opens at 6.",
            "Shau Kei Wan tram terminus.",
            "Yuen Long Plaza shops.",
            "Tsing Yi Station",
            "Sun Hung Kai Properties results.",
            "Cheung Kong Center lobby.",
            "Man overboard!",
            "So long and thanks.",
            "Tai Koo Shing residents.",
            "Lee Tung Avenue lights.",
            "Chan said yes.",
            "LEE GARDENS TWO",
            "Tai Wai Village",
        )
    )
    return text, None


# --- addresses --------------------------------------------------------------------------

_ESTATES = ("Kwong Fuk", "Mei Foo", "Lok Fu", "Wah Fu", "Shek Lei", "Choi Ming", "Tin Yiu")
_STREETS = (
    "Nathan Road",
    "Queen's Road Central",
    "Hennessy Road",
    "Temple Street",
    "Castle Peak Road",
    "King's Road",
    "Argyle Street",
    "Tai Po Road",
)
_DISTRICTS_EN = (
    "Sha Tin",
    "Kwun Tong",
    "Wan Chai",
    "Mong Kok",
    "Yuen Long",
    "Tai Po",
    "Tuen Mun",
    "North Point",
    "Sham Shui Po",
    "Tseung Kwan O",
)
_REGIONS_EN = ("Hong Kong", "Kowloon", "New Territories", "HK", "KLN", "N.T.")


def address_en_true(rng: random.Random) -> Sample:
    flat = rng.choice(
        (
            f"Flat {rng.choice('ABCDEFGH')}",
            f"Room {rng.randrange(1, 40)}0{rng.randrange(1, 9)}",
            f"Rm {rng.randrange(100, 3999)}",
        )
    )
    floor = rng.choice((f"{rng.randrange(1, 40)}/F", "G/F", f"{rng.randrange(2, 30)}th Floor"))
    parts = [
        flat,
        floor,
        rng.choice((f"Block {rng.randrange(1, 9)}", f"Tower {rng.randrange(1, 5)}", "")),
        rng.choice(
            (
                f"{rng.choice(_ESTATES)} Estate",
                f"{rng.choice(_ESTATES)} Building",
                f"{rng.randrange(1, 300)} {rng.choice(_STREETS)}",
            )
        ),
        rng.choice(_DISTRICTS_EN),
        rng.choice(_REGIONS_EN),
    ]
    value = ", ".join(p for p in parts if p)
    carrier = rng.choice(
        (
            "Address: {}",
            "Please deliver to {} before Friday.",
            "{}",
            "Correspondence address {} (since 2019)",
        )
    )
    return carrier, value


def address_en_false(rng: random.Random) -> Sample:
    text = rng.choice(
        (
            "The Hong Kong office will move to Kowloon next year.",
            "The meeting is on 12/F today.",
            "Room 5 is booked for the training.",
            "Kwun Tong Road traffic was slow this morning.",
            "We visited Sha Tin and Tai Po last week.",
            "Block 3 of the project in Hong Kong.",
            "Wong Tai Sin. Lee Gardens. Man Lee Street.",
            "Tower 2 opens in HK soon.",
            "Hong Kong, Kowloon and the New Territories voted.",
            "Phase 2 works start in Yuen Long.",
            "Sales in Mong Kok rose. Flat prices fell.",
            "The Central Library is closed.",
        )
    )
    return text, None


_STREETS_ZH = ("彌敦道", "皇后大道中", "告士打道", "觀塘道", "青山公路", "英皇道", "亞皆老街")
_DISTRICTS_ZH = ("觀塘", "沙田", "旺角", "灣仔", "元朗", "大埔", "屯門", "北角", "深水埗", "將軍澳")


def address_zh_true(rng: random.Random) -> Sample:
    parts = [
        rng.choice(("香港", "九龍", "新界", "")),
        rng.choice(_DISTRICTS_ZH),
        rng.choice(_STREETS_ZH) + f"{rng.randrange(1, 500)}號",
        rng.choice(("", "旺角中心", "海濱花園", f"{rng.choice('ABCD')}座", "麗港城")),
        f"{rng.randrange(1, 40)}樓",
        rng.choice((f"{rng.randrange(1, 20)}室", f"{rng.choice('ABCDEFGH')}室", "")),
    ]
    value = "".join(parts)
    carrier = rng.choice(("地址：{}", "請寄往{}。", "{}", "通訊地址 {}，電話稍後提供"))
    return carrier, value


def address_zh_false(rng: random.Random) -> Sample:
    text = rng.choice(
        (
            "香港的天氣很好。",
            "九龍半島的歷史悠久。",
            "他住在沙田很多年了。",
            "三樓會議室已預留。",
            "明天在香港大會堂開會，地點在三樓。",
            "觀塘區議會今日開會。",
            "新界東選區的投票率上升。",
            "十樓的茶水間暫停開放。",
            "第二期工程將於明年展開。",
            "大廈管理處通告。",
            "香港、九龍及新界各區。",
            "旺角的商店很多，灣仔的也不少。",
        )
    )
    return text, None


# --- dates of birth ---------------------------------------------------------------------

_MONTHS = (
    "Jan",
    "February",
    "Mar",
    "April",
    "May",
    "Jun",
    "July",
    "Aug",
    "Sep",
    "October",
    "Nov",
    "December",
)


def dob_true(rng: random.Random) -> Sample:
    y, m, d = rng.randrange(1935, 2015), rng.randrange(1, 13), rng.randrange(1, 29)
    value = rng.choice(
        (
            f"{d:02d}/{m:02d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{y}年{m}月{d}日",
            f"{d} {_MONTHS[m - 1]} {y}",
            f"{_MONTHS[m - 1]} {d}, {y}",
        )
    )
    carrier = rng.choice(
        (
            "DOB: {}",
            "Date of birth: {}",
            "出生日期：{}",
            "He was born on {} in Kowloon.",
            "{} (date of birth)",
            "出生於{}",
        )
    )
    return carrier, value


def dob_false(rng: random.Random) -> Sample:
    y, m, d = rng.randrange(1990, 2030), rng.randrange(1, 13), rng.randrange(1, 29)
    text = rng.choice(
        (
            f"Meeting on {d:02d}/{m:02d}/{y} at 3pm.",
            f"Invoice date {y}-{m:02d}-{d:02d}.",
            f"截止日期：{y}年{m}月{d}日",
            f"DOB: 31/02/{y - 30}",
            f"DOB: 01/01/{date_after()}",
            "Date of birth field is required.",
            f"born in {y - 40}",
            f"Report for {d} {_MONTHS[m - 1]} {y} attached.",
        )
    )
    return text, None


def date_after() -> int:
    """A year in the future: a date of birth cannot be there."""
    from datetime import date

    return date.today().year + 2


GENERATORS: dict[
    str, tuple[Callable[[random.Random], Sample], Callable[[random.Random], Sample], float]
] = {
    "hkid": (hkid_true, hkid_false, 0.98),
    "phone": (phone_true, phone_false, 0.98),
    "email": (email_true, email_false, 0.98),
    "card": (card_true, card_false, 0.98),
    "name_zh": (name_zh_true, name_zh_false, 0.9),
    "name_en": (name_en_true, name_en_false, 0.9),
    "address_en": (address_en_true, address_en_false, 0.9),
    "address_zh": (address_zh_true, address_zh_false, 0.9),
    "dob": (dob_true, dob_false, 0.98),
}


def _labelled(
    detector: str, rng: random.Random
) -> tuple[list[TextUnit], list[tuple[int, int] | None]]:
    """Units with the span of the true value in each (None for a hard negative)."""
    make_true, make_false, _ = GENERATORS[detector]
    units: list[TextUnit] = []
    labels: list[tuple[int, int] | None] = []
    for i in range(N):
        carrier, value = make_true(rng)
        assert value is not None
        if rng.random() < 0.2:
            # A table row: the value is a cell of its own.
            # A date of birth is only one next to its label, as in a form's table.
            cells = (f"R{i}", "Date of birth" if detector == "dob" else "n/a", value)
            text = " | ".join(cells)
            units.append(TextUnit(text=text, where=f"attachment:t.xlsx#Sheet1!R{i}", cells=cells))
            start = text.index(value)
        else:
            prefix = carrier.split("{}")[0]
            units.append(TextUnit(text=carrier.format(value), where=f"body#{i}"))
            start = len(prefix)
        labels.append((start, start + len(value)))
    for i in range(N):
        text, _ = make_false(rng)
        units.append(TextUnit(text=text, where=f"body#n{i}"))
        labels.append(None)
    if detector == "name_zh":
        for i, word in enumerate(_COMMON_CELLS * 3):
            cells = (f"R{i}", word, "2023")
            units.append(TextUnit(text=" | ".join(cells), where=f"a#R{i}", cells=cells))
            labels.append(None)
    return units, labels


@pytest.mark.parametrize("detector", list(GENERATORS))
def test_detector_precision_and_recall(detector: str) -> None:
    rng = random.Random(f"{SEED}-{detector}")
    units, labels = _labelled(detector, rng)
    findings = [f for f in default_detectors().scan(units) if f.detector == detector]
    by_where: dict[str, list[tuple[int, int]]] = {}
    for f in findings:
        by_where.setdefault(f.where, []).append((f.start, f.end))
    true_pos = false_pos = found_labels = 0
    misses: list[str] = []
    false_hits: list[str] = []
    for unit, label in zip(units, labels, strict=True):
        spans = by_where.get(unit.where, [])
        for start, end in spans:
            if label is not None and start < label[1] and label[0] < end:
                true_pos += 1
            else:
                false_pos += 1
                false_hits.append(unit.text)
        if label is not None:
            if any(s < label[1] and label[0] < e for s, e in spans):
                found_labels += 1
            else:
                misses.append(unit.text)
    positives = sum(1 for lb in labels if lb is not None)
    assert positives >= 200
    assert len(labels) - positives >= 200
    precision = true_pos / max(1, true_pos + false_pos)
    recall = found_labels / positives
    threshold = GENERATORS[detector][2]
    assert precision >= threshold, f"precision {precision:.3f}; e.g. {false_hits[:5]}"
    assert recall >= threshold, f"recall {recall:.3f}; e.g. {misses[:5]}"
