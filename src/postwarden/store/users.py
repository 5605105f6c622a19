"""People who review and decide: names, roles, e-mail addresses (for the four-eyes check)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.errors import Conflict, Invalid, NotFound, PostwardenError
from postwarden.i18n import _
from postwarden.store import audit
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import Base, add_new

__all__ = [
    "InvalidUser",
    "NoSuchUser",
    "Role",
    "User",
    "UserError",
    "UserExists",
    "add_user",
    "get_user",
    "list_users",
    "set_language",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class Role(StrEnum):
    """What a user may do.

    ``reviewer`` releases and rejects ordinary holds; ``privacy-officer`` also releases holds
    for register data; ``admin`` manages users and may release and reject ordinary holds, but
    is *not* a privacy officer (separation of duties: design.md "a privacy officer approves").
    """

    REVIEWER = "reviewer"
    PRIVACY_OFFICER = "privacy-officer"
    ADMIN = "admin"


class UserError(PostwardenError):
    """Unknown user, duplicate name, or an invalid name, role or address."""


class InvalidUser(UserError, Invalid):
    """An invalid name, role or e-mail address."""


class UserExists(UserError, Conflict):
    """A user of that name is already there."""


class NoSuchUser(UserError, NotFound):
    """No user of that name."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """Set by the console issue (argon2); NULL means the user cannot log in yet."""
    language: Mapped[str | None] = mapped_column(String(16))
    """The console language the user chose (``postwarden.i18n.LANGUAGES``); NULL: the browser's."""

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


def add_user(
    session: Session,
    name: str,
    role: Role | str,
    email: str | None = None,
    *,
    actor: str,
    secret: bytes,
) -> User:
    """Create a user and audit it (role and whether an address was given, never the address)."""
    if not _NAME.match(name):
        raise InvalidUser(
            _("invalid user name {name!r}: letters, digits, . _ @ - (up to 64)").format(name=name)
        )
    try:
        role = Role(role)
    except ValueError:
        raise InvalidUser(
            _("unknown role {role!r} (reviewer, privacy-officer, admin)").format(role=role)
        ) from None
    if email is not None:
        email = email.strip()
        if len(email) > 320 or not _EMAIL.match(email):
            raise InvalidUser(_("invalid e-mail address {email!r}").format(email=email))
    user = User(name=name, role=role.value, email=email, created=datetime.now(UTC))
    add_new(session, user, UserExists(_("user {name!r} already exists").format(name=name)))
    audit.record(
        session,
        AuditKind.USER_ADD,
        actor,
        {"user": name, "role": role.value, "email": email is not None},
        secret=secret,
    )
    return user


def get_user(session: Session, name: str) -> User:
    user = session.execute(select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NoSuchUser(
            _("no such user: {name!r} (add one with 'postwarden user add')").format(name=name)
        )
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.name)).scalars())


def set_language(session: Session, user_id: int, language: str) -> None:
    """Keep the console language a user chose with the switch (a preference: not audited)."""
    user = session.get(User, user_id)
    if user is not None:
        user.language = language
