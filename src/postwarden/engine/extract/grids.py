"""The grids a workbook's sheets span, judged before any reader builds them
(``Limits.max_sheet_cells``): calamine builds a sheet as one dense grid, whatever the
cells in it, so a few bytes naming far-apart cells take gigabytes.  Each judge reads a
sheet's tags or records as calamine reads them, without building anything:
an xlsx worksheet (`sheet_grid`, in C as ``_hsscan.sheet_grid``), an xlsb one
(`xlsb_grid`), an OpenDocument's tables (`ods_grid`) -- all through `check_grids` --
and an xls's sheets (`check_xls`, ``_hsscan.xls_grid``).  Every compiled judge has its
Python fallback here, which reads as it reads (the tests compare them).  A plain xlsx
worksheet is counted as `sheet_grid` counts it by the reader's own pass over it
(``_hsscan.sheet_cells``, `check_grids`' ``read``)."""

from __future__ import annotations

import html
import re
import struct
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import unquote

import olefile

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.office import judged

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: the Python judges below
    _hsscan = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from postwarden.engine.extract.office import Package

_CHECK_EVERY = 4096


def check_grids(
    package: Package,
    what: str,
    max_cells: int,
    read: Callable[[str, bytes], int | None] | None = None,
) -> None:
    """Refuse a workbook with a part that, read as a worksheet, spans a grid of more than
    ``max_cells`` cells (`Limits.max_sheet_cells`), before calamine or
    ``_hsscan.sheet_rows`` builds that grid: calamine builds it whole, whatever the cells
    in it (a 132-byte part naming A1 and XFD3051 took 1.6 GB; A1 and XFD1048576 make it
    abort the process; a 1.4 KB OpenDocument repeating an empty row 3,050 times took 3 GB).
    Judged: an OpenDocument's ``content.xml`` (`ods_grid`), an xlsb's binary parts
    (`xlsb_grid`) and XML ones (`sheet_grid`) where their name ends
    as a relationship's target does (as written, its references resolved, or
    percent-decoded; any case), as calamine may read any of them as a worksheet, whatever
    its name.

    ``read`` (by lowercase name and bytes) may judge a kept XML part instead of
    `sheet_grid`, giving the count `sheet_grid` gives, or None where it does not: the
    spreadsheet reader reads a worksheet's rows in the same pass (`spreadsheet._OnePass`)."""
    ends = _target_ends(package)
    embedded = dict(package.embedded)
    binary = any(info.filename.lower() == _XLSB_WORKBOOK for info in package.infos)
    for info in package.infos:
        lower = info.filename.lower()
        content = lower == _CONTENT
        if info.is_dir() or not (content or lower.rpartition("/")[2] in ends):
            continue
        judge = (
            ods_grid if content else xlsb_grid if binary and lower.endswith(".bin") else sheet_grid
        )
        if info.filename in embedded:
            cells = judge(embedded[info.filename])
        else:
            reader = None if read is None or judge is not sheet_grid else partial(read, lower)
            cells = judged(package, info, judge, reader)
        if cells < 0 or cells > max_cells:
            spans = "cells not plainly placed" if cells < 0 else f"a grid of {cells:,} cells"
            raise Uninspectable(
                f"worksheet {info.filename} of {what} spans {spans}, over the limit of "
                f"{max_cells:,}"
            )


_TARGET = re.compile(rb"""Target\s*=\s*(?:"([^"]*)"|'([^']*)')""")


_CONTENT = "content.xml"
_ODS_TAG = re.compile(rb"<(/?)[\w.-]*?:?(table|table-row|table-cell|covered-table-cell)(?=[\s/>])")
# Attribute values hold no "<" in XML: a tag that does not end so is not plainly written.
_ODS_ATTRIBUTES = re.compile(rb"""((?:[^>"'<]|"[^"<]*"|'[^'<]*')*+)>""")
_ODS_REPEATED = re.compile(
    rb"""(?:^|\s)[\w.-]*?:?number-(rows|columns)-repeated\s*=\s*(?:"([^"]*)"|'([^']*)')"""
)
_ODS_VALUE_TYPE = re.compile(rb"(?:^|\s)[\w.-]*?:?value-type\s*=")


