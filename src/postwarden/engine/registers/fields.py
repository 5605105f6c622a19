"""The register fields, one entry each: the one table that importing, hashing, matching,
incident facts and report wording read (docs/registers.md, "Adding a register field").

A *column field* is what a register file's column may be mapped to (``--map COLUMN=FIELD``).
Most hash into one :class:`~postwarden.engine.registers.normalise.Field` (the hash domain,
whose numbers are stored in every index and never change); ``name`` and ``address`` hold
either script, row by row, and hash into their Chinese or English field; ``id`` and
``status`` are kept as they are and never hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from postwarden.engine.registers.normalise import (
    Field,
    address_en,
    address_zh,
    dob,
    email,
    hkid,
    name_en,
    name_zh,
    phone,
)

__all__ = [
    "DETECTOR_FIELDS",
    "FACTS",
    "FIELDS",
    "FIELD_SPECS",
    "NORMALISERS",
    "PERSONAL_FIELDS",
    "SPECS",
    "UNIQUE_FIELDS",
    "FieldSpec",
]

Risk = Literal["identity", "name", "contact", ""]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One column field of a register."""

    name: str
    """What ``--map COLUMN=NAME`` and the register's field counts call it."""
    headings: tuple[str, ...]
    """Column headings that name it, compared after folding (``E-mail`` → ``email``)."""
    label: tuple[str, str] | None = None
    """How the people it belongs to and the regulator read it: (English, Chinese)."""
    hashed: Field | None = None
    """The hash domain its values go into (``None``: not hashed, or ``either``)."""
    normalise: Callable[[str], str | None] | None = None
    """Its canonical form: the same function runs at import and on message text."""
    either: tuple[Field, Field] | None = None
    """(Chinese, English) fields of a column of either script, chosen per value."""
    unique: bool = False
    """Identifies one person on its own (design.md: a name alone never counts)."""
    fact: str = ""
    """What it says about a person: fields of one fact (a name in two scripts) count once
    towards the two different facts that make a record present."""
    detector: str | None = None
    """The detector whose findings' values are looked up as this field."""
    risk: Risk = ""
    """Its weight in the incident report's risk: an identity document, a name, a contact."""


