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


def _fail(db: Session, user: str, address: str, n: int, at: datetime) -> None:
    for _ in range(n):
        sessions.record_attempt(db, user, address, ok=False, now=at)


def test_throttle_delays_grow_per_user_and_per_address_and_never_lock(db: Session) -> None:
    now = datetime.now(UTC)
    _fail(db, "alice", "10.0.0.1", sessions.MAX_FAILURES_PER_USER - 1, now)
    assert sessions.throttle_delay(db, "alice", "10.0.0.9", now=now) == timedelta(0)
    _fail(db, "alice", "10.0.0.1", 1, now)
    # The fifth failure: a one-second wait on the account, from any address.
    assert sessions.throttle_delay(db, "alice", "10.0.0.9", now=now) == timedelta(seconds=1)
    assert sessions.throttle_delay(db, "bob", "10.0.0.9", now=now) == timedelta(0)
    # Each further failure doubles it, up to the account cap: never a lock.
    _fail(db, "alice", "10.0.0.1", 40, now)
    account = sessions.throttle_delay(db, "alice", "10.0.0.9", now=now)
    assert account == sessions.ACCOUNT_DELAY_CAP
    assert sessions.throttle_delay(db, "alice", "10.0.0.9", now=now + account) == timedelta(0)
    # The guessing address itself waits far longer, for any account.
    from_attacker = sessions.throttle_delay(db, "bob", "10.0.0.1", now=now)
    assert from_attacker == sessions.ADDRESS_DELAY_CAP
    assert sessions.throttled(db, "bob", "10.0.0.1", now=now + account)


def test_address_delay_grows_with_each_failure(db: Session) -> None:
    now = datetime.now(UTC)
    waits = []
    for i in range(sessions.MAX_FAILURES_PER_ADDRESS + 4):
        _fail(db, f"user{i}", "10.0.0.2", 1, now)
        waits.append(sessions.throttle_delay(db, "carol", "10.0.0.2", now=now).total_seconds())
    free = sessions.MAX_FAILURES_PER_ADDRESS - 1
    assert waits[:free] == [0] * free
    assert waits[free:] == [1, 2, 4, 8, 16]


def test_owner_from_a_known_address_skips_the_account_delay(db: Session) -> None:
    earlier = datetime.now(UTC) - timedelta(days=2)
    sessions.record_attempt(db, "alice", "10.0.0.5", ok=True, now=earlier)
    now = datetime.now(UTC)
    _fail(db, "alice", "10.0.0.1", 20, now)
    assert sessions.throttle_delay(db, "alice", "10.0.0.5", now=now) == timedelta(0)
    assert sessions.throttle_delay(db, "alice", "10.0.0.6", now=now) > timedelta(0)
    # The owner's sign-in resets the account's count.
    sessions.record_attempt(db, "alice", "10.0.0.6", ok=True, now=now)
    later = now + timedelta(seconds=1)
    assert sessions.throttle_delay(db, "alice", "10.0.0.7", now=later) == timedelta(0)


def test_failures_are_forgotten_after_their_memory(db: Session) -> None:
    now = datetime.now(UTC)
    _fail(db, "alice", "10.0.0.1", 30, now)
    later = now + sessions.FAILURE_MEMORY + timedelta(seconds=1)
    assert not sessions.throttled(db, "alice", "10.0.0.1", now=later)
    sessions.purge_expired(db, now=later)
    assert not sessions.throttled(db, "alice", "10.0.0.1", now=now)
