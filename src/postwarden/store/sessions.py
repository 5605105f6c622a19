"""Console sessions kept server-side, and the login attempts that throttle password guessing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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

from postwarden.store import audit
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import Base

IDLE_TIMEOUT = timedelta(minutes=30)
TOUCH_INTERVAL = timedelta(minutes=1)
"""The idle clock is restarted at most this often: not a database write per page view."""
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# Sign-in throttle: growing delays, never a lock.  Failed attempts are remembered for
# FAILURE_MEMORY; past a number of free failures each further one doubles the wait before the
# next try is even checked.  From one client address the wait grows to ADDRESS_DELAY_CAP, so
# a guesser's address gets slower and slower; on one account it grows only to
# ACCOUNT_DELAY_CAP, so an attack on an account from many addresses costs its owner at most
# that wait, and none at all from an address they signed in from before (KNOWN_ADDRESS_MEMORY).
THROTTLE_WINDOW = timedelta(hours=24)
"""How long failed attempts count (``FAILURE_MEMORY``; the old name is kept for callers)."""
FAILURE_MEMORY = THROTTLE_WINDOW
KNOWN_ADDRESS_MEMORY = timedelta(days=30)
MAX_FAILURES_PER_USER = 5
"""Free failures on one account before its delay starts (1 s, then doubling)."""
MAX_FAILURES_PER_ADDRESS = 10
"""Free failures from one client address (any accounts) before its delay starts."""
ACCOUNT_DELAY_CAP = timedelta(seconds=30)
ADDRESS_DELAY_CAP = timedelta(hours=1)


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


def sign_in(
    db: Session, user_id: int, name: str, *, old_token: str, address: str, secret: bytes
) -> OpenSession:
    """Swap the visitor's session for a new signed-in one and audit the sign-in (the caller
    commits): a session id planted before sign-in is worth nothing after it."""
    close_session(db, old_token)
    fresh = open_session(db, user_id)
    audit.record(db, AuditKind.CONSOLE_LOGIN, name, {"address": address}, secret=secret)
    return fresh


def sign_out_user(db: Session, user_id: int, name: str, *, actor: str, secret: bytes) -> int:
    """End every session of a user on someone's decision and audit it (the caller commits);
    returns how many ended."""
    ended = close_user_sessions(db, user_id)
    audit.record(
        db, AuditKind.CONSOLE_SIGNOUT, actor, {"user": name, "sessions": ended}, secret=secret
    )
    return ended


def csrf_matches(session: OpenSession, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")


def purge_expired(db: Session, now: datetime | None = None) -> None:
    """Drop dead sessions, failed attempts older than :data:`FAILURE_MEMORY` and sign-ins
    older than :data:`KNOWN_ADDRESS_MEMORY`."""
    now = now or _now()
    db.execute(
        delete(ConsoleSession).where(
            (ConsoleSession.expires_at <= now) | (ConsoleSession.last_seen <= now - IDLE_TIMEOUT)
        )
    )
    db.execute(
        delete(LoginAttempt).where(
            (LoginAttempt.ok.is_(False) & (LoginAttempt.at <= now - FAILURE_MEMORY))
            | (LoginAttempt.at <= now - KNOWN_ADDRESS_MEMORY)
        )
    )


def record_attempt(
    db: Session, username: str, address: str, ok: bool, now: datetime | None = None
) -> None:
    db.add(LoginAttempt(username=username[:255], address=address[:64], at=now or _now(), ok=ok))


def _backoff(failures: int, free: int, cap: timedelta) -> timedelta:
    """No wait for the first ``free`` failures, then 1 s, 2 s, 4 s, … up to ``cap``."""
    if failures < free:
        return timedelta(0)
    exponent = min(failures - free, 30)  # 2**30 s is far past any cap
    return min(timedelta(seconds=2**exponent), cap)


def _failures(db: Session, where: Any, since: datetime) -> tuple[int, datetime | None]:
    count, last = db.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            where, LoginAttempt.ok.is_(False), LoginAttempt.at > since
        )
    ).one()
    return int(count or 0), _aware(last) if last is not None else None


def throttle_delay(
    db: Session, username: str, address: str, now: datetime | None = None
) -> timedelta:
    """How long this user name from this address must still wait before a password is checked
    (zero: check it now).  The larger of the account's and the address's back-off, each
    counted from that key's last failure."""
    now = now or _now()
    name, addr = username[:255], address[:64]
    since = now - FAILURE_MEMORY
    # The owner's success resets their account's count (not an address's: a guesser with an
    # account of their own must not reset their address by signing in to it).
    last_ok = db.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == name, LoginAttempt.ok.is_(True)
        )
    )
    account_since = max(since, _aware(last_ok)) if last_ok is not None else since
    waits = [timedelta(0)]
    known = db.scalar(
        select(func.count()).where(
            LoginAttempt.username == name,
            LoginAttempt.address == addr,
            LoginAttempt.ok.is_(True),
            LoginAttempt.at > now - KNOWN_ADDRESS_MEMORY,
        )
    )
    if not known:
        count, last = _failures(db, LoginAttempt.username == name, account_since)
        if last is not None:
            wait = _backoff(count, MAX_FAILURES_PER_USER, ACCOUNT_DELAY_CAP)
            waits.append(last + wait - now)
    count, last = _failures(db, LoginAttempt.address == addr, since)
    if last is not None:
        waits.append(last + _backoff(count, MAX_FAILURES_PER_ADDRESS, ADDRESS_DELAY_CAP) - now)
    return max(waits)


def throttled(db: Session, username: str, address: str, now: datetime | None = None) -> bool:
    """Whether this attempt must wait (see :func:`throttle_delay`)."""
    return throttle_delay(db, username, address, now) > timedelta(0)
