"""Extraction: every part of a message, recursively, into text units that remember their
place, under one budget; what cannot be read becomes an ``uninspectable`` finding.

Parse defects whose text starts with ``uninspectable: `` (see :mod:`postwarden.engine.parse`)
become findings too; the other defects are kept as notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postwarden.engine.extract.budget import Budget, BudgetExhausted
from postwarden.engine.extract.mail import walk_message
from postwarden.engine.extract.registry import REGISTRY, Extractor
from postwarden.engine.extract.sniff import Kind, sniff
from postwarden.engine.extract.walker import Walker
from postwarden.model import Attachment, Finding, Message, TextUnit
from postwarden.settings import Limits

__all__ = ["REGISTRY", "Extraction", "Extractor", "Kind", "extract", "sniff"]

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
    return Extraction(
        walker.units,
        walker.findings,
        walker.attachments,
        walker.defects,
        walker.budget.ocr_confidence,
    )
