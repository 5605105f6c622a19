"""What left, read once: a message or file inspected for the register records it holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import numpy as np

from postwarden.engine import Inspector, Report, is_message_file
from postwarden.engine.registers import RegisterSet
from postwarden.model import Envelope

__all__ = ["Intake", "NewItem"]

_REGISTER = "register:"


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item ready to be added to an incident: its facts and the records present in it."""

    kind: str
    ref: str
    sha256: str
    sender: str
    sent_at: datetime | None
    recipients: tuple[str, ...]
    size: int
    records: tuple[tuple[str, str, str], ...]
    """(register, record id, status) of every distinct record present."""
    fields: frozenset[str]
    """Register fields that matched (``hkid``, ``name_en`` ...)."""


class Intake:
    """Inspects leaked messages and files against the registers; one per command or request."""

    def __init__(self, inspector: Inspector) -> None:
        if inspector.registers is None:
            raise ValueError("incident intake needs an inspector with registers")
        self.inspector = inspector
        self.registers: RegisterSet = inspector.registers

    def message(self, raw: bytes, ref: str, envelope: Envelope | None = None) -> NewItem:
        """A sent message (quarantined, or an .eml file): envelope from ``envelope`` or its
        From/To/Cc/Bcc headers, sending time from its Date header."""
        return self._item(self.inspector.inspect(raw, envelope), "message", ref, raw)

    def file(self, path: Path, data: bytes) -> NewItem:
        """A leaked file; an .eml is taken as the message it is."""
        kind = "message" if is_message_file(path.name) else "file"
        return self._item(self.inspector.inspect_named(path.name, data), kind, path.name, data)

    def _item(self, report: Report, kind: str, ref: str, body: bytes) -> NewItem:
        records: list[tuple[str, str, str]] = []
        for name, numbers in sorted(report.record_ids.items()):
            if not numbers:
                continue
            index = self.registers.get(name)
            ordered = sorted(numbers)
            codes = np.asarray(index.status[np.array(ordered, dtype=np.int64)]).tolist()
            for rid, code in zip(index.ids(ordered), codes, strict=True):
                records.append((name, rid, index.info.statuses[int(code)]))
        fields = frozenset(
            label
            for f in report.verdict.findings
            if f.detector.startswith(_REGISTER)
            for label in f.detail.split("+")
            if label
        )
        message = report.message
        wrapped = kind == "file"
        return NewItem(
            kind=kind,
            ref=ref,
            sha256=hashlib.sha256(body).hexdigest(),
            sender="" if wrapped else message.envelope.sender.lower(),
            sent_at=None if wrapped else _date(message.mime.get("Date")),
            recipients=()
            if wrapped
            else tuple(dict.fromkeys(r.lower() for r in message.envelope.recipients)),
            size=len(body),
            records=tuple(records),
            fields=fields,
        )


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
