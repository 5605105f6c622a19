"""Spreadsheets (xlsx, xlsm, xlsb, ods, xls) with python-calamine: every sheet, hidden and
very hidden ones too, one unit per row with its cells: ``voters.xlsx#Sheet1!R120``; a
sheet's first row gives every row its column headings when it looks like a heading.

Calamine reads only the cells.  Every other XML part of a package -- cell comments, pivot
caches (a copy of a pivot table's source data, kept when the source sheet is deleted),
charts, external-link caches, tables, document properties, custom XML -- is read by
`office.read_rest`, one unit per part: ``voters.xlsx#xl/pivotCache/pivotCacheRecords1.xml``.
The shared strings are not read again (every cell would count twice): only those no cell
shows, one unit (``voters.xlsx#xl/sharedStrings.xml``).  Of each worksheet, the text no cell
shows -- page headers and footers, data validations, formulas' string literals -- is read
as units of the sheet (``voters.xlsx#Sheet1 header``; `sheet_lines`).

A plain xlsx worksheet is read from the bytes the office guard inflated and checked
(`_plain_sheets`, ``_hsscan.sheet_rows``), not by calamine, which inflates and parses each
worksheet twice (its cells, then its merged cells): 0.69 of a 12 KB workbook's 1.6 ms.  It
reads a strict subset of the worksheets calamine reads and gives the very rows calamine
gives there; any other worksheet, or workbook, is read by calamine (the test compares).
Those rows are made units in C too (``_hsscan.row_units``, `_read_plain_rows`), as the
Python loop `_read_rows` makes calamine's.  Such a worksheet is read while its grid is
judged, in one pass (`_OnePass`, ``_hsscan.sheet_cells``), which stops reading at the cell
that takes the grid over the limit: `grids.check_grids` then refuses it as before."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable
from itertools import chain
from typing import TYPE_CHECKING, Any

# Only for a part open_package checked up to its root element (no DTD can follow).
from xml.etree.ElementTree import ParseError, fromstring

import python_calamine

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.grids import check_grids, check_xls
from postwarden.engine.extract.heading import heading
from postwarden.engine.extract.office import (
    Package,
    kept_lines,
    open_package,
    parsed,
    parsed_relationships,
    plain_relationships,
    pulled,
    read_rest,
    relationships,
    visit_embedded,
)
from postwarden.engine.extract.sniff import OLE_MAGIC, Kind

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: calamine reads every sheet
    _hsscan = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

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
            package = open_package(
                data, sniffed.label, where, depth, walker, keep_also=_KEEP_ALSO, keep_not=_KEEP_NOT
            )
        try:
            budget = walker.budget
            one_pass = None
            if package is not None:
                one_pass = _OnePass(package, budget.limits.max_sheet_cells)
                check_grids(package, sniffed.label, budget.limits.max_sheet_cells, one_pass.read)
            elif data.startswith(OLE_MAGIC):
                check_xls(data, sniffed.label, budget.limits.max_sheet_cells, budget.check_time)
            self._workbook(data, sniffed.label, where, walker, package, one_pass)
            if package is not None:
                done, sheets = _cells(package, sniffed.label)
                _read_sheet_texts(package, sheets, sniffed.label, where, walker)
                read_rest(package, done, sniffed.label, where, walker)
        finally:
            if package is not None:
                package.zf.close()
        if package is not None:
            visit_embedded(package, where, depth, walker)

    def _workbook(
        self,
        data: bytes,
        what: str,
        where: str,
        walker: Walker,
        package: Package | None,
        one_pass: _OnePass | None,
    ) -> None:
        # Calamine opens every workbook: it reads (and so checks) the workbook, its
        # relationships, styles and shared strings, and tells the sheets and their kinds.
        with _CalamineRefusals(what):
            try:
                workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            except python_calamine.PasswordError:
                raise Uninspectable(f"encrypted {what}") from None
        strings = None if one_pass is None else one_pass.strings
        plain = (
            None
            if package is None or one_pass is None
            else _plain_sheets(
                package, workbook.sheet_names, strings, one_pass.exact, one_pass.rows
            )
        )
        # The shared strings no cell shows: those whose text is no cell's value.
        unused = set(strings) if strings else None
        with _CalamineRefusals(what):
            self._sheets(workbook, where, walker, plain, unused)
        if package is not None and strings and unused:
            _read_unused(package, [s for s in strings if s in unused], where, walker)

    def _sheets(
        self,
        workbook: python_calamine.CalamineWorkbook,
        where: str,
        walker: Walker,
        plain: _Plain | None = None,
        unused: set[str] | None = None,
    ) -> None:
        """Every sheet's rows; the cell values are taken out of ``unused``."""
        for meta in workbook.sheets_metadata:
            if meta.typ == python_calamine.SheetTypeEnum.ChartSheet:
                continue  # a chart holds references to cells, not values
            fast = None if plain is None else plain.rows(meta.name)
            prefix = f"{where}#{meta.name}!R"
            if fast is None:
                rows = workbook.get_sheet_by_name(meta.name).iter_rows()
                _read_rows(rows, prefix, walker, unused)
            else:
                _read_plain_rows(fast, prefix, walker, unused)


