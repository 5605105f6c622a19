"""HTML: running text without script and style, and one unit per table row with its cells
and its table's column headings (a ``<th>`` row, or a first row that looks like one)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import TYPE_CHECKING

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


class _Collector(HTMLParser):
    """Stdlib parser (tolerant, no entity expansion beyond HTML's own named characters)."""

    def __init__(self, walker: Walker, where: str) -> None:
        super().__init__(convert_charrefs=True)
        self.walker = walker
        self.where = where
        self.text: list[str] = []
        self.skip = 0
        self.tables: list[_Table] = []
        self.count = 0
        self.check_time = walker.budget.check_time

    def _timed_updatepos(self, i: int, j: int) -> int:
        """The stdlib's ``updatepos``, with a look at the clock (see `finish`)."""
        self.check_time()
        return super().updatepos(i, j)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
        if not self.skip:
            self._write(data)

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
        # The stdlib parser (3.11) is quadratic on markup left open: ``feed`` stops at the
        # first construct not closed, and ``close`` scans each ``<x``, ``</``, ``<!--`` or
        # ``<?`` after it to the end of the document before it reads it as text (30,000
        # times ``<x ``, 90 KB, took a minute of CPU; a megabyte would take hours).  Each
        # construct and stretch of text read ends with ``updatepos``: while closing, that
        # looks at the clock, so the message's time limit holds whatever the markup (``feed``
        # is linear, and left without the look: a fifth of the time of a table's tags).
        self.updatepos = self._timed_updatepos  # type: ignore[method-assign]
        self.close()
        while self.tables:
            self._end_row()
            self.tables.pop()
        lines = (" ".join(line.split()) for line in "".join(self.text).splitlines())
        self.walker.add("\n".join(line for line in lines if line), self.where)


def extract_html(html: str, where: str, walker: Walker) -> None:
    """Units of an HTML document already decoded to text."""
    collector = _Collector(walker, where)
    collector.feed(html)
    collector.finish()


class HtmlExtractor:
    """HTML files and bodies: running text plus ``#table N!R M`` row units with cells."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        extract_html(decode(data, sniffed.charset), where, walker)
