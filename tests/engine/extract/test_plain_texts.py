"""`_hsscan.plain_texts` (a small office XML part's text read without a parse, used by
office.part_texts) against the part parsed (`office._tree_texts` of ``fromstring``): where
the fast path reads a part, the parse must accept it and give the same texts, in the same
order; the XML parts of every office file of the tests, made ones, every one-byte edit of a
few, and hand-made forms at each edge of the plain one."""

from __future__ import annotations

import random
from xml.etree.ElementTree import ParseError, fromstring

import pytest
from tests.engine.extract.office_parts import one_byte_edits, xml_parts

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import office
from postwarden.engine.extract.office import _tree_texts, part_texts


def _parsed(xml: bytes) -> list[str] | None:
    try:
        return _tree_texts(fromstring(xml))  # noqa: S314 -- test input
    except ParseError:
        return None


def _differs(xml: bytes) -> bool:
    """Whether the fast path reads ``xml`` otherwise than the parse (None: not read)."""
    fast = _hsscan.plain_texts(xml)
    if fast is None:
        return False
    parsed = _parsed(xml)
    return parsed is None or fast != parsed


def test_every_xml_part_of_the_tests_reads_the_same() -> None:
    parts = xml_parts()
    read = [part for part in parts if _hsscan.plain_texts(part) is not None]
    assert len(parts) > 100
    assert len(read) > 50
    assert any(_hsscan.plain_texts(part) for part in read)  # some with text
    assert [part[:200] for part in parts if _differs(part)] == []


@pytest.mark.slow
def test_one_byte_edits_read_the_same() -> None:
    rng = random.Random(14)
    read = differ = 0
    parts = [part for part in xml_parts() if _hsscan.plain_texts(part) and len(part) <= 4096]
    for part in rng.sample(parts, min(len(parts), 12)):
        for edited in one_byte_edits(part, rng):
            if _hsscan.plain_texts(edited) is not None:
                read += 1
                differ += _differs(edited)
    assert read > 5_000
    assert differ == 0


_DECLARATION = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
_CP = b"http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
_CORE = (
    b'<cp:coreProperties xmlns:cp="%s" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    b"<dc:title>Chan &amp; Co</dc:title><dc:creator>CHAN Tai Man</dc:creator>"
    b'<cp:revision>1</cp:revision><dc:subject xsi:type="x"> a &lt;b&gt; </dc:subject>'
    b"</cp:coreProperties>" % _CP
)
_W = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W15 = b"http://schemas.microsoft.com/office/word/2012/wordml"


