"""Scanning many units in one pass: offsets map back to each unit, nothing crosses units."""

from __future__ import annotations

from postwarden.engine.detect import default_detectors
from postwarden.model import TextUnit


def test_detectorset_offsets_map_back_into_each_unit() -> None:
    units = [
        TextUnit("Tel: 9123 4567", "body"),
        TextUnit("姓名：陳大文，電話 6123 4567，電郵 tai.man@example.com", "attachment:a.docx"),
        TextUnit("", "empty"),
        TextUnit("沒有個人資料的一段中文。" * 50, "page 2"),
        TextUnit("身份證：Ａ１２３４５６（３） 及 A123456(3)", "attachment:b.pdf#page 3"),
        TextUnit(
            "陳小明\tCHAN Siu Ming\t9876 5432",
            "attachment:c.xlsx#Sheet1!R2",
            ("陳小明", "CHAN Siu Ming", "9876 5432"),
        ),
        TextUnit("Flat A, 12/F, Block 3, Kwong Fuk Estate, Tai Po, N.T. 2123 4567", "body#2"),
    ]
    by_where = {u.where: u for u in units}
    findings = default_detectors().scan(units)
    got = {(f.where, f.detector, f.value) for f in findings}
    for f in findings:
        assert by_where[f.where].text[f.start : f.end] == f.value
    assert got >= {
        ("body", "phone", "9123 4567"),
        ("attachment:a.docx", "name_zh", "陳大文"),
        ("attachment:a.docx", "phone", "6123 4567"),
        ("attachment:a.docx", "email", "tai.man@example.com"),
        ("attachment:b.pdf#page 3", "hkid", "Ａ１２３４５６（３）"),
        ("attachment:b.pdf#page 3", "hkid", "A123456(3)"),
        ("attachment:c.xlsx#Sheet1!R2", "name_zh", "陳小明"),
        ("attachment:c.xlsx#Sheet1!R2", "name_en", "CHAN Siu Ming"),
        ("attachment:c.xlsx#Sheet1!R2", "phone", "9876 5432"),
        ("body#2", "phone", "2123 4567"),
    }
    assert not any(f.where in ("empty", "page 2") for f in findings)


def test_detectorset_matches_do_not_cross_units() -> None:
    units = [TextUnit("Tel: 9123", "a"), TextUnit("4567 is half a number", "b")]
    assert default_detectors().scan(units) == []


def test_detectorset_same_findings_alone_and_together() -> None:
    texts = ["電話 9123 4567", "陳大文先生 A123456(3)", "mail: x@example.org", "DOB 1990-01-02"]
    units = [TextUnit(t, f"u{i}") for i, t in enumerate(texts)]
    together = default_detectors().scan(units)
    alone = [f for u in units for f in default_detectors().scan([u])]
    assert together == alone
    assert len(together) == 5


def test_detectorset_survives_lone_surrogates() -> None:
    # Text decoded with surrogateescape (undecodable mail bytes) must not break the pass.
    text = "bad \udcff byte, Tel: 9123 4567"
    findings = default_detectors().scan([TextUnit(text, "body")])
    assert [(f.value, text[f.start : f.end]) for f in findings] == [("9123 4567", "9123 4567")]
