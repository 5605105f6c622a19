"""Word documents (docx, docm): body paragraphs, tables row by row, text boxes, headers,
footers, comments, footnotes and endnotes, deleted text of tracked changes, who made the
comments and changes, pictures' alt text, the document variables of the settings, and
embedded files; then every other part that holds text (document properties, glossary,
charts, custom XML, a header no section names...) through `office.read_rest`.

Each story part is read in one streaming pass (`office.pulled`: ``iterparse``'s events) instead of
python-docx: python-docx loads every part of the package into an object model and answers
each ``paragraph.text`` and ``row.cells`` with XPath queries, which made the docx of the
``check`` benchmark's 50 KB message cost ~10 ms of CPU; this reader takes ~1.5 ms for the same
units. It also reads content controls, insertions and smart tags, which python-docx's
``paragraph.text`` skips.  A story of only paragraphs and section properties in the plain
form office programs write (most letters) is read without the parser (`plain_story`, in C).

It parses only parts that ``open_package`` kept (`office.Parts`), each checked up to its root
element first (defusedxml, or `office.plain_prolog` for a plain prolog): a DTD can only
stand before the root element, so these bytes
hold none (no entity can be declared, so none expanded; a reference to one is an error).
The stdlib's C parser reads them: defusedxml's own parser is ElementTree's pure-Python one
(every element a Python call), which cost a docx of the bench tree 0.1 ms more to read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

# Only for parts with no DTD (see above); defusedxml checked them.
from xml.etree.ElementTree import Element, ParseError, fromstring

from postwarden.engine.extract.archive import read_member
from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.heading import heading
from postwarden.engine.extract.office import (
    ALT_TEXT,
    AUTHORS,
    EMBEDDED,
    Package,
    open_package,
    pulled,
    read_rest,
    relationships,
    visit_embedded,
)
from postwarden.engine.extract.walker import place
from postwarden.engine.extract.zipdir import Zip

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: every story part is parsed
    _hsscan = None  # type: ignore[assignment]
COMPILED = _hsscan is not None

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

# Transitional and Strict OOXML name the same elements in different namespaces.
_W = (
    "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}",
    "{http://purl.oclc.org/ooxml/wordprocessingml/main}",
)
_R = (
    "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}",
    "{http://purl.oclc.org/ooxml/officeDocument/relationships}",
)
_NAMES = (
    "p r t tab ptab br cr noBreakHyphen tbl tr tc txbxContent sectPr sectPrChange "
    "headerReference footerReference"
).split()
_TAG = {ns + name: name for ns in _W for name in _NAMES}
# Deleted text of a tracked change (``w:del``) is still in the file and leaves with it: it is
# read as text (issue 11).
_TAG.update({ns + "delText": "t" for ns in _W})
_RUN_TEXT = {"tab": "\t", "ptab": "\t", "cr": "\n", "noBreakHyphen": "-"}
# Where section header/footer references point, in the order their units are emitted.
_HEADERS_FOOTERS = (
    ("headerReference", "default", "header"),
    ("headerReference", "first", "first page header"),
    ("headerReference", "even", "even page header"),
    ("footerReference", "default", "footer"),
    ("footerReference", "first", "first page footer"),
    ("footerReference", "even", "even page footer"),
)
# The elements that carry the attributes read from a story (`_ATTRIBUTES`), all named one
# way: who made a comment or tracked change (``w:author``: insertions, deletions, moves,
# changed properties, changed table cells), and a picture's or shape's alt text (DrawingML's
# ``wp:docPr`` and non-visual properties, VML's shapes).  Looked up with the elements the
# pass reads anyway, so a story without them costs nothing more.
_CHANGES = (
    "comment ins del moveFrom moveTo rPrChange pPrChange tblPrChange tblPrExChange "
    "trPrChange tcPrChange tblGridChange numberingChange cellIns cellDel cellMerge "
    "moveFromRangeStart moveToRangeStart customXmlInsRangeStart customXmlDelRangeStart "
    "customXmlMoveFromRangeStart customXmlMoveToRangeStart"
).split()
_TAG.update({ns + name: "attributes" for ns in _W for name in _CHANGES})
_DRAWING = {
    "docPr": (
        "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
        "http://purl.oclc.org/ooxml/drawingml/wordprocessingDrawing",
    ),
    "cNvPr": (
        "http://schemas.openxmlformats.org/drawingml/2006/picture",
        "http://purl.oclc.org/ooxml/drawingml/picture",
        "http://schemas.microsoft.com/office/word/2010/wordprocessingShape",
        "http://schemas.microsoft.com/office/word/2010/wordprocessingGroup",
        "http://schemas.microsoft.com/office/word/2010/wordprocessingCanvas",
    ),
}
_TAG.update({f"{{{ns}}}{name}": "attributes" for name, spaces in _DRAWING.items() for ns in spaces})
_VML_SHAPES = "shape rect roundrect oval line polyline arc curve image group imagedata".split()
_TAG.update({f"{{urn:schemas-microsoft-com:vml}}{name}": "attributes" for name in _VML_SHAPES})
_ATTRIBUTES = {
    **dict.fromkeys(AUTHORS, "authors"),
    **dict.fromkeys(ALT_TEXT, "alt text"),
    "{urn:schemas-microsoft-com:office:office}title": "alt text",  # VML picture's title
}
"""Attribute read from a story → the unit it goes to."""
# What `_hsscan.plain_story` reads of the elements `_TAG` names (its PS_* codes); every other
# one (tables, text boxes, tracked changes, pictures...) makes it leave the part to the parser.
_PLAIN_CODES = {
    "p": 1,
    "r": 2,
    "t": 3,
    "tab": 4,
    "ptab": 4,
    "cr": 5,
    "noBreakHyphen": 6,
    "br": 7,
    "sectPr": 8,
    "headerReference": 9,
    "footerReference": 10,
}
_PLAIN_OTHER = 11
_PLAIN_TAGS = {tag.encode(): _PLAIN_CODES.get(name, _PLAIN_OTHER) for tag, name in _TAG.items()}
_CHECK_EVERY = 4096
_SETTINGS = "word/settings.xml"
_MARKED = {_SETTINGS: b"docVar"}
"""Kept besides the parts `read_rest` reads: the settings when they hold document variables
(`_Reader._variables`)."""
_NOTES = (("comments", "comments"), ("footnotes", "footnotes"), ("endnotes", "endnotes"))
_IMPORT = "/aFChunk"


def _attr(element: Element, prefixes: tuple[str, ...], name: str) -> str | None:
    for prefix in prefixes:
        value = element.get(prefix + name)
        if value is not None:
            return value
    return None


def _child(element: Element, name: str) -> Element | None:
    for prefix in _W:
        found = element.find(prefix + name)
        if found is not None:
            return found
    return None


def _number(element: Element | None, default: int) -> int:
    value = _attr(element, _W, "val") if element is not None else None
    try:
        return int(value) if value else default
    except ValueError:
        return default


class _Lines:
    """A paragraph container: a story, a table cell or a text box."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines: list[str] = []


