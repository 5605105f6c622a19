"""Console credentials: argon2 password hashes on ``users`` and optional TOTP secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.errors import Invalid
from postwarden.i18n import _
from postwarden.store import audit, sessions
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import Base
from postwarden.store.passphrases import MIN_LENGTH, PassphraseError, check_passphrase
from postwarden.store.users import User, get_user

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "CredentialError",
    "TotpSecret",
    "check_password",
    "check_totp",
    "disable_totp",
    "enable_totp",
    "new_totp_secret",
    "provisioning_uri",
    "set_password",
    "totp_enabled",
]

MIN_PASSWORD_LENGTH = MIN_LENGTH
# argon2-cffi's defaults follow RFC 9106's second recommended profile (argon2id, 64 MiB).
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verifying against this when the user does not exist costs the same as a real check, so
    the response time does not tell an attacker which user names exist.  Computed on first use
    (an argon2 hash costs 64 MiB and a fraction of a second), never at import."""
    return _HASHER.hash("postwarden-no-such-user")


class CredentialError(Invalid):
    """A password too weak, or a TOTP code that does not match."""


class TotpSecret(Base):
    """A user's TOTP secret (RFC 6238); a row exists only once the user proved a first code."""

    __tablename__ = "user_totp"

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(64))
    enabled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    """The last time step accepted: a code is never accepted twice (RFC 6238 §5.2)."""


def set_password(session: Session, name: str, password: str, *, actor: str, secret: bytes) -> User:
    """Hash ``password`` with argon2id onto user ``name`` and audit the change (not the hash).

    The password must pass the passphrase policy (:mod:`postwarden.store.passphrases`), with
    the user's name and address as context.  The user's console sessions end: whoever held
    the old password is signed out too.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CredentialError(
            _("password too short: at least {n} characters").format(n=MIN_PASSWORD_LENGTH)
        )
    user = get_user(session, name)
    try:
        check_passphrase(password, user_inputs=(name, user.email))
    except PassphraseError as exc:
        raise CredentialError(str(exc)) from None
    user.password_hash = _HASHER.hash(password)
    sessions.close_user_sessions(session, user.id)
    audit.record(session, AuditKind.USER_PASSWORD, actor, {"user": name}, secret=secret)
    return user


def check_password(user: User | None, password: str) -> bool:
    """True when ``password`` is the user's; rehashes in place when the parameters aged."""
    stored = user.password_hash if user is not None else None
    try:
        _HASHER.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    if user is None or stored is None:
        return False
    if _HASHER.check_needs_rehash(stored):
        user.password_hash = _HASHER.hash(password)
    return True


def totp_enabled(session: Session, user_id: int) -> bool:
    return session.get(TotpSecret, user_id) is not None


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="Postwarden")


def _step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to (one step of clock drift either way), else None."""
    code = code.replace(" ", "")
    if not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        at = now.timestamp() + drift * totp.interval
        if totp.verify(code, for_time=int(at)):
            return int(at // totp.interval)
    return None


def check_totp(session: Session, user_id: int, code: str, now: datetime | None = None) -> bool:
    """True when the user has no TOTP, or ``code`` is current and not used before."""
    row = session.get(TotpSecret, user_id)
    if row is None:
        return True
    step = _step(row.secret, code, now or datetime.now(UTC))
    if step is None or step <= row.last_step:
        return False
    row.last_step = step
    return True


def enable_totp(
    session: Session,
    user: User,
    secret_b32: str,
    code: str,
    *,
    secret: bytes,
    now: datetime | None = None,
) -> None:
    """Turn TOTP on once the user proved they hold ``secret_b32`` with a current code."""
    step = _step(secret_b32, code, now or datetime.now(UTC))
    if step is None:
        raise CredentialError(_("that code does not match: check the device's clock and retry"))
    session.merge(
        TotpSecret(
            user_id=user.id, secret=secret_b32, enabled_at=now or datetime.now(UTC), last_step=step
        )
    )
    audit.record(session, AuditKind.USER_TOTP_ENABLE, user.name, {"user": user.name}, secret=secret)


def disable_totp(session: Session, user: User, *, actor: str, secret: bytes) -> None:
    row = session.get(TotpSecret, user.id)
    if row is not None:
        session.delete(row)
        audit.record(
            session, AuditKind.USER_TOTP_DISABLE, actor, {"user": user.name}, secret=secret
        )
