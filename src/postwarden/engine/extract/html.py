"""HTML: running text without script and style, one unit per table row with its cells and
its table's column headings (a ``<th>`` row, or a first row that looks like one), and two
units for what a mail client does not show but sends all the same: ``#hidden`` (comments,
script, style, template and noscript content, CDATA and other marked sections, processing
instructions, the doctype) and ``#attributes`` (every attribute's value, each distinct
value once).  Files in ``data:`` URIs are visited as embedded files."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from postwarden.engine.extract.datauri import Embedded, take
from postwarden.engine.extract.heading import heading
from postwarden.engine.extract.text import decode

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_SKIP = frozenset({"script", "style", "template", "noscript"})
_BREAKS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "title",
        "dd",
        "dt",
        "hr",
        "ul",
        "ol",
        "table",
    }
)


class _Table:
    __slots__ = ("cell", "headed", "header", "number", "row", "row_th", "rows")

    def __init__(self, number: int) -> None:
        self.number = number
        self.rows = 0
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.row_th = True
        """Every cell of the current row so far is a ``<th>``."""
        self.headed = False
        """The first filled row has been seen (and taken as ``header`` or not)."""
        self.header: tuple[str, ...] | None = None


_PART_ID = re.compile(r"(?:cid|mid):[^\s]{1,250}", re.IGNORECASE)
"""A ``cid:`` or ``mid:`` URL (RFC 2392): a part of this message (an inline picture's
``src``) or the message quoted (Thunderbird's ``cite``), named by its Content-ID or
Message-ID, which the mail software makes up (``part1.8C5E6A81.D0C1B91A@example.com``):
no text of a person's, and read as an email address it was 5 of the 30 new findings on
the corpora.  The part it names is inspected as a part."""
_CLOSE_GRACE = 1 << 18
"""Characters the close of a document may scan for start tags left open, beyond one for each
character still unread when it begins (see `_Collector._close`)."""
_SEARCH_SHIFT = 5
"""A construct other than a start tag left open costs a 32nd of a start tag's scan: a search
for its end (``-->``, ``>``, ``]]>``) ran at 0.3-3.4 ms a megabyte where the start tag's
expression ran at 80-160 (Python 3.11, the patterns of test_html_close.py, one scan each)."""


class _Overrun(Exception):
    """Closing the document has scanned more than it may: the rest is read as text."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


