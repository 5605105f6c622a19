"""Extraction: every part of a message, recursively, into text units that remember their
place, under one budget; what cannot be read becomes an ``uninspectable`` finding.

Parse defects whose text starts with ``uninspectable: `` (see :mod:`postwarden.engine.parse`)
become findings too; the other defects are kept as notes.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass, field

from postwarden.engine.extract.budget import Budget, BudgetExhausted
from postwarden.engine.extract.mail import walk_message
from postwarden.engine.extract.registry import REGISTRY, Extractor
from postwarden.engine.extract.sniff import Kind, sniff
from postwarden.engine.extract.walker import FILE_NAMES, Walker, place
from postwarden.model import Attachment, Finding, Message, TextUnit
from postwarden.settings import Limits

__all__ = ["REGISTRY", "Extraction", "Extractor", "Kind", "extract", "extract_file", "sniff"]

UNINSPECTABLE_DEFECT = "uninspectable: "


@dataclass(slots=True)
class Extraction:
    """Everything read from one message."""

    units: list[TextUnit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    """The ``uninspectable`` findings, each with its reason in ``detail``."""
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    """Notes that do not stop inspection: parser defects, pages without text, ..."""
    structure: list[Finding] = field(default_factory=list)
    """``mime-defect`` findings: a boundary not found, headers and body not separated, a
    transfer encoding that does not decode; each with the defect in ``detail``."""
    ocr: dict[str, float] = field(default_factory=dict)
    """Places whose text was read by OCR, with its confidence (0-1); empty without OCR."""


def extract(message: Message, limits: Limits, deadline: float) -> Extraction:
    """Text units of every part of ``message``; never raises on bad input.

    ``deadline`` is a ``time.monotonic()`` value; past it, the rest of the message is
    reported uninspectable ("time limit 120 s exceeded").
    """
    walker = Walker(Budget(limits, message.raw_size, deadline))
    for defect in message.defects:
        if defect.startswith(UNINSPECTABLE_DEFECT):
            walker.uninspectable("headers", defect.removeprefix(UNINSPECTABLE_DEFECT))
        else:
            walker.defects.append(defect)
    try:
        walk_message(message.mime, "", 0, walker)
    except BudgetExhausted as exc:
        walker.uninspectable(exc.where or "message", exc.reason)
        return _extraction(walker, exhausted=True)
    return _extraction(walker)


def extract_file(name: str, data: bytes, limits: Limits, deadline: float) -> Extraction:
    """Text units of one file, read as the only attachment of a message would be read
    (``attachment:NAME#...``), without building and parsing that message: for a discovery
    scan or a leaked file, the base64 round trip cost as much as reading a docx."""
    walker = Walker(Budget(limits, len(data), deadline))
    ctype = _content_type(name)
    walker.attachments.append(Attachment(name, ctype, len(data)))
    # The file's own name is the name of the message's one attachment: a file called
    # "陳大文_A123456(3).xlsx" on a share is itself a finding.
    walker.name(FILE_NAMES, name)
    try:
        # Depth 1: inside the message's one multipart, as a mailed attachment is.
        walker.visit(data, f"attachment:{place(name)}", 1, name=name, content_type=ctype)
    except BudgetExhausted as exc:
        walker.uninspectable(exc.where or "message", exc.reason)
        return _extraction(walker, exhausted=True)
    return _extraction(walker)


def _content_type(name: str) -> str:
    """``mimetypes.guess_type(name, strict=False)[0]``, or ``application/octet-stream``.

    Kept per suffix (`_TYPES`) where the suffix alone decides it: no ``:`` (a URL scheme
    such as ``data:``), and a suffix ``guess_type`` neither maps to others (``.tgz``) nor
    reads as an encoding (``.gz``: the type is the suffix before it).  ``guess_type`` parses
    the name as a URL first: a quarter of what a scanned text file costs besides reading
    and matching it (12 against 2 us, loaded machine)."""
    ext = posixpath.splitext(name)[1]
    known = ":" not in name and ext not in mimetypes.encodings_map
    if known and ext.lower() not in mimetypes.suffix_map:
        found = _TYPES.get(ext)
        if found is None:
            found = mimetypes.guess_type(name, strict=False)[0] or _GENERIC
            if len(_TYPES) < _TYPES_MAX:
                _TYPES[ext] = found
        return found
    return mimetypes.guess_type(name, strict=False)[0] or _GENERIC


_GENERIC = "application/octet-stream"
_TYPES: dict[str, str] = {}
"""`_content_type` by suffix (as ``posixpath.splitext`` gives it: case kept), at most
`_TYPES_MAX` of them (the names of a scanned tree may bring any number of suffixes)."""
_TYPES_MAX = 1024


def _extraction(walker: Walker, *, exhausted: bool = False) -> Extraction:
    """What the walk gathered, as the extraction of one message or file, with the names
    of the files met on the way (also when the walk ran out of budget: ``exhausted``, the
    message already uninspectable for it, so the names running over it again is not told
    twice)."""
    try:
        walker.add_names()
    except BudgetExhausted as exc:
        if not exhausted:
            walker.uninspectable(exc.where or FILE_NAMES, exc.reason)
    return Extraction(
        units=walker.units,
        findings=walker.findings,
        attachments=walker.attachments,
        defects=walker.defects,
        structure=walker.structure,
        ocr=walker.budget.ocr_confidence,
    )
