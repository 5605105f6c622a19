"""Console sessions and login throttling rows."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from postwarden.store import sessions
from postwarden.store.sessions import ConsoleSession


def test_session_row_holds_only_the_token_digest(db: Session) -> None:
    opened = sessions.open_session(db, 1)
    db.commit()
    [row] = db.execute(select(ConsoleSession)).scalars()
    assert row.id == hashlib.sha256(opened.token.encode()).hexdigest()
    assert opened.token not in (row.id, row.csrf)
    found = sessions.find_session(db, opened.token)
    assert found is not None
    assert found.user_id == 1
    assert found.csrf == opened.csrf


def test_session_expires_when_idle_and_at_the_absolute_limit(db: Session) -> None:
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    opened = sessions.open_session(db, 1, now=start)
    db.commit()
    assert sessions.find_session(db, opened.token, now=start + timedelta(minutes=29))
    # Kept alive by use, the session still ends at the absolute limit.
    t = start
    while t < start + sessions.ABSOLUTE_TIMEOUT - timedelta(minutes=20):
        t += timedelta(minutes=20)
        assert sessions.find_session(db, opened.token, now=t) is not None
    assert sessions.find_session(db, opened.token, now=start + sessions.ABSOLUTE_TIMEOUT) is None
    idle = sessions.open_session(db, 1, now=start)
    assert sessions.find_session(db, idle.token, now=start + sessions.IDLE_TIMEOUT) is None


def test_unknown_or_absurd_tokens_find_nothing(db: Session) -> None:
    assert sessions.find_session(db, "") is None
    assert sessions.find_session(db, "nope") is None
    assert sessions.find_session(db, "x" * 5000) is None


def test_close_user_sessions_ends_every_session_of_that_user(db: Session) -> None:
    a, b = sessions.open_session(db, 1), sessions.open_session(db, 1)
    anonymous = sessions.open_session(db, None)
    assert sessions.close_user_sessions(db, 1) == 2
    assert sessions.find_session(db, a.token) is None
    assert sessions.find_session(db, b.token) is None
    assert sessions.find_session(db, anonymous.token) is not None


def test_csrf_matches_only_the_session_token(db: Session) -> None:
    opened = sessions.open_session(db, None)
    assert sessions.csrf_matches(opened, opened.csrf)
    assert not sessions.csrf_matches(opened, "")
    assert not sessions.csrf_matches(opened, None)
    last = "x" if opened.csrf[-1] != "x" else "y"  # always a different token
    assert not sessions.csrf_matches(opened, opened.csrf[:-1] + last)


def test_throttle_counts_failures_per_user_and_per_address(db: Session) -> None:
    now = datetime.now(UTC)
    for _ in range(sessions.MAX_FAILURES_PER_USER - 1):
        sessions.record_attempt(db, "alice", "10.0.0.1", ok=False, now=now)
    assert not sessions.throttled(db, "alice", "10.0.0.9", now=now)
    sessions.record_attempt(db, "alice", "10.0.0.1", ok=False, now=now)
    assert sessions.throttled(db, "alice", "10.0.0.9", now=now)
    assert not sessions.throttled(db, "bob", "10.0.0.9", now=now)
    # Guessing many names from one address trips the per-address limit.
    for i in range(sessions.MAX_FAILURES_PER_ADDRESS):
        sessions.record_attempt(db, f"user{i}", "10.0.0.2", ok=False, now=now)
    assert sessions.throttled(db, "carol", "10.0.0.2", now=now)
    # The window passes.
    later = now + sessions.THROTTLE_WINDOW + timedelta(seconds=1)
    assert not sessions.throttled(db, "alice", "10.0.0.1", now=later)
    sessions.purge_expired(db, now=later)
    assert not sessions.throttled(db, "carol", "10.0.0.2", now=now)
