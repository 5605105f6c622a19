"""Reading a register file (csv or xlsx) in chunks, with its columns mapped to fields."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from postwarden.engine.registers.fields import FIELD_SPECS, FIELDS, PERSONAL_FIELDS
from postwarden.engine.registers.normalise import traditional
from postwarden.errors import Invalid
from postwarden.i18n import _

Row = list[str]


class RegisterFileError(Invalid):
    """The register file cannot be imported: its encoding, header or rows are wrong."""


# Common headers in English and Chinese, compared after _header_key (so 'E-mail',
# 'email address' and '電郵地址' all land here).
_HEADERS: dict[str, str] = {heading: spec.name for spec in FIELD_SPECS for heading in spec.headings}

_HEADER_NOISE = re.compile(r"[\s_\-.:/()（）\[\]#]+")
_SNIFF_BYTES = 64 * 1024


def _header_key(text: str) -> str:
    return traditional(_HEADER_NOISE.sub("", unicodedata.normalize("NFKC", text).casefold()))


def heading_field(title: str) -> str | None:
    """The field a column heading names (``Tel.``, ``電話`` → ``phone``), if any."""
    return _HEADERS.get(_header_key(title))


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person would type for it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        # Numbers typed into Excel (phones, ids) come back as floats: 91234567.0.
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which field each used column holds, by column index."""

    columns: dict[int, str]
    ignored: tuple[str, ...]


def map_columns(header: list[str], overrides: Mapping[str, str]) -> ColumnMap:
    """Map header cells to fields: ``--map COLUMN=FIELD`` first, then the common names."""
    for column, field in overrides.items():
        if field not in FIELDS:
            raise ValueError(
                _("unknown field {field!r} for column {column!r}: {fields}").format(
                    field=field, column=column, fields=", ".join(FIELDS)
                )
            )
        if column not in header:
            raise ValueError(
                _("--map names column {column!r}, which the file's header lacks").format(
                    column=column
                )
            )
    columns: dict[int, str] = {}
    ignored: list[str] = []
    for i, title in enumerate(header):
        mapped = overrides.get(title) or _HEADERS.get(_header_key(title))
        if mapped is None:
            if title.strip():
                ignored.append(title)
            continue
        columns[i] = mapped
    seen: dict[str, int] = {}
    for i, field in columns.items():
        if field in seen:
            raise RegisterFileError(
                _(
                    "columns {first!r} and {second!r} both map to {field}: map one of them with "
                    "--map COLUMN=FIELD"
                ).format(first=header[seen[field]], second=header[i], field=field)
            )
        seen[field] = i
    if "id" not in seen:
        raise RegisterFileError(
            "no record id column (headers: "
            + ", ".join(repr(h) for h in header)
            + "): name it 'id' or use --map COLUMN=id"
        )
    if not set(seen) & PERSONAL_FIELDS:
        raise RegisterFileError(
            _(
                "no personal data column to match on (name, hkid, address, phone, email, dob): "
                "use --map COLUMN=FIELD"
            )
        )
    return ColumnMap(columns=columns, ignored=tuple(ignored))


