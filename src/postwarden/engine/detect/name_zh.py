"""Chinese personal names: a common Hong Kong surname and one or two given characters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import compress
from operator import attrgetter
from typing import ClassVar

import numpy as np

from postwarden.engine.detect.base import (
    Candidate,
    Context,
    FindingBatch,
    HitBatch,
    Pattern,
    PatternDetector,
    make_candidate,
    make_finding,
    name_cells,
)
from postwarden.model import TextUnit

__all__ = ["NameZhDetector"]

SURNAMES = (
    "陳李張黃何林吳劉蔡楊鄭梁謝郭曾羅鄧周許蕭馮朱潘袁余葉蘇盧譚麥彭伍鍾王胡馬莫石孔姚杜魏程"
    "江洪范方韓唐賴岑區翁雷戴湯侯阮關傅黎顏甘柯崔丁冼邱溫龐尹韋徐孫高蔣文廖駱利易薛鄒施任"
    "沈植凌勞巫殷鮑嚴簡古卓歐左招車饒姜金霍費聶童游熊萬談單包邵符鄺杜屈"
    # Seen missed in LegCo records (涂謹申, 毛孟靜, 田北辰, 葛珮帆, 衞奕信) and other common ones.
    "涂毛田葛衞衛龔藍柳倪魯賀喬鄔閻錢孟白夏邢滕寧畢祝戚翟"
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
    邵氏 符合 符號 屈服 萬一 萬歲 包含 費時 程式 文章 石頭 江山 車站 易經 沈默 植物
    陳辭 白色 白天 白領 夏季 夏天 田園 田地 毛巾 毛病 錢包 寧願 畢業 祝福 喬遷 柳樹 藍色 藍天
    魯莽 賀卡 賀年 孟買 毛孔 田野 夏令 白紙 白表 藍圖 錢財 葛量洪""".split()
)
# The second character of an everyday word that is also common as a first given character:
# 王國 is a kingdom but 王國興 is a name, where 許多位 and 關注組 are not.
_GIVEN_FIRST = frozenset("國家偉志明文華英美玲麗嘉子俊強興金德成光榮輝耀健傑")
# A surname character glued to the character before it into a word is no name's start
# (感謝各位 gave 謝各位, 擔任前線 gave 任前線: issue 11).
_WORD_BEFORE = frozenset(
    """感謝 多謝 答謝 致謝 鳴謝 道謝 擔任 出任 委任 兼任 信任 責任 主任 現任 前任 歷任 上任 離任
    新任 接任 連任 留任 放任 聘任 就任 升任 調任 改任 勝任 此陳 明白 坦白 空白 表白 告白 蛋白
    黑白 清白 大夏 華夏 油田 農田 稻田 煤田 金錢 價錢 本錢 賺錢 有錢 沒錢 安寧 丁寧 完畢""".split()
)
# Words that begin the "given name" of a fragment, never of a name (謝各位, 任前線).
_NOT_GIVEN = (
    "各位",
    "前線",
    "大家",
    "所有",
    "這些",
    "那些",
    "我們",
    "他們",
    "你們",
    "本人",
    "各界",
    "全體",
    "諸位",
    "等人",
    "一同",
    "以及",
    "及其",
    "一位",
    "兩位",
    "多位",
    "有關",
    "是次",
    "今天",
    "今日",
    "昨天",
    "明天",
    "這樣",
    "那樣",
    "這麼",
    "一直",
    "已經",
    "經常",
    "不斷",
    "多次",
    "再次",
    "亦曾",
    "也曾",
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
# Posts written after a name (陳家強局長) or before one (港督衞奕信, 主席胡紅玉).
_POSTS = (
    "局長",
    "司長",
    "署長",
    "處長",
    "主席",
    "校長",
    "院長",
    "會長",
    "總裁",
    "法官",
    "主任",
    "總監",
    "港督",
    "特首",
    "行政長官",
    "秘書長",
    "副主席",
    "發言人",
)
_POSTS_LONGEST_FIRST = tuple(sorted(_POSTS, key=len, reverse=True))
# Verbs of saying after a three-character name in running prose (梁振英表示).
_SAYS = ("表示", "指出", "認為", "透露", "強調", "承諾", "回應", "批評", "宣布", "宣佈", "解釋")
_CELL = re.compile(
    r"\s*((?:" + "|".join(DOUBLE_SURNAMES) + "|[" + SURNAMES + r"])[\u4e00-\u9fff]{1,2})\s*"
)


_COMMON_BY_FIRST: dict[str, tuple[str, ...]] = {}
for _word in COMMON_WORDS:
    _COMMON_BY_FIRST[_word[0]] = (*_COMMON_BY_FIRST.get(_word[0], ()), _word)


_SINGLE = frozenset(SURNAMES)
_DOUBLE_SET = frozenset(DOUBLE_SURNAMES)


# The first two characters of every everyday word: a name starting otherwise starts with
# none of them (a table's names are judged by one lookup, not one test per word).  Only
# while every word has two characters at least.
_COMMON_HEADS = frozenset(w[:2] for w in COMMON_WORDS) if min(map(len, COMMON_WORDS)) >= 2 else None


def _plausible(name: str) -> bool:
    """Not an everyday word that happens to start with a surname character."""
    if _COMMON_HEADS is not None and name[:2] not in _COMMON_HEADS:
        return True
    for word in _COMMON_BY_FIRST.get(name[0], ()):
        if name.startswith(word):
            # 王國興: a three-character name may start with a word whose second character
            # is a common first given character; 許多位 and 關注組 stay words.
            if len(word) == 2 and len(name) == 3 and word[1] in _GIVEN_FIRST:
                continue
            return False
    return True


class NameZhDetector(PatternDetector):
    """Surname + given name after a label (姓名：), before an honorific (先生), or as a cell."""

    id = "name_zh"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "labelled",
            "(?:" + "|".join(_LABELS) + r")\s*[:：]?\s*" + _SURNAME_RE + _CJK + "{1,2}",
            0.85,
        ),
        Pattern(
            "honorific",
            _SURNAME_RE + _CJK + "{1,2}(?:" + "|".join(_HONORIFICS) + ")",
            0.85,
        ),
        # After a post, only three-character names: 金局主席 is part of 積金局主席.
        Pattern("post_after", _SURNAME_RE + _CJK + "{2}(?:" + "|".join(_POSTS) + ")", 0.75),
        Pattern("post_before", "(?:" + "|".join(_POSTS) + ")" + _SURNAME_RE + _CJK + "{1,2}", 0.7),
        Pattern("says", _SURNAME_RE + _CJK + "{2}(?:" + "|".join(_SAYS) + ")", 0.6),
    )
    reads_cells = True
    # A cell's name is Chinese and found in the row's text: none in a sheet of ASCII text.
    cells_outside_ascii = True
    bounded = False  # Chinese has no word boundaries; the label or honorific bounds the name

    def narrow(self, candidate: Candidate) -> Candidate | None:
        text = candidate.text
        end = candidate.end
        kind = candidate.pattern.name
        if kind == "honorific":  # every honorific is two characters
            text, end = text[:-2], end - 2
        elif kind == "post_after":
            cut = next(len(p) for p in _POSTS_LONGEST_FIRST if text.endswith(p))
            text, end = text[:-cut], end - cut
        elif kind == "says":
            text, end = text[:-2], end - 2
        elif len(text) >= 3 and text[-1] in _STOP:
            text, end = text[:-1], end - 1
        if kind == "post_before":
            post = next(p for p in _POSTS_LONGEST_FIRST if text.startswith(p))
            start = candidate.start + len(post)
            return make_candidate(
                candidate.unit, start, end, candidate.pattern, candidate.has_context
            )
        tail = _NAME_TAIL.search(text)
        if tail is None:
            return None
        start = candidate.start + tail.start()
        full = candidate.unit.text
        # A married woman's name puts her husband's surname first (葉劉淑儀, 馬朱雪履).
        if (
            kind in ("honorific", "labelled")
            and end - start == 3
            and start > candidate.start - 1
            and start > 0
            and full[start - 1] in _SINGLE
            and full[start - 1 : start + 1] not in _WORD_BEFORE
            and (start < 2 or full[start - 2 : start] not in _DOUBLE_SET | _WORD_BEFORE)
        ):
            start -= 1
        return make_candidate(candidate.unit, start, end, candidate.pattern, candidate.has_context)

    def validate(self, candidate: Candidate) -> bool:
        text, start = candidate.unit.text, candidate.start
        if start > 0 and text[start - 1 : start + 1] in _WORD_BEFORE:
            return False
        name = candidate.text
        given = name[2:] if name[:2] in _DOUBLE_SET else name[1:]
        if given.startswith(_NOT_GIVEN) or given[-1:] in _STOP:
            return False
        return _plausible(name)

    def _analyze_batch(
        self,
        units: Sequence[TextUnit],
        hits: HitBatch,
        contexts: Mapping[int, Context],
    ) -> FindingBatch:
        found = super()._analyze_batch(units, hits, contexts) if hits else FindingBatch()
        # Only the units with cells (table rows), picked out without a Python loop.
        rows = list(compress(range(len(units)), map(attrgetter("cells"), units)))
        if not rows:
            return found
        taken: dict[int, set[tuple[int, int]]] = {}
        for u, f in zip(found.units, found.findings, strict=True):
            taken.setdefault(u, set()).add((f.start, f.end))
        # A table cell that is exactly a surname and a given name is a name.
        add_unit, add_finding = found.units.append, found.findings.append
        detector = self.id
        current, position, unit = -1, 0, units[rows[0]]
        for u, cell, name_start, name_end in zip(*_name_cells(units, rows), strict=True):
            if u != current:
                current, position, unit = u, 0, units[u]
            name = cell[name_start:name_end]
            if not _plausible(name):
                continue
            at = unit.text.find(cell, position)
            if at < 0:
                continue
            position = at + len(cell)
            start, end = at + name_start, at + name_end
            if u not in taken or (start, end) not in taken[u]:
                add_unit(u)
                add_finding(make_finding(detector, unit.where, name, start, end, 0.7))
        return found


