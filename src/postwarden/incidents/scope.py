"""Whose data left: distinct register records across an incident's items, resends counted once."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Status words registers use for people who have died (English and Chinese); they get no
# letter and are counted apart in the report.
_DECEASED = frozenset({"deceased", "dead", "died", "death", "已故", "死亡", "去世", "逝世", "過世"})


def is_deceased(status: str) -> bool:
    """Whether a register status marks a person who has died."""
    return unicodedata.normalize("NFKC", status).strip().lower() in _DECEASED


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One register record present in one leaked item."""

    item: int
    register: str
    record_id: str
    status: str


@dataclass(slots=True)
class Scope:
    """The distinct records of an incident, with the views the report and letters need."""

    records: dict[str, dict[str, str]] = field(default_factory=dict)
    """register → record id → status."""
    by_item: dict[int, dict[str, set[str]]] = field(default_factory=dict)
    """item → register → record ids."""
    by_recipient: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    """recipient address → register → record ids that reached it."""

    @classmethod
    def build(cls, rows: Iterable[ItemRecord], recipients: Mapping[int, Iterable[str]]) -> Scope:
        """De-duplicate ``rows``; ``recipients`` maps each item to the addresses it reached."""
        scope = cls()
        for row in rows:
            statuses = scope.records.setdefault(row.register, {})
            # A record keeps the first status seen; re-imports of a register do not split it.
            statuses.setdefault(row.record_id, row.status)
            scope.by_item.setdefault(row.item, {}).setdefault(row.register, set()).add(
                row.record_id
            )
        for item, addresses in recipients.items():
            for address in addresses:
                reached = scope.by_recipient.setdefault(address.lower(), {})
                for register, ids in scope.by_item.get(item, {}).items():
                    reached.setdefault(register, set()).update(ids)
        return scope

    @property
    def subjects(self) -> int:
        """Distinct people over all registers (a person in two registers counts twice)."""
        return sum(len(ids) for ids in self.records.values())

    @property
    def deceased(self) -> int:
        return sum(is_deceased(s) for ids in self.records.values() for s in ids.values())

    @property
    def living(self) -> int:
        return self.subjects - self.deceased

    def by_status(self, register: str | None = None) -> dict[str, int]:
        """Records per status, over one register or all."""
        counts: Counter[str] = Counter()
        for name, ids in self.records.items():
            if register is None or name == register:
                counts.update(s or "unknown" for s in ids.values())
        return dict(sorted(counts.items()))

    def in_scope(self, register: str, record_id: str) -> bool:
        return record_id in self.records.get(register, {})

    def to_json(self) -> dict[str, Any]:
        return {
            "subjects": self.subjects,
            "living": self.living,
            "deceased": self.deceased,
            "by_status": self.by_status(),
            "registers": {
                name: {"subjects": len(ids), "by_status": self.by_status(name)}
                for name, ids in sorted(self.records.items())
            },
            "by_item": {
                str(item): {name: len(ids) for name, ids in sorted(regs.items())}
                for item, regs in sorted(self.by_item.items())
            },
            "by_recipient": {
                address: {name: len(ids) for name, ids in sorted(regs.items())}
                for address, regs in sorted(self.by_recipient.items())
            },
        }