class _Collector(HTMLParser):
    """Stdlib parser (tolerant, no entity expansion beyond HTML's own named characters)."""

    def __init__(self, walker: Walker, where: str, depth: int) -> None:
        super().__init__(convert_charrefs=True)
        self.walker = walker
        self.where = where
        self.depth = depth
        self.text: list[str] = []
        self.hidden: list[str] = []
        """What is sent but not shown, each piece on its own lines."""
        self.attrs: list[list[tuple[str, str | None]]] = []
        """Each tag's attributes that has some (their values are read at the end)."""
        self.skip = 0
        self.tables: list[_Table] = []
        self.count = 0
        self.check_time = walker.budget.check_time
        self.unread = 0
        """While closing: the characters left to read when the close began."""
        self.scanned = 0
        """While closing: what the constructs left open may have scanned so far."""

    def _timed_updatepos(self, i: int, j: int) -> int:
        """The stdlib's ``updatepos``, with a look at the clock (see `_close`)."""
        self.check_time()
        return super().updatepos(i, j)

    def _charged(self, i: int, k: int, shift: int = _SEARCH_SHIFT) -> int:
        """``k``, what a construct at ``i`` read to (-1: left open).  While closing, a
        construct left open has scanned at most the rest of the document: charged that
        (shifted right by ``shift``, a start tag's 0), and past the allowance the close
        stops (`_close`)."""
        if k < 0 and self.unread:
            self.scanned += (self.unread - i) >> shift
            if self.scanned > self.unread + _CLOSE_GRACE:
                raise _Overrun(i)
        return k

    # Charged versions of the stdlib's readers of constructs, put in place only while
    # closing (`_close`): as methods, the call they add to each tag was paid while feeding.
    def _closing_starttag(self, i: int) -> int:
        return self._charged(i, HTMLParser.parse_starttag(self, i), 0)

    def _closing_endtag(self, i: int) -> int:
        return self._charged(i, HTMLParser.parse_endtag(self, i))

    def _closing_comment(self, i: int, report: bool = True) -> int:
        return self._charged(i, HTMLParser.parse_comment(self, i, report))

    def _closing_pi(self, i: int) -> int:
        return self._charged(i, HTMLParser.parse_pi(self, i))

    def _closing_declaration(self, i: int) -> int:
        return self._charged(i, HTMLParser.parse_html_declaration(self, i))

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        """``<![`` and a name: ``_markupbase`` raises AssertionError when no name or an
        unknown one follows (``<![x``, ``<![<``), which failed the whole document (and
        a message body's, the message's extraction); read as a bogus comment, as HTML5
        and Python 3.13 read it."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return self.parse_bogus_comment(i, report)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if attrs:
            self.attrs.append(attrs)
        if tag in _SKIP:
            self.skip += 1
        elif tag == "table":
            self.count += 1
            self.tables.append(_Table(self.count))
        elif tag == "tr" and self.tables:
            self._end_row()
            self.tables[-1].row = []
        elif tag in ("td", "th") and self.tables:
            table = self.tables[-1]
            self._end_cell()
            if table.row is None:
                table.row = []
            if tag == "td":
                table.row_th = False
            table.cell = []
        elif tag in _BREAKS:
            self._write("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if attrs:
            self.attrs.append(attrs)
        if tag in _BREAKS:
            self._write("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "table" and self.tables:
            self._end_row()
            self.tables.pop()
        elif tag == "tr" and self.tables:
            self._end_row()
        elif tag in ("td", "th") and self.tables:
            self._end_cell()
        elif tag in _BREAKS:
            self._write("\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            self.hidden.append(data)
        else:
            self._write(data)

    def handle_comment(self, data: str) -> None:
        self.hidden.append(data)

    def handle_decl(self, decl: str) -> None:
        self.hidden.append(decl)

    def handle_pi(self, data: str) -> None:
        # ``<?xml ...?>``: the stdlib's data runs to the ``>``, with XML's "?" before it.
        self.hidden.append(data.removesuffix("?"))

    def unknown_decl(self, data: str) -> None:
        """A marked section: ``<![CDATA[...]]>`` (``data`` is ``CDATA[...``), Word's
        ``<![if ...]>``."""
        self.hidden.append(data)

    def _write(self, data: str) -> None:
        table = self.tables[-1] if self.tables else None
        if table is not None and table.cell is not None:
            table.cell.append(data)
        else:
            self.text.append(data)

    def _end_cell(self) -> None:
        table = self.tables[-1]
        if table.cell is not None and table.row is not None:
            table.row.append(" ".join("".join(table.cell).split()))
        table.cell = None

    def _end_row(self) -> None:
        table = self.tables[-1]
        self._end_cell()
        row, table.row = table.row, None
        all_th, table.row_th = table.row_th, True
        if row is None:
            return
        table.rows += 1
        if any(row):
            cells = tuple(row)
            if not table.headed:
                # A row of <th> cells names the columns; else the first row may, by its looks.
                table.headed = True
                table.header = cells if all_th else heading(cells)
            where = f"{self.where}#table {table.number}!R{table.rows}"
            self.walker.add(" | ".join(cells), where, cells, table.header)

    def finish(self) -> None:
        """Read what ``feed`` left (the first construct not closed and all after it), then
        add the running text, ``#hidden`` and ``#attributes`` units and visit the files of
        the ``data:`` URIs."""
        self._close()
        while self.tables:
            self._end_row()
            self.tables.pop()
        self.walker.add(_lines(self.text), self.where)
        embedded: list[Embedded] = []
        hidden, found = take("\n".join(self.hidden), whole=False)
        embedded += found
        self.walker.add(_lines([hidden]), f"{self.where}#hidden")
        self.walker.add(self._attributes(embedded), f"{self.where}#attributes")
        self._visit(embedded)

    def _close(self) -> None:
        # The stdlib parser (3.11) is quadratic on markup left open: ``feed`` stops at the
        # first construct not closed, and ``close`` scans each ``<x``, ``</``, ``<!--``,
        # ``<?``, ``<!`` or ``<![`` after it to the end of the document before it reads it
        # as text (30,000 times ``<x ``, 90 KB, took 69 s of CPU; a megabyte would take
        # hours).  Python 3.13's close no longer rescans, but drops such a tail instead of
        # reading it.  So the stdlib closes as it did, each construct left open charged the
        # rest of the document (`_charged`), and once the charges pass the characters left
        # plus a grace, the rest from that construct on is read as text, unescaped as the
        # stdlib reads text: a megabyte of any such markup closes in under half a second,
        # and a document the stdlib closes cheaply reads exactly as it did
        # (tests/engine/extract/test_html_close.py compares them on the corpora).  Each
        # construct and stretch of text read ends with ``updatepos``: while closing, that
        # looks at the clock too.
        self.updatepos = self._timed_updatepos  # type: ignore[method-assign]
        self.parse_starttag = self._closing_starttag  # type: ignore[method-assign]
        self.parse_endtag = self._closing_endtag  # type: ignore[method-assign]
        self.parse_comment = self._closing_comment  # type: ignore[method-assign]
        self.parse_pi = self._closing_pi  # type: ignore[method-assign]
        self.parse_html_declaration = self._closing_declaration  # type: ignore[method-assign]
        rawdata = self.rawdata
        self.unread = len(rawdata)
        try:
            self.close()
        except _Overrun as over:
            rest = rawdata[over.at :]
            self.handle_data(rest if self.cdata_elem else unescape(rest))
        else:
            # A script or style never closed: the stdlib keeps the rest of the document
            # unread, waiting for its end tag.  It is script or style: hidden text.
            if self.rawdata:
                self.handle_data(self.rawdata)
        self.rawdata = ""
        self.unread = 0

    def _attributes(self, embedded: list[Embedded]) -> str:
        """The attribute values, one per line (white space runs made one space), each once;
        the payload of a ``data:`` URI that decodes goes to ``embedded`` instead of the
        text, and a value with percent escapes (a URL's query, a ``mailto:``) is there
        decoded as well.  Only a ``cid:`` or ``mid:`` URL is left out (`_PART_ID`): any
        other value may carry text that leaves with the message (``<input type=hidden
        value=...>``, ``title``, ``alt``, ``href``, ``content``, ``data-*``, even ``style``
        or ``class``)."""
        lines: dict[str, None] = {}
        values = dict.fromkeys(v for attrs in self.attrs for _, v in attrs if v)
        # One look for "data:" in them all: a call of `take` per value cost 40 % more.
        uris = "data:" in "\n".join(values).lower()
        for value in values:
            if value[3:4] == ":" and _PART_ID.fullmatch(value):
                continue
            kept = value
            if uris:
                kept, found = take(value, whole=True)
                embedded += found
            line = " ".join(kept.split())
            if line:
                lines[line] = None
                if "%" in line or "+" in line:
                    lines[unquote_plus(line)] = None
        return "\n".join(lines)

    def _visit(self, embedded: list[Embedded]) -> None:
        """Each distinct ``data:`` file, as any embedded file, up to the members an archive
        may hold (the rest is refused, not dropped)."""
        walker = self.walker
        files = {(e.data, e.content_type): None for e in embedded if e.data}
        limit = walker.budget.limits.max_members
        for number, (data, ctype) in enumerate(files, start=1):
            where = f"{self.where}/data URI {number}"
            if number > limit:
                walker.uninspectable(where, f"more than {limit} data: URIs in one document")
                return
            walker.visit(data, where, self.depth + 1, name=f"data URI {number}", content_type=ctype)


def _lines(pieces: list[str]) -> str:
    """The pieces joined, each line's white space runs made one space, blank lines left out."""
    lines = (" ".join(line.split()) for line in "".join(pieces).splitlines())
    return "\n".join(line for line in lines if line)


def extract_html(html: str, where: str, walker: Walker, depth: int) -> None:
    """Units of an HTML document already decoded to text (``depth``: its own)."""
    collector = _Collector(walker, where, depth)
    collector.feed(html)
    collector.finish()


class HtmlExtractor:
    """HTML files and bodies: running text plus ``#table N!R M`` row units with cells."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        extract_html(decode(data, sniffed.charset), where, walker, depth)