class _CalamineRefusals:
    """Calamine's errors as the workbook's refusal, and its panics too (an xls's 2-byte name
    record, a sheet past the stream's end): pyo3 raises a panic as a ``PanicException``,
    which is no ``Exception``, so the walker's guard would let it through; any other
    exception passes.  A class, not a ``contextmanager`` generator: a generator made, started
    and closed twice a workbook cost more than the rest of telling its sheets."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        if kind is None or exc is None:
            return
        if isinstance(exc, python_calamine.CalamineError) or (
            kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"
        ):
            raise Uninspectable(f"corrupt {self._what}: {exc}") from None


def _read_rows(
    sheet_rows: Iterable[list[Any]], prefix: str, walker: Walker, unused: set[str] | None
) -> None:
    """A sheet's rows, each a unit at ``prefix`` + its number (the cell values are taken
    out of ``unused``)."""
    budget = walker.budget
    first = True
    header: tuple[str, ...] | None = None
    # The rows are kept a few thousand at a time (`Walker.add_rows`), each as
    # `Walker.add` keeps it, also when reading stops midway.
    texts: list[str] = []
    places: list[str] = []
    rows: list[tuple[str, ...]] = []
    try:
        # iter_rows counts rows from the sheet's first row (R1) even when it is empty.
        for number, values in enumerate(sheet_rows, start=1):
            if number % _CHECK_EVERY == 0:
                kept = texts, places, rows
                texts, places, rows = [], [], []
                walker.add_rows(*kept, header)
                if unused:
                    unused.difference_update(chain.from_iterable(kept[2]))
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
    if unused:
        unused.difference_update(chain.from_iterable(rows))


def _read_plain_rows(
    rows: list[list[str | float | bool]], prefix: str, walker: Walker, unused: set[str] | None
) -> None:
    """`_read_rows` of a worksheet `_hsscan.sheet_rows` read, the units made by
    `_hsscan.row_units` in the very batches `_read_rows` keeps (a test compares)."""
    budget = walker.budget
    header: tuple[str, ...] | None = None
    first = True
    # `_read_rows` keeps a batch before each row whose number is a multiple of _CHECK_EVERY.
    starts = [0, *range(_CHECK_EVERY - 1, len(rows), _CHECK_EVERY)]
    for batch, (start, stop) in enumerate(zip(starts, [*starts[1:], len(rows)], strict=True)):
        if batch:
            budget.check_time()
        texts, places, cells = _hsscan.row_units(rows, start, stop, prefix)
        if first and cells:
            first = False
            header = heading(cells[0])
        walker.add_rows(texts, places, cells, header)
        if unused:
            unused.difference_update(chain.from_iterable(cells))


# The parts of the cells calamine reads by name, not through relationships: an OpenDocument's
# content, the shared strings of a workbook (``xl/sharedStrings.xml`` is not read again).
_CELLS = frozenset({"content.xml", "xl/sharedstrings.xml"})
_WORKBOOK = ("/officeDocument",)


def _cells(package: Package, what: str) -> tuple[set[str], list[tuple[str, str]]]:
    """The parts calamine read, by lowercase name: the shared strings (at their one name)
    and the worksheets the workbook lists (``<sheet r:id>``, through its relationships,
    where calamine finds them: a worksheet the workbook does not list is read by
    `read_rest`); and (sheet name, part) of the listed XML worksheets that were kept.

    Calamine reads ``xl/workbook.xml`` and its relationships by name and takes each
    target as written (`_literal_parts`), where `relationships` resolves ``.``, ``..`` and
    ``//`` as OPC does: a part is taken as read only where both name it, so that no part
    goes unread because calamine read another of a like name (``/xl/./worksheets/s.xml``
    holding a decoy, ``xl/worksheets/s.xml`` the cells; a relationship of the shared
    strings' type naming another part)."""
    done = set(_CELLS)
    sheets: list[tuple[str, str]] = []
    for _id, kind, workbook in relationships(package, "", what):
        if kind.endswith(_WORKBOOK) and workbook == _XL_WORKBOOK:
            listed = _listed(package, workbook, what)
            rels = relationships(package, workbook, what)  # refuses them if not XML
            literal = _literal_parts(package)
            for rid, part_kind, part in rels:
                if (
                    part_kind.endswith("/worksheet")
                    and (listed is None or rid in listed)
                    and literal.get(rid) == part
                ):
                    done.add(part)
                    if listed is not None and part in package.xml:
                        sheets.append((listed[rid], part))
    return done, sheets


def _literal_parts(package: Package) -> dict[str, str | None]:
    """Per relationship id of the workbook, the lowercase part calamine reads for its target:
    an absolute ``/x`` as ``x``, any other as ``xl/`` + the target, as written (None for
    an id given twice)."""
    parts: dict[str, str | None] = {}
    if _XL_RELATIONSHIPS not in package.xml:
        return parts
    rels = plain_relationships(package.xml[_XL_RELATIONSHIPS])
    if rels is None:
        rels = parsed_relationships(parsed(package, _XL_RELATIONSHIPS))
    for rel in rels:
        rid, target = rel.get("Id", ""), rel.get("Target") or ""
        part = target[1:] if target.startswith("/") else f"xl/{target}"
        parts[rid] = None if rid in parts else part.lower()
    return parts


def _listed(package: Package, workbook: str, what: str) -> dict[str, str] | None:
    """The sheets an XML workbook lists: name by relationship id (None: xlsb, not known)."""
    if workbook not in package.xml:
        return None
    try:
        root = parsed(package, workbook)
    except ParseError as exc:
        raise Uninspectable(f"corrupt {what}: {exc}") from None
    return {
        value: element.get("name", "")
        for element in root.iter()
        if element.tag.endswith("}sheet")
        for key, value in element.attrib.items()
        if key.endswith("}id")
    }


def _read_sheet_texts(
    package: Package, sheets: list[tuple[str, str]], what: str, where: str, walker: Walker
) -> None:
    """The text of each listed worksheet that no cell shows, a unit of each kind:
    ``voters.xlsx#Sheet1 header`` (page headers and footers), ``#Sheet1 validation`` (the
    lists and messages of data validations), ``#Sheet1 formulas`` (formulas' literals)."""
    for name, part in sheets:
        walker.budget.check_time()
        lines = sheet_lines(package.xml[part], what)
        for kind, texts in zip(_TEXT_KINDS, lines, strict=True):
            if texts:
                walker.add("\n".join(texts), f"{where}#{name} {kind}")


_TEXT_KINDS = ("header", "validation", "formulas")
_HEADER, _LIST, _MESSAGE, _FORMULA = range(4)
"""What `_hsscan.sheet_texts` tells each text is."""
_HEADER_TAGS = frozenset(f"{a}{b}" for a in ("odd", "even", "first") for b in ("Header", "Footer"))
_SHEET_TAGS = {
    **dict.fromkeys(_HEADER_TAGS, _HEADER),
    "formula1": _LIST,
    "formula2": _LIST,
    "f": _FORMULA,
    "formula": _FORMULA,
}
_MESSAGES = ("prompt", "promptTitle", "error", "errorTitle")
_REFERENCE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_LITERAL = re.compile(r'"((?:[^"]|"")*)"')
# A page header's codes (Excel's "&L", "&\"Arial,Bold\"", "&P"...): "&L", "&C", "&R" begin a
# section (a line here); a font, colour, field or format code is dropped; a font size's
# digits are kept as a word (where Excel would print digits, none is lost); "&&" is "&".
_SECTION = re.compile(r"&[LCR]")
_HEADER_CODE = re.compile(r'&(?:"[^"]*"?|K(?:[0-9A-Fa-f]{6}|\d\d[+-]\d{3})|[PNDTZFAGBIUESXYOH])')
_FONT_SIZE = re.compile(r"&(\d+)")


def sheet_lines(xml: bytes, what: str) -> tuple[list[str], list[str], list[str]]:
    """A worksheet's header lines, validation lines and formula literals (each once)."""
    found = None if _hsscan is None else _hsscan.sheet_texts(xml)
    if found == []:
        return [], [], []  # most sheets
    texts = None if found is None else _resolved(found)
    return text_lines(_parsed(xml, what) if texts is None else texts)


def text_lines(texts: list[tuple[int, str]]) -> tuple[list[str], list[str], list[str]]:
    """`sheet_lines` of a worksheet's texts, each told its kind."""
    headers: list[str] = []
    validations: list[str] = []
    formulas: list[str] = []
    for kind, text in texts:
        if kind == _HEADER:
            headers.extend(_header_lines(text))
        elif kind == _MESSAGE:
            validations.append(text)
        elif kind == _LIST:
            validations.extend(i for m in _LITERAL.findall(text) for i in _unquoted(m).split(","))
        else:
            formulas.extend(_unquoted(m) for m in _LITERAL.findall(text))
    return kept_lines(headers), kept_lines(validations), kept_lines(formulas)


def _unquoted(literal: str) -> str:
    return literal.replace('""', '"')


def _header_lines(text: str) -> list[str]:
    text = text.replace("&&", "\0")
    return [
        " ".join(_FONT_SIZE.sub(r" \1 ", _HEADER_CODE.sub(" ", section)).split()).replace("\0", "&")
        for section in _SECTION.split(text)
    ]


def _resolved(found: list[tuple[int, str]]) -> list[tuple[int, str]] | None:
    """`_hsscan.sheet_texts`'s texts with their references resolved (an attribute's line
    ends and tabs first made spaces, as XML does); None if one is not XML's."""
    out: list[tuple[int, str]] = []
    for kind, raw in found:
        text = raw.translate(_ATTRIBUTE_SPACE) if kind == _MESSAGE else raw
        try:
            out.append((kind, _REFERENCE.sub(_character, text) if "&" in text else text))
        except (KeyError, ValueError, OverflowError):
            return None
    return out


_ATTRIBUTE_SPACE = str.maketrans("\t\n\r", "   ")


def _character(reference: re.Match[str]) -> str:
    name = reference.group(1)
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _ENTITIES[name]


def _parsed(xml: bytes, what: str) -> list[tuple[int, str]]:
    """What `_resolved` gives, by parsing the part (where `_hsscan.sheet_texts` cannot),
    streamed: each element is dropped once it ends (a worksheet may be large)."""
    out: list[tuple[int, str]] = []
    parents: list[Element] = []
    try:
        for event, element in pulled(xml):
            local = _local(element.tag)
            if event == "start":
                parents.append(element)
                if local == "dataValidation":
                    attributes = element.attrib.items()
                    out.extend((_MESSAGE, v) for k, v in attributes if k in _MESSAGES and v)
                continue
            parents.pop()
            kind = _SHEET_TAGS.get(local)
            text = element.text or ""
            if (kind == _HEADER and text and not text.isspace()) or (
                kind is not None and kind != _HEADER and '"' in text
            ):
                out.append((kind, text))
            if parents:
                del parents[-1][:]
    except (ParseError, LookupError) as exc:
        raise Uninspectable(f"corrupt {what}: worksheet: {exc}") from None
    return out


_Rows = list[list[str | float | bool]]


class _OnePass:
    """A workbook's shared strings (`_shared_strings`: None, or not exact), and the rows of
    each worksheet `check_grids` judged by reading it (``_hsscan.sheet_cells``, `read`),
    by lowercase part name.

    The grid check and the reader each walked the whole worksheet, `sheet_grid` then
    ``sheet_rows`` (a 48 KB sheet of the scan bench: 45 and 90 us); ``sheet_cells`` reads
    the rows and counts the grid as `sheet_grid` counts it in one pass (110 us), and stops
    reading once the grid is over the limit: `check_grids` then judges the part by
    `sheet_grid` and refuses it as before, before any grid over the limit is built.  The
    rows are those ``sheet_rows`` gives without the styles, which `_Plain.rows` asks for
    first (tests/engine/extract/test_sheet_one_pass.py compares both)."""

    __slots__ = ("_max_cells", "_sheet_cells", "exact", "rows", "strings")

    def __init__(self, package: Package, max_cells: int) -> None:
        self.strings, self.exact = _shared_strings(package)
        self.rows: dict[str, _Rows] = {}
        self._max_cells = max_cells
        # None where the module is not built, was built before it, or is a stand-in without
        # it (test_sheet_cells' spy of sheet_rows): each worksheet is judged and read apart.
        self._sheet_cells = getattr(_hsscan, "sheet_cells", None) if self.exact else None

    def read(self, name: str, xml: bytes) -> int | None:
        """The grid of worksheet ``name`` as `sheet_grid` counts it, its rows kept; None
        where ``sheet_cells`` does not read it (`sheet_grid` judges it)."""
        if self._sheet_cells is None or not name.startswith(_WORKSHEETS):
            return None
        found: tuple[int, _Rows] | None = self._sheet_cells(xml, self.strings, b"", self._max_cells)
        if found is None:
            return None
        cells, self.rows[name] = found
        return cells


class _Plain:
    """The worksheets `_hsscan.sheet_rows` reads, by sheet name, and the shared strings."""

    __slots__ = ("_package", "_parts", "_plain_styles", "_read", "_strings")

    def __init__(
        self,
        parts: dict[str, bytes],
        strings: list[str] | None,
        package: Package,
        read: dict[str, _Rows],
    ) -> None:
        self._parts = parts
        self._strings = strings
        # The styles are taken from the package only when a sheet's numbers need them: most
        # workbooks' are kept compressed (`VERIFIED`: one template's), and inflating them
        # for nothing cost a workbook of the scan bench 2.5 KB of inflating and a call.
        self._package = package
        self._plain_styles: bytes | None = None
        self._read = read  # by sheet name: the rows `_OnePass` read of its part

    def rows(self, name: str) -> _Rows | None:
        """The rows of sheet ``name`` as calamine's ``iter_rows`` gives them, or None where
        calamine must read the sheet.

        Read first without the styles: sheet_rows asks for a style only at a number that
        has one (whose style may make it a date), and stops there, so a sheet it reads so
        is read as with them, and one with such a number is read again with them.  This
        spares most sheets a search of the whole part for a style (which cost a 48 KB
        sheet 150,000 instructions, a tenth of reading it) and costs a sheet with styled
        numbers its cells up to the first one."""
        read = self._read.pop(name, None)
        if read is not None:
            return read  # sheet_rows(xml, self._strings, b""), read by `_OnePass`
        xml = self._parts.get(name)
        if xml is None or _hsscan is None:
            return None
        rows = _hsscan.sheet_rows(xml, self._strings, b"")
        if rows is None and _XL_STYLES in self._package.xml:
            if self._plain_styles is None:
                self._plain_styles = plain_styles(self._package.xml[_XL_STYLES])
            if self._plain_styles:
                rows = _hsscan.sheet_rows(xml, self._strings, self._plain_styles)
        return rows


def _shared_strings(package: Package) -> tuple[list[str] | None, bool]:
    """The shared strings of an xlsx (None: it has none), and whether they are exactly what
    calamine reads (`_hsscan.shared_strings`); if not, as ElementTree reads them: each
    ``<si>``'s text, its runs joined, its phonetic runs left out."""
    xml = package.xml.get(_XL_STRINGS)
    if xml is None:
        return None, True
    if _hsscan is not None:
        strings = _hsscan.shared_strings(xml)
        if strings is not None:
            return strings, True
    try:
        root = fromstring(xml)  # noqa: S314 -- no DTD (open_package)
    except (ParseError, LookupError):
        return None, False  # calamine read them (or refused the workbook)
    return [_item_text(si) for si in root if _local(si.tag) == "si"], False


def _item_text(si: Element) -> str:
    texts = []
    for child in si:
        local = _local(child.tag)
        if local == "t":
            texts.append(child.text or "")
        elif local == "r":
            texts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(texts)


def _read_unused(package: Package, unused: list[str], where: str, walker: Walker) -> None:
    """The shared strings no cell shows (left behind when cells were cleared, or planted),
    read once, one unit: ``voters.xlsx#xl/sharedStrings.xml``."""
    name = next(i.filename for i in package.infos if i.filename.lower() == _XL_STRINGS)
    walker.add("\n".join(kept_lines(unused)), f"{where}#{name}")


# Where calamine looks: these parts by name, not through relationships; a worksheet at "xl/"
# + its relationship's target, or at an absolute "/xl/..." target less its "/" (as the test
# finds it); only a plain target of those two forms is taken here.
_XL_WORKBOOK = "xl/workbook.xml"
_XL_RELATIONSHIPS = "xl/_rels/workbook.xml.rels"
_XL_STRINGS = "xl/sharedstrings.xml"
_XL_STYLES = "xl/styles.xml"
# The parts `open_package` keeps: those `read_rest` reads and the worksheets and shared
# strings, and the styles `_plain_sheets` reads; not an OpenDocument's content, which
# calamine reads.
_KEEP_ALSO = frozenset({_XL_STYLES})
_KEEP_NOT = frozenset({"content.xml"})
_WORKSHEETS = "xl/worksheets/"
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NUM_FMTS, _CELL_XFS, _XF = f"{_MAIN}numFmts", f"{_MAIN}cellXfs", f"{_MAIN}xf"
# Excel's built-in number formats that are neither dates nor times (ids 14-36 and 45-58 are:
# calamine reads them so, the test shows each).
_PLAIN_FORMATS = frozenset(str(i) for i in (*range(14), *range(37, 45), 48, 49))
_PLAIN_TARGET = re.compile(r"(?:/xl/)?(worksheets/[A-Za-z0-9_.-]+\.xml)")
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]+")
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_SHEET_ID = frozenset(
    {
        "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id",
        "{http://purl.oclc.org/ooxml/officeDocument/relationships}id",
    }
)


