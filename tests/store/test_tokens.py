from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from postwarden.store import audit
from postwarden.store.audit import AuditEntry
from postwarden.store.tokens import (
    ApiToken,
    TokenError,
    TokenExists,
    TokenScope,
    add_token,
    authenticate,
    list_tokens,
    record_call,
    revoke_token,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET = b"token-tests-secret-0123456789abcd"


def _add(session: Session, name: str = "crm", **kw: object) -> str:
    made = add_token(
        session,
        name,
        kw.pop("scope", TokenScope.CHECK),  # type: ignore[arg-type]
        actor="cli:root",
        secret=SECRET,
        now=NOW,
        **kw,  # type: ignore[arg-type]
    )
    session.commit()
    return made.token


def test_token_is_stored_only_as_its_hash(session: Session) -> None:
    token = _add(session)
    assert token.startswith("pwt_")
    assert len(token) > 40
    [row] = session.scalars(select(ApiToken))
    assert token not in json.dumps(row.to_json())
    assert row.token_hash != token
    assert len(row.token_hash) == 64
    caller = authenticate(session, token, now=NOW)
    assert caller is not None
    assert (caller.name, caller.scope) == ("crm", TokenScope.CHECK)


@pytest.mark.parametrize("presented", ["", "pwt_", "Bearer x", "pwt_" + "A" * 43, "x" * 5000])
def test_authenticate_refuses_unknown_tokens(session: Session, presented: str) -> None:
    _add(session)
    assert authenticate(session, presented, now=NOW) is None


def test_revoked_and_expired_tokens_do_not_authenticate(session: Session) -> None:
    revoked = _add(session, "old")
    expiring = _add(session, "temp", expires_at=NOW + timedelta(hours=1))
    revoke_token(session, "old", actor="cli:root", secret=SECRET, now=NOW)
    session.commit()
    assert authenticate(session, revoked, now=NOW) is None
    assert authenticate(session, expiring, now=NOW) is not None
    assert authenticate(session, expiring, now=NOW + timedelta(hours=1)) is None
    status = {t.name: t.status(NOW + timedelta(hours=2)) for t in list_tokens(session)}
    assert status == {"old": "revoked", "temp": "expired"}


def test_add_and_revoke_are_audited_without_the_token(session: Session) -> None:
    token = _add(session, scope=TokenScope.CHECK_DETAIL)
    revoke_token(session, "crm", actor="cli:bob", secret=SECRET)
    session.commit()
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert [(e.kind, e.actor) for e in entries] == [
        ("token.add", "cli:root"),
        ("token.revoke", "cli:bob"),
    ]
    assert json.loads(entries[0].data) == {
        "token": "crm",
        "scope": "check:detail",
        "expires_at": None,
    }
    assert all(token not in e.data for e in entries)
    assert audit.verify(session, secret=SECRET).ok


@pytest.mark.parametrize(
    ("name", "kw", "error"),
    [
        ("bad name", {}, "invalid token name"),
        ("x", {"scope": "admin"}, "unknown scope"),
        ("x", {"expires_at": NOW - timedelta(seconds=1)}, "in the past"),
    ],
)
def test_add_token_refuses(session: Session, name: str, kw: dict[str, object], error: str) -> None:
    with pytest.raises(TokenError, match=error):
        _add(session, name, **kw)


def test_names_are_never_reused(session: Session) -> None:
    _add(session)
    revoke_token(session, "crm", actor="cli:root", secret=SECRET)
    session.commit()
    with pytest.raises(TokenExists):
        _add(session)


def test_calls_are_counted(session: Session) -> None:
    token = _add(session)
    caller = authenticate(session, token, now=NOW)
    assert caller is not None
    for _ in range(3):
        record_call(session, caller.id, now=NOW)
    session.commit()
    [row] = list_tokens(session)
    session.refresh(row)
    assert row.calls == 3
    assert row.to_json()["last_used_at"] == NOW.isoformat()