@pytest.mark.parametrize(
    "xml",
    [
        _DECLARATION + _CORE,
        _CORE,
        b"\n  " + _CORE + b"\n",
        b'<?xml version="1.0" encoding="UTF-8"?>' + _CORE,
        b"<r>a<b>c</b>d<e/>f<g>h<i>j</i>k</g>l</r>",
        b"<r>\n  <a>  x  </a>\n  <b>\xc2\xa0y\xe3\x80\x80</b>\n</r>",
        b"<r><a>\xc2\xa0</a><b>\xe2\x80\x83 \xe2\x80\x83</b></r>",
        b"<r>&amp;&lt;&gt;&quot;&apos;</r>",
        b"<r>a &amp b</r>",
        b"<r>a &e; b</r>",
        b"<r>a &#65; b</r>",
        b"<r>a &#x41; b</r>",
        b"<r>a ]]> b</r>",
        b"<r>a ] ]> b</r>",
        b"<r>a<![CDATA[ b <c> ]]>d</r>",
        b"<r>a<!-- c -->b</r>",
        b"<r>a<?pi x?>b</r>",
        b"<!DOCTYPE r [<!ENTITY e 'x'>]><r>&e;</r>",
        b"<r>a\r\nb\rc</r>",
        b'<r v="a\r\nb"/>',
        b"<r>a\x01b</r>",
        b"<r>a\x7fb</r>",
        b"<r>\xef\xbf\xbe</r>",
        b"<r>\xed\xa0\x80</r>",
        b"<r>\xc0\xaf</r>",
        b"<r>\xff</r>",
        b"<r>\xf4\x90\x80\x80</r>",
        b"<r>\xf0\x9f\x98\x80</r>",
        b"\xef\xbb\xbf<r>a</r>",
        b"<?xml version='1.0' encoding='latin-1'?><r>a</r>",
        b"<?xml version='1.0' encoding='utf-8'?><r>a</r>",
        b" <?xml version='1.0'?><r>a</r>",
        b"<r>a</r><r>b</r>",
        b"<r>a</r>b",
        b"a<r>b</r>",
        b"<r>a</r >",
        b"<r>a</ r>",
        b"<r>a</R>",
        b"<r>a</r",
        b"<r>a",
        b"<r><a></r></a>",
        b"<r/>",
        b"<r />",
        b"<r/ >",
        b"",
        b"   ",
        b'<r v="1" name=" CHAN Tai Man " displayName="x" descr="d" title="t" alt="a"/>',
        b'<r v="1" v="2"/>',
        b'<r v="1"name="2"/>',
        b"<r v = \"1\" name='2'/>",
        b'<r v="a\tb\nc"/>',
        b'<r v=" \t\n"/>',
        b'<r v="a&amp;b&quot;c"/>',
        b'<r v="a&e;b"/>',
        b'<r other="a&e;b"/>',
        b'<r v="a<b"/>',
        b'<r v="a>b"/>',
        b'<r v="a/>',
        b"<r v=a/>",
        b'<r xmlns="urn:a"><x v="0"/><y v="1"/></r>',
        b'<r xmlns:p="urn:a"><p:x v="0"/><x v="1"/></r>',
        b'<r xmlns="urn:a"><x xmlns="" v="0"/></r>',
        b'<x v="0"/>',
        b'<r xmlns:p="urn:a" p:v="1" v="2"/>',
        b'<r xmlns:p="urn:a" xmlns:q="urn:a" p:v="1" q:v="2"/>',
        b'<r xmlns:p="urn:a" xmlns:q="urn:b" p:v="1" q:v="2"/>',
        b'<r xmlns:p="urn:a" xmlns:p="urn:b"/>',
        b'<r xmlns:p=""/>',
        b'<r xmlns:xml="http://www.w3.org/XML/1998/namespace"/>',
        b'<r xmlns:p="http://www.w3.org/XML/1998/namespace"/>',
        b'<r xmlns:xmlns="urn:a"/>',
        b'<r xmlns="http://www.w3.org/2000/xmlns/"/>',
        b'<r xml:lang="en" xml:space="preserve">a</r>',
        b'<r xml:v="1"/>',
        b"<p:r>a</p:r>",
        b'<r p:v="1"/>',
        b'<r xmlns:p="urn:a"><p:a>x</p:a></r><p:b/>',
        b'<r><a xmlns:p="urn:a"/><p:b/></r>',
        b"<a:b:c/>",
        b"<:a/>",
        b"<a:/>",
        b"<1a/>",
        b"<-a/>",
        b"<a.b-c_d>e</a.b-c_d>",
        b"<r\xc3\xa9>a</r\xc3\xa9>",
        b'<r a\xc3\xa9="1"/>',
        b'<r xmlns:w="%s" w:author=" Chan " w:other="x"/>' % _W,
        b'<r xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main" w:author="Chan"/>',
        b'<r xmlns:w15="%s" w15:author="A" w15:userId="B" userId="C"/>' % _W15,
        b'<r xmlns:w="%s" xmlns:w15="%s" w15:author="A" w:author="B" v="c"/>' % (_W, _W15),
        b'<r author="not read" w:author="x"/>',
        b'<Relationship TargetMode="External" Target=" http://a "/>',
        b'<Relationship TargetMode="External"/>',
        b'<Relationship TargetMode="External" Target=""/>',
        b'<Relationship TargetMode="Internal" Target="http://a"/>',
        b'<Relationship TargetMode="External" Target="a&amp;b" name="n"/>',
        b'<Relationship TargetMode="Ext&amp;ernal" Target="x"/>',
        b"<r>true</r><!-- -->",
        b"<r><a>true</a><b>12</b><c>1.5</c><d>12345</d></r>",
        b"<r " + b" ".join(b'a%d="1"' % k for k in range(70)) + b"/>",
        b"<r>" + b"<a>" * 300 + b"x" + b"</a>" * 300 + b"</r>",
        b"".join(b'<a xmlns:p%d="u">' % k for k in range(300)) + b"<p0:x/>" + b"</a>" * 300,
        b'<r xmlns:p="urn:a" xml:v="1" p:v="2" xmlns:q="http://www.w3.org/XML/1998/namespace"/>',
    ],
)
def test_hand_made_forms_read_the_same(xml: bytes) -> None:
    assert not _differs(xml)