class _Paragraph:
    __slots__ = ("owner", "parts", "runs")

    def __init__(self, owner: _Lines) -> None:
        self.owner = owner
        self.parts: list[str] = []
        self.runs = 0
        """Open ``w:r`` elements: tabs and breaks count only inside a run (not in ``w:tabs``)."""


class _Table:
    __slots__ = ("above", "cells", "headed", "header", "number", "rows")

    def __init__(self, number: int) -> None:
        self.number = number
        self.rows = 0
        self.cells: list[tuple[str, Element]] = []
        self.above: dict[int, str] = {}
        """Text of the previous row's cells by grid column, for vertically merged cells."""
        self.headed = False
        """The first filled row has been seen (and taken as ``header`` or not)."""
        self.header: tuple[str, ...] | None = None


class _Story:
    """One streaming pass over a story part: paragraphs become its running text, table rows
    become units of their own, text box paragraphs are kept apart."""

    def __init__(self, reader: _Reader, place: str) -> None:
        self.reader = reader
        self.place = place
        self.root = _Lines()
        self.boxes = _Lines()
        self.sections: list[dict[tuple[str, str], str]] = []
        """Per section, ``(reference, type)`` → relationship id of its headers and footers."""
        self.attributes: dict[str, dict[str, None]] = {"authors": {}, "alt text": {}}
        """The authors and alt text of the story, each value once, in order."""

    def read(self, xml: bytes) -> None:
        """The story's paragraphs, tables, text boxes, attributes and sections: `plain_story`
        for a part of only paragraphs and sections in the plain form, else `parse`."""
        plain = plain_story(xml, self.reader.walker.budget.check_time)
        if plain is None:
            self.parse(xml)
        else:
            self.root.lines, self.sections = plain

    def parse(self, xml: bytes) -> None:
        """`read` with the parser: any story part (raises what the parser raises)."""
        containers: list[_Lines] = [self.root]
        paragraphs: list[_Paragraph] = []
        tables: list[_Table] = []
        changes = read = 0
        tag = _TAG
        budget = self.reader.walker.budget
        for event, element in pulled(xml):
            name = tag.get(element.tag)
            if name is None:
                continue
            if event == "start":
                if name == "p":
                    paragraphs.append(_Paragraph(containers[-1]))
                elif name == "r":
                    if paragraphs:
                        paragraphs[-1].runs += 1
                elif name in ("tc", "txbxContent"):
                    containers.append(_Lines())
                elif name == "tbl":
                    self.reader.tables += 1
                    tables.append(_Table(self.reader.tables))
                elif name == "attributes":
                    self._attributes(element)
                elif name == "sectPrChange":
                    changes += 1  # a tracked change holds the section's *old* properties
                    self._attributes(element)
                continue
            if name == "t":
                if paragraphs and element.text:
                    paragraphs[-1].parts.append(element.text)
            elif name == "r":
                if paragraphs:
                    paragraphs[-1].runs -= 1
            elif name in _RUN_TEXT or name == "br":
                if paragraphs and paragraphs[-1].runs > 0:
                    paragraphs[-1].parts.append(_run_text(name, element))
            elif name == "p":
                if paragraphs:
                    paragraph = paragraphs.pop()
                    paragraph.owner.lines.append("".join(paragraph.parts))
                element.clear()
                read += 1
                if read % _CHECK_EVERY == 0:
                    budget.check_time()
            elif name == "tc":
                cell = containers.pop() if len(containers) > 1 else _Lines()
                text = " ".join(cell.lines).strip()
                if tables:
                    tables[-1].cells.append((text, element))
                else:
                    containers[-1].lines.append(text)
            elif name == "tr":
                if tables:
                    self._row(tables[-1], element)
                element.clear()
            elif name == "tbl":
                if tables:
                    tables.pop()
                element.clear()
            elif name == "txbxContent":
                if len(containers) > 1:
                    self.boxes.lines.extend(containers.pop().lines)
            elif name == "sectPrChange":
                changes -= 1
            elif name == "sectPr" and not changes:
                self.sections.append(_references(element))

    def _attributes(self, element: Element) -> None:
        attrib = element.attrib
        for key, unit in _ATTRIBUTES.items():
            value = attrib.get(key)
            if value and not value.isspace():
                self.attributes[unit][value.strip()] = None

    def _row(self, table: _Table, tr: Element) -> None:
        """One row unit: a cell spanning several grid columns counts once, and a vertically
        merged cell repeats the text of the cell it continues (as python-docx reads it).
        The first filled row gives the table its headings when Word marks it as the header
        row (``w:tblHeader``, repeated on every page) or it looks like one."""
        table.rows += 1
        properties = _child(tr, "trPr")
        offset = _number(_child(properties, "gridBefore") if properties is not None else None, 0)
        above, table.above = table.above, {}
        cells: list[str] = []
        for text, tc in table.cells:
            tcpr = _child(tc, "tcPr")
            span, merge = 1, None
            if tcpr is not None:
                span = max(1, _number(_child(tcpr, "gridSpan"), 1))
                vmerge = _child(tcpr, "vMerge")
                if vmerge is not None:
                    merge = _attr(vmerge, _W, "val") or "continue"
            if merge == "continue":
                text = above.get(offset, "")
            cells.append(text)
            table.above[offset] = text
            offset += span
            tc.clear()
        table.cells = []
        if any(cells):
            row = tuple(cells)
            if not table.headed:
                table.headed = True
                marked = _child(properties, "tblHeader") if properties is not None else None
                on = marked is not None and _attr(marked, _W, "val") not in ("0", "false", "off")
                table.header = row if on else heading(row)
            suffix = "" if self.place == "body" else f" in {self.place}"
            where = f"{self.reader.where}#table {table.number}{suffix}!R{table.rows}"
            self.reader.walker.add(" | ".join(row), where, row, table.header)

    def emit(self) -> None:
        """The story's running text, its text boxes, then its authors and alt text (one
        line each: ``#authors in comments``, ``#alt text``)."""
        add, where = self.reader.walker.add, self.reader.where
        add("\n".join(line for line in self.root.lines if line.strip()), f"{where}#{self.place}")
        suffix = "" if self.place == "body" else f" in {self.place}"
        add(
            "\n".join(line for line in self.boxes.lines if line.strip()),
            f"{where}#text boxes{suffix}",
        )
        for unit, values in self.attributes.items():
            add("\n".join(values), f"{where}#{unit}{suffix}")