def ods_grid(xml: bytes) -> int:
    """The cells of the largest grid a table of an OpenDocument's ``content.xml`` spans, at
    most: rows from the first to the last with a value, columns from the first to the
    rightmost holding one, each repeated row and cell counted as often as it is repeated
    (as calamine makes them); a cell holds a value if it is not empty (``<cell/>``) or
    has a value type.  -1 where a table's tag or repeat count is not plainly written."""
    worst = 0
    row = first = repeat = col = 0
    bottom = right = -1
    for tag in _ODS_TAG.finditer(xml):
        closing, local = tag.groups()
        attributes = _ODS_ATTRIBUTES.match(xml, tag.end())
        if attributes is None:
            return -1
        if closing:
            continue
        text = attributes.group(1)
        if local == b"table":
            worst = max(worst, (bottom + 1) * (right + 1))
            row = first = repeat = col = 0
            bottom = right = -1
            continue
        counts = {m.group(1): m.group(2) or m.group(3) or b"" for m in _ODS_REPEATED.finditer(text)}
        kind = b"rows" if local == b"table-row" else b"columns"
        written = counts.get(kind, b"1")
        if not written.isdigit() or len(written) > 9:
            return -1
        times = int(written)
        if local == b"table-row":
            first, repeat, col = row, times, 0
            row += times
        else:
            if not text.endswith(b"/") or _ODS_VALUE_TYPE.search(text):
                bottom = max(bottom, first + repeat - 1)
                right = max(right, col + times - 1)
            col += times
    return max(worst, (bottom + 1) * (right + 1))


_ROW_HEADER = 0
_CELL_RECORDS = range(1, 12)
"""BIFF12's cells (BrtCellBlank to BrtFmlaError), each its column first; a blank one too."""


_XLSB_WORKBOOK = "xl/workbook.bin"


def xlsb_grid(part: bytes) -> int:
    """`sheet_grid` of an xlsb worksheet (BIFF12 records: a type and a size, each 7 bits a
    byte; a row header its row first, a cell its column first), of the records up to where
    they stop running plainly (calamine refuses a part there: a vbaProject.bin or a printer's
    settings that a relationship names are no records)."""
    at, end = 0, len(part)
    row = bottom = right = -1
    left = 1 << 62
    while at < end:
        kind, at = _varint(part, at, 2)
        size, at = _varint(part, at, 4)
        if kind < 0 or size < 0 or at + size > end:
            break
        if kind == _ROW_HEADER or kind in _CELL_RECORDS:
            if size < 4:
                break
            number = int.from_bytes(part[at : at + 4], "little")
            if kind == _ROW_HEADER:
                row = number
            else:
                bottom = max(bottom, row, 0)
                left, right = min(left, number), max(right, number)
        at += size
    return 0 if bottom < 0 else (bottom + 1) * (right - left + 1)


def _varint(data: bytes, at: int, most: int) -> tuple[int, int]:
    """A BIFF12 number of at most ``most`` bytes at ``at`` and where it ends; -1 if cut."""
    value = 0
    for i in range(most):
        if at + i >= len(data):
            return -1, at
        value |= (data[at + i] & 0x7F) << (7 * i)
        if not data[at + i] & 0x80:
            return value, at + i + 1
    return -1, at


# BIFF8 records ([MS-XLS] 2.3, 2.4): a type and a length (2 bytes each), then the body.
_XLS_RECORD = struct.Struct("<HH")
_XLS_U32 = struct.Struct("<I")
_XLS_EOF, _XLS_FILEPASS, _XLS_BOUNDSHEET, _XLS_DIMENSIONS = 0x000A, 0x002F, 0x0085, 0x0200
_XLS_FORMULA, _XLS_STRING, _XLS_MULRK = 0x0006, 0x0207, 0x00BD
# The cells calamine takes, each its row then its column first: NUMBER, LABEL, BOOLERR, RK,
# LABELSST.  BLANK, MULBLANK and RSTRING it skips; FORMULA, its STRING and MULRK apart.
_XLS_CELLS = frozenset({0x0203, 0x0204, 0x0205, 0x027E, 0x00FD})
_BIFF8_CELLS = 65536 * 256
"""The most cells a BIFF8 sheet holds: a DIMENSIONS record claiming more is forged."""


