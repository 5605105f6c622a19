"""`_hsscan.plain_prolog` (an office XML part's prolog checked without a parser, used by
office._check) against defusedxml's parser stopped at the root element, as `_check` runs it:
where the fast path passes a first chunk, the parser must pass it too (no DTD, nothing
refused up to the root's start tag); the XML parts of every office file of the tests, every
one-byte edit of the prologs of a few, and hand-made forms at each edge of the plain one."""

from __future__ import annotations

import random

import pytest
from defusedxml.ElementTree import DefusedXMLParser
from tests.engine.extract.office_parts import MARKUP, one_byte_edits, xml_parts

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import office
from postwarden.engine.extract.budget import Uninspectable


def _refused(chunk: bytes) -> bool:
    """Whether `_check`'s parser refuses a part whose first chunk is ``chunk``."""
    try:
        office._feed(DefusedXMLParser(target=office._Target(), forbid_dtd=True), chunk, "x")
    except Uninspectable:
        return True
    return False


def _differs(chunk: bytes) -> bool:
    return _hsscan.plain_prolog(chunk) and _refused(chunk)


def _prolog(part: bytes) -> bytes:
    """A part up to a little past its root's start tag."""
    root = part.find(b"<", part.find(b"?>") + 1)
    return part[: part.find(b">", root) + 40]


def test_every_xml_part_of_the_tests_is_checked_the_same() -> None:
    parts = xml_parts()
    passed = [part for part in parts if _hsscan.plain_prolog(part)]
    assert len(passed) > 100
    assert [part[:200] for part in parts if _differs(part)] == []
    assert [part[:200] for part in parts if _differs(_prolog(part))] == []


@pytest.mark.slow
def test_one_byte_edits_are_checked_the_same() -> None:
    rng = random.Random(14)
    passed = differ = 0
    prologs = list(dict.fromkeys(_prolog(part) for part in xml_parts()))
    prologs = [p for p in prologs if _hsscan.plain_prolog(p) and len(p) <= 3000]
    for prolog in rng.sample(prologs, min(len(prologs), 12)):
        for edited in one_byte_edits(
            prolog, rng, MARKUP + "!?", b" \"'=\t\r\n</>&x:;!?\x00\xc3\xa0}"
        ):
            if _hsscan.plain_prolog(edited):
                passed += 1
                differ += _refused(edited)
    assert passed > 5_000
    assert differ == 0


_DECLARATION = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\r\n"
_W = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_ROOT = b'<w:document xmlns:w="%s" xmlns:r="urn:r" r:x="1" xml:space="preserve">' % _W


@pytest.mark.parametrize(
    "chunk",
    [
        _DECLARATION + _ROOT + b"<w:body/>",
        _ROOT,
        b" \r\n\t" + _ROOT,
        _DECLARATION + b'<!DOCTYPE w [<!ENTITY e "x">]>' + _ROOT,
        _DECLARATION + b"<!DOCTYPE w>" + _ROOT,
        _DECLARATION + b"<!-- c -->" + _ROOT,
        _DECLARATION + b"<?pi x?>" + _ROOT,
        b" " + _DECLARATION + _ROOT,
        b"\xef\xbb\xbf" + _DECLARATION + _ROOT,
        b"<?xml version='1.0' encoding='UTF-16'?>" + _ROOT,
        b"<?xml version='1.0' encoding='latin-1'?>" + _ROOT,
        b"<?xml version='1.1'?>" + _ROOT,
        _DECLARATION + b"x" + _ROOT,
        _ROOT[:-1],
        _ROOT[:-1] + b"/>",
        b"<w:document>",
        b'<p:document xmlns:w="%s">' % _W,
        b'<document xmlns:w="%s" w:a="1" w:a="2">' % _W,
        b'<document xmlns:a="urn:x" xmlns:b="urn:x" a:v="1" b:v="2">',
        b'<document xmlns:a="urn:x" xmlns:b="urn:y" a:v="1" b:v="2">',
        b'<document a="1" a="2">',
        b'<document a="1"b="2">',
        b'<document a="&e;">',
        b'<document a="&amp;&lt;">',
        b'<document a="&#65;">',
        b'<document a="<">',
        b'<document a="\x01">',
        b'<document a="\xff">',
        b'<document a="\r">',
        b'<document xmlns:p="">',
        b'<document xmlns="">',
        b'<document xmlns:p="urn:}x">',
        b'<document xmlns="urn:}x">',
        b'<document xmlns:xml="http://www.w3.org/XML/1998/namespace">',
        b'<document xmlns:xmlns="urn:x">',
        b'<document xmlns:p="http://www.w3.org/2000/xmlns/">',
        b"<xml:document>",
        b"<a:b:c>",
        b"<document\xc3\xa9>",
        b"<1document>",
        b"<!document>",
        b"<document ",
        b"",
    ],
)
def test_hand_made_forms_are_checked_the_same(chunk: bytes) -> None:
    assert not _differs(chunk)


def test_the_edges_of_the_plain_form() -> None:
    assert _hsscan.plain_prolog(_DECLARATION + _ROOT)
    assert not _hsscan.plain_prolog(_DECLARATION + b"<!DOCTYPE w>" + _ROOT)
    assert not _hsscan.plain_prolog(_ROOT[:-1])  # the tag not whole: the parser checks
    assert not _hsscan.plain_prolog(b'<document a="&#65;">')


def test_a_dtd_is_refused_with_or_without_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """`office._check` over every part of the tests and DTD-bearing ones: the same verdicts
    with and without the fast path."""
    bombs = [_DECLARATION + b'<!DOCTYPE w [<!ENTITY e "x">]>' + _ROOT, b"<!DOCTYPE w>" + _ROOT]
    parts = [*xml_parts(), *bombs]

    def _all() -> list[str | None]:
        out: list[str | None] = []
        for part in parts:
            try:
                office._check(iter([part[:9000], part[9000:]]), True, False, "docx")
            except Uninspectable as exc:
                out.append(exc.reason)
            else:
                out.append(None)
        return out

    fast = _all()
    assert fast[-2:] == ["XML with a DTD in docx (entity bomb or external entity)"] * 2
    monkeypatch.setattr(office, "COMPILED", False)
    assert _all() == fast
