"""The walk over one message: dispatches each piece to its extractor and collects the results."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import MISSING, fields
from itertools import repeat

from postwarden.engine.extract.budget import Budget, BudgetExhausted, Uninspectable
from postwarden.engine.extract.registry import REGISTRY
from postwarden.engine.extract.sniff import Kind, Sniffed, declared_format, sniff
from postwarden.model import UNINSPECTABLE, Attachment, Finding, TextUnit

try:
    from postwarden.engine.compiled import _hsscan
except ImportError:  # not built: TextUnit's own constructor
    _hsscan = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


def _unit_maker() -> Callable[..., TextUnit]:
    """``TextUnit(text, where, cells, header)``, built by the compiled slot maker (the one
    that makes detection's findings) when ``TextUnit`` is a plain slotted dataclass: its
    frozen ``__init__`` sets each field by a Python-level ``object.__setattr__`` call, 11 ms
    for the 15,070 rows of a register sent in full.  Else the class itself."""
    names = tuple(field.name for field in fields(TextUnit))
    rest = fields(TextUnit)[len(_ROW_FIELDS) :]
    maker = getattr(_hsscan, "slot_maker", None)
    if (
        maker is None
        or names[: len(_ROW_FIELDS)] != _ROW_FIELDS
        or hasattr(TextUnit, "__post_init__")
        or any(field.default is MISSING for field in rest)
    ):
        return TextUnit
    made: Callable[..., TextUnit] = maker(TextUnit, names, tuple(f.default for f in rest))
    return made


_ROW_FIELDS = ("text", "where", "cells", "header")
_make_unit = _unit_maker()


def _row_units(
    texts: list[str],
    places: list[str],
    cells: list[tuple[str, ...]],
    header: tuple[str, ...] | None,
) -> list[TextUnit]:
    """``TextUnit(texts[i], places[i], cells[i], header)`` for every row
    (tests/engine/extract/test_spreadsheet_rows.py compares them with the class's own)."""
    return list(map(_make_unit, texts, places, cells, repeat(header)))


# ASCII armour of encrypted content (RFC 4880 §6.2, RFC 7468 §5): wherever it appears — a
# body, a csv cell, a docx paragraph — what it carries cannot be read.  Signatures
# (``PGP SIGNATURE``, ``PGP SIGNED MESSAGE``) and keys are readable and not matched.
_ARMOUR_MARK = "-----BEGIN "
"""What every armour begins with (no line end)."""
_ARMOUR = re.compile(r"-----BEGIN (PGP MESSAGE|PKCS7|PGP ARMORED FILE)-----")
_ARMOURED = {
    "PGP MESSAGE": "PGP-encrypted block (ASCII armour) in text",
    "PGP ARMORED FILE": "PGP-encrypted block (ASCII armour) in text",
    "PKCS7": "S/MIME (PKCS #7) block in text",
}
# What the walker reads only as printable strings: when a part's name or type says it is a
# format we read, such content is that format damaged or disguised, not a file of its own.
_NOT_THE_DECLARED = frozenset({Kind.BINARY, Kind.UNREADABLE})
# Text that says it is a pdf, an archive, an Outlook message or an encrypted file opens in no
# reader of that format (a damaged file, base64 of the file sent unencoded, or a disguise).
# Text that says it is an Office file is not refused: Excel and Word open html, csv and text
# saved under their names (a "report.xls" exported by a web application is an html table).
_TEXT_KINDS = frozenset({Kind.TEXT, Kind.HTML, Kind.CSV})
_NEVER_TEXT = frozenset(
    {
        "pdf",
        "zip archive",
        "gzip",
        "bzip2",
        "xz",
        "tar archive",
        "archive",
        "outlook message",
        "opendocument",
        "encrypted file",
    }
)


class Walker:
    """Per-message state shared by the extractors: budget, results and the dispatcher."""

    __slots__ = ("attachments", "budget", "defects", "findings", "names", "structure", "units")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.units: list[TextUnit] = []
        self.findings: list[Finding] = []
        self.attachments: list[Attachment] = []
        self.defects: list[str] = []
        self.structure: list[Finding] = []
        """``mime-defect`` findings: MIME structure the parser could not fully read."""
        self.names: dict[str, dict[str, None]] = {}
        """The file names met in each container, by the place of its names unit, each once
        (see `add_names`)."""

    def add(
        self,
        text: str,
        where: str,
        cells: Sequence[str] | None = None,
        header: tuple[str, ...] | None = None,
    ) -> None:
        """Keep one text unit; blank text is dropped, the text budget is charged.

        ``header`` is the table's column headings: pass the one tuple to every row of the
        table (a copy per row would cost memory on a 15,000-row sheet).
        """
        if not text or text.isspace():
            return
        self.budget.add_text(len(text))
        if _ARMOUR_MARK in text:
            self._armour(text, where)
        if cells is not None and type(cells) is not tuple:
            cells = tuple(cells)
        # (The slot maker: 0.05 us a unit where the frozen constructor takes 0.6, and a
        # document is a few units besides its file names.)
        self.units.append(_make_unit(text, where, cells, header))

    def add_rows(
        self,
        texts: list[str],
        places: list[str],
        cells: list[tuple[str, ...]],
        header: tuple[str, ...] | None,
    ) -> None:
        """Keep the rows of a table, ``texts[i]`` at ``places[i]`` with ``cells[i]``, as
        `add` would keep them one by one; checked in one go when none is blank or armoured
        and all fit the text budget (a spreadsheet is thousands of rows)."""
        budget = self.budget
        total = sum(map(len, texts))
        if (
            budget.text_bytes + total > budget.limits.max_text_bytes
            or not all(texts)
            or any(map(str.isspace, texts))
            # The texts joined by a line end, which the marker does not hold: found in one
            # text as it is in the joined ones (a call per text cost 13 us of 200 rows' 37).
            or _ARMOUR_MARK in "\n".join(texts)
        ):
            for text, where, row in zip(texts, places, cells, strict=True):
                self.add(text, where, row, header)
            return
        budget.add_text(total)
        self.units.extend(_row_units(texts, places, cells, header))

    def name(self, where: str, name: str) -> None:
        """Keep ``name``, a file name met in the container whose names unit is ``where``
        (``attachment:a.zip#file names``), for `add_names`."""
        if name and not name.isspace():
            names = self.names.get(where)
            if names is None:
                self.names[where] = {name: None}
            else:
                names[name] = None

    def add_names(self) -> None:
        """Add each container's names unit: its names, each once, one per line, written as
        words (`name_text`).  Called once, at the end of the walk; a unit over the text
        budget raises `BudgetExhausted` with its place.

        A file name is data that leaves with the file (``陳大文_A123456(3).xlsx``, a zip
        member ``voters/陳大文/覆診紙.pdf``); before, it was only part of a finding's place
        and no detector saw it.  The names of a message's attachments, of an archive's
        members, of the files in a winmail.dat, an Outlook message or an office document,
        and the name a scanned file is given are read, at ``{container}#file names`` (the
        outer message's, and a scanned file's, at ``file names``: the message has no place
        of its own, as ``subject``).  One unit per container rather than per name: a zip of
        1,000 members is one unit, not 1,000 (each unit costs the detectors and the register
        matcher a pass), and a finding's place still says which message, archive or file
        carried the name.  The names are collected as the walk meets them (`name`) and added
        at its end: a name is kept even when its member cannot be read, is encrypted (a
        zip's names are not), or the budget runs out before it."""
        for where, names in self.names.items():
            try:
                self.add("\n".join(map(name_text, names)), where)
            except BudgetExhausted as exc:
                exc.where = exc.where or where
                raise

    def uninspectable(self, where: str, reason: str) -> None:
        self.findings.append(Finding(detector=UNINSPECTABLE, where=where, detail=reason))

    def _armour(self, text: str, where: str) -> None:
        match = _ARMOUR.search(text)
        if match is None:
            return
        reason = _ARMOURED[match.group(1)]
        source = where.split("#", 1)[0]
        if not any(f.source == source and f.detail == reason for f in self.findings):
            self.uninspectable(where, reason)

    def read(self, data: bytes, where: str, depth: int, sniffed: Sniffed) -> None:
        """Hand ``data``, already known to be ``sniffed``, to its registered extractor; its
        failures propagate (a message body's reader is not a separate piece to refuse)."""
        REGISTRY[sniffed.kind].extract(data, where, depth, sniffed, self)

    def visit(
        self,
        data: bytes,
        where: str,
        depth: int,
        *,
        name: str = "",
        content_type: str = "",
        sniffed: Sniffed | None = None,
    ) -> Sniffed | None:
        """Extract one file-like piece (attachment, archive member, embedded object).

        Returns what it was sniffed as, or ``None`` when it could not be read.  Budget
        exhaustion propagates (nothing more of the message is read); any other failure
        becomes an ``uninspectable`` finding for this piece alone.
        """
        self.budget.check_time()
        try:
            self.budget.check_depth(depth)
            self.budget.check_part(len(data))
            found = sniffed or sniff(data, name, content_type, self.budget.limits.max_members)
            if found.kind in _NOT_THE_DECLARED or found.kind in _TEXT_KINDS:
                claimed = declared_format(name, content_type)
                if claimed and (found.kind in _NOT_THE_DECLARED or claimed in _NEVER_TEXT):
                    raise Uninspectable(f"declared {claimed} but cannot be read ({found.label})")
            self.read(data, where, depth, found)
        except BudgetExhausted as exc:
            exc.where = exc.where or where
            raise
        except Uninspectable as exc:
            self.uninspectable(where, exc.reason)
            return None
        # Any library failing on hostile input (calamine, expat, pdfium, extract-msg,
        # olefile raise many unrelated types) must hold the message, not crash the engine:
        # the piece is reported as unreadable, with the error's type for the reviewer.
        except Exception as exc:
            log.debug("cannot read %s: %s", where, type(exc).__name__)
            self.uninspectable(where, f"corrupt or unreadable: {type(exc).__name__}")
            return None
        return found


def place(name: str) -> str:
    """A name made safe to put in ``where``: control and format characters (NUL, RTL
    override) replaced, ``#`` escaped because it separates the place from the position."""
    if name.isascii() and name.isprintable() and "#" not in name:
        # Nothing to replace (ASCII's only control characters are those isprintable
        # refuses): a scanned tree's names, most of them, without a category looked up per
        # character (0.9 us a name, 0.15 this way).
        return name[:255] or "?"
    return _placed_chars(name)


def _placed_chars(name: str) -> str:
    """`place`, a character at a time."""
    out = []
    for ch in name:
        if ch == "#":
            out.append("%23")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)[:255] or "?"


FILE_NAMES = "file names"
"""The position of a container's names unit (``attachment:a.zip#file names``), and the place
of the outer message's (``file names``)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
"""Control and format characters (an RTL override, a zero-width space): a space each, so they
neither hide a number nor glue two words into one."""
_PATH = re.compile(r"\s*[/\\]+\s*")
_GLUE = re.compile(r"_+|(?<!\d)-|-(?!\d)")
"""Underscores, and dashes but between two digits (``9123-4567``, ``2024-03-15`` keep theirs)."""
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


def name_text(name: str) -> str:
    """``name`` written as the words it is made of, for the detectors: path separators
    spaced (`` / ``), underscores and word dashes made spaces, the extension set apart
    (``陳大文_A123456(3).xlsx`` → ``陳大文 A123456(3) .xlsx``).

    Written as it is, the name would hide what it holds: the detectors take a number glued
    to ``_``, ``/``, ``-`` or a following ``.xlsx`` for part of a longer token (a URL, a
    path, an id; issue 11), so not one HKID or phone number of a file name was found
    (measured with the default detectors on names such as ``CHAN_Tai_Man_A1234563.pdf``,
    ``tel_91234567.pdf``, ``voters/陳大文_A123456(3).xlsx``)."""
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = extension, "0"
    if (
        stem.isascii()
        and stem.isalnum()
        and extension.isascii()
        and extension.isalnum()
        and len(extension) <= 5
    ):
        # A word and its extension (``f0.docx``, ``report2024.pdf``): no control character,
        # separator or glue to replace, only the extension set apart, as `_EXTENSION` does
        # (3 us a name through the four expressions, 0.3 this way; tests/engine/extract
        # compares both ways).
        return f"{stem} .{extension}" if dot else name
    return _name_words(name)


def _name_words(name: str) -> str:
    """`name_text`, through the expressions."""
    text = _CONTROL.sub(" ", name)
    return " / ".join(
        _EXTENSION.sub(r" .\1", _GLUE.sub(" ", segment)) for segment in _PATH.split(text)
    )
