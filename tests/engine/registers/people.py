"""Synthetic Hong Kong registers, generated with numpy so 4.5 million rows take seconds.

Names are drawn from weighted lists of common surnames and given-name syllables, so many
people share a name (as in life: thousands of CHAN Tai Man); HKIDs carry valid check digits
and, like phone numbers, are distinct; households share an address; a few people are
deceased.  Used by the register tests and by ``benchmarks/registers.py``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

S = np.dtypes.StringDType()
Strings = npt.NDArray[Any]

SURNAMES = [
    ("CHAN", "陳", 90),
    ("WONG", "黃", 60),
    ("WONG", "王", 15),
    ("LEE", "李", 45),
    ("CHEUNG", "張", 40),
    ("LAU", "劉", 33),
    ("LEUNG", "梁", 30),
    ("LAM", "林", 28),
    ("CHENG", "鄭", 20),
    ("HO", "何", 20),
    ("YEUNG", "楊", 18),
    ("NG", "吳", 18),
    ("TSANG", "曾", 14),
    ("CHOW", "周", 14),
    ("TANG", "鄧", 13),
    ("YIP", "葉", 12),
    ("LAI", "黎", 11),
    ("KWOK", "郭", 11),
    ("FUNG", "馮", 10),
    ("CHOI", "蔡", 10),
    ("MAK", "麥", 9),
    ("LAW", "羅", 9),
    ("CHU", "朱", 9),
    ("LO", "盧", 8),
    ("SIU", "蕭", 7),
    ("TAM", "譚", 7),
    ("MA", "馬", 7),
    ("HUI", "許", 7),
    ("SZE", "施", 5),
    ("YUEN", "袁", 6),
    ("TSE", "謝", 6),
    ("POON", "潘", 6),
    ("KWAN", "關", 5),
    ("CHING", "程", 4),
    ("MOK", "莫", 4),
    ("TO", "杜", 4),
    ("AU", "歐陽", 3),
    ("SO", "蘇", 4),
    ("WAN", "溫", 3),
    ("FONG", "方", 4),
]
GIVEN = [
    ("Tai", "大", 40),
    ("Man", "文", 40),
    ("Siu", "小", 25),
    ("Ming", "明", 30),
    ("Wai", "偉", 35),
    ("Kin", "健", 20),
    ("Ka", "家", 35),
    ("Ho", "豪", 25),
    ("Chi", "志", 30),
    ("Yan", "欣", 25),
    ("Mei", "美", 20),
    ("Ling", "玲", 20),
    ("Wing", "詠", 25),
    ("Kit", "傑", 15),
    ("Yee", "儀", 20),
    ("Hung", "雄", 15),
    ("Kwok", "國", 15),
    ("Fai", "輝", 15),
    ("Chun", "俊", 20),
    ("Lok", "樂", 12),
    ("Sum", "心", 8),
    ("Hoi", "凱", 10),
    ("Tsz", "子", 20),
    ("Hin", "軒", 12),
    ("Yu", "宇", 12),
    ("Ying", "瑩", 12),
    ("Lai", "麗", 12),
    ("Fong", "芳", 10),
    ("Kei", "琪", 10),
    ("Pui", "佩", 10),
    ("Shan", "珊", 8),
    ("Wah", "華", 20),
    ("Keung", "強", 12),
    ("Kam", "金", 8),
    ("Po", "寶", 8),
    ("Sing", "成", 12),
    ("Tin", "天", 8),
    ("Yiu", "耀", 8),
    ("On", "安", 8),
    ("Kwan", "君", 10),
    ("Hei", "希", 8),
    ("Long", "朗", 8),
    ("Nga", "雅", 8),
    ("Wan", "雲", 8),
]
DISTRICTS = [
    ("Sha Tin", "沙田"),
    ("Kwun Tong", "觀塘"),
    ("Wan Chai", "灣仔"),
    ("Tuen Mun", "屯門"),
    ("Yuen Long", "元朗"),
    ("Tai Po", "大埔"),
    ("Sai Kung", "西貢"),
    ("Mong Kok", "旺角"),
    ("Sham Shui Po", "深水埗"),
    ("Kwai Chung", "葵涌"),
    ("Tsuen Wan", "荃灣"),
    ("Wong Tai Sin", "黃大仙"),
    ("Aberdeen", "香港仔"),
    ("North Point", "北角"),
]
ESTATE_WORDS = [
    ("Wah Fu", "華富"),
    ("Lok Fu", "樂富"),
    ("Mei Foo", "美孚"),
    ("Tai Hing", "大興"),
    ("Sun Chui", "新翠"),
    ("Kwai Fong", "葵芳"),
    ("Wo Che", "禾輋"),
    ("Lek Yuen", "瀝源"),
    ("Cheung Sha Wan", "長沙灣"),
    ("Shek Kip Mei", "石硤尾"),
    ("Choi Hung", "彩虹"),
    ("Ping Shek", "坪石"),
    ("Oi Man", "愛民"),
    ("Ho Man Tin", "何文田"),
    ("Lai Kok", "麗閣"),
    ("Fu Shin", "富善"),
    ("Tin Yiu", "天耀"),
    ("Kin Sang", "建生"),
    ("Yau Oi", "友愛"),
    ("On Ting", "安定"),
    ("Lei Muk Shue", "梨木樹"),
    ("Shek Lei", "石籬"),
    ("Wan Tau Tong", "運頭塘"),
    ("Fu Heng", "富亨"),
    ("Kwong Yuen", "廣源"),
    ("Hin Keng", "顯徑"),
    ("Sun Tin Wai", "新田圍"),
    ("Chun Shek", "秦石"),
    ("Pok Hong", "博康"),
    ("Sha Kok", "沙角"),
    ("Yiu On", "耀安"),
    ("Heng On", "恒安"),
    ("Kam Fung", "錦豐"),
    ("Ma On Shan", "馬鞍山"),
    ("Wu King", "湖景"),
    ("Butterfly", "蝴蝶"),
    ("Siu Hong", "兆康"),
    ("Tai Hing Gardens", "大興花園"),
    ("Cheung Hong", "長康"),
    ("Ching Ho", "清河"),
]
ESTATE_KINDS = [
    ("Estate", "邨"),
    ("Court", "苑"),
    ("Garden", "花園"),
    ("Building", "大廈"),
    ("Mansion", "大樓"),
    ("Centre", "中心"),
    ("House", "樓"),
    ("Terrace", "台"),
]
STREETS = [
    ("Nathan Road", "彌敦道"),
    ("Tai Po Road", "大埔道"),
    ("Castle Peak Road", "青山公路"),
    ("King's Road", "英皇道"),
    ("Hennessy Road", "軒尼詩道"),
    ("Prince Edward Road", "太子道"),
    ("Waterloo Road", "窩打老道"),
    ("Lung Cheung Road", "龍翔道"),
    ("Po Kong Village Road", "蒲崗村道"),
    ("Ma Tau Wai Road", "馬頭圍道"),
    ("Shek Pai Wan Road", "石排灣道"),
    ("Tung Chau Street", "通州街"),
    ("Sai Yeung Choi Street", "西洋菜街"),
    ("Fa Yuen Street", "花園街"),
    ("Un Chau Street", "元州街"),
    ("Wo Yi Hop Road", "和宜合道"),
]
FLATS = list("ABCDEFGH")
FLOORS = 60
BLOCKS = 12


def _pick(
    rng: np.random.Generator, table: list[tuple[str, str, int]], n: int
) -> npt.NDArray[np.intp]:
    weights = np.array([w for *_, w in table], dtype=float)
    return rng.choice(len(table), size=n, p=weights / weights.sum())


def _col(table: list[Any], i: int) -> Strings:
    return np.array([row[i] for row in table], dtype=S)


def _affine(start: int, n: int, modulus: int, params: np.random.Generator) -> npt.NDArray[np.int64]:
    """Numbers ``start .. start+n`` of an affine permutation of ``range(modulus)``: distinct
    across every slice drawn with the same ``params`` (no big shuffle in memory)."""
    while True:
        a = int(params.integers(1, modulus))
        if np.gcd(a, modulus) == 1:
            break
    b = int(params.integers(0, modulus))
    return (np.arange(start, start + n, dtype=np.int64) * a + b) % modulus


def hkid_check(letters: list[int], digits: list[int]) -> str:
    """The HKID check character for letter values (A=10 ... Z=35) and six digits."""
    values = ([36] if len(letters) == 1 else []) + letters + digits
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def _hkids(start: int, n: int, params: np.random.Generator) -> Strings:
    code = _affine(start, n, 26 * 1_000_000, params)
    letter, number = code // 1_000_000, code % 1_000_000
    digits = [(number // 10**p) % 10 for p in range(5, -1, -1)]
    # Single-letter prefix: a space (value 36) weighs 9, the letter 8, digits 7..2.
    total = (
        36 * 9
        + (letter + 10) * 8
        + sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True))
    )
    check = (11 - total % 11) % 11
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), dtype=S)[letter]
    check_s = np.where(check == 10, "A", check.astype(S)).astype(S)
    return letters + np.strings.zfill(number.astype(S), 6) + "(" + check_s + ")"


def _phones(start: int, n: int, params: np.random.Generator) -> Strings:
    code = _affine(start, n, 3 * 10_000_000, params)
    first = np.array([5, 6, 9])[code // 10_000_000]
    rest = np.strings.zfill((code % 10_000_000).astype(S), 7)
    return first.astype(S) + rest


@dataclass(frozen=True, slots=True)
class People:
    """Columns of a synthetic register, each a numpy string array (StringDType)."""

    id: Strings
    name_zh: Strings
    name_en: Strings
    hkid: Strings
    address_en: Strings
    address_zh: Strings
    phone: Strings
    status: Strings
    email: Strings
    dob: Strings
    # Parts kept to render other spellings of the same person in leak files.
    surname_en: Strings
    given_en: Strings

    COLUMNS = ("id", "name_zh", "name_en", "hkid", "address_en", "address_zh", "phone", "status")

    def __len__(self) -> int:
        return len(self.id)

    def column(self, name: str) -> list[str]:
        return [str(v) for v in getattr(self, name).tolist()]

    def rows(self, columns: tuple[str, ...] = COLUMNS, idx: Any = None) -> list[list[str]]:
        """Rows (with no header) of the people at ``idx`` (all by default)."""
        cols = [getattr(self, c) if idx is None else getattr(self, c)[idx] for c in columns]
        return [list(r) for r in zip(*(c.tolist() for c in cols), strict=True)]

    def csv_text(self, columns: tuple[str, ...] = COLUMNS, *, header: bool = True) -> str:
        """The register as csv text, header first; built with numpy for millions of rows."""
        head = io.StringIO()
        if header:
            csv.writer(head, lineterminator="\n").writerow(columns)
        line = None
        for c in columns:
            col = getattr(self, c)
            # Addresses hold commas: quote them (no value holds a double quote).
            cell = '"' + col + '"' if c.startswith("address") or c.startswith("name") else col
            line = cell if line is None else line + "," + cell
        assert line is not None
        return head.getvalue() + "\n".join(line.tolist()) + "\n"


def generate(
    n: int, seed: int = 7, *, deceased: float = 0.0068, start: int = 0, total: int | None = None
) -> People:
    """``n`` people; the same ``seed`` gives the same people.

    ``start`` and ``total`` draw people ``start .. start+n`` of a register of ``total``, so a
    benchmark writes millions of rows a slice at a time; ids, HKIDs and phones stay distinct
    across slices (the no-namesake-in-a-household rule holds within a slice).
    """
    total = n if total is None else total
    rng = np.random.default_rng([seed, start])

    def params(stream: int) -> np.random.Generator:
        return np.random.default_rng([seed, stream, total])

    sur = _pick(rng, SURNAMES, n)
    g1 = _pick(rng, GIVEN, n)
    g2 = _pick(rng, GIVEN, n)
    single = rng.random(n) < 0.08
    households = max(1, int(total / 2.6))
    capacity = len(ESTATE_WORDS) * len(ESTATE_KINDS) * BLOCKS * FLOORS * len(FLATS)
    assert households <= capacity, "more households than synthetic addresses"
    home = _affine(0, households, capacity, params(1))[rng.integers(0, households, n)]
    # Nobody shares a full English name with someone of their household, as in life; so a
    # name and an address together point at one person and tests can count exactly.
    # Names compare order-insensitively (CHAN Tai Man == Man Tai CHAN), so the key is
    # the sorted bag of the name's words.
    words = np.unique(np.concatenate([_col(SURNAMES, 0), np.strings.upper(_col(GIVEN, 0))]))
    sur_word = np.searchsorted(words, _col(SURNAMES, 0))[sur]
    given_word = np.searchsorted(words, np.strings.upper(_col(GIVEN, 0)))
    while True:
        bag = np.stack([sur_word, given_word[g1], np.where(single, -1, given_word[g2])], axis=1)
        bag.sort(axis=1)
        base = len(words) + 1
        person = ((home * base + bag[:, 0] + 1) * base + bag[:, 1] + 1) * base + bag[:, 2] + 1
        _, first = np.unique(person, return_index=True)
        again = np.ones(n, dtype=bool)
        again[first] = False
        if not again.any():
            break
        g1[again] = _pick(rng, GIVEN, int(again.sum()))
        g2[again] = _pick(rng, GIVEN, int(again.sum()))
        single[again] = False
    sur_en, sur_zh = _col(SURNAMES, 0)[sur], _col(SURNAMES, 1)[sur]
    giv_en, giv_zh = _col(GIVEN, 0), _col(GIVEN, 1)
    given_en = np.where(single, giv_en[g1], giv_en[g1] + " " + giv_en[g2]).astype(S)
    given_zh = np.where(single, giv_zh[g1], giv_zh[g1] + giv_zh[g2]).astype(S)

    flat, home = home % len(FLATS), home // len(FLATS)
    floor, home = home % FLOORS + 1, home // FLOORS
    block, home = home % BLOCKS + 1, home // BLOCKS
    kind, word = home % len(ESTATE_KINDS), home // len(ESTATE_KINDS)
    estate = word * len(ESTATE_KINDS) + kind
    street = estate % len(STREETS)
    number = (estate * 7919 % 300 + 1).astype(S)
    district = estate % len(DISTRICTS)
    flat_s, floor_s, block_s = np.array(FLATS, dtype=S)[flat], floor.astype(S), block.astype(S)
    est_en = _col(ESTATE_WORDS, 0)[word] + " " + _col(ESTATE_KINDS, 0)[kind]
    est_zh = _col(ESTATE_WORDS, 1)[word] + _col(ESTATE_KINDS, 1)[kind]
    address_en = (
        "Flat "
        + flat_s
        + ", "
        + floor_s
        + "/F, Block "
        + block_s
        + ", "
        + est_en
        + ", "
        + number
        + " "
        + _col(STREETS, 0)[street]
        + ", "
        + _col(DISTRICTS, 0)[district]
    )
    address_zh = (
        _col(DISTRICTS, 1)[district]
        + _col(STREETS, 1)[street]
        + number
        + "號"
        + est_zh
        + block_s
        + "座"
        + floor_s
        + "樓"
        + flat_s
        + "室"
    )
    numbers = np.strings.zfill(np.arange(start + 1, start + n + 1).astype(S), 7)
    ids = "V-" + numbers
    dead = rng.random(n) < deceased
    status = np.where(dead, "deceased", "active").astype(S)
    birth = np.datetime64("1940-01-01") + rng.integers(0, 365 * 65, n).astype("timedelta64[D]")
    return People(
        id=ids,
        name_zh=sur_zh + given_zh,
        name_en=sur_en + " " + given_en,
        hkid=_hkids(start, n, params(2)),
        address_en=address_en,
        address_zh=address_zh,
        phone=_phones(start, n, params(3)),
        status=status,
        email="p" + numbers + "@mail.example.net",
        dob=birth.astype(str).astype(S),
        surname_en=sur_en,
        given_en=given_en,
    )


_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


def fullwidth(text: str) -> str:
    """``A123456(7)`` as typed with a Chinese input method: ``Ａ１２３４５６（７）``."""
    return text.translate(_FULLWIDTH).replace(" ", "\u3000")


def name_en_as(p: People, idx: Any, style: str) -> list[str]:
    """English names of the people at ``idx`` in another common spelling.

    ``hyphen``: ``Chan Tai-man``; ``western``: ``Tai Man CHAN``; anything else: as registered.
    """
    out = []
    for sur, given in zip(p.surname_en[idx].tolist(), p.given_en[idx].tolist(), strict=True):
        if style == "hyphen":
            out.append(f"{sur.title()} {given.replace(' ', '-').capitalize()}")
        elif style == "western":
            out.append(f"{given} {sur}")
        else:
            out.append(f"{sur} {given}")
    return out


_ABBREVIATIONS = (
    ("Flat ", "Rm "),
    ("Block ", "Blk "),
    (" Road", " Rd"),
    (" Street", " St"),
    (" Estate", " Est."),
    (" Building", " Bldg"),
    ("/F", "th Floor"),
)


def address_en_abbreviated(p: People, idx: Any) -> list[str]:
    """English addresses with Hongkong Post abbreviations, upper case, ", Hong Kong" added."""
    out = []
    for address in p.address_en[idx].tolist():
        for word, short in _ABBREVIATIONS:
            address = address.replace(word, short)
        out.append(address.upper() + ", HONG KONG")
    return out