def test_the_edges_of_the_plain_form() -> None:
    """Which of the forms above the fast path reads (the others are parsed)."""
    assert _hsscan.plain_texts(_DECLARATION + _CORE) == [
        "Chan & Co",
        "CHAN Tai Man",
        "1",
        "a <b>",
    ]
    assert _hsscan.plain_texts(b"<r>a<b>c</b>d<e/>f<g>h<i>j</i>k</g>l</r>") == [
        "c",
        "j",
        "h",
        "k",
        "a",
        "d",
        "f",
        "l",
    ]
    assert _hsscan.plain_texts(b'<Relationship TargetMode="External"/>') == [""]
    for outside in (
        b"<r>a<!-- c -->b</r>",
        b"<r>a<![CDATA[b]]></r>",
        b"<r>a &#65; b</r>",
        b"<r>a\r\nb</r>",
        b"\xef\xbb\xbf<r>a</r>",
        b"<r\xc3\xa9>a</r\xc3\xa9>",
    ):
        assert _hsscan.plain_texts(outside) is None
    for refused in (b"<r>a &e; b</r>", b'<r v="1" v="2"/>', b"<p:r/>", b"<r>a</r>b"):
        assert _hsscan.plain_texts(refused) is None
        assert _parsed(refused) is None


def test_part_texts_gives_the_same_without_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`office.part_texts` with and without the fast path, over every part of the tests, and
    a part that does not parse is still refused."""
    parts = xml_parts()

    def _all() -> list[object]:
        out: list[object] = []
        for part in parts:
            try:
                out.append(list(part_texts(part)))
            except ParseError:
                out.append(None)
        return out

    fast = _all()
    monkeypatch.setattr(office, "COMPILED", False)
    assert _all() == fast
    with pytest.raises(ParseError):
        list(part_texts(b"<r>a &e; b</r>"))


_GEN_NAMES = (
    *(b"v", b"name", b"userId", b"descr", b"Target", b"TargetMode", b"xml:lang", b"p:v"),
    *(b"w:author", b"w15:author", b"w15:userId", b"xmlns", b"xmlns:p", b"xmlns:w", b"xmlns:w15"),
)
_GEN_URIS = (b"u", b"", _W, _W15, b"http://www.w3.org/XML/1998/namespace", b" u\t", b"u}")
_GEN_VALUES = (
    *(b"", b" ", b"External", b" Chan Tai Man ", b"1", b"&amp;", b"&lt;x&gt;", b"a\tb\nc"),
    *(b"\xc2\xa0", b"\xe2\x80\x83x", b"&#65;", b"&e;", b"]]>", b"<", b">", b"\r", b"\xc3\xa9"),
)
_GEN_TEXTS = (
    *(b"", b" ", b"\n  ", b"Chan", b"&amp;", b" &lt; ", b"12", b"a]]>b", b"]]", b"&#10;"),
    *(b"\xc2\xa0x\xc2\xa0", b"<!--c-->", b"<?pi?>", b"<![CDATA[c]]>", b"\r\n", b"\xe3\x80\x80"),
)


def _generated(rng: random.Random, depth: int = 0) -> bytes:
    """A random element of the names, namespaces, values and texts at the plain form's edges
    (one-byte edits of real parts rarely make a namespace or a read attribute)."""
    name = rng.choice((b"a", b"x", b"p:x", b"w:r", b"w15:x"))
    attrs = b""
    for _ in range(rng.randint(0, 4)):
        key = rng.choice(_GEN_NAMES)
        pool = _GEN_URIS if key.startswith(b"xmlns") else _GEN_VALUES
        quote = rng.choice((b'"', b"'"))
        value = rng.choice(pool).replace(quote, b"")
        attrs += rng.choice((b" ", b"\n", b"\t")) + key + b"=" + quote + value + quote
    if depth > 3 or rng.random() < 0.3:
        return b"<" + name + attrs + rng.choice((b"/>", b" />"))
    body = b"".join(
        rng.choice(_GEN_TEXTS) + _generated(rng, depth + 1) for _ in range(rng.randint(0, 3))
    )
    return b"<%s%s>%s%s</%s%s" % (name, attrs, body, rng.choice(_GEN_TEXTS), name, b" >")


def test_generated_parts_read_the_same() -> None:
    rng = random.Random(14)
    read = differ = 0
    for _ in range(20_000):
        xml = rng.choice((b"", _DECLARATION)) + _generated(rng) + rng.choice((b"", b"\n", b"x"))
        if _hsscan.plain_texts(xml) is not None:
            read += 1
            differ += _differs(xml)
    assert read > 700
    assert differ == 0
