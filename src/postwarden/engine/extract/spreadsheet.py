"""Spreadsheets (xlsx, xlsm, xlsb, ods, xls) with python-calamine: every sheet, hidden and
very hidden ones too, one unit per row with its cells: ``voters.xlsx#Sheet1!R120``; a
sheet's first row gives every row its column headings when it looks like a heading.

Calamine reads only the cells.  Every other XML part of a package -- cell comments, pivot
caches (a copy of a pivot table's source data, kept when the source sheet is deleted),
charts, external-link caches, tables, document properties, custom XML -- is read by
`office.read_rest`, one unit per part: ``voters.xlsx#xl/pivotCache/pivotCacheRecords1.xml``.
The shared strings are not read again (every cell would count twice): a string that no
cell uses any more is not read."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any

# Only for a part open_package checked up to its root element (no DTD can follow).
from xml.etree.ElementTree import ParseError, fromstring

import python_calamine

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.heading import heading
from postwarden.engine.extract.office import (
    Package,
    open_package,
    read_rest,
    relationships,
    to_read,
    visit_embedded,
)
from postwarden.engine.extract.sniff import Kind

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_CHECK_EVERY = 4096


def cell_text(value: object) -> str:
    """A cell as a person reads it: 91234567.0 is ``91234567``, a date is ISO 8601."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if value is None:
        return ""
    return str(value)


class SpreadsheetExtractor:
    """Workbooks through python-calamine (about ten times faster than openpyxl)."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        package = None
        if sniffed.kind is Kind.SPREADSHEET and data.startswith(b"PK"):
            package = open_package(data, sniffed.label, where, depth, walker, keep_xml=_kept)
        try:
            self._workbook(data, sniffed.label, where, walker)
            if package is not None:
                read_rest(package, _cells(package, sniffed.label), sniffed.label, where, walker)
        finally:
            if package is not None:
                package.zf.close()
        if package is not None:
            visit_embedded(package, where, depth, walker)

    def _workbook(self, data: bytes, what: str, where: str, walker: Walker) -> None:
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        except python_calamine.PasswordError:
            raise Uninspectable(f"encrypted {what}") from None
        except python_calamine.CalamineError as exc:
            raise Uninspectable(f"corrupt {what}: {exc}") from None
        try:
            self._sheets(workbook, where, walker)
        except python_calamine.CalamineError as exc:
            raise Uninspectable(f"corrupt {what}: {exc}") from None

    def _sheets(
        self, workbook: python_calamine.CalamineWorkbook, where: str, walker: Walker
    ) -> None:
        budget = walker.budget
        for meta in workbook.sheets_metadata:
            if meta.typ == python_calamine.SheetTypeEnum.ChartSheet:
                continue  # a chart holds references to cells, not values
            sheet = workbook.get_sheet_by_name(meta.name)
            prefix = f"{where}#{meta.name}!R"
            first = True
            header: tuple[str, ...] | None = None
            # The rows are kept a few thousand at a time (`Walker.add_rows`), each as
            # `Walker.add` keeps it, also when reading stops midway.
            texts: list[str] = []
            places: list[str] = []
            rows: list[tuple[str, ...]] = []
            try:
                # iter_rows counts rows from the sheet's first row (R1) even when it is empty.
                for number, values in enumerate(sheet.iter_rows(), start=1):
                    if number % _CHECK_EVERY == 0:
                        kept = texts, places, rows
                        texts, places, rows = [], [], []
                        walker.add_rows(*kept, header)
                        budget.check_time()
                    # Strings once the join below has taken them (or they are converted).
                    row: list[Any] = values
                    # Trailing empty cells are no cells (a value that reads as "" is "" or None).
                    while row and (row[-1] == "" or row[-1] is None):
                        row.pop()
                    if not row:
                        continue
                    try:
                        # Most rows are all strings: joined as they are, without a call per cell.
                        text = " | ".join(row)
                    except TypeError:
                        row = [v if type(v) is str else cell_text(v) for v in row]
                        text = " | ".join(row)
                    cells: tuple[str, ...] = tuple(row)
                    if first:
                        first = False
                        header = heading(cells)
                    texts.append(text)
                    places.append(f"{prefix}{number}")
                    rows.append(cells)
            finally:
                walker.add_rows(texts, places, rows, header)


def _kept(name: str) -> bool:
    """The parts `read_rest` reads, but for the (large) ones calamine reads."""
    return to_read(name) and not name.startswith("xl/worksheets/") and name not in _CELLS


# The parts of the cells, where no relationship names them: an OpenDocument's content, the
# shared strings and worksheets of a workbook (``xl/sharedStrings.xml`` is not read again).
_CELLS = frozenset({"content.xml", "xl/sharedstrings.xml"})
_WORKBOOK = ("/officeDocument",)
_SHARED = "/sharedStrings"


def _cells(package: Package, what: str) -> set[str]:
    """The parts calamine read, by lowercase name: the shared strings and the worksheets
    that the workbook lists (``<sheet r:id>``, through its relationships, as calamine finds
    them).  A worksheet the workbook does not list is read by `read_rest`."""
    done = set(_CELLS)
    for _id, kind, workbook in relationships(package, "", what):
        if kind.endswith(_WORKBOOK):
            listed = _listed(package, workbook, what)
            for rid, part_kind, part in relationships(package, workbook, what):
                if part_kind.endswith(_SHARED) or (
                    part_kind.endswith("/worksheet") and (listed is None or rid in listed)
                ):
                    done.add(part)
    return done


def _listed(package: Package, workbook: str, what: str) -> set[str] | None:
    """The relationship ids of the sheets an XML workbook lists (None: xlsb, not known)."""
    xml = package.xml.get(workbook)
    if xml is None:
        return None
    try:
        root = fromstring(xml)  # noqa: S314 -- checked by open_package: no DTD
    except ParseError as exc:
        raise Uninspectable(f"corrupt {what}: {exc}") from None
    return {
        value
        for element in root.iter()
        if element.tag.endswith("}sheet")
        for key, value in element.attrib.items()
        if key.endswith("}id")
    }
