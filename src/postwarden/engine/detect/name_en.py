"""English names in Hong Kong style: a romanised surname with Cantonese given syllables."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from postwarden.engine.detect.base import (
    Candidate,
    HitBatch,
    Pattern,
    PatternDetector,
    judged,
    make_candidate,
)
from postwarden.model import TextUnit

__all__ = ["NameEnDetector"]

SURNAMES = tuple(
    """Chan Wong Lee Li Cheung Lau Ng Ho Lam Leung Tsang Yeung Chow Tang Choi Chu Lo Yip Tse
    Kwok Lai Mak Fung Siu Kwan Chiu Yuen Tam Poon Ching Cheng Ma Ko Yu Wu Luk Lui Kong Tsui Wan
    Yau Hui Hung Fan Liu Chung Cheuk Mok Shum Szeto Au Auyeung Shek Yim Yung Lok Tong Tsoi Choy
    Chong Kan Ku Woo Hau Hon Pang Pun Wai Yan Yee Yiu Fok Ngai Ngan Law Low Mui Chiang Sin Suen
    Sung Tso Tung Chai Chui Koo Sze Kam Keung Kwong Leong Lim Lin Ling Lung Man Mo Ngo Ou Pak
    Poon Sham Shiu Sit Sum Tai Tin Ting To So Tsai Tsang Tsun Wat Wing Yam Yuen Yim Yue Chau
    Chik Ip Kei Kot Kuk Kwong Lai Leung Liang Lui Mau Ngau Wun Yeung Chin Chen Huang Zhang Wang
    Zhou Xu Zhao Guo Luo Liang Zheng Xie Tang Feng Xiao Tien Yick Liao Fang Kwong Leong Chen
    Tsoi Lui Kei Ying Chiu Hsu Koon Lun Sze Tsui Kung Chen Ngok Tiu Lum Cheang""".split()
)
GIVEN = tuple(
    """Tai Man Siu Ming Ka Wai Kwok Chi Yuk Kin Hung Wing Yee Mei Fung Ling Lai Kit Ho Kwan Sze
    Shan Wah Yan Yin Lok Hoi Pui Ying Yiu Chun Chung Fai Keung Kwong Hang Hon Hei Hin Tsz Sum
    Suet Sau Shing Sing Tak Tat Ting Tin Tung Wan Wun Yau Yat Yeung Yip Yu Yue Yuen Yung Ngai
    Ngan Oi On Pak Po Pong King Kai Kam Kei Kuen Kwai Lam Lun Mo Mui Nam Nga Ngo Cheuk Ching
    Chiu Choi Chuen Fat Fong Fook Hau Hiu Hok Hou Kan Kwun Lap Leung Lik Lin Long Lung Mau Miu
    Mun Ngok Sai Sam Sang Sek Shek Sheung Shu Shuk Sin Sui Sun Tim Tsan Tse Tsun Wa Wang Wo
    Yam Yi Yim Yuet Cheong Kiu Kong Kuk Fan Chak Chin Choy Hing Hoo Yee Wai Kei Lei Pik Pui
    Shun Tze Wong Yeuk Chau Cheung Hei Hiu Kun Man Mang Nok Pan Piu Tao Tong Yung Ying
    Ki San Yok Kok Kah Por Che Him Si Kee Pei Puk Han Ion Jick Fun Suk Kang Hak Lau Lok Sai
    Chee Kee Keng Koon Kui Lui Nin Ping Shiu Shui Siu Suen Sze Tsuen Wun Yeen Yuk""".split()
)
# Places and streets whose names are surname + syllables (Wong Tai Sin is a district).
PLACES = tuple(
    p.lower()
    for p in (
        "Wong Tai Sin",
        "Ho Man Tin",
        "Lam Tin",
        "Tseung Kwan O",
        "Ma On Shan",
        "To Kwa Wan",
        "Ma Tau Wai",
        "Ma Tau Kok",
        "Lai Chi Kok",
        "Cheung Sha Wan",
        "Kwai Chung",
        "Kwai Fong",
        "Lok Fu",
        "Tsz Wan Shan",
        "Choi Hung",
        "Yau Ma Tei",
        "Yau Tong",
        "Yuen Long",
        "Tai Wai",
        "Tai Po",
        "Tai Koo",
        "Tin Shui Wai",
        "Wong Chuk Hang",
        "Siu Sai Wan",
        "Siu Lek Yuen",
        "Chai Wan",
        "Wan Chai",
        "Sham Shui Po",
        "Shek Kip Mei",
        "Lai King",
        "Kwun Tong",
        "Tung Chung",
        "Fo Tan",
        "Sai Kung",
        "Sai Wan Ho",
        "Sai Ying Pun",
        "Sai Tso Wan",
        "Shau Kei Wan",
        "Ho Chung",
        "Wong Tai Sin Temple",
        "Lee Tung",
        "Lee Garden",
        "Lee Gardens",
        "Man Lee",
        "Pak Tin",
        "Yau Yat Chuen",
        "Lam Tsuen",
        "Kam Tin",
        "Ngau Tau Kok",
        "Lei Tung",
        "So Uk",
        "Sheung Wan",
        "Sheung Shui",
        "Tai Hang",
        "Tai Tam",
        "Ting Kau",
        "Tsing Yi",
        "Kowloon Tong",
        "Hang Seng",
        "Wing Lung",
        "Kwong Wah",
        "Tung Wah",
        "Pok Fu Lam",
        "Chung Hom Kok",
        "Ap Lei Chau",
        "Lo Wu",
        "Hong Kong",
        "Sha Tin",
        "Tsuen Wan",
        "Tuen Mun",
        "Mong Kok",
        "Lok Ma Chau",
        "Fanling",
        "Tin Hau",
        "Fortress Hill",
    )
)
# Places are matched in the shared pass too, only to veto names overlapping them: part of
# such a "name" is really the place.
_PLACE = Pattern(
    "place",
    r"\b(?:" + "|".join(sorted(PLACES, key=len, reverse=True)) + r")\b",
    caseless=True,
    veto=True,
)
# Capitalised words that stand before a surname without being an English given name.
_NOT_GIVEN = frozenset(
    """Dear Attn Attention From Sent Hello Hi The Thanks Regards Best Mrs Miss Madam Sir Doctor
    Professor Prof Manager Officer Director Chairman Applicant Client Customer Patient Student
    Name Signed Prepared Approved Checked Cc To Per Via With And Ask Call Contact Our
    Your""".split()
)
# Words that say the next capitalised words are a person (issue 11: Western given names
# with a HK surname, "Peter Chan", are names when the text says so): titles, a salutation,
# a signature's closing line.
_TITLES = (
    r"(?:Mr|Mrs|Ms|Miss|Mdm|Madam|Dr|Prof|Professor|Sir|Dame|Rev|Hon|Dear"
    r"|MR|MRS|MS|MISS|MDM|DR|PROF|HONOURABLE|Honourable|DEAR)\.?,? +"
)
_CLOSINGS = (
    r"(?:(?:Best |Kind |Warm |With best )?[Rr]egards|Yours (?:sincerely|faithfully|truly)"
    r"|Sincerely|Thanks|Thank you|Many thanks|Cheers|Best wishes|Best)[,.!]? *\r?\n *"
)
# A name's word: Capitalised, ALL CAPS, an initial, or hyphenated syllables (Kwok-ki).
_WORD = r"(?:(?:Mc|Mac|O')?[A-Z][a-z]+(?:-[A-Za-z][a-z]+)?|[A-Z]{2,}(?:-[A-Z]{2,})?|[A-Z]\.?)"
# Capitalised words that end a name run (the rest is not the name).
_NOT_NAME = frozenset(
    """The THE And AND Of OF For FOR In IN On ON At AT To TO From FROM With WITH By BY Is Was
    Are Will Would Has Have Had May Can Please Thanks Thank Regards JP GBS SBS BBS MH SC
    PRESIDENT SECRETARY CHAIRMAN Hong Kong HONG KONG Limited Ltd Company Co Department
    Office Bureau Council Committee Team Sir Madam All I We You He She It They This That
    Mr Mrs Ms Miss Dr Prof MR MRS MS MISS DR PROF HONOURABLE Honourable THE Reader Readers
    Friend Friends Colleague Colleagues Customer Customers Member Members Subscriber
    Subscribers Valued Sirs Everyone Folks Guys Team Staff Students Parents""".split()
)

# A name followed by one of these is a street, building, firm or institution.
# Repeated in _hsscan.c (verdict_place_after): a change here goes there too
# (tests/engine/detect/test_verdicts.py compares them).
_PLACE_WORDS = re.compile(  # used with match(), so anchored
    r"[ ,]*(?:Road|Rd|Street|St|Avenue|Ave|Lane|Path|Drive|Terrace|Building|Bldg|Estate|Court|"
    r"Garden|Gardens|Centre|Center|Plaza|Tower|House|Mansion|Villa|Station|Bank|Company|Co|Ltd|"
    r"Limited|Hospital|School|College|Temple|Village|Park|Square|Hall|Industrial|Commercial|"
    r"Market|Bay|Hill|Bus|Stadium|Library|Church|Kindergarten|Primary|Secondary|Memorial|"
    r"Holdings|Group|Restaurant|Theatre|Cinema|Street|Wan|Chuen|Tsuen|Village)\b"
)

# How the compiled checks know the patterns: 0 those invalidate only looks after, 1 the one
# whose first word it looks up too (titled and signed are narrowed: never judged).
_JUDGED_KINDS = {
    "upper_first": 0,
    "upper_last": 0,
    "title_first": 0,
    "title_last": 0,
    "all_upper": 0,
    "english_upper": 1,
}


def _alt(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(sorted(set(words), key=lambda w: (-len(w), w))) + ")"


_SU = _alt(tuple(s.upper() for s in SURNAMES))
_ST = _alt(SURNAMES)
_G = _alt(GIVEN)
_GL = _alt(tuple(g.lower() for g in GIVEN))
_GU = _alt(tuple(g.upper() for g in GIVEN))
# After an English given name, two-letter surnames (HO, NG, IP, TO, SO) read as acronyms
# or shouting too often; those need a title or a syllable (the other patterns).
_SU3 = _alt(tuple(s.upper() for s in SURNAMES if len(s) > 2))
_GIVEN2 = rf"{_G}(?:[ -]{_G}|-{_GL})"  # Tai Man, Tai-Man, Tai-man
_GIVEN12 = rf"{_G}(?:[ -]{_G}|-{_GL})?"


class NameEnDetector(PatternDetector):
    """``CHAN Tai Man``, ``Tai Man CHAN``, ``Chan Tai-man``, ``CHAN, Tai Man``, ``CHAN TAI MAN``."""

    id = "name_en"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern("upper_first", rf"\b{_SU},? {_GIVEN12}\b", 0.7),
        Pattern("upper_last", rf"\b{_GIVEN12} {_SU}\b", 0.7),
        Pattern("title_first", rf"\b{_ST},? {_GIVEN2}\b", 0.6),
        Pattern("title_last", rf"\b{_GIVEN2} {_ST}\b", 0.55),
        Pattern("all_upper", rf"\b{_SU},? {_GU}[ -]{_GU}\b", 0.6),
        Pattern("english_upper", rf"\b[A-Z][a-z]{{2,12}} {_SU3}\b", 0.5),
        # Only the cue and the first word in the shared pass (the words after it are read in
        # narrow(): repeated words in one expression cost seconds of hyperscan compilation).
        Pattern("titled", rf"\b{_TITLES}{_WORD}", 0.6),
        Pattern("signed", rf"\b{_CLOSINGS}{_WORD}", 0.55),
        _PLACE,
    )
    context = (
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "name",
        "applicant",
        "client",
        "patient",
        "student",
        "customer",
        "recipient",
        "dear",
        "attn",
        "contact person",
    )
    context_window = 20
    context_boost = 0.25

    narrowed = frozenset({"titled", "signed"})

    def narrow(self, candidate: Candidate) -> Candidate | None:
        return _person(candidate)

    compiled_checks = (2, _JUDGED_KINDS)  # what judge asks of judged: one call settles

    def judge(self, units: Sequence[TextUnit], hits: HitBatch) -> bytes | None:
        # The place words after a name in C (a register has a name a row), unless a subclass
        # changed the checks; english_upper's first word is looked up by the hooks.
        return judged(self, NameEnDetector, 2, units, hits, _JUDGED_KINDS)

    def invalidate(self, candidate: Candidate) -> bool:
        if (
            candidate.pattern.name == "english_upper"
            and candidate.text.split(" ", 1)[0] in _NOT_GIVEN
        ):
            return True
        end = candidate.end
        return _PLACE_WORDS.match(candidate.unit.text, end, end + 14) is not None


_TITLE_PREFIX = re.compile(rf"(?:{_TITLES}|(?:THE|The) +)+|{_CLOSINGS}")
_NAME_WORD = re.compile(_WORD)
_SURNAME_WORDS = frozenset(w.upper() for w in SURNAMES)
_GAP = re.compile(",? ")


def _person(candidate: Candidate) -> Candidate | None:
    """The name after a title or a closing line: its words up to the first that is not one.

    A name here is two or more words, or one known surname (Mr Chan); one other word
    (Dear John, Regards, Team) is not enough to be told from a word.
    """
    # The cue and up to five words of the unit's text after it.
    text = candidate.unit.text[candidate.start : candidate.end + 80]
    lead = _TITLE_PREFIX.match(text)
    position = lead.end() if lead else 0
    words: list[tuple[int, int]] = []
    while len(words) < 5:
        match = _NAME_WORD.match(text, position)
        if match is None or match.group() in _NOT_NAME:
            break
        if len(match.group().rstrip(".")) == 1 and (
            text[position - 1 : position] == " " and words and text[position - 2] == ","
        ):
            break  # ", G.B.S.": post-nominal letters after the name
        words.append(match.span())
        position = match.end()
        gap = _GAP.match(text, position)
        if gap is None:
            break
        # "CHU Man Ling, Cathy": an English name after a comma only follows a surname in
        # capitals, as in a directory; "Dear Reader, As" is not one name.
        if gap.group().startswith(",") and not any(
            text[s:e].isupper() and len(text[s:e]) > 1 for s, e in words
        ):
            break
        position = gap.end()
    if not words:
        return None
    if len(words) == 1:
        word = text[words[0][0] : words[0][1]]
        if word.upper() not in _SURNAME_WORDS:
            return None
    start = candidate.start + words[0][0]
    end = candidate.start + words[-1][1]
    return make_candidate(candidate.unit, start, end, candidate.pattern, candidate.has_context)
