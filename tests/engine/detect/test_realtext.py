"""Detectors on real Hong Kong text and real mail (issue 11).

The labelled texts are in ``tests/data/realtext/`` (SOURCE.md says where each came from);
the scoring is ``benchmarks/realtext.py``, which ``make bench`` prints.
"""

from __future__ import annotations

from collections import Counter

import pytest
from benchmarks.realtext import DATA, check_mails, evaluate, labels

from postwarden.engine.detect import default_detectors
from postwarden.model import TextUnit

# (precision, recall) each detector must reach on the labelled set (issue 11's acceptance
# line).  HKID positives are the specimen and test numbers that public HK validator libraries
# publish (real HKIDs are not published); addresses are those of public venues, offices and
# bank branches in Government notices and data.gov.hk (SOURCE.md).
TARGETS = {
    "phone": (0.95, 0.90),
    "name_zh": (0.95, 0.90),
    "name_en": (0.95, 0.90),
    "hkid": (0.95, 0.90),
    "address_en": (0.95, 0.85),
    "address_zh": (0.95, 0.85),
}


def test_the_labelled_set_is_big_enough() -> None:
    count = Counter(label.detector for label in labels())
    assert count["name_zh"] >= 100
    assert count["name_en"] >= 90
    assert count["phone"] >= 40
    assert count["hkid"] >= 20
    assert count["address_en"] >= 30
    assert count["address_zh"] >= 100
    for label in labels():
        text = (DATA / label.file).read_text(encoding="utf-8")
        assert text[label.start : label.end] == label.value


@pytest.mark.parametrize("detector", list(TARGETS))
def test_precision_and_recall_on_real_text(detector: str) -> None:
    scores, errors = evaluate()
    score = scores[detector]
    precision, recall = TARGETS[detector]
    assert score.precision >= precision, errors[detector]
    assert score.recall >= recall, errors[detector]


def _found(text: str, detector: str) -> list[str]:
    findings = default_detectors().scan([TextUnit(text, "body")])
    return [f.value for f in findings if f.detector == detector]


# Every example the issue names, each with what the detector must now find in it; each of
# these failed on the code before issue 11.
EXAMPLES = [
    # Phones: year ranges in LegCo speeches, ranges, counts, ICQ numbers and URL ids in mail.
    ("phone", "本會審議2012-2013年度的預算。", []),
    ("phone", "在2011-2012學年，學生人數上升。", []),
    ("phone", "exmh sequence 4852-4852 -sequence mercury", []),
    ("phone", "the server handles 2000-5000 incoming messages per day", []),
    ("phone", "My ICQ: 23456789, ping me.", []),
    ("phone", "The archive is 34567890 bytes long.", []),
    ("phone", "The essay runs to 23456789 words.", []),
    ("phone", "See http://www.example.com/news/23456789.html for more", []),
    # HKID: a URL tracking token that passes the check digit.
    ("hkid", "zdnet: http://zdnet.com/2100-1104-7932420.html?tag=st.cr.mp.dpt.pr7932420", []),
    # Chinese names: fragments cut out of words; members missed; a married double surname.
    ("name_zh", "我在此感謝各位議員的支持。", []),
    ("name_zh", "他擔任前線醫生多年。", []),
    ("name_zh", "我感謝剛才陳辭的議員。", []),
    ("name_zh", "王國興議員：主席，我發言支持議案。", ["王國興"]),
    ("name_zh", "葛珮帆議員, J.P.", ["葛珮帆"]),
    ("name_zh", "葉劉淑儀議員, G.B.S., J.P.", ["葉劉淑儀"]),
    ("name_zh", "助理秘書長馬朱雪履女士", ["馬朱雪履"]),
    # ... and in running prose, without a label or an honorific after the name.
    ("name_zh", "梁振英表示會研究其中一些問題。", ["梁振英"]),
    ("name_zh", "在1987年，當時的港督衞奕信認為不可行。", ["衞奕信"]),
    ("name_zh", "積金局主席胡紅玉在2012年11月26日曾這樣批評政府。", ["胡紅玉"]),
    # English names: HK style with hyphenated or spaced given names; Western given names
    # where the text says person.
    ("name_en", "Please ask Chan Kwok-ki to sign.", ["Chan Kwok-ki"]),
    ("name_en", "Wong Kin-san has joined the team.", ["Wong Kin-san"]),
    ("name_en", "Dear Leung Chun,\nThank you for your letter.", ["Leung Chun"]),
    ("name_en", "Dear Peter Chan,\nPlease find the form attached.", ["Peter Chan"]),
    ("name_en", "Best regards,\nPeter Chan\nExecutive Officer", ["Peter Chan"]),
    ("name_en", "Mr. Peter Chan will attend.", ["Peter Chan"]),
    (
        "name_en",
        "THE HONOURABLE MRS REGINA IP LAU SUK-YEE, G.B.S., J.P.",
        ["REGINA IP LAU SUK-YEE"],
    ),
    ("name_en", "Miss CHU Man Ling, Cathy, JP", ["CHU Man Ling, Cathy"]),
    # Addresses: Chinese numerals; a landmark alone is not someone's address.
    ("address_zh", "地址：中環堅尼地道廿八號", ["中環堅尼地道廿八號"]),
    ("address_zh", "典禮在香港灣仔會議展覽中心舉行。", []),
    (
        "address_en",
        "The meeting was held at the Central Government Offices, Tim Mei Avenue, Admiralty,"
        " Hong Kong.",
        [],
    ),
    (
        "address_en",
        "The ceremony was held at the Hong Kong Convention and Exhibition Centre in Wan Chai.",
        [],
    ),
]


