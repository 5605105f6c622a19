"""Users and roles, audited on creation without their address."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from postwarden.store import audit
from postwarden.store.users import Role, UserError, UserExists, add_user, get_user, list_users

SECRET = b"k" * 32


def test_users_add_get_list(session: Session) -> None:
    add_user(session, "bob", Role.REVIEWER, "Bob@Example.org", actor="cli:root", secret=SECRET)
    add_user(session, "alice", "privacy-officer", actor="cli:root", secret=SECRET)
    session.commit()
    bob = get_user(session, "bob")
    assert (bob.role_enum, bob.email, bob.password_hash) == (Role.REVIEWER, "Bob@Example.org", None)
    assert [(u.name, u.role) for u in list_users(session)] == [
        ("alice", "privacy-officer"),
        ("bob", "reviewer"),
    ]


def test_users_audited_without_address(session: Session) -> None:
    add_user(session, "bob", Role.ADMIN, "bob@example.org", actor="cli:root", secret=SECRET)
    session.commit()
    entry = session.execute(select(audit.AuditEntry)).scalar_one()
    assert (entry.kind, entry.actor) == ("user.add", "cli:root")
    assert entry.data == '{"email":true,"role":"admin","user":"bob"}'
    assert audit.verify(session, secret=SECRET).ok


def test_users_duplicate_name(session: Session) -> None:
    add_user(session, "bob", Role.REVIEWER, actor="a", secret=SECRET)
    session.commit()
    with pytest.raises(UserExists, match="already exists"):
        add_user(session, "bob", Role.ADMIN, actor="a", secret=SECRET)
    assert len(list_users(session)) == 1


@pytest.mark.parametrize(
    ("name", "role", "email", "message"),
    [
        ("bob", "superuser", None, "unknown role"),
        ("-bob", "admin", None, "invalid user name"),
        ("b ob", "admin", None, "invalid user name"),
        ("bob", "admin", "not-an-address", "invalid e-mail"),
        ("bob", "admin", "bob@example.org\r\nBcc: x@y.z", "invalid e-mail"),
    ],
)
def test_users_invalid_input(
    session: Session, name: str, role: str, email: str | None, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        add_user(session, name, role, email, actor="a", secret=SECRET)


def test_users_unknown(session: Session) -> None:
    with pytest.raises(UserError, match="no such user"):
        get_user(session, "nobody")