FIELD_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "id",
        headings=(
            "id",
            "recordid",
            "ref",
            "refno",
            "reference",
            "referenceno",
            "no",
            "number",
            "編號",
            "記錄編號",
            "參考編號",
            "檔案編號",
            "序號",
        ),
    ),
    FieldSpec(
        "name",
        headings=(
            "name",
            "fullname",
            "姓名",
            "名稱",
            "全名",
        ),
        label=("name", "姓名"),
        either=(Field.NAME_ZH, Field.NAME_EN),
        risk="name",
    ),
    FieldSpec(
        "name_en",
        headings=(
            "nameen",
            "englishname",
            "nameenglish",
            "nameinenglish",
            "英文姓名",
            "英文名",
            "英文名稱",
            "姓名英文",
        ),
        label=("name", "姓名"),
        hashed=Field.NAME_EN,
        normalise=name_en,
        fact="name",
        detector="name_en",
        risk="name",
    ),
    FieldSpec(
        "name_zh",
        headings=(
            "namezh",
            "chinesename",
            "namechinese",
            "nameinchinese",
            "中文姓名",
            "中文名",
            "中文名稱",
            "姓名中文",
        ),
        label=("name", "姓名"),
        hashed=Field.NAME_ZH,
        normalise=name_zh,
        fact="name",
        detector="name_zh",
        risk="name",
    ),
    FieldSpec(
        "hkid",
        headings=(
            "hkid",
            "hkidno",
            "hkidnumber",
            "hkic",
            "hkicno",
            "idcard",
            "idcardno",
            "identitycard",
            "identitycardno",
            "identitycardnumber",
            "身份證",
            "身份證號碼",
            "身分證號碼",
            "香港身份證號碼",
            "身份證號",
        ),
        label=("Hong Kong identity card number", "香港身份證號碼"),
        hashed=Field.HKID,
        normalise=hkid,
        unique=True,
        fact="hkid",
        detector="hkid",
        risk="identity",
    ),
    FieldSpec(
        "address",
        headings=(
            "address",
            "residentialaddress",
            "homeaddress",
            "地址",
            "住址",
            "住宅地址",
        ),
        label=("residential address", "住址"),
        either=(Field.ADDRESS_ZH, Field.ADDRESS_EN),
        risk="contact",
    ),
    FieldSpec(
        "address_en",
        headings=(
            "addressen",
            "englishaddress",
            "addressenglish",
            "addressinenglish",
            "英文地址",
            "地址英文",
        ),
        label=("residential address", "住址"),
        hashed=Field.ADDRESS_EN,
        normalise=address_en,
        fact="address",
        detector="address_en",
        risk="contact",
    ),
    FieldSpec(
        "address_zh",
        headings=(
            "addresszh",
            "chineseaddress",
            "addresschinese",
            "addressinchinese",
            "中文地址",
            "地址中文",
        ),
        label=("residential address", "住址"),
        hashed=Field.ADDRESS_ZH,
        normalise=address_zh,
        fact="address",
        detector="address_zh",
        risk="contact",
    ),
    FieldSpec(
        "phone",
        headings=(
            "phone",
            "phoneno",
            "phonenumber",
            "tel",
            "telno",
            "telephone",
            "telephoneno",
            "mobile",
            "mobileno",
            "contactnumber",
            "contactno",
            "電話",
            "電話號碼",
            "手提電話",
            "聯絡電話",
            "手機",
            "手機號碼",
        ),
        label=("telephone number", "電話號碼"),
        hashed=Field.PHONE,
        normalise=phone,
        unique=True,
        fact="phone",
        detector="phone",
        risk="contact",
    ),
    FieldSpec(
        "email",
        headings=(
            "email",
            "emailaddress",
            "mail",
            "電郵",
            "電郵地址",
            "電子郵件",
            "電子郵箱",
        ),
        label=("email address", "電郵地址"),
        hashed=Field.EMAIL,
        normalise=email,
        unique=True,
        fact="email",
        detector="email",
        risk="contact",
    ),
    FieldSpec(
        "dob",
        headings=(
            "dob",
            "dateofbirth",
            "birthdate",
            "birthday",
            "出生日期",
            "生日",
        ),
        label=("date of birth", "出生日期"),
        hashed=Field.DOB,
        normalise=dob,
        fact="dob",
        detector="dob",
        risk="identity",
    ),
    FieldSpec(
        "status",
        headings=(
            "status",
            "recordstatus",
            "狀態",
            "狀況",
        ),
        label=("status in our records", "紀錄狀況"),
    ),
)
"""Every column field, in the order reports and letters list them."""

SPECS: Mapping[str, FieldSpec] = {spec.name: spec for spec in FIELD_SPECS}
FIELDS: tuple[str, ...] = tuple(SPECS)
"""The fields a register column can map to (design.md, ``register import --map``)."""
PERSONAL_FIELDS = frozenset(s.name for s in FIELD_SPECS if s.hashed or s.either)
"""Column fields that are personal data to match on (not ``id`` or ``status``)."""

_HASHED = {spec.hashed: spec for spec in FIELD_SPECS if spec.hashed is not None}
NORMALISERS: Mapping[Field, Callable[[str], str | None]] = {
    f: n for f, s in _HASHED.items() if (n := s.normalise) is not None
}
UNIQUE_FIELDS = frozenset(f for f, s in _HASHED.items() if s.unique)
"""Fields that identify one person on their own."""
_FACT_NUMBERS = {fact: i for i, fact in enumerate(dict.fromkeys(_HASHED[f].fact for f in Field))}
FACTS: Mapping[Field, int] = {f: _FACT_NUMBERS[_HASHED[f].fact] for f in Field}
"""Each hashed field's fact, numbered: a name in English and in Chinese is one fact (the
name), so it takes two *different* facts to make a record present — else every namesake
(and every household member, for an address in two scripts) would count."""
DETECTOR_FIELDS: Mapping[str, Field] = {
    s.detector: f for f, s in _HASHED.items() if s.detector is not None
}
"""Detector ids whose spans are looked up, and the field each one's value is."""