# Found on the labelled real text (tests/data/realtext/gov-*.txt, hk-bank-branch-*): each
# failed on the code before the addresses and more phones were labelled.
REAL_TEXT_CASES = [
    # A URL earlier in a Chinese sentence (no spaces) does not make the fax number part of it.
    (
        "phone",
        "如有一般查詢,亦可透過電子舉報表格(eform.one.gov.hk/form/bd0001/tc)、傳真(2537 4992)"
        "通知屋宇署。",
        ["2537 4992"],
    ),
    # A street with its number and a district; a possessive street name.
    ("address_en", "71 Kai Tin Road, Lam Tin", ["71 Kai Tin Road, Lam Tin"]),
    (
        "address_en",
        "LG/F, Wan Chai Market, 258 Queen\u2019s Road East, Wan Chai",
        ["LG/F, Wan Chai Market, 258 Queen\u2019s Road East, Wan Chai"],
    ),
    # An estate and its district, no number: a place, not an address.
    ("address_en", "Cheung Wah Estate, Fanling", []),
    # A district is not a person.
    ("name_en", "2 High Street, Sai Ying Pun", []),
    # 道中/道西 before the number, a lettered second number, 合署 and 北座.
    ("address_zh", "中環德輔道中24號3樓", ["中環德輔道中24號3樓"]),
    ("address_zh", "土瓜灣譚公道34至34A號", ["土瓜灣譚公道34至34A號"]),
    (
        "address_zh",
        "九龍油麻地海庭道十一號西九龍政府合署北座屋宇署總部地下",
        ["九龍油麻地海庭道十一號西九龍政府合署北座屋宇署總部地下"],
    ),
    ("address_zh", "北區 - 粉嶺祥華邨祥華社區會堂", []),
]


# What was found before and must still be: the same shapes with what supports them.
CONTROLS = [
    ("phone", "Tel: 9123 4567", ["9123 4567"]),
    ("phone", "電話：+852 2345 6789", ["+852 2345 6789"]),
    ("phone", "For enquiries, please call the SWD's hotline at 2343 2255.", ["2343 2255"]),
    ("hkid", "HKID: A123456(3)", ["A123456(3)"]),
    ("address_zh", "九龍觀塘協和街二十八號二十八樓", ["九龍觀塘協和街二十八號二十八樓"]),
    ("address_zh", "新界沙田第一城三十一座二十八樓B室", ["新界沙田第一城三十一座二十八樓B室"]),
    (
        "address_en",
        "Flat A, 12/F, Block 2, Sha Tin, N.T.",
        ["Flat A, 12/F, Block 2, Sha Tin, N.T."],
    ),
]


@pytest.mark.parametrize(("detector", "text", "expected"), EXAMPLES)
def test_issue_examples(detector: str, text: str, expected: list[str]) -> None:
    assert _found(text, detector) == expected


@pytest.mark.parametrize(("detector", "text", "expected"), REAL_TEXT_CASES)
def test_real_text_cases(detector: str, text: str, expected: list[str]) -> None:
    assert _found(text, detector) == expected


@pytest.mark.parametrize(("detector", "text", "expected"), CONTROLS)
def test_supported_values_are_still_found(detector: str, text: str, expected: list[str]) -> None:
    assert _found(text, detector) == expected


# --- the benign side: ordinary real mail -------------------------------------------------

# What may still stop a message of the corpus, with the reason found by reading it.  Empty:
# none of the 4,150 is held or rejected.
KNOWN_STOPPED: dict[str, str] = {
    # Both are held by design (issue 10: what cannot be read does not go out unseen).
    "easy-ham-1/01005.5ad1b924b3315046822ae89493e5572f.txt": (
        "uninspectable-external: a PGP-encrypted block (ASCII armour) in the body"
    ),
    "hard-ham-1/00021.1707ccb203e1a39f5167f1c0d65cc235.txt": (
        "malformed-structure-external: multipart/alternative whose close boundary is missing"
    ),
}


@pytest.mark.slow
def test_real_mail_is_not_stopped() -> None:
    """At most 0.3 % of 4,150 real mails held or rejected, sent from the office to a partner.

    The envelope is the same for every message (an officer writing to a partner), so what
    could stop one is what it carries: a personal-webmail recipient cannot be the reason.
    """
    total, found, stopped_by = check_mails()
    assert total >= 4000
    # Held for a personal-webmail recipient alone is allowed (none here: one partner).
    stopped = {n: r for n, r in stopped_by.items() if r != ["webmail-recipient"]}
    assert found["email"] > total  # the content was read: most mails carry addresses
    assert len(stopped) <= 0.003 * total, stopped
    # The misfires the issue found: 55 of 57 phone findings, a URL token as an HKID.
    assert found["hkid"] == 0
    assert found["phone"] <= 5, found
    assert set(stopped) <= set(KNOWN_STOPPED), {
        n: stopped[n] for n in set(stopped) - set(KNOWN_STOPPED)
    }