# The lengths of a cell that may be a name (spaces around it included).
_SHORTEST_CELL, _LONGEST_CELL = 2, 6


def _name_cells(
    units: Sequence[TextUnit], rows: list[int]
) -> tuple[list[int], list[str], list[int], list[int]]:
    """The cells of ``rows``, in order, that `_CELL` matches whole: each one's row, the
    cell, and where its name (group 1) starts and ends in it (four lists: a tuple each
    would be tracked by the garbage collector).  Found in C where built (a 15,070-row
    table has 120,000 cells, 15,000 of them names)."""
    if name_cells is None:
        return _name_cells_py(units, rows)
    cells, row_of, spans = name_cells(
        units,
        np.array(rows, dtype=np.int64).tobytes(),
        SURNAMES,
        DOUBLE_SURNAMES,
        _SHORTEST_CELL,
        _LONGEST_CELL,
    )
    bounds = np.frombuffer(spans, dtype=np.int64)
    return (
        np.frombuffer(row_of, dtype=np.int64).tolist(),
        cells,
        bounds[0::2].tolist(),
        bounds[1::2].tolist(),
    )


def _name_cells_py(
    units: Sequence[TextUnit], rows: list[int]
) -> tuple[list[int], list[str], list[int], list[int]]:
    """`_name_cells` with `_CELL`, when the extension is not built (a test compares)."""
    row_of: list[int] = []
    cells: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for u in rows:
        for cell in units[u].cells or ():
            if not _SHORTEST_CELL <= len(cell) <= _LONGEST_CELL:
                continue
            match = _CELL.fullmatch(cell)
            if match is not None:
                row_of.append(u)
                cells.append(cell)
                starts.append(match.start(1))
                ends.append(match.end(1))
    return row_of, cells, starts, ends