def _plain_sheets(
    package: Package,
    names: list[str],
    strings: list[str] | None,
    exact: bool,
    read: dict[str, _Rows] | None = None,
) -> _Plain | None:
    """The worksheets of an xlsx found where calamine finds them, by sheet name (the first
    sheet of a name, as calamine), when the workbook and its relationships say so plainly:
    each ``<sheet>`` one relationship id, each relationship a plain target.  None: calamine
    reads every sheet.  ``read``: the rows `_OnePass` read, by part (each taken by the
    first sheet that names its part)."""
    if (
        _hsscan is None
        or not exact
        or _XL_WORKBOOK not in package.xml
        or _XL_RELATIONSHIPS not in package.xml
    ):
        return None
    if b"&" in package.xml[_XL_RELATIONSHIPS]:
        # Calamine takes ids and targets as written, references unresolved (a sheet's id
        # with one matches no relationship: calamine refused the workbook).
        return None
    try:
        # Not refused here: calamine reads the sheets first, and `_cells` refuses after.
        workbook = parsed(package, _XL_WORKBOOK)
        rels = _relationship_attributes(package)
    except (ParseError, LookupError):  # LookupError: an encoding Python does not know
        return None
    targets = None if rels is None else _targets(rels)
    sheets = [e for e in workbook.iter() if _local(e.tag) == "sheet"]
    if targets is None or [e.get("name") for e in sheets] != names:
        return None
    parts: dict[str, bytes] = {}
    taken: dict[str, _Rows] = {}
    for element in sheets:
        keys = [key for key in element.attrib if key.endswith("id")]
        if len(keys) != 1 or keys[0] not in _SHEET_ID:
            return None
        part = targets.get(element.attrib[keys[0]], "")
        if part not in package.xml:
            return None
        name = element.get("name", "")
        if name not in parts:
            parts[name] = package.xml[part]
            rows = None if read is None else read.pop(part, None)
            if rows is not None:
                taken[name] = rows
    return _Plain(parts, strings, package, taken)