@dataclass(frozen=True, slots=True)
class Reading:
    """How a register file is read: what ``register import`` was told, kept with the register
    (column names and options only, never data) so that re-imports and letters read alike."""

    mapping: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """``--map COLUMN=FIELD``: column heading → field."""
    encoding: str | None = None
    sheet: str | None = None
    header_row: int = 1

    def open(self, path: Path) -> RegisterTable:
        return RegisterTable(path, self.encoding, sheet=self.sheet, header_row=self.header_row)

    def options(self) -> list[str]:
        """The command-line options that read a file this way."""
        out = [f"--map {column}={fld}" for column, fld in self.mapping.items()]
        if self.encoding:
            out.append(f"--encoding {self.encoding}")
        if self.sheet is not None:
            out.append(f"--sheet {self.sheet}")
        if self.header_row != 1:
            out.append(f"--header-row {self.header_row}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "mapping": dict(self.mapping),
            "encoding": self.encoding,
            "sheet": self.sheet,
            "header_row": self.header_row,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Reading:
        return cls(
            mapping={str(k): str(v) for k, v in (raw.get("mapping") or {}).items()},
            encoding=str(raw["encoding"]) if raw.get("encoding") else None,
            sheet=str(raw["sheet"]) if raw.get("sheet") is not None else None,
            header_row=int(raw.get("header_row") or 1),
        )


class RegisterTable:
    """An open register file: its header and its rows, read lazily in chunks."""

    def __init__(
        self,
        path: Path,
        encoding: str | None = None,
        *,
        sheet: str | None = None,
        header_row: int = 1,
    ) -> None:
        """``sheet`` names a workbook's sheet (default: the first); ``header_row`` is the
        1-based row holding the column headings (rows above it, a title block, are skipped)."""
        if header_row < 1:
            raise ValueError(
                _("the header row is counted from 1, got {header_row}").format(
                    header_row=header_row
                )
            )
        self.path = path
        self.sheet = sheet
        try:
            with path.open("rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise RegisterFileError(
                _("cannot read {path}: {strerror}").format(path=path, strerror=exc.strerror)
            ) from None
        if not head:
            raise RegisterFileError(_("{path} is empty").format(path=path))
        # Workbooks by content, not name: xlsx/xlsm/ods are zips, xls is an OLE file.
        self.is_workbook = head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))
        self.encoding = encoding
        if sheet is not None and not self.is_workbook:
            raise ValueError(
                _("{path} is not a workbook: it has no sheet {sheet!r}").format(
                    path=path, sheet=sheet
                )
            )
        self._rows = self._workbook_rows() if self.is_workbook else self._csv_rows()
        for _row in range(header_row - 1):
            self._next_row()
        self.header = [h.strip() for h in self._next_row()]
        if not any(self.header):
            raise RegisterFileError(
                _("{path} has no header row (row {header_row})").format(
                    path=path, header_row=header_row
                )
            )
        self.line = header_row

    def _next_row(self) -> Row:
        try:
            return next(self._rows)
        except StopIteration:
            raise RegisterFileError(_("{path} is empty").format(path=self.path)) from None

    def chunks(self, size: int) -> Iterator[list[Row]]:
        """Rows after the header, ``size`` at a time (a 4.5 M-row file never sits in memory)."""
        chunk: list[Row] = []
        width = len(self.header)
        for row in self._rows:
            self.line += 1
            if len(row) != width:
                if len(row) > width:
                    if any(c.strip() for c in row[width:]):
                        raise RegisterFileError(
                            _("{path} row {line} has {count} cells, the header {width}").format(
                                path=self.path, line=self.line, count=len(row), width=width
                            )
                        )
                    del row[width:]
                else:
                    row.extend([""] * (width - len(row)))
            chunk.append(row)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _workbook_rows(self) -> Iterator[Row]:
        from python_calamine import CalamineError, CalamineWorkbook

        try:
            book = CalamineWorkbook.from_path(str(self.path))
            if self.sheet is not None and self.sheet not in book.sheet_names:
                raise RegisterFileError(
                    _("{path} has no sheet {sheet!r} ({sheets})").format(
                        path=self.path, sheet=self.sheet, sheets=", ".join(book.sheet_names)
                    )
                )
            sheet = (
                book.get_sheet_by_name(self.sheet)
                if self.sheet is not None
                else book.get_sheet_by_index(0)
            )
            rows = sheet.iter_rows()
        except (CalamineError, ValueError, OSError) as exc:
            raise RegisterFileError(
                _("cannot read workbook {path}: {exc}").format(path=self.path, exc=exc)
            ) from None
        for row in rows:
            yield [cell_text(v) for v in row]

    def _csv_rows(self) -> Iterator[Row]:
        fh = self._open_text()
        with fh:
            try:
                sample = fh.read(_SNIFF_BYTES)
                fh.seek(0)
                try:
                    dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                        sample, delimiters=",;\t|"
                    )
                except csv.Error:
                    dialect = csv.excel
                for row in csv.reader(fh, dialect):
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    yield row
            except UnicodeDecodeError as exc:
                raise RegisterFileError(
                    _(
                        "{path} is not valid {encoding} text: save it as UTF-8 or name its "
                        "encoding with --encoding"
                    ).format(path=self.path, encoding=exc.encoding)
                ) from None
            except csv.Error as exc:
                raise RegisterFileError(
                    _("{path} is not a readable csv: {exc}").format(path=self.path, exc=exc)
                ) from None

    def _open_text(self) -> IO[str]:
        raw = self.path.open("rb")
        head = raw.read(4)
        raw.seek(0)
        encoding = self.encoding
        if encoding is None:
            if head.startswith(codecs.BOM_UTF8):
                encoding = "utf-8-sig"
            elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                encoding = "utf-16"
            else:
                encoding = "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            raw.close()
            raise ValueError(_("unknown encoding {encoding!r}").format(encoding=encoding)) from None
        if "\x00" in head.decode("latin-1") and not encoding.startswith("utf-16"):
            raw.close()
            raise RegisterFileError(
                _(
                    "{path} looks like binary or UTF-16 without a byte order mark: save it as "
                    "UTF-8 or name its encoding with --encoding"
                ).format(path=self.path)
            )
        return io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="")
