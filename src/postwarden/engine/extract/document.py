"""Word documents (docx, docm) with python-docx: body paragraphs, tables row by row, text
boxes, headers, footers, comments, footnotes and endnotes, and embedded files."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from postwarden.engine.extract.office import open_package, part_texts, visit_embedded

if TYPE_CHECKING:
    from docx.document import Document
    from docx.section import Section, _Footer, _Header

    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_NOTES = {"word/footnotes.xml": "footnotes", "word/endnotes.xml": "endnotes"}


class _Writer:
    """Collects one story's running text and emits its table rows as they come."""

    def __init__(self, walker: Walker, where: str) -> None:
        self.walker = walker
        self.where = where
        self.tables = 0

    def story(self, blocks: Iterable[Paragraph | Table], place: str) -> None:
        lines: list[str] = []
        for block in blocks:
            if isinstance(block, Paragraph):
                lines.append(block.text)
            else:
                self.table(block, place)
        self.walker.add("\n".join(line for line in lines if line.strip()), f"{self.where}#{place}")

    def table(self, table: Table, place: str) -> None:
        self.tables += 1
        number = self.tables
        suffix = "" if place == "body" else f" in {place}"
        for r, row in enumerate(table.rows, start=1):
            cells: list[str] = []
            seen: set[int] = set()
            for cell in row.cells:
                # A merged cell appears once per grid column it spans; keep it once.
                if id(cell._tc) in seen:
                    continue
                seen.add(id(cell._tc))
                cells.append(" ".join(p.text for p in cell.paragraphs).strip())
                for inner in cell.tables:
                    self.table(inner, place)
            if any(cells):
                where = f"{self.where}#table {number}{suffix}!R{r}"
                self.walker.add(" | ".join(cells), where, cells)


def _headers_footers(section: Section) -> Iterable[tuple[str, _Header | _Footer]]:
    yield "header", section.header
    yield "first page header", section.first_page_header
    yield "even page header", section.even_page_header
    yield "footer", section.footer
    yield "first page footer", section.first_page_footer
    yield "even page footer", section.even_page_footer


class DocxExtractor:
    """docx: ``letter.docx#body``, ``#table 1!R3``, ``#header``, ``#footer``, ``#comments``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        package = open_package(data, sniffed.label, where, depth, walker)
        doc: Document = docx.Document(io.BytesIO(data))
        writer = _Writer(walker, where)
        writer.story(doc.iter_inner_content(), "body")
        boxes = doc.element.body.xpath(".//w:txbxContent//w:p")
        walker.add(
            "\n".join("".join(p.xpath(".//w:t/text()")) for p in boxes), f"{where}#text boxes"
        )
        for number, section in enumerate(doc.sections, start=1):
            for label, part in _headers_footers(section):
                # An undefined header shows the previous section's: read each definition once.
                if part.is_linked_to_previous:
                    continue
                name = label if number == 1 else f"{label} {number}"
                writer.story(part.iter_inner_content(), name)
        comments = [c.text for c in doc.comments]
        walker.add("\n".join(comments), f"{where}#comments")
        with package.zf as zf:
            for info in package.infos:
                if info.filename in _NOTES:
                    walker.add("\n".join(part_texts(zf, info)), f"{where}#{_NOTES[info.filename]}")
        visit_embedded(package, where, depth, walker)
