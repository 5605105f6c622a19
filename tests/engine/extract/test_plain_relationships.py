"""`_hsscan.plain_relationships` (an office package's relationships part read without a
parse, office.plain_relationships) against the part parsed (`parsed_relationships`): where
the fast path reads a part, the parse must accept it and give the same attributes, in the
same order; the relationships parts of every office file of the tests, made ones, every
one-byte edit of a few, and hand-made forms at each edge of the plain one."""

from __future__ import annotations

import random
from xml.etree.ElementTree import ParseError, fromstring

import pytest
from tests.engine.extract.office_parts import every_part, one_byte_edits

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import office
from postwarden.engine.extract.office import parsed_relationships, relationships

_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _parsed(xml: bytes) -> list[dict[str, str]] | None:
    try:
        return [dict(attrib) for attrib in parsed_relationships(fromstring(xml))]  # noqa: S314
    except ParseError:
        return None


def _differs(xml: bytes) -> bool:
    """Whether the fast path reads ``xml`` otherwise than the parse (None: not read)."""
    fast = _hsscan.plain_relationships(xml)
    if fast is None:
        return False
    parsed = _parsed(xml)
    return parsed is None or [list(a.items()) for a in fast] != [list(a.items()) for a in parsed]


def _every_part() -> list[bytes]:
    return every_part((".rels",))


def test_every_relationships_part_of_the_tests_reads_the_same() -> None:
    parts = _every_part()
    read = [part for part in parts if _hsscan.plain_relationships(part) is not None]
    assert len(parts) > 30
    assert len(read) > 20
    assert [part for part in parts if _differs(part)] == []


@pytest.mark.slow
def test_one_byte_edits_read_the_same() -> None:
    rng = random.Random(14)
    read = differ = 0
    parts = [part for part in _every_part() if _hsscan.plain_relationships(part) is not None]
    for part in rng.sample(parts, min(len(parts), 8)):
        for edited in one_byte_edits(part, rng, ' "=\t</>&', b" \"'=\t\n</>&x\x00\xc3"):
            if _hsscan.plain_relationships(edited) is not None:
                read += 1
                differ += _differs(edited)
    assert read > 5_000
    assert differ == 0


_DECLARATION = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_ROOT = b'<Relationships xmlns="%s">' % _NS.encode()
_REL = b'<Relationship Id="rId1" Type="http://x/y" Target="word/document.xml"/>'


@pytest.mark.parametrize(
    "xml",
    [
        _DECLARATION + _ROOT + _REL + b"</Relationships>",
        _ROOT + _REL + b"</Relationships>",
        b"\n  " + _ROOT + b"\n" + _REL + b"\n</Relationships>\n",
        b'<?xml version="1.0" encoding="UTF-8"?>' + _ROOT + b"</Relationships>",
        b'<?xml version="1.0"?>' + _ROOT + b"</Relationships>",
        b'<?xml version="1.0" standalone="no" ?>' + _ROOT + b"</Relationships>",
        _ROOT + b'<Relationship TargetMode="External" Target="http://a?b=c"/></Relationships>',
        _ROOT + b'<Relationship Target=""  Id="x" />' + _REL + b"</Relationships>",
        _ROOT + b"<Relationship/></Relationships>",
        _ROOT + b'<Relationship\tId="a>b"\r\n/></Relationships>',
        # Outside the plain form: parsed.
        b" " + _DECLARATION + _ROOT + b"</Relationships>",
        b"\xef\xbb\xbf" + _ROOT + b"</Relationships>",
        b"<?xml version='1.0' encoding='cp500'?>" + _ROOT + b"</Relationships>",
        b"<?xml version='1.1'?>" + _ROOT + b"</Relationships>",
        b"<?xml version='1.0\"?>" + _ROOT + b"</Relationships>",
        b'<!DOCTYPE r [<!ENTITY e "x">]>' + _ROOT + b"</Relationships>",
        _ROOT + b'<Relationship Id="a&amp;b"/></Relationships>',
        _ROOT + b'<Relationship Id="a&e;b"/></Relationships>',
        _ROOT + b"<Relationship Id='a'/></Relationships>",
        _ROOT + b'<Relationship Id = "a"/></Relationships>',
        _ROOT + b'<Relationship Id="a" Id="b"/></Relationships>',
        _ROOT + b'<Relationship Id="a"Type="b"/></Relationships>',
        _ROOT + b'<Relationship Id="a\tb"/></Relationships>',
        _ROOT + b'<Relationship Id="\xc3\xa9"/></Relationships>',
        _ROOT + b'<Relationship Id="\x01"/></Relationships>',
        _ROOT + b'<Relationship Other="a"/></Relationships>',
        _ROOT + b'<Relationship Ids="a"/></Relationships>',
        _ROOT + b'<Relationship TargetModes="a"/></Relationships>',
        _ROOT + b'<RelationshipX Id="a"/></Relationships>',
        _ROOT + b"<Relationships/></Relationships>",
        _ROOT + b'<Relationship Id="a"></Relationship></Relationships>',
        _ROOT + b"<!-- a comment --></Relationships>",
        _ROOT + b"</Relationships >",
        _ROOT + b"</Relationships><x/>",
        _ROOT + b"</Relationships",
        _ROOT + _REL,
        b'<Relationships xmlns="%s" xmlns:r="x">' % _NS.encode() + b"</Relationships>",
        b'<Relationships xmlns="%s"/>' % _NS.encode(),
        b"<Relationships xmlns='%s'>" % _NS.encode() + b"</Relationships>",
        _ROOT.decode().encode("utf-16") + b"</Relationships>".decode().encode("utf-16-le"),
    ],
)
def test_hand_made_forms_read_the_same(xml: bytes) -> None:
    assert not _differs(xml)


def test_the_edges_of_the_plain_form() -> None:
    """Which of the forms above the fast path reads (the others are parsed)."""
    assert _hsscan.plain_relationships(_ROOT + _REL + b"</Relationships>") == [
        {"Id": "rId1", "Type": "http://x/y", "Target": "word/document.xml"}
    ]
    assert _hsscan.plain_relationships(_ROOT + b"</Relationships>") == []
    for outside in (
        b" " + _DECLARATION + _ROOT + b"</Relationships>",
        _ROOT + b'<Relationship Id="a" Id="b"/></Relationships>',
        _ROOT + b'<Relationship Id="a&amp;b"/></Relationships>',
        _ROOT + b'<Relationship Id="a\tb"/></Relationships>',
    ):
        assert _hsscan.plain_relationships(outside) is None


class _Package:
    def __init__(self, parts: dict[str, bytes]) -> None:
        self.xml = parts
        self.trees: dict[str, object] = {}


def test_relationships_give_the_same_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`office.relationships` with and without the fast path, over every part of the tests
    (as the package's own relationships), and an unparsable part is still refused."""
    parts = _every_part()

    def _all() -> list[object]:
        out: list[object] = []
        for part in parts:
            try:
                out.append(relationships(_Package({"_rels/.rels": part}), "", "docx"))  # type: ignore[arg-type]
            except office.Uninspectable as exc:
                out.append(exc.reason)
        return out

    fast = _all()
    monkeypatch.setattr(office, "COMPILED", False)
    assert _all() == fast
    with pytest.raises(office.Uninspectable):
        relationships(_Package({"_rels/.rels": _ROOT}), "", "docx")  # type: ignore[arg-type]
