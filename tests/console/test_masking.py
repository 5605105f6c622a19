"""Masking: values a reviewer sees, and excerpts that never show a value in clear."""

from __future__ import annotations

import pytest

from postwarden.console.masking import excerpts, mask
from postwarden.model import Finding, TextUnit


@pytest.mark.parametrize(
    ("value", "detector", "shown"),
    [
        ("A123456(7)", "hkid", "A123***(7)"),
        ("A1234567", "hkid", "A123***(7)"),
        ("AB987654(3)", "hkid", "AB987***(3)"),
        ("a123456(a)", "hkid", "A123***(A)"),
        ("CHAN Tai Man", "name_en", "CHAN T** M**"),
        ("Wong Siu-ming", "name_en", "Wong S**"),
        ("陳大文", "name_zh", "陳**"),
        ("chan.taiman@gmail.com", "email", "c***@gmail.com"),
        ("9123 4567", "phone", "9123 ****"),
        ("+852 9123 4567", "phone", "+852 9***-****".replace("-", " ")),
        ("Flat 3, 12 Nathan Road", "address_en", "Flat 3, 1* N** R**"),
    ],
)
def test_mask_shows_only_a_prefix(value: str, detector: str, shown: str) -> None:
    assert mask(value, detector) == shown


def test_mask_never_returns_the_value() -> None:
    for value in ("A123456(7)", "CHAN Tai Man", "陳大文", "x@y.example", "91234567", "secret"):
        assert mask(value) != value


def test_excerpts_mask_every_finding_in_the_window() -> None:
    text = "Name CHAN Tai Man, HKID A123456(7), phone 9123 4567, account 1234567890."
    findings = [
        Finding("name_en", "body", "CHAN Tai Man", 5, 17),
        Finding("hkid", "body", "A123456(7)", 24, 34),
    ]
    [only] = excerpts(findings, [TextUnit(text, "body")])
    shown = "".join(s.text for s in only.segments)
    assert "CHAN T** M**" in shown
    assert "A123***(7)" in shown
    assert "A123456" not in shown
    assert "Tai Man" not in shown
    assert "1234567890" not in shown  # long digit runs in the context are masked too
    assert [s.detector for s in only.segments if s.detector] == ["name_en", "hkid"]
    assert only.detector == "name_en, hkid"


def test_excerpts_far_apart_findings_get_one_excerpt_each() -> None:
    text = "A123456(7)" + " filler" * 40 + " B987654(3)"
    second = text.index("B987654(3)")
    findings = [
        Finding("hkid", "body", "A123456(7)", 0, 10),
        Finding("hkid", "body", "B987654(3)", second, second + 10),
    ]
    first_excerpt, second_excerpt = excerpts(findings, [TextUnit(text, "body")])
    assert "A123***(7)" in "".join(s.text for s in first_excerpt.segments)
    assert "B987***(3)" in "".join(s.text for s in second_excerpt.segments)


def test_excerpts_reveal_shows_clear_values() -> None:
    text = "HKID A123456(7) attached"
    findings = [Finding("hkid", "attachment:a.csv#R2", "A123456(7)", 5, 15)]
    [only] = excerpts(findings, [TextUnit(text, "attachment:a.csv#R2")], reveal=True)
    assert "".join(s.text for s in only.segments) == text


def test_excerpts_without_text_unit_show_masked_value_alone() -> None:
    [only] = excerpts([Finding("hkid", "header:subject", "A123456(7)", 0, 10)], [])
    assert [s.text for s in only.segments] == ["A123***(7)"]


def test_excerpts_long_unit_is_cut_around_the_finding() -> None:
    text = "x" * 500 + " A123456(7) " + "y" * 500
    start = text.index("A123456(7)")
    [only] = excerpts(
        [Finding("hkid", "body", "A123456(7)", start, start + 10)], [TextUnit(text, "body")]
    )
    assert only.segments[0].text == "…"
    assert only.segments[-1].text == "…"
    assert sum(len(s.text) for s in only.segments) < 120
