"""Chinese personal names: a common Hong Kong surname and one or two given characters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

from postwarden.engine.detect.base import (
    Candidate,
    Context,
    FindingBatch,
    HitBatch,
    Pattern,
    PatternDetector,
    make_finding,
)
from postwarden.engine.detect.registry import registry
from postwarden.model import TextUnit

__all__ = ["NameZhDetector"]

SURNAMES = (
    "陳李張黃何林吳劉蔡楊鄭梁謝郭曾羅鄧周許蕭馮朱潘袁余葉蘇盧譚麥彭伍鍾王胡馬莫石孔姚杜魏程"
    "江洪范方韓唐賴岑區翁雷戴湯侯阮關傅黎顏甘柯崔丁冼邱溫龐尹韋徐孫高蔣文廖駱利易薛鄒施任"
    "沈植凌勞巫殷鮑嚴簡古卓歐左招車饒姜金霍費聶童游熊萬談單包邵符鄺杜屈"
)
DOUBLE_SURNAMES = (
    "歐陽",
    "司徒",
    "上官",
    "司馬",
    "諸葛",
    "東方",
    "皇甫",
    "公孫",
    "夏侯",
    "慕容",
    "端木",
)
# Everyday words that begin with a surname character; as a cell or after 姓名 they are
# still not names.
COMMON_WORDS = frozenset(
    """周年 周末 周圍 周日 林業 林木 黃金 黃色 黃昏 高興 高級 高度 高中 張貼 何時 何處 何以 方法
    方面 方便 方向 方案 文件 文化 文字 文具 金額 金錢 金融 石油 江湖 洪水 馬上 馬路 王國 成功
    成本 成績 成員 任何 任務 利息 利益 利用 易於 車輛 車位 包括 包裝 單位 單據 萬元 古董 童年
    游泳 熊貓 費用 雷雨 程序 程度 關係 關於 關注 溫度 溫暖 龐大 尹氏 施工 施行 簡單 簡介
    古代 卓越 左右 招聘 招生 范圍 區域 區議會 韓國 唐朝 賴以 岑寂 戴上 湯匙 侯爵 甘心 崔嵬 丁香
    姜汁 蘇州 許多 許可 鄭重 朱古力 葉子 余下 麥當勞 彭湃 伍佰 鍾愛 胡椒 莫非 杜絕
    魏晉 謝謝 郭外 曾經 羅馬 蕭條 盧比 楊柳 梁柱 吳語 劉海 蔡司 陳述 陳列
    陳設 陳舊 李子 張開 張力 黃河 何必 林立 凌晨 勞工 勞動 殷切 鮑魚 嚴重 嚴格 霍亂 談判 談話
    邵氏 符合 符號 屈服 萬一 萬歲 包含 費時 程式 文章 石頭 江山 車站 易經 沈默 植物""".split()
)
# A third character that is a particle or verb ends the name one character earlier
# (姓名：李明是… is 李明).
_STOP = frozenset("的是在和及與於了先女小太生等為已將會於向給由")
_CJK = r"[\x{4E00}-\x{9FFF}]"
_SURNAME_RE = "(?:" + "|".join(DOUBLE_SURNAMES) + "|[" + SURNAMES + "])"
_NAME_TAIL = re.compile(
    "(?:" + "|".join(DOUBLE_SURNAMES) + "|[" + SURNAMES + "])[\u4e00-\u9fff]{1,2}$"
)
_LABELS = (
    "姓名",
    "名字",
    "收件人",
    "申請人",
    "聯絡人",
    "投訴人",
    "客戶",
    "負責人",
    "簽署人",
    "持有人",
    "病人",
    "學生",
    "家長",
    "會員",
    "Name",
    "NAME",
    "name",
)
_HONORIFICS = ("先生", "女士", "小姐", "太太", "醫生", "教授", "同學", "議員", "律師", "博士")
_CELL = re.compile(
    r"\s*((?:" + "|".join(DOUBLE_SURNAMES) + "|[" + SURNAMES + r"])[\u4e00-\u9fff]{1,2})\s*"
)


_COMMON_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _word in COMMON_WORDS:
    _COMMON_BY_FIRST[_word[0]] = (*_COMMON_BY_FIRST.get(_word[0], ()), _word)


_FIRST_CHARS = frozenset(SURNAMES + "".join(d[0] for d in DOUBLE_SURNAMES))


def _plausible(name: str) -> bool:
    """Not an everyday word that happens to start with a surname character."""
    return not any(name.startswith(w) for w in _COMMON_BY_FIRST.get(name[0], ()))


@registry.register
class NameZhDetector(PatternDetector):
    """Surname + given name after a label (姓名：), before an honorific (先生), or as a cell."""

    id = "name_zh"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "labelled",
            "(?:" + "|".join(_LABELS) + r")\s*[:：]?\s*" + _SURNAME_RE + _CJK + "{1,2}",
            0.85,
        ),
        Pattern("honorific", _SURNAME_RE + _CJK + "{1,2}(?:" + "|".join(_HONORIFICS) + ")", 0.85),
    )
    reads_cells = True
    bounded = False  # Chinese has no word boundaries; the label or honorific bounds the name

    def narrow(self, candidate: Candidate) -> Candidate | None:
        text = candidate.text
        end = candidate.end
        if candidate.pattern.name == "honorific":
            text, end = text[:-2], end - 2
        elif len(text) >= 3 and text[-1] in _STOP:
            text, end = text[:-1], end - 1
        tail = _NAME_TAIL.search(text)
        if tail is None:
            return None
        start = candidate.start + tail.start()
        return Candidate(candidate.unit, start, end, candidate.pattern, candidate.has_context)

    def validate(self, candidate: Candidate) -> bool:
        return _plausible(candidate.text)

    def _analyze_batch(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: Mapping[int, Context],
    ) -> FindingBatch:
        found = super()._analyze_batch(units, hits, contexts) if hits else FindingBatch()
        taken: dict[int, set[tuple[int, int]]] = {}
        for u, f in zip(found.units, found.findings, strict=True):
            taken.setdefault(u, set()).add((f.start, f.end))
        # A table cell that is exactly a surname and a given name is a name.  Names repeat
        # down a column, so each distinct cell is judged once per scan.
        names: dict[str, tuple[int, int] | None] = {}
        for u, unit in enumerate(units):
            position = 0
            for cell in unit.cells or ():
                if not 2 <= len(cell) <= 6 or cell.lstrip()[:1] not in _FIRST_CHARS:
                    continue
                if cell in names:
                    span = names[cell]
                else:
                    match = _CELL.fullmatch(cell)
                    span = match.span(1) if match and _plausible(match.group(1)) else None
                    names[cell] = span
                if span is None:
                    continue
                at = unit.text.find(cell, position)
                if at < 0:
                    continue
                position = at + len(cell)
                start, end = at + span[0], at + span[1]
                if u not in taken or (start, end) not in taken[u]:
                    value = unit.text[start:end]
                    found.add(u, make_finding(self.id, unit.where, value, start, end, 0.7))
        return found
