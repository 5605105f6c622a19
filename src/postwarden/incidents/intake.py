"""What left, read once: a message or file inspected for the register records it holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from mimetypes import guess_type
from pathlib import Path

import numpy as np

from postwarden.engine import Inspector
from postwarden.engine.registers import RegisterSet
from postwarden.model import Envelope

__all__ = ["Intake", "NewItem", "wrap_file"]

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
        return self._inspect(raw, "message", ref, envelope, wrapped=False)

    def file(self, path: Path, data: bytes) -> NewItem:
        """A leaked file; an .eml is taken as the message it is."""
        if path.suffix.lower() == ".eml":
            return self.message(data, path.name)
        return self._inspect(
            wrap_file(path.name, data), "file", path.name, None, wrapped=True, digest_of=data
        )

    def _inspect(
        self,
        raw: bytes,
        kind: str,
        ref: str,
        envelope: Envelope | None,
        *,
        wrapped: bool,
        digest_of: bytes | None = None,
    ) -> NewItem:
        report = self.inspector.inspect(raw, envelope)
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
        sent_at = None if wrapped else _date(message.mime.get("Date"))
        body = digest_of if digest_of is not None else raw
        return NewItem(
            kind=kind,
            ref=ref,
            sha256=hashlib.sha256(body).hexdigest(),
            sender="" if wrapped else message.envelope.sender.lower(),
            sent_at=sent_at,
            recipients=()
            if wrapped
            else tuple(dict.fromkeys(r.lower() for r in message.envelope.recipients)),
            size=len(body),
            records=tuple(records),
            fields=fields,
        )


def wrap_file(name: str, data: bytes) -> bytes:
    """A file as the only attachment of a message, so the engine's extractors read it."""
    msg = EmailMessage()
    msg["Subject"] = "incident file"
    ctype = guess_type(name)[0] or "application/octet-stream"
    maintype, _, subtype = ctype.partition("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
