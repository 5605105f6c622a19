"""Hong Kong addresses in Chinese: 區, 道/街/路 號, 大廈/邨/苑, 座, 樓, 室, 香港/九龍/新界."""

from __future__ import annotations

from typing import ClassVar

from postwarden.engine.detect.base import ClusterDetector, Pattern

__all__ = ["AddressZhDetector"]

DISTRICTS = (
    "中西區",
    "中環",
    "上環",
    "西環",
    "西營盤",
    "堅尼地城",
    "半山",
    "灣仔",
    "銅鑼灣",
    "跑馬地",
    "大坑",
    "東區",
    "北角",
    "鰂魚涌",
    "太古",
    "筲箕灣",
    "柴灣",
    "小西灣",
    "南區",
    "香港仔",
    "鴨脷洲",
    "薄扶林",
    "赤柱",
    "淺水灣",
    "黃竹坑",
    "油尖旺",
    "尖沙咀",
    "佐敦",
    "油麻地",
    "旺角",
    "大角咀",
    "深水埗",
    "長沙灣",
    "荔枝角",
    "石硤尾",
    "九龍城",
    "九龍塘",
    "何文田",
    "紅磡",
    "土瓜灣",
    "啟德",
    "黃大仙",
    "鑽石山",
    "樂富",
    "慈雲山",
    "新蒲崗",
    "觀塘",
    "牛頭角",
    "九龍灣",
    "藍田",
    "油塘",
    "秀茂坪",
    "荃灣",
    "葵青",
    "葵涌",
    "葵芳",
    "青衣",
    "屯門",
    "元朗",
    "天水圍",
    "北區",
    "上水",
    "粉嶺",
    "大埔",
    "西貢",
    "將軍澳",
    "沙田",
    "大圍",
    "馬鞍山",
    "火炭",
    "離島",
    "東涌",
    "大嶼山",
    "長洲",
    "愉景灣",
    "南丫島",
    "坪洲",
)
_CJK = r"[\x{4E00}-\x{9FFF}]"
# Arabic, full-width or Chinese numerals (廿八號, 二十八樓, 三十一座: issue 11).
_NUM = r"(?:[0-9\x{FF10}-\x{FF19}]{1,4}|[一二三四五六七八九十百零〇廿卅兩]{1,4})"
_ALNUM = r"[A-Za-z0-9\x{FF10}-\x{FF19}\x{FF21}-\x{FF3A}]"


class AddressZhDetector(ClusterDetector):
    """Three or more address parts of different kinds within a few characters."""

    id = "address_zh"
    specific_kinds = frozenset({"street", "block", "floor", "room"})
    # A street with its number is two parts: 中環堅尼地道廿八號 is an address.
    double_kinds = frozenset({"street"})
    max_gap = 12
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern("region", r"香港|九[龍龙]|新界"),
        Pattern("district", "(?:" + "|".join(sorted(DISTRICTS, key=len, reverse=True)) + ")區?"),
        Pattern(
            "street",
            # 德輔道中24號, 皇后大道東258號, 譚公道34至34A號, 龍翔道8号
            rf"{_CJK}{{1,5}}(?:道|街|路|里|徑|坊)[中東西南北]?\s?{_NUM}\s?(?:[A-Za-z])?"
            rf"(?:\s?[-至及]\s?{_NUM}[A-Za-z]?)?\s?[號号]",
        ),
        Pattern(
            "building",
            rf"{_CJK}{{1,6}}(?:大廈|大樓|大厦|大楼|中心|花園|廣場|商場|山莊|豪庭|合署|苑|邨|閣|軒|村)",
        ),
        Pattern(
            "block",
            rf"第?(?:{_ALNUM}{{1,3}}|[一二三四五六七八九十廿卅]{{1,4}}|[東南西北])\s?座"
            rf"|{_NUM}\s?期",
        ),
        Pattern("floor", rf"{_NUM}\s?[樓楼]|地下|地庫"),
        Pattern("room", rf"{_ALNUM}{{1,4}}\s?(?:室|號舖|號鋪|舖)|單位\s?{_ALNUM}{{1,4}}"),
    )
