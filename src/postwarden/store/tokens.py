"""API tokens of the HTTP check API: named, scoped, expiring, revocable, stored hashed."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.errors import Conflict, Invalid, PostwardenError
from postwarden.i18n import _
from postwarden.store import audit
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import Base, add_new

__all__ = [
    "TOKEN_PREFIX",
    "ApiToken",
    "Caller",
    "InvalidToken",
    "NewToken",
    "TokenError",
    "TokenExists",
    "TokenScope",
    "add_token",
    "authenticate",
    "list_tokens",
    "record_call",
    "revoke_token",
]

TOKEN_PREFIX = "pwt_"  # noqa: S105 - a public marker, not a secret
"""Every token starts with it, so secret scanners and people recognise one in a paste."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_PRESENTED = 256


class TokenScope(StrEnum):
    """What a token may see: ``check`` the action and the sender's messages, ``check:detail``
    the whole answer (register counts and findings), every call audited."""

    CHECK = "check"
    CHECK_DETAIL = "check:detail"


class TokenError(PostwardenError):
    """An invalid name, scope or expiry, or an unknown token."""


class InvalidToken(TokenError, Invalid):
    """The name, scope or expiry given is invalid, or the token to revoke is unknown or already
    revoked: the command line was wrong (exit 2)."""


class TokenExists(TokenError, Conflict):
    """A token of that name exists (revoked ones too: names are never reused, so the audit log
    names one token each)."""


class ApiToken(Base):
    """One token; the row holds only the SHA-256 of the token, revocation keeps the row."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    calls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Check calls answered with this token (a 429 is not counted)."""
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    def status(self, now: datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _aware(self.expires_at) <= (now or _now()):
            return "expired"
        return "active"

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """Everything about the token except the token (which is not stored)."""
        return {
            "name": self.name,
            "scope": self.scope,
            "status": self.status(now),
            "created_at": _iso(self.created_at),
            "created_by": self.created_by,
            "expires_at": _iso(self.expires_at),
            "revoked_at": _iso(self.revoked_at),
            "revoked_by": self.revoked_by,
            "calls": self.calls,
            "last_used_at": _iso(self.last_used_at),
        }


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just made: ``token`` is shown once and never again."""

    row: ApiToken
    token: str


@dataclass(frozen=True, slots=True)
class Caller:
    """The token a request authenticated with, as the API needs it."""

    id: int
    name: str
    scope: TokenScope


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone=True columns; they were stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return _aware(value).isoformat() if value is not None else None


def digest(token: str) -> str:
    """SHA-256 of a token, hex.

    A plain fast hash is enough here, unlike for passwords: a token is 32 random bytes (256
    bits), so no dictionary or brute force can recover it from a stolen hash, and an unsalted
    hash lets the request be looked up by an index. (Console sessions do the same.)
    """
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def add_token(
    session: Session,
    name: str,
    scope: TokenScope | str,
    *,
    actor: str,
    secret: bytes,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> NewToken:
    """Make a token and audit it (``token.add``, without the token); the caller commits."""
    when = now or _now()
    if not _NAME.match(name):
        raise InvalidToken(
            _("invalid token name {name!r}: letters, digits, '.', '_' and '-', at most 64").format(
                name=name
            )
        )
    try:
        scope = TokenScope(scope)
    except ValueError:
        raise InvalidToken(
            _("unknown scope {scope!r} (check, check:detail)").format(scope=scope)
        ) from None
    if expires_at is not None and _aware(expires_at) <= when:
        raise InvalidToken(
            _("expiry {expires} is in the past").format(expires=expires_at.isoformat())
        )
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenExists(
            _("a token named {name!r} exists (names are not reused)").format(name=name)
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name,
        token_hash=digest(token),
        scope=scope.value,
        created_at=when,
        created_by=actor,
        expires_at=expires_at,
        calls=0,
    )
    add_new(
        session,
        row,
        TokenExists(_("a token named {name!r} exists (names are not reused)").format(name=name)),
    )
    audit.record(
        session,
        AuditKind.TOKEN_ADD,
        actor,
        {"token": name, "scope": scope.value, "expires_at": _iso(expires_at)},
        secret=secret,
    )
    return NewToken(row, token)


def revoke_token(
    session: Session, name: str, *, actor: str, secret: bytes, now: datetime | None = None
) -> ApiToken:
    """Revoke a token at once (the row is kept) and audit it; the caller commits."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise InvalidToken(_("no token named {name!r}").format(name=name))
    if row.revoked_at is not None:
        raise InvalidToken(_("token {name!r} was already revoked").format(name=name))
    row.revoked_at = now or _now()
    row.revoked_by = actor
    session.flush()
    audit.record(session, AuditKind.TOKEN_REVOKE, actor, {"token": name}, secret=secret)
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token ever made, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def authenticate(session: Session, presented: str, now: datetime | None = None) -> Caller | None:
    """The active token ``presented`` is, or None.

    Every failure (empty, malformed, unknown, expired, revoked) takes the same path: one hash,
    one indexed lookup, one constant-time comparison; the caller answers them all alike.
    """
    wanted = digest(presented[:_MAX_PRESENTED])
    row = session.execute(
        select(ApiToken.id, ApiToken.name, ApiToken.scope, ApiToken.token_hash)
        .add_columns(ApiToken.expires_at, ApiToken.revoked_at)
        .where(ApiToken.token_hash == wanted)
    ).first()
    stored = row.token_hash if row is not None else digest("")
    matches = hmac.compare_digest(stored, wanted)
    if row is None or not matches or not presented or len(presented) > _MAX_PRESENTED:
        return None
    if row.revoked_at is not None:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= (now or _now()):
        return None
    return Caller(id=row.id, name=row.name, scope=TokenScope(row.scope))


def record_call(session: Session, token_id: int, now: datetime | None = None) -> None:
    """Count one answered call and when it was (the caller commits)."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(calls=ApiToken.calls + 1, last_used_at=now or _now())
    )