def plain_story(
    xml: bytes, check_time: Callable[[], None]
) -> tuple[list[str], list[dict[tuple[str, str], str]]] | None:
    """What `_Story.parse` makes of a story part of only paragraphs (runs, text, tabs and
    breaks) and section properties, in the plain form office programs write, read without
    the parser (`_hsscan.plain_story`: parsing and the pass over its events cost a docx of
    the scan bench 0.11 ms of its 0.62): its paragraphs' lines and its sections' header and
    footer references.  None for any other part, or where the module is not built."""
    if not COMPILED:
        return None
    return _hsscan.plain_story(xml, _PLAIN_TAGS, check_time, _CHECK_EVERY)


def _run_text(name: str, element: Element) -> str:
    if name == "br":
        # Page and column breaks are no text; a line break (the default type) is.
        kind = _attr(element, _W, "type")
        return "\n" if kind in (None, "textWrapping") else ""
    return _RUN_TEXT[name]


def _references(sect: Element) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for child in sect:
        name = _TAG.get(child.tag)
        if name in ("headerReference", "footerReference"):
            rid = _attr(child, _R, "id")
            if rid:
                found.setdefault((name, _attr(child, _W, "type") or "default"), rid)
    return found


class _Reader:
    """A checked package's story parts, found through its relationships as Word finds them."""

    def __init__(self, package: Package, what: str, where: str, walker: Walker) -> None:
        self.package = package
        self.xml = package.xml
        self.what = what
        self.where = where
        self.walker = walker
        self.tables = 0
        self._relations: dict[str, list[tuple[str, str, str]]] = {}
        self.imports: list[str] = []
        """Parts imported into the stories read (``w:altChunk``: html, rtf, mht, text or
        another docx that Word shows in place), by lowercase name."""
        self.done: set[str] = set()
        """The parts read, by lowercase name: `read_rest` reads the others."""

    def read(self) -> None:
        main = self._target("", "/officeDocument") or "word/document.xml"
        if main not in self.xml:
            raise Uninspectable(f"corrupt {self.what}: no main document part")
        body = self._story(main, "body")
        body.emit()
        for number, section in enumerate(body.sections, start=1):
            for reference, kind, label in _HEADERS_FOOTERS:
                rid = section.get((reference, kind))
                part = self._by_id(main, rid) if rid else None
                # An undefined header shows the previous section's: each definition once.
                if part is not None:
                    self._story(part, label if number == 1 else f"{label} {number}").emit()
        for relation, label in _NOTES:
            part = self._target(main, "/" + relation) or f"word/{relation}.xml"
            if part in self.xml:
                self._story(part, label).emit()
        settings = self._target(main, "/settings") or _SETTINGS
        if settings in self.xml:
            self._variables(settings)

    def _variables(self, part: str) -> None:
        """The document variables of the settings part (``w:docVar``: a name and a value a
        macro or an add-in stored, a client's name filled into a template), one line each:
        ``letter.docx#document variables``.  The rest of ``word/settings.xml`` is formatting
        (`office.TEXT_FREE`): it is kept only when it holds the word ``docVar`` or is UTF-16
        (`_MARKED`), and a settings part of another name (which `read_rest` reads) is parsed
        here only when it does too."""
        xml = self.xml[part]
        if part != _SETTINGS and not (b"docVar" in xml or b"\x00" in xml[:4]):
            return
        try:
            root = fromstring(xml)  # noqa: S314
        except ParseError as exc:
            raise Uninspectable(f"corrupt {self.what}: {exc}") from None
        values = [
            value.strip()
            for element in root.iter()
            if element.tag.rpartition("}")[2] == "docVar"
            for value in element.attrib.values()
            if value and not value.isspace()
        ]
        self.walker.add("\n".join(values), f"{self.where}#document variables")

    def _story(self, part: str, place: str) -> _Story:
        self.walker.budget.check_time()
        self.done.add(part)
        story = _Story(self, place)
        try:
            story.read(self.xml[part])
        except ParseError as exc:
            raise Uninspectable(f"corrupt {self.what}: {exc}") from None
        self.imports += [t for _id, kind, t in self._relationships(part) if kind.endswith(_IMPORT)]
        return story

    def _relationships(self, source: str) -> list[tuple[str, str, str]]:
        """``(id, type, part name)`` of the internal relationships of part ``source``."""
        if source not in self._relations:
            self._relations[source] = relationships(self.package, source, self.what)
        return self._relations[source]

    def _target(self, source: str, kind: str) -> str | None:
        for _rid, rtype, path in self._relationships(source):
            if rtype.endswith(kind):
                return path
        return None

    def _by_id(self, source: str, rid: str) -> str | None:
        for found, _rtype, path in self._relationships(source):
            if found == rid and path in self.xml:
                return path
        return None


