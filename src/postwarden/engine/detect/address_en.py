"""Hong Kong addresses in English: flat, floor, block, building, street, district, region."""

from __future__ import annotations

import re
from typing import ClassVar

from postwarden.engine.detect.base import ClusterDetector, Pattern

__all__ = ["AddressEnDetector"]

DISTRICTS = (
    "Central and Western",
    "Central",
    "Sheung Wan",
    "Sai Ying Pun",
    "Kennedy Town",
    "Mid-Levels",
    "The Peak",
    "Wan Chai",
    "Causeway Bay",
    "Happy Valley",
    "Tai Hang",
    "Eastern",
    "North Point",
    "Quarry Bay",
    "Tai Koo",
    "Shau Kei Wan",
    "Chai Wan",
    "Siu Sai Wan",
    "Southern",
    "Aberdeen",
    "Ap Lei Chau",
    "Pok Fu Lam",
    "Stanley",
    "Repulse Bay",
    "Wong Chuk Hang",
    "Yau Tsim Mong",
    "Tsim Sha Tsui",
    "Jordan",
    "Yau Ma Tei",
    "Mong Kok",
    "Tai Kok Tsui",
    "Sham Shui Po",
    "Cheung Sha Wan",
    "Lai Chi Kok",
    "Shek Kip Mei",
    "Kowloon City",
    "Kowloon Tong",
    "Ho Man Tin",
    "Hung Hom",
    "To Kwa Wan",
    "Ma Tau Wai",
    "Kai Tak",
    "Wong Tai Sin",
    "Diamond Hill",
    "Lok Fu",
    "Tsz Wan Shan",
    "San Po Kong",
    "Kwun Tong",
    "Ngau Tau Kok",
    "Kowloon Bay",
    "Lam Tin",
    "Yau Tong",
    "Sau Mau Ping",
    "Tsuen Wan",
    "Kwai Tsing",
    "Kwai Chung",
    "Kwai Fong",
    "Tsing Yi",
    "Tuen Mun",
    "Yuen Long",
    "Tin Shui Wai",
    "North District",
    "Sheung Shui",
    "Fanling",
    "Tai Po",
    "Sai Kung",
    "Tseung Kwan O",
    "Sha Tin",
    "Tai Wai",
    "Ma On Shan",
    "Fo Tan",
    "Islands",
    "Tung Chung",
    "Lantau",
    "Cheung Chau",
    "Discovery Bay",
    "Lamma Island",
)
_DISTRICT = (
    "(?:"
    + "|".join(sorted({d for x in DISTRICTS for d in (x, x.upper())}, key=lambda d: (-len(d), d)))
    + ")"
)
# A capitalised word, possessive too (Queen's Road East).
_CAP = r"(?:[A-Z][a-z]+(?:['’]s)?|[A-Z]{2,}|\d{1,4}[A-Z]?)"
_BUILDING = (
    "Building|Bldg|Mansion|Mansions|Court|Estate|Garden|Gardens|Centre|Center|Plaza|Tower|Towers"
    "|House|Villa|Villas|Terrace|Heights|Lodge|Apartments|Residence|Court|Industrial Building"
)
_STREET = "Road|Rd|Street|St|Avenue|Ave|Path|Lane|Drive|Crescent|Boulevard|Circuit|Highway|Square"
_STREET_NUMBER = re.compile(
    rf"\b\d{{1,4}}[A-Z]?(?:-\d{{1,4}}[A-Z]?)?,? (?:[A-Z][a-z]+(?:['’]s)? |[A-Z]{{2,}} ){{0,3}}"
    rf"(?:{_STREET})\b"
)


class AddressEnDetector(ClusterDetector):
    """Three or more address parts of different kinds close together."""

    id = "address_en"
    specific_kinds = frozenset({"flat", "floor", "block"})

    def _enough(self, kinds: set[str], text: str, start: int, end: int) -> bool:
        # A street with its number is two parts, so "71 Kai Tin Road, Lam Tin" (a number,
        # a street, a district) is an address as "Flat A, 12/F, Lam Tin" is (issue 11).
        if super()._enough(kinds, text, start, end):
            return True
        return self._numbered_street(kinds) and _STREET_NUMBER.search(text, start, end) is not None

    def _may_suffice(self, kinds: set[str]) -> bool:
        return super()._may_suffice(kinds) or self._numbered_street(kinds)

    def _numbered_street(self, kinds: set[str]) -> bool:
        """Enough kinds should the street have its number."""
        return "street" in kinds and len(kinds) + 1 >= self.min_kinds

    def _specific(self, text: str, start: int, end: int) -> bool:
        # A street number (2 Tim Mei Avenue): found here, on clusters only, since a pattern
        # starting at every digit slowed the shared pass.
        return _STREET_NUMBER.search(text, start, end) is not None

    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern(
            "flat",
            r"\b(?:Flat|Rm|Room|Unit|Suite|Shop)\.? ?[A-Z0-9]{1,4}(?:-[A-Z0-9]{1,4})?\b",
            caseless=True,
        ),
        Pattern(
            "floor",
            r"\b(?:\d{1,3}|G|LG|UG|M)/F\b|\b\d{1,3}(?:st|nd|rd|th) Floor\b"
            r"|\bGround Floor\b",
            caseless=True,
        ),
        Pattern("block", r"\b(?:Block|Blk|Tower|Phase|Wing)\.? ?[A-Z0-9]{1,3}\b", caseless=True),
        Pattern("building", rf"\b(?:{_CAP} ){{1,3}}(?:{_BUILDING})\b"),
        Pattern("street", rf"\b(?:{_CAP} ){{1,4}}(?:{_STREET})\b"),
        Pattern("district", rf"\b{_DISTRICT}\b"),
        Pattern(
            "region",
            r"\b(?:Hong Kong|HONG KONG|Kowloon|KOWLOON|New Territories"
            r"|NEW TERRITORIES|HK|KLN|Kln|NT)\b|\b(?:H\.K\.|N\.T\.)",
        ),
    )
