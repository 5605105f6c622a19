"""`_hsscan.plain_story` (a docx story part's paragraphs and sections read without a parse,
used by `document._Story.read`) against `_Story.parse`: where the fast path reads a part, the
parse must accept it and give the same lines and sections, and nothing else (no table row,
text box, author or alt text); over every XML part of the tests, made documents, every
one-byte edit of a few story parts, generated parts and hand-made forms at each edge; and
whole docx files read the same with and without it."""

from __future__ import annotations

import io
import random
import time
import zipfile
from collections.abc import Callable, Iterator
from xml.etree.ElementTree import ParseError, fromstring

import docx
import pytest
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_BREAK
from tests.engine.extract.mutants import mutants
from tests.engine.extract.office_parts import office_files, one_byte_edits, xml_parts
from tests.factories import make_docx

from postwarden.engine.compiled import _hsscan
from postwarden.engine.extract import document, extract_file, office
from postwarden.engine.extract.budget import Budget
from postwarden.engine.extract.walker import Walker
from postwarden.settings import Limits

LIMITS = Limits()
_Read = tuple[list[str], list[dict[tuple[str, str], str]]]


class _Reader:
    """What `_Story` asks of its reader: a walker (whose units it adds table rows to)."""

    def __init__(self) -> None:
        self.walker = Walker(Budget(LIMITS, 0, time.monotonic() + 60))
        self.where = "a.docx"
        self.tables = 0


def _story() -> document._Story:
    return document._Story(_Reader(), "body")  # type: ignore[arg-type]


def _parsed(xml: bytes) -> tuple[object, ...] | None:
    """What the parse reads of a part: its lines and sections, then all else it read."""
    story = _story()
    try:
        story.parse(xml)
    except ParseError:
        return None
    units = [(u.where, u.text) for u in story.reader.walker.units]
    rest = (story.boxes.lines, story.attributes, units, story.reader.tables)
    return story.root.lines, story.sections, *rest


def _fast(xml: bytes, check_time: Callable[[], None] = lambda: None) -> _Read | None:
    return document.plain_story(xml, check_time)


_NOTHING_ELSE: tuple[object, ...] = ([], {"authors": {}, "alt text": {}}, [], 0)


def _differs(xml: bytes) -> bool:
    """Whether the fast path reads ``xml`` otherwise than the parse (None: not read)."""
    fast = _fast(xml)
    if fast is None:
        return False
    return _parsed(xml) != (*fast, *_NOTHING_ELSE)


def _made() -> bytes:
    """A docx of runs, tabs, breaks, three sections and their six kinds of headers and
    footers (python-docx)."""
    doc = docx.Document()
    doc.settings.odd_and_even_pages_header_footer = True
    paragraph = doc.add_paragraph("Dear ")
    run = paragraph.add_run("CHAN Tai Man")
    run.add_tab()
    run.add_text("A123456(3)")
    run.add_break(WD_BREAK.LINE)
    run.add_text("2891 1001 & <co>")
    run.add_break(WD_BREAK.PAGE)
    run.add_break(WD_BREAK.COLUMN)
    doc.add_paragraph("")
    doc.add_paragraph("  spaced  \t text ")
    for number, kind in enumerate((WD_SECTION.NEW_PAGE, WD_SECTION.CONTINUOUS), start=2):
        section = doc.add_section(kind)
        section.different_first_page_header_footer = True
        section.header.is_linked_to_previous = False
        section.header.paragraphs[0].text = f"header {number}"
        section.first_page_footer.paragraphs[0].text = f"first footer {number}"
        section.even_page_header.paragraphs[0].text = f"even header {number}"
        doc.add_paragraph(f"section {number}")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _story_parts() -> list[bytes]:
    """The parts of the tests' office files that hold Word paragraphs, and a made docx's."""
    made = [part for data in (_made(),) for part in _members(data)]
    return [p for p in [*xml_parts(), *made] if b"wordprocessingml" in p or b"ooxml/word" in p]