class DocxExtractor:
    """docx: ``letter.docx#body``, ``#table 1!R3``, ``#header``, ``#footer``, ``#comments``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        package = open_package(data, sniffed.label, where, depth, walker, keep_marked=_MARKED)
        with package.zf as zf:
            reader = _Reader(package, sniffed.label, where, walker)
            reader.read()
            read_rest(package, reader.done.union(reader.imports), sniffed.label, where, walker)
            _visit_imports(reader.imports, data, zf, package, where, depth, walker)
        visit_embedded(package, where, depth, walker)


def _visit_imports(
    imports: list[str],
    data: bytes,
    zf: Zip,
    package: Package,
    where: str,
    depth: int,
    walker: Walker,
) -> None:
    """Read the parts imported into the document (``w:altChunk``) as files of their own:
    ``letter.docx/word/afchunk.htm#text``.  Word shows their content where they are
    referenced, so they leave with the file like any paragraph.  They were guarded with
    every part; read again here (their bytes are not kept), so counted twice in the budget."""
    if not imports:
        return  # most documents: no index of the members made for nothing
    infos = {i.filename.lower(): i for i in package.infos}
    for name in dict.fromkeys(imports):
        info = infos.get(name)
        if info is None or info.filename.startswith(EMBEDDED):
            continue  # a missing part imports nothing; an embedded one is visited as such
        content = read_member(data, zf, info, walker.budget)
        walker.visit(content, f"{where}/{place(info.filename)}", depth + 1, name=info.filename)