def check_xls(data: bytes, what: str, max_cells: int, check_time: Callable[[], None]) -> None:
    """Refuse an xls whose sheets' grids span more than ``max_cells`` cells together, before
    calamine opens it: calamine builds every sheet when it opens the workbook, and keeps
    them all, each as one dense grid of 32 bytes a cell (a 5.6 KB file naming A1 and IV65536
    took 512 MiB; four such sheets, 2 GiB), and a grid of its formulas beside it.  A sheet
    whose DIMENSIONS record claims more than BIFF8's 65,536 x 256 cells is refused too
    (calamine reserves room for them first: a forged claim made it abort the process), and
    so is a stream cut short before a sheet's end (calamine refuses those as well)."""
    stream = _xls_stream(data, what)
    sheets = _xls_sheets(stream, what, check_time)
    total = 0
    for number, offset in enumerate(sheets, start=1):
        cells, claimed = xls_grid(stream, offset, check_time)
        if cells < 0:
            raise Uninspectable(f"corrupt {what}: sheet {number}'s records cut short")
        if claimed > _BIFF8_CELLS:
            raise Uninspectable(
                f"sheet {number} of {what} claims a grid of {claimed:,} cells, over BIFF8's "
                f"{_BIFF8_CELLS:,}"
            )
        total += cells
        if total > max_cells:
            spans = (
                f"sheet {number} of {what} spans a grid of {cells:,} cells"
                if cells == total
                else f"sheets 1-{number} of {what} span grids of {total:,} cells together"
            )
            raise Uninspectable(f"{spans}, over the limit of {max_cells:,}")


def _xls_stream(data: bytes, what: str) -> bytes:
    """The workbook stream calamine reads: the first directory entry, in the directory's
    order, named exactly ``Workbook`` (or else ``Book``), wherever it is, whatever its kind
    (its cfb.rs), where olefile finds a stream by path, case-insensitively.  Read only
    where the two agree: that entry a stream at the root, and streams under 4,096 bytes in
    the mini stream (calamine's fixed cut-off; olefile takes the header's)."""
    try:
        with olefile.OleFileIO(data) as ole:
            fp = ole.directory_fp
            fp.seek(0)
            directory = fp.read()
            names = [
                directory[at : at + 64].decode("utf-16-le", "ignore").partition("\0")[0]
                for at in range(0, len(directory) - 127, 128)
            ]
            sid = next(
                (i for wanted in _XLS_STREAMS for i, name in enumerate(names) if name == wanted),
                -1,
            )
            entry = ole.direntries[sid] if 0 <= sid < len(ole.direntries) else None
            if (
                entry is None
                or not any(kid is entry for kid in ole.root.kids)  # an entry's == is its name's
                or entry.entry_type != olefile.STGTY_STREAM
                or ole.minisectorcutoff != _MINI_CUTOFF
            ):
                raise Uninspectable(f"corrupt {what}: its workbook stream is not plainly placed")
            # What openstream does once it has found the entry by its path.
            with ole._open(entry.isectStart, entry.size) as stream:
                return bytes(stream.read())
    except (OSError, ValueError, IndexError, struct.error) as exc:
        raise Uninspectable(f"corrupt {what}: {exc}") from None


_XLS_STREAMS = ("Workbook", "Book")
_MINI_CUTOFF = 4096


def _xls_sheets(stream: bytes, what: str, check_time: Callable[[], None]) -> list[int]:
    """Where each sheet's records begin (its BOUNDSHEET's offset), read from the workbook's
    records as calamine reads them: up to the first EOF.  A FILEPASS refuses the workbook
    as encrypted, whether with RC4 (which calamine refuses) or by XOR obfuscation (which
    calamine reads on, every value scrambled)."""
    sheets: list[int] = []
    at, end = 0, len(stream)
    count = 0
    while at < end:
        if at + 4 > end:
            raise Uninspectable(f"corrupt {what}: workbook records cut short")
        kind, size = _XLS_RECORD.unpack_from(stream, at)
        body, at = at + 4, at + 4 + size
        if at > end:
            raise Uninspectable(f"corrupt {what}: workbook records cut short")
        count += 1
        if count % _CHECK_EVERY == 0:
            check_time()
        if kind == _XLS_EOF:
            break
        if kind == _XLS_FILEPASS:
            # RC4 (calamine refuses it) or XOR obfuscation (calamine reads it scrambled)
            raise Uninspectable(f"encrypted {what}")
        if kind == _XLS_BOUNDSHEET:
            if size < 4:
                raise Uninspectable(f"corrupt {what}: a sheet of {size} bytes")
            offset = _XLS_U32.unpack_from(stream, body)[0]
            if offset > end:
                raise Uninspectable(f"corrupt {what}: a sheet past the end of the workbook")
            sheets.append(offset)
    return sheets


