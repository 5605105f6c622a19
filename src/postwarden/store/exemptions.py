"""Exemptions: a sender may write to a recipient domain, granted by someone, for a reason."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.errors import Invalid
from postwarden.i18n import _
from postwarden.store import audit
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import Base


class ExemptionError(Invalid):
    """An exemption that cannot be granted or revoked as asked."""


class Exemption(Base):
    """One grant; revocation keeps the row so the record of who allowed what survives."""

    __tablename__ = "exemptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender: Mapped[str] = mapped_column(String(320), index=True)
    recipient_domain: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    granted_by: Mapped[str] = mapped_column(String(255))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[date | None] = mapped_column(Date, nullable=True)
    """Last day the exemption applies (inclusive, UTC); None means until revoked."""
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(255), nullable=True)

    def active_on(self, day: date) -> bool:
        return self.revoked_at is None and (self.until is None or day <= self.until)

    def to_json(self, today: date | None = None) -> dict[str, Any]:
        day = today or datetime.now(UTC).date()
        return {
            "id": self.id,
            "sender": self.sender,
            "recipient_domain": self.recipient_domain,
            "reason": self.reason,
            "granted_by": self.granted_by,
            "granted_at": _iso(self.granted_at),
            "until": self.until.isoformat() if self.until else None,
            "revoked_at": _iso(self.revoked_at) if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "active": self.active_on(day),
        }


def _iso(when: datetime) -> str:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def _domain(text: str) -> str:
    d = text.strip().lower().lstrip("@").rstrip(".")
    if not d or "@" in d or "." not in d or any(c.isspace() for c in d):
        raise ExemptionError(_("not a domain name: {text!r}").format(text=text))
    return d


def _address(text: str) -> str:
    a = text.strip().lower()
    local, at, domain = a.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in a):
        raise ExemptionError(_("not an email address: {text!r}").format(text=text))
    return a


def add_exemption(
    session: Session,
    *,
    sender: str,
    recipient_domain: str,
    reason: str,
    granted_by: str,
    secret: bytes,
    until: date | None = None,
    request: int | None = None,
    now: datetime | None = None,
) -> Exemption:
    """Grant an exemption and append it to the audit chain, so every front end records it
    the same way (the caller commits); ``request`` links the staff request it answers."""
    when = now or datetime.now(UTC)
    if not reason.strip():
        raise ExemptionError(_("an exemption needs a reason"))
    if not granted_by.strip():
        raise ExemptionError(_("an exemption needs the name of who granted it"))
    if until is not None and until < when.date():
        raise ExemptionError(_("--until {until} is in the past").format(until=until.isoformat()))
    row = Exemption(
        sender=_address(sender),
        recipient_domain=_domain(recipient_domain),
        reason=reason.strip(),
        granted_by=granted_by.strip(),
        granted_at=when,
        until=until,
    )
    session.add(row)
    session.flush()
    data: dict[str, Any] = {
        "exemption": row.id,
        "domain": row.recipient_domain,
        "until": until.isoformat() if until else None,
    }
    if request is not None:
        data["request"] = request
    audit.record(session, AuditKind.EXEMPTION_GRANT, row.granted_by, data, secret=secret)
    return row


def revoke_exemption(
    session: Session,
    exemption_id: int,
    *,
    revoked_by: str,
    secret: bytes,
    now: datetime | None = None,
) -> Exemption:
    """Revoke an active exemption and audit it (the caller commits)."""
    row = session.get(Exemption, exemption_id)
    if row is None:
        raise ExemptionError(
            _("no exemption with id {exemption_id}").format(exemption_id=exemption_id)
        )
    if row.revoked_at is not None:
        raise ExemptionError(
            _("exemption {exemption_id} was already revoked").format(exemption_id=exemption_id)
        )
    row.revoked_at = now or datetime.now(UTC)
    row.revoked_by = revoked_by
    session.flush()
    audit.record(
        session, AuditKind.EXEMPTION_REVOKE, revoked_by, {"exemption": row.id}, secret=secret
    )
    return row


def list_exemptions(session: Session) -> list[Exemption]:
    """Every exemption ever granted, newest first."""
    return list(session.scalars(select(Exemption).order_by(Exemption.id.desc())))


def active_exemptions(session: Session, today: date | None = None) -> ActiveExemptions:
    """The exemptions in force today, as the engine's ``ExemptionBook``."""
    day = today or datetime.now(UTC).date()
    rows = session.scalars(select(Exemption).where(Exemption.revoked_at.is_(None)))
    return ActiveExemptions(
        ((r.sender, r.recipient_domain, r.until) for r in rows if r.active_on(day)),
        today=today,
    )


class ActiveExemptions:
    """Exemptions in memory: sender → domains, each with its last day (checked against
    ``today`` when given, else the current UTC date, so a grant lapses on time)."""

    def __init__(
        self, grants: Iterable[tuple[str, str, date | None]], today: date | None = None
    ) -> None:
        self._today = today
        self._by_sender: dict[str, list[tuple[str, date | None]]] = {}
        for sender, domain, until in grants:
            self._by_sender.setdefault(sender.lower(), []).append((domain.lower(), until))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_sender.values())

    def exempt(self, sender: str, domain: str) -> bool:
        grants = self._by_sender.get(sender.lower())
        if not grants:
            return False
        host = domain.lower().rstrip(".")
        today = self._today or datetime.now(UTC).date()
        return any(
            (host == d or host.endswith("." + d)) and (until is None or today <= until)
            for d, until in grants
        )
