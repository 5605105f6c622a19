"""Console credentials: argon2 passwords and TOTP codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.store.conftest import SECRET

from postwarden.store import credentials, sessions
from postwarden.store.audit import AuditEntry
from postwarden.store.users import get_user

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test password


def test_password_is_stored_as_argon2id_and_checked(db: Session) -> None:
    user = credentials.set_password(db, "alice", PASSWORD, actor="t", secret=SECRET)
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert credentials.check_password(user, PASSWORD)
    assert not credentials.check_password(user, PASSWORD + "!")
    assert not credentials.check_password(None, PASSWORD)


def test_user_without_password_cannot_sign_in(db: Session) -> None:
    assert not credentials.check_password(get_user(db, "alice"), "")


def test_short_password_is_refused(db: Session) -> None:
    with pytest.raises(credentials.CredentialError, match="too short"):
        credentials.set_password(db, "alice", "short", actor="t", secret=SECRET)


def test_password_change_is_audited_without_the_password_and_ends_sessions(db: Session) -> None:
    user = credentials.set_password(db, "alice", PASSWORD, actor="t", secret=SECRET)
    old = sessions.open_session(db, user.id)
    credentials.set_password(db, "alice", PASSWORD + " 2", actor="t", secret=SECRET)
    db.commit()
    assert sessions.find_session(db, old.token) is None
    entries = [e for e in db.execute(select(AuditEntry)).scalars() if e.kind == "user.password"]
    assert len(entries) == 2
    assert all(PASSWORD not in e.data and "argon2" not in e.data for e in entries)
    assert json.loads(entries[0].data) == {"user": "alice"}


def test_totp_needs_a_current_code_once(db: Session) -> None:
    user = get_user(db, "alice")
    secret = credentials.new_totp_secret()
    now = datetime.now(UTC)
    totp = pyotp.TOTP(secret)
    with pytest.raises(credentials.CredentialError):
        credentials.enable_totp(
            db,
            user,
            secret,
            "000000" if totp.at(now) != "000000" else "111111",
            secret=SECRET,
            now=now,
        )
    credentials.enable_totp(db, user, secret, totp.at(now), secret=SECRET, now=now)
    assert credentials.totp_enabled(db, user.id)
    later = now + timedelta(seconds=60)
    assert not credentials.check_totp(db, user.id, "", now=later)
    assert credentials.check_totp(db, user.id, totp.at(later), now=later)
    # The same code cannot be replayed, nor an older one.
    assert not credentials.check_totp(db, user.id, totp.at(later), now=later)
    assert not credentials.check_totp(db, user.id, totp.at(now), now=later)
    credentials.disable_totp(db, user, actor="alice", secret=SECRET)
    assert credentials.check_totp(db, user.id, "", now=later)