def xls_grid(stream: bytes, at: int, check_time: Callable[[], None]) -> tuple[int, int]:
    """`_xls_grid`, in C where the compiled module is built (four times calamine's own
    reading in Python: 0.46 s of a 9.7 MB workbook)."""
    return (
        _xls_grid(stream, at, check_time)
        if _hsscan is None
        else _hsscan.xls_grid(stream, at, check_time, _CHECK_EVERY)
    )


def _xls_grid(stream: bytes, at: int, check_time: Callable[[], None]) -> tuple[int, int]:
    """The cells of the grids calamine builds of the sheet whose records begin at ``at``
    (its values' and its formulas', each from the top row to the bottom one and from the
    leftmost column to the rightmost), at most, and the most cells a DIMENSIONS record of
    it claims; (-1, 0) where the records are cut short before an EOF.

    Read as calamine reads them (xls.rs): every record to the first EOF, a STRING placed
    where the FORMULA before it is, a MULRK's values from its first column on, and a
    FORMULA's cell in both grids (whatever its value: calamine's took it so)."""
    values = _Bounds()
    formulas = _Bounds()
    claimed = 0
    formula = (0, 0)
    end = len(stream)
    count = 0
    while at < end:
        if at + 4 > end:
            return -1, 0
        kind, size = _XLS_RECORD.unpack_from(stream, at)
        body, at = at + 4, at + 4 + size
        if at > end:
            return -1, 0
        count += 1
        if count % _CHECK_EVERY == 0:
            check_time()
        if kind == _XLS_EOF:
            break
        if size < 4:
            continue  # no cell calamine reads (it refuses a cell record this short)
        row, col = _XLS_RECORD.unpack_from(stream, body)
        if kind in _XLS_CELLS:
            values.add(row, col, col)
        elif kind == _XLS_FORMULA:
            formula = (row, col)
            values.add(row, col, col)
            formulas.add(row, col, col)
        elif kind == _XLS_STRING:
            values.add(formula[0], formula[1], formula[1])
        elif kind == _XLS_MULRK and size >= 12:
            values.add(row, col, col + (size - 6) // 6 - 1)
        elif kind == _XLS_DIMENSIONS:
            claimed = max(claimed, _claimed(stream[body : body + size]))
    return values.cells() + formulas.cells(), claimed


class _Bounds:
    """The rows and columns cells span."""

    __slots__ = ("bottom", "left", "right", "top")

    def __init__(self) -> None:
        self.top = self.left = 1 << 62
        self.bottom = self.right = -1

    def add(self, row: int, left: int, right: int) -> None:
        self.top, self.bottom = min(self.top, row), max(self.bottom, row)
        self.left, self.right = min(self.left, left), max(self.right, right)

    def cells(self) -> int:
        return 0 if self.bottom < 0 else (self.bottom - self.top + 1) * (self.right - self.left + 1)


def _claimed(body: bytes) -> int:
    """The cells calamine reserves room for on a DIMENSIONS record (32-bit, wrapping)."""
    if len(body) not in (10, 14):
        return 0  # calamine refuses the workbook
    bounds: tuple[int, ...] = struct.unpack_from("<IIHH" if len(body) == 14 else "<HHHH", body)
    first, last, left, right = bounds
    if last < 1 or right < 1:
        return 1
    return ((last - first) & 0xFFFFFFFF) * ((right - left) & 0xFFFFFFFF)


def _target_ends(package: Package) -> set[str]:
    """The last segment of every target of a workbook's relationships (``xl/_rels/``: where
    calamine finds the sheets, whatever the workbook's name), lowercase: as written, its
    references resolved, and percent-decoded."""
    ends: set[str] = set()
    for name in package.xml:
        if not (name.startswith("xl/_rels/") and name.endswith(".rels")):
            continue
        for match in _TARGET.finditer(package.xml[name]):
            raw = (match.group(1) or match.group(2) or b"").decode("utf-8", "replace")
            forms = {raw}
            if "&" in raw:
                forms.add(html.unescape(raw))
            if "%" in raw:
                forms.update([unquote(form) for form in forms])
            ends.update(form.rpartition("/")[2].lower() for form in forms)
    return ends


def sheet_grid(xml: bytes) -> int:
    """The cells of the grid ``iter_rows`` would give of ``xml`` read as a worksheet, at
    most; -1 where a reference is not plain (``_hsscan.sheet_grid``, which says how)."""
    return _grid(xml) if _hsscan is None else _hsscan.sheet_grid(xml)


_TAG_NAME = re.compile(rb"<([^\s/>]*)")
_SPACE = b" \t\n\r"


def _grid(xml: bytes) -> int:
    """`sheet_grid` without the compiled module, read as it reads (sg_* in _hsscan.c)."""
    row = col = bottom = right = -1
    left = 1 << 62
    at = 0
    while (found := _TAG_NAME.search(xml, at)) is not None:
        name = found.group(1)
        local = name.rpartition(b":")[2]
        at = found.end()
        if not name or local not in (b"row", b"c"):
            continue
        end = _tag_end(xml, at)
        if b"<" in xml[at:end]:
            return -1  # no "<" in a tag: one in a comment or a value could hide cells
        reference = _attribute_r(xml[at:end])
        r = c = -1
        if reference is not None:
            placed = _reference(reference)
            if placed is None:
                return -1
            r, c = placed
        if local == b"row":
            if r >= 0 and c >= 0:
                return -1
            row = r if r >= 0 else row + 1
            col = -1
        else:
            row = max(row, r)
            col = c if c >= 0 else col + 1
            if not (end > at and xml[end - 1] == ord("/")):
                bottom = max(bottom, r if r >= 0 else max(row, 0))
                left, right = min(left, col), max(right, col)
        at = end
    return 0 if bottom < 0 else (bottom + 1) * (right - left + 1)


def _tag_end(xml: bytes, at: int) -> int:
    """Where the tag whose name ends at ``at`` ends: its first ``>`` outside quotes."""
    quote = 0
    while at < len(xml) and (quote or xml[at] != ord(">")):
        if xml[at] in b"\"'":
            quote = 0 if quote == xml[at] else quote or xml[at]
        at += 1
    return at


def _attribute_r(tag: bytes) -> bytes | None:
    """The value of a tag's attribute ``r``, or None; b"" where it has two (calamine reads
    the last)."""
    at, end = 0, len(tag)
    found = None
    while at < end:
        while at < end and (tag[at] in _SPACE or tag[at] == ord("/")):
            at += 1
        start = at
        while at < end and tag[at] not in b"= \t\n\r/":
            at += 1
        name = tag[start:at]
        while at < end and tag[at] in _SPACE:
            at += 1
        if at == end or tag[at] != ord("="):
            at += 1
            continue
        at += 1
        while at < end and tag[at] in _SPACE:
            at += 1
        if at == end or tag[at] not in b"\"'":
            return found
        close = tag.find(tag[at : at + 1], at + 1)
        if close < 0:
            return found
        if name == b"r":
            if found is not None:
                return b""  # no reference: not plainly placed
            found = tag[at + 1 : close]
        at = close + 1
    return found


_CELL_REFERENCE = re.compile(rb"([A-Za-z]*)([0-9]*)")


def _reference(text: bytes) -> tuple[int, int] | None:
    """`sg_ref`: a reference's 0-based row and column (-1 where absent)."""
    found = _CELL_REFERENCE.fullmatch(text)
    if found is None or not text:
        return None
    letters, digits = found.groups()
    col = 0
    for letter in letters.upper():
        col = col * 26 + letter - 64
        if col > 2**31 - 1:
            return None
    if digits and (len(digits) > 10 or int(digits) > 2**31 - 1):
        return None
    return (int(digits) - 1 if digits else -1), (col - 1 if letters else -1)
