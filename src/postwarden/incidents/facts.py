"""An incident as plain values: what letters, the regulator report and the console read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from postwarden.engine.registers import FIELD_SPECS
from postwarden.incidents.scope import Scope

FIELD_LABELS: dict[str, tuple[str, str]] = {
    spec.name: spec.label for spec in FIELD_SPECS if spec.label is not None
}
"""Register fields as the people they belong to and the regulator read them, in English and
Traditional Chinese; several fields of one kind (name_en, name_zh) share a label."""


def data_kinds(fields: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """The distinct (English, Chinese) labels of ``fields``, in the order of FIELD_LABELS."""
    wanted = set(fields)
    out: list[tuple[str, str]] = []
    for name, label in FIELD_LABELS.items():
        if name in wanted and label not in out:
            out.append(label)
    return out


@dataclass(frozen=True, slots=True)
class ItemFact:
    """One thing that left: a message or a file."""

    id: int
    kind: str
    name: str
    sender: str
    sent_at: datetime | None
    recipients: tuple[str, ...]
    sha256: str


@dataclass(frozen=True, slots=True)
class RecipientFact:
    """Someone who received an item, with the recall sent to them and their confirmation."""

    id: int
    address: str
    unintended: bool
    recall_sent_at: datetime | None
    confirmed_at: datetime | None
    confirmation: str


@dataclass(frozen=True, slots=True)
class EventFact:
    """One entry of the incident's timeline."""

    at: datetime
    kind: str
    status: str
    actor: str
    note: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IncidentFacts:
    """Everything known about one incident, read once from the store."""

    id: int
    title: str
    status: str
    opened_at: datetime
    opened_by: str
    occurred_at: datetime | None = None
    discovered_at: datetime | None = None
    discovered_how: str = ""
    summary: str = ""
    summary_zh: str = ""
    cause: str = ""
    remedial: str = ""
    remedial_zh: str = ""
    risk: str = ""
    data_user: str = ""
    data_user_zh: str = ""
    contact: str = ""
    fields: tuple[str, ...] = ()
    """Register fields found in the leaked items (name_en, hkid, ...)."""
    items: list[ItemFact] = field(default_factory=list)
    recipients: list[RecipientFact] = field(default_factory=list)
    events: list[EventFact] = field(default_factory=list)
    scope: Scope = field(default_factory=Scope)

    @property
    def reference(self) -> str:
        return f"PW-INC-{self.id:05d}"

    @property
    def breach_at(self) -> datetime | None:
        """When it happened: as recorded, else when the first item left."""
        if self.occurred_at is not None:
            return self.occurred_at
        sent = [i.sent_at for i in self.items if i.sent_at is not None]
        return min(sent) if sent else None

    @property
    def unintended(self) -> list[RecipientFact]:
        return [r for r in self.recipients if r.unintended]

    @property
    def confirmed(self) -> list[RecipientFact]:
        return [r for r in self.unintended if r.confirmed_at is not None]

    def reached(self, status: str) -> bool:
        """Whether the timeline has passed through ``status``."""
        return self.status == status or any(e.status == status for e in self.events)
