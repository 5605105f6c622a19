"""Exemption requests from staff, waiting for a privacy officer to approve or refuse them.

An approved request becomes a row of ``exemptions`` (which the policy engine honours); the
request keeps who asked, who decided and why, so the console can show the whole story.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.store import audit
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import Base
from postwarden.store.exemptions import Exemption, add_exemption

__all__ = [
    "ExemptionRequest",
    "RequestState",
    "add_request",
    "approve_request",
    "pending_requests",
    "refuse_request",
]


class RequestState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class ExemptionRequest(Base):
    __tablename__ = "exemption_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipient_domain: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date | None] = mapped_column(Date)
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    exemption_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("exemptions.id", ondelete="SET NULL")
    )


def add_request(
    session: Session,
    *,
    sender: str,
    recipient_domain: str,
    reason: str,
    until: date | None,
    requested_by: str,
    secret: bytes,
) -> ExemptionRequest:
    """Record a staff member's request and audit it (the caller commits)."""
    row = ExemptionRequest(
        sender=sender,
        recipient_domain=recipient_domain,
        reason=reason,
        until=until,
        requested_by=requested_by,
        requested_at=datetime.now(UTC),
        state=RequestState.PENDING.value,
    )
    session.add(row)
    session.flush()
    data = {
        "request": row.id,
        "domain": recipient_domain,
        "until": until.isoformat() if until else None,
    }
    audit.record(session, AuditKind.EXEMPTION_REQUEST, requested_by, data, secret=secret)
    return row


def approve_request(
    session: Session, row: ExemptionRequest, *, by: str, note: str, secret: bytes
) -> Exemption:
    """Grant the exemption a pending request asks for (audited as its grant) and mark the
    request approved (the caller commits)."""
    grant = add_exemption(
        session,
        sender=row.sender,
        recipient_domain=row.recipient_domain,
        reason=row.reason,
        granted_by=by,
        secret=secret,
        until=row.until,
        request=row.id,
    )
    _decide(row, RequestState.APPROVED, by, note)
    row.exemption_id = grant.id
    return grant


def refuse_request(
    session: Session, row: ExemptionRequest, *, by: str, note: str, secret: bytes
) -> None:
    """Mark a pending request refused and audit it (the caller commits)."""
    _decide(row, RequestState.REFUSED, by, note)
    audit.record(session, AuditKind.EXEMPTION_REFUSE, by, {"request": row.id}, secret=secret)


def _decide(row: ExemptionRequest, state: RequestState, by: str, note: str) -> None:
    row.state = state.value
    row.decided_by, row.decided_at = by, datetime.now(UTC)
    row.decision_note = note.strip() or None


def pending_requests(session: Session) -> list[ExemptionRequest]:
    stmt = (
        select(ExemptionRequest)
        .where(ExemptionRequest.state == RequestState.PENDING.value)
        .order_by(ExemptionRequest.requested_at)
    )
    return list(session.execute(stmt).scalars())