def plain_styles(xml: bytes) -> bytes:
    """A byte per cell style (``<cellXfs>``'s ``<xf>``, as calamine counts them): 1 where
    its number format is a built-in one that is no date or time (calamine makes a date of
    a number whose format is one), 0 where it may be; b"" where the styles are not plain."""
    try:
        root = fromstring(xml)  # noqa: S314 -- no DTD (open_package)
    except (ParseError, LookupError):
        return b""
    # Calamine reads these lists, and the formats and styles in them, by local name wherever
    # they are: here each must be once at most, in the style sheet, with only its own.
    lists = {e.tag: e for e in root if e.tag in (_NUM_FMTS, _CELL_XFS)}
    found = sum(_local(e.tag) in ("numFmts", "cellXfs") for e in root.iter())
    cell_xfs = lists.get(_CELL_XFS, ())
    if (
        _local(root.tag) != "styleSheet"
        or found != len(lists)
        or sum(_local(e.tag) == "xf" for xf in cell_xfs for e in xf.iter()) != len(cell_xfs)
    ):
        return b""
    custom = {f.get("numFmtId") for f in lists.get(_NUM_FMTS, ())}
    flags = bytearray()
    for xf in cell_xfs:
        if xf.tag != _XF:
            return b""
        number_format = xf.get("numFmtId")
        flags.append(
            number_format is None
            or (number_format not in custom and number_format in _PLAIN_FORMATS)
        )
    return bytes(flags)


