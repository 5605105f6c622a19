"""Spreadsheets (xlsx, xlsm, xlsb, ods, xls) with python-calamine: every sheet, hidden and
very hidden ones too, one unit per row with its cells: ``voters.xlsx#Sheet1!R120``; a
sheet's first row gives every row its column headings when it looks like a heading."""

from __future__ import annotations

import datetime as dt
import io
from typing import TYPE_CHECKING, Any

import python_calamine

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.heading import heading
from postwarden.engine.extract.office import open_package, visit_embedded
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
            package = open_package(data, sniffed.label, where, depth, walker)
            package.zf.close()
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        except python_calamine.PasswordError:
            raise Uninspectable(f"encrypted {sniffed.label}") from None
        except python_calamine.CalamineError as exc:
            raise Uninspectable(f"corrupt {sniffed.label}: {exc}") from None
        try:
            self._sheets(workbook, where, walker)
        except python_calamine.CalamineError as exc:
            raise Uninspectable(f"corrupt {sniffed.label}: {exc}") from None
        if package is not None:
            visit_embedded(package, where, depth, walker)

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
