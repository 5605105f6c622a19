"""Console sessions kept server-side, and the login attempts that throttle password guessing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.store.db import Base

IDLE_TIMEOUT = timedelta(minutes=30)
TOUCH_INTERVAL = timedelta(minutes=1)
"""The idle clock is restarted at most this often: not a database write per page view."""
ABSOLUTE_TIMEOUT = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


class ConsoleSession(Base):
    """One browser session; the cookie holds a random token, the row only its SHA-256, so a
    copy of the database opens no session."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    csrf: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class LoginAttempt(Base):
    """A password (or TOTP) check, kept for the throttle window."""

    __tablename__ = "console_login_attempts"
    __table_args__ = (
        Index("ix_console_login_attempts_username_at", "username", "at"),
        Index("ix_console_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)


@dataclass(frozen=True, slots=True)
class OpenSession:
    """A live session as the console sees it: the cookie token is never stored."""

    token: str
    user_id: int | None
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; they were stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def open_session(db: Session, user_id: int | None, now: datetime | None = None) -> OpenSession:
    """A fresh session with a new token and CSRF secret (anonymous when ``user_id`` is None)."""
    now = now or _now()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    db.add(
        ConsoleSession(
            id=_digest(token),
            user_id=user_id,
            csrf=csrf,
            created_at=now,
            last_seen=now,
            expires_at=now + ABSOLUTE_TIMEOUT,
        )
    )
    return OpenSession(token=token, user_id=user_id, csrf=csrf)


def find_session(db: Session, token: str, now: datetime | None = None) -> OpenSession | None:
    """The live session for a cookie token, its idle clock restarted; None when expired."""
    if not token or len(token) > 128:
        return None
    now = now or _now()
    row = db.get(ConsoleSession, _digest(token))
    if row is None:
        return None
    if _aware(row.expires_at) <= now or _aware(row.last_seen) + IDLE_TIMEOUT <= now:
        db.delete(row)
        return None
    if now - _aware(row.last_seen) >= TOUCH_INTERVAL:
        row.last_seen = now
    return OpenSession(token=token, user_id=row.user_id, csrf=row.csrf)


def close_session(db: Session, token: str) -> None:
    db.execute(delete(ConsoleSession).where(ConsoleSession.id == _digest(token)))


def close_user_sessions(db: Session, user_id: int) -> int:
    """Sign a user out everywhere (role change, password change, an admin's decision)."""
    result = db.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def csrf_matches(session: OpenSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")


def purge_expired(db: Session, now: datetime | None = None) -> None:
    """Drop dead sessions and attempts older than the throttle window."""
    now = now or _now()
    db.execute(
        delete(ConsoleSession).where(
            (ConsoleSession.expires_at <= now) | (ConsoleSession.last_seen <= now - IDLE_TIMEOUT)
        )
    )
    db.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - THROTTLE_WINDOW))


def record_attempt(
    db: Session, username: str, address: str, ok: bool, now: datetime | None = None
) -> None:
    db.add(LoginAttempt(username=username[:255], address=address[:64], at=now or _now(), ok=ok))


def throttled(db: Session, username: str, address: str, now: datetime | None = None) -> bool:
    """Too many recent failures for this user name or from this address."""
    since = (now or _now()) - THROTTLE_WINDOW
    failures = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.at > since, LoginAttempt.ok.is_(False))
    )
    by_user = db.scalar(failures.where(LoginAttempt.username == username[:255])) or 0
    by_address = db.scalar(failures.where(LoginAttempt.address == address[:64])) or 0
    return by_user >= MAX_FAILURES_PER_USER or by_address >= MAX_FAILURES_PER_ADDRESS