def _relationship_attributes(package: Package) -> list[dict[str, str]] | None:
    """The attributes of each ``Relationship`` element of the workbook's relationships (any
    namespace), or None where one is not in the relationships namespace; raises what
    ``fromstring`` raises.  Read by `plain_relationships` where the part is in the form
    office programs write (its root and elements in that namespace alone), as
    `office.relationships` reads it: parsing it cost a workbook 10 us, 25 in a scan."""
    found = plain_relationships(package.xml[_XL_RELATIONSHIPS])
    if found is not None:
        return found
    elements = [
        e for e in parsed(package, _XL_RELATIONSHIPS).iter() if _local(e.tag) == "Relationship"
    ]
    if any(element.tag != _RELATIONSHIP for element in elements):
        return None
    return [element.attrib for element in elements]


def _targets(relationships: Iterable[dict[str, str]]) -> dict[str, str] | None:
    """Relationship id -> lowercase worksheet part, when every relationship is plain."""
    targets: dict[str, str] = {}
    ids: set[str] = set()
    for attributes in relationships:
        rid = attributes.get("Id", "")
        if not _PLAIN_ID.fullmatch(rid) or rid in ids:
            return None
        ids.add(rid)
        plain = _PLAIN_TARGET.fullmatch(attributes.get("Target", ""))
        if plain is not None and "TargetMode" not in attributes:
            targets[rid] = f"xl/{plain.group(1)}".lower()
    return targets


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
