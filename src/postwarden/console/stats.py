"""Counts for the dashboard and the policy page, read from the audit log's verdict entries."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postwarden.i18n import _
from postwarden.store.audit import AuditEntry
from postwarden.store.quarantine import QuarantineItem, State


@dataclass(slots=True)
class VerdictStats:
    """Verdicts per day and action, and how often each rule fired, over a window."""

    days: list[str]
    by_day: dict[str, Counter[str]] = field(default_factory=dict)
    by_action: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    by_day_rule: dict[str, Counter[str]] = field(default_factory=dict)
    rule_actions: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_action.values())


def verdict_stats(db: Session, days: int = 14, today: date | None = None) -> VerdictStats:
    """The last ``days`` days (today included), from entries of kind ``verdict``."""
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    stats = VerdictStats(
        days=labels,
        by_day={d: Counter() for d in labels},
        by_day_rule={d: Counter() for d in labels},
    )
    rows = db.execute(
        select(AuditEntry.created, AuditEntry.data)
        .where(AuditEntry.kind == "verdict", AuditEntry.created >= first.isoformat())
        .execution_options(yield_per=2000)
    )
    for created, data in rows:
        try:
            parsed = json.loads(data)
        except ValueError:
            continue
        action = str(parsed.get("action", "unknown"))
        day = created[:10]
        if day in stats.by_day:
            stats.by_day[day][action] += 1
        stats.by_action[action] += 1
        for rule in parsed.get("rules") or ():
            stats.by_rule[str(rule)] += 1
            if day in stats.by_day_rule:
                stats.by_day_rule[day][str(rule)] += 1
            stats.rule_actions.setdefault(str(rule), Counter())[action] += 1
    return stats


def top_rules(stats: VerdictStats, n: int = 6) -> tuple[list[str], dict[str, Counter[str]]]:
    """The ``n`` rules that fired most, the rest folded into ``other``, per day."""
    top = [rule for rule, _ in stats.by_rule.most_common(n)]
    days: dict[str, Counter[str]] = {}
    for day, counts in stats.by_day_rule.items():
        folded: Counter[str] = Counter()
        for rule, count in counts.items():
            folded[rule if rule in top else "other"] += count
        days[day] = folded
    if len(stats.by_rule) > n:
        top.append("other")
    return top, days


@dataclass(frozen=True, slots=True)
class Waiting:
    """Held messages waiting for a decision."""

    holds: int
    warns: int
    register: int
    oldest: datetime | None

    @property
    def total(self) -> int:
        return self.holds + self.warns

    def oldest_wait(self, now: datetime | None = None) -> str:
        if self.oldest is None:
            return "—"
        oldest = self.oldest if self.oldest.tzinfo else self.oldest.replace(tzinfo=UTC)
        return format_age((now or datetime.now(UTC)) - oldest)


def waiting(db: Session) -> Waiting:
    held = QuarantineItem.state == State.HELD.value
    counts = {
        action: n
        for action, n in db.execute(
            select(QuarantineItem.action, func.count()).where(held).group_by(QuarantineItem.action)
        )
    }
    oldest = db.scalar(select(func.min(QuarantineItem.created)).where(held))
    register = sum(
        1
        for subjects in db.execute(select(QuarantineItem.subjects).where(held)).scalars()
        if any((subjects or {}).values())
    )
    return Waiting(counts.get("hold", 0), counts.get("warn", 0), register, oldest)


def format_age(delta: timedelta) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``45 min``: precise enough to sort a queue by eye."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {mins} min").format(hours=hours, mins=mins)
    return _("{mins} min").format(mins=mins)