def _members(data: bytes) -> Iterator[bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            if name.endswith(".xml"):
                yield zf.read(name)


def test_every_story_part_of_the_tests_reads_the_same() -> None:
    parts = _story_parts()
    read = [part for part in parts if _fast(part) is not None]
    assert len(parts) > 40
    assert len(read) > 15
    assert any(fast[0] for fast in map(_fast, read) if fast)  # some with text
    assert any(fast[1] and fast[1][0] for fast in map(_fast, read) if fast)  # and references
    assert [part[:200] for part in parts if _differs(part)] == []


def test_every_xml_part_of_the_tests_reads_the_same() -> None:
    assert [part[:200] for part in xml_parts() if _differs(part)] == []


def _read(data: bytes) -> tuple[object, ...]:
    extraction = extract_file("a.docx", data, LIMITS, time.monotonic() + 60)
    return (
        [(u.where, u.text, u.cells, u.header) for u in extraction.units],
        [(f.where, f.detail) for f in extraction.findings],
        extraction.defects,
    )


def test_docx_files_read_the_same_without_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every docx of the tests, made ones and their mutants: the same units, findings and
    defects with the fast path and without it (the module not built)."""
    sources = [
        _made(),
        make_docx(["Dear Ann,", "CHAN Tai Man"], tables=[[["a", "b"]]], header=["h"]),
        *(data for data in office_files() if data[:2] == b"PK" and b"word/" in data),
    ]
    read = 0
    for seed, data in enumerate(sources):
        for what, copy in [("original", data), *mutants(data, seed, flips=6)]:
            fast = _read(copy)
            with monkeypatch.context() as patched:
                patched.setattr(document, "COMPILED", False)
                assert _read(copy) == fast, what
            read += bool(fast[0])
    assert read > 20


@pytest.mark.slow
def test_one_byte_edits_read_the_same() -> None:
    rng = random.Random(14)
    read = differ = 0
    parts = [part for part in _story_parts() if _fast(part) and len(part) <= 6000]
    for part in rng.sample(parts, min(len(parts), 6)):
        for edited in one_byte_edits(part, rng):
            if _fast(edited) is not None:
                read += 1
                differ += _differs(edited)
    assert read > 5_000
    assert differ == 0


_W = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_STRICT = b"http://purl.oclc.org/ooxml/wordprocessingml/main"
_R = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_R_STRICT = b"http://purl.oclc.org/ooxml/officeDocument/relationships"
_ROOT = b'<w:document xmlns:w="%s" xmlns:r="%s" xmlns:s="%s" xmlns:q="%s">' % (
    _W,
    _R,
    _STRICT,
    _R_STRICT,
)


def _doc(body: bytes) -> bytes:
    return b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n%s<w:body>%s</w:body>%s" % (
        _ROOT,
        body,
        b"</w:document>",
    )


_FORMS = [
    b"<w:p><w:r><w:t>Chan</w:t><w:tab/><w:t>Tai Man</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t xml:space='preserve'> a </w:t></w:r><w:r><w:t>b</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a &amp; &lt;b&gt; &quot;&apos;</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a &e; b</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a &#65; b</w:t></w:r></w:p>",
    b"<w:p>&amp;<w:r>&lt;<w:t>a</w:t>&gt;</w:r></w:p>",
    b"<w:p>&bad;<w:r><w:t>a</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t></w:t><w:t/><w:t>x</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a<w:b/>c</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a</w:t ></w:r></w:p>",
    b"<w:p><w:r><w:t>a</w:x></w:r></w:p>",
    b"<w:p><w:r><w:t>a</s:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a",
    b"<w:p><w:r><w:br/><w:br w:type='page'/><w:br w:type='textWrapping'/></w:r></w:p>",
    b"<w:p><w:r><w:br w:type=''/><w:br s:type='column'/><w:br type='page'/></w:r></w:p>",
    b"<w:p><w:r><w:br w:type='page' s:type='textWrapping'/>x</w:r></w:p>",
    b"<w:p><w:r><w:br w:type='text&#x57;rapping'/></w:r></w:p>",
    b"<w:p><w:r><w:ptab/><w:cr/><w:noBreakHyphen/><w:tab></w:tab></w:r></w:p>",
    b"<w:p><w:tab/><w:br/><w:r><w:t>a</w:t></w:r><w:cr/></w:p>",
    b"<w:p><w:pPr><w:tabs><w:tab w:val='left' w:pos='720'/></w:tabs></w:pPr><w:r/></w:p>",
    b"<w:p><w:r><w:r><w:tab/></w:r><w:tab/></w:r><w:tab/></w:p>",
    b"<w:r><w:t>outside</w:t><w:tab/></w:r><w:p/><w:t>also</w:t>",
    b"<w:p><w:r><w:tab><w:t>in a tab</w:t></w:tab></w:r></w:p>",
    b"<w:p><w:r><w:delText>deleted</w:delText></w:r></w:p>",
    b"<s:p><s:r><s:t>strict</s:t><s:tab/></s:r></s:p>",
    b"<w:p><s:r><w:t>mixed</w:t><s:tab/></s:r></w:p>",
    b"<p><r><t>no namespace</t></r></p>",
    b"<w:p><w:p><w:r><w:t>inner</w:t></w:r></w:p></w:p>",
    b"<w:p><w:hyperlink r:id='rId1'><w:r><w:t>link</w:t></w:r></w:hyperlink></w:p>",
    b"<w:sdt><w:sdtContent><w:p><w:r><w:t>control</w:t></w:r></w:p></w:sdtContent></w:sdt>",
    b"<w:p><w:fldSimple w:instr='AUTHOR'><w:r><w:t>f</w:t></w:r></w:fldSimple></w:p>",
    b"<w:p><w:r><w:instrText>HYPERLINK x</w:instrText><w:t>shown</w:t></w:r></w:p>",
    b"<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr></w:tbl>",
    b"<w:p><w:r><w:txbxContent><w:p/></w:txbxContent></w:r></w:p>",
    b"<w:p><w:ins w:author='Chan'><w:r><w:t>inserted</w:t></w:r></w:ins></w:p>",
    b"<w:p><w:r><w:drawing><wp:docPr xmlns:wp='http://schemas.openxmlformats.org/"
    b"drawingml/2006/wordprocessingDrawing' descr='alt'/></w:drawing></w:r></w:p>",
    b"<w:p><w:r><v:shape xmlns:v='urn:schemas-microsoft-com:vml' alt='x'/></w:r></w:p>",
    b"<w:sectPr><w:headerReference w:type='default' r:id='rId1'/>"
    b"<w:headerReference w:type='first' r:id='rId2'/><w:footerReference r:id='rId3'/>"
    b"<w:headerReference w:type='default' r:id='rId4'/><w:footerReference w:type='' r:id='rId5'/>"
    b"<w:footerReference w:type='even' r:id=''/><w:footerReference w:type='even'/></w:sectPr>",
    b"<w:p><w:pPr><w:sectPr><w:headerReference w:type='even' q:id='rIdS' r:id='rIdT'/>"
    b"</w:sectPr></w:pPr></w:p><w:sectPr/><w:sectPr></w:sectPr>",
    b"<w:sectPr><w:headerReference w:type='x&amp;y' q:id=' a\tb '/></w:sectPr>",
    b"<w:sectPr><w:pgSz><w:headerReference r:id='rIdDeep'/></w:pgSz></w:sectPr>",
    b"<w:headerReference r:id='rIdLoose'/>",
    b"<w:sectPr><w:sectPr/></w:sectPr>",
    b"<w:sectPr><w:sectPrChange><w:sectPr/></w:sectPrChange></w:sectPr>",
    b"<w:sectPr><w:headerReference r:id='a' r:id='b'/></w:sectPr>",
    b"<w:sectPr><w:headerReference x:id='a'/></w:sectPr>",
    b"<w:p><w:r><w:t>a\r\nb</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a<!-- c -->b</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t><![CDATA[x]]></w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>\xe9\xe9</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>\xc3\xa9 \xe3\x80\x80 \xf0\x9f\x98\x80</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>a]]>b</w:t></w:r></w:p>",
    b"<w:p><w:r><w:t>\x01</w:t></w:r></w:p>",
    b"<w:p><w:r w:rsidR='1' w:rsidR='2'><w:t>dup</w:t></w:r></w:p>",
    b"<w:p><x:r><w:t>unbound</w:t></x:r></w:p>",
    b"<w:p/>" * 5 + b"<w:p><w:r><w:t>after blanks</w:t></w:r></w:p>",
]


@pytest.mark.parametrize("body", _FORMS)
def test_hand_made_forms_read_the_same(body: bytes) -> None:
    assert not _differs(_doc(body))


def test_the_edges_of_the_plain_form() -> None:
    """Which of the forms above the fast path reads, and what (the others are parsed)."""
    assert _fast(_doc(_FORMS[0])) == (["Chan\tTai Man"], [])
    assert _fast(_doc(_FORMS[13])) == (["\n\n"], [])
    assert _fast(_doc(_FORMS[17])) == (["\t\n-\t"], [])
    assert _fast(_doc(_FORMS[21])) == ([""], [])
    sections = _fast(_doc(_FORMS[37]))
    assert sections == (
        [],
        [
            {
                ("headerReference", "default"): "rId1",
                ("headerReference", "first"): "rId2",
                ("footerReference", "default"): "rId3",
            }
        ],
    )
    assert _fast(_doc(_FORMS[38])) == (
        [""],
        [{("headerReference", "even"): "rIdT"}, {}, {}],
    )
    # A character reference, an element in w:t, a paragraph in a paragraph, a table, a text
    # box, a tracked change, pictures, a section in a section or with a change, a carriage
    # return, a comment, CDATA: parsed.
    for outside in (4, 8, 16, 27, 32, 33, 34, 35, 36, 42, 43, 46, 47, 48):
        assert _fast(_doc(_FORMS[outside])) is None, _FORMS[outside]
        assert _parsed(_doc(_FORMS[outside])) is not None, _FORMS[outside]
    for refused in (3, 6, 10, 11, 12, 44, 45, 49, 51, 52, 53, 54):
        assert _fast(_doc(_FORMS[refused])) is None, _FORMS[refused]
        assert _parsed(_doc(_FORMS[refused])) is None, _FORMS[refused]


def test_the_clock_is_looked_at_every_so_many_paragraphs() -> None:
    """As `_Story.parse` looks at the budget's clock, and what it raises passes."""
    looked: list[int] = []
    xml = _doc(b"<w:p/>" * 10)
    found = _hsscan.plain_story(xml, document._PLAIN_TAGS, lambda: looked.append(1), 3)
    assert found == ([""] * 10, [])
    assert len(looked) == 3

    def late() -> None:
        raise TimeoutError

    with pytest.raises(TimeoutError):
        _hsscan.plain_story(xml, document._PLAIN_TAGS, late, 4)
    with pytest.raises(ValueError, match="every"):
        _hsscan.plain_story(xml, document._PLAIN_TAGS, late, 0)


_GEN_TAGS = (
    *(b"w:p", b"w:r", b"w:t", b"w:tab", b"w:br", b"w:cr", b"w:sectPr", b"w:headerReference"),
    *(b"w:footerReference", b"s:p", b"s:t", b"w:pPr", b"x:p", b"w:hyperlink", b"p"),
)
_GEN_ATTRS = (
    *(b"w:type", b"s:type", b"r:id", b"q:id", b"type", b"xml:space", b"w:val", b"x:y"),
    *(b"xmlns:x", b"xmlns:w", b"xmlns"),
)
_GEN_VALUES = (
    *(b"", b" ", b"default", b"first", b"even", b"page", b"textWrapping", b"rId1", b"a&amp;b"),
    *(b"&e;", b"<", b"\t", b"urn:x", _W, _STRICT),
)
_GEN_TEXTS = (
    *(b"", b" ", b"Chan", b"&amp;", b" &lt; ", b"&e;", b"&#65;", b"]]>", b"\xc2\xa0x", b"\r"),
)


def _generated(rng: random.Random, depth: int = 0) -> bytes:
    name = rng.choice(_GEN_TAGS)
    attrs = b""
    for _ in range(rng.randint(0, 3)):
        key = rng.choice(_GEN_ATTRS)
        attrs += b" " + key + b"='" + rng.choice(_GEN_VALUES) + b"'"
    if depth > 4 or rng.random() < 0.3:
        return b"<" + name + attrs + b"/>"
    body = b"".join(
        rng.choice(_GEN_TEXTS) + _generated(rng, depth + 1) for _ in range(rng.randint(0, 3))
    )
    return b"<%s%s>%s%s</%s>" % (name, attrs, body, rng.choice(_GEN_TEXTS), name)


def test_generated_parts_read_the_same() -> None:
    rng = random.Random(14)
    read = differ = 0
    for _ in range(20_000):
        body = b"".join(_generated(rng) for _ in range(rng.randint(1, 3)))
        xml = _doc(body)
        if _fast(xml) is not None:
            read += 1
            differ += _differs(xml)
    assert read > 1_000
    assert differ == 0


# Each kind of byte the compiled readers' character check looks at (it skips eight plain
# bytes at a time): controls, markup, and UTF-8 sequences good and bad.
_ODD = (
    *(b"\x00", b"\x01", b"\x09", b"\x0a", b"\x0d", b"\x1f", b"\x7f", b"<", b"]", b"&", b"]]>"),
    *(b"&amp;", b"&#65;", b"<!-- c -->", b"<?p?>", b"\xc3\xa9", b"\xe3\x80\x80", b"\xef\xbf\xbe"),
    *(b"\xf0\x9f\x98\x80", b"\x80", b"\xc3", b"\xe3\x80", b"\xed\xa0\x80", b"\xff", b"\x20"),
)


def test_each_odd_byte_at_each_place_reads_the_same() -> None:
    """Every odd byte at each of 24 places in a paragraph's text and in a property's: the
    fast readers (the story's and `plain_texts`) read it as the parse does, or leave it."""
    text = b"Chan Tai Man lives at 3 Garden Road, Central"
    for odd in _ODD:
        for at in range(24):
            edited = text[:at] + odd + text[at:]
            assert not _differs(_doc(b"<w:p><w:r><w:t>%s</w:t></w:r></w:p>" % edited)), edited
            core = b"<?xml version='1.0'?>\n<r><a>%s</a><b v='%s'/></r>" % (edited, edited)
            fast = _hsscan.plain_texts(core)
            if fast is not None:
                assert fast == office._tree_texts(fromstring(core)), edited  # noqa: S314
