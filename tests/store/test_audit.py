"""The audit hash chain: append, verify, and every kind of tampering named."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from postwarden.store import audit
from postwarden.store.db import session_factory

SECRET = b"s" * 32


def _fill(session: Session, n: int = 6) -> list[str]:
    hashes = []
    for i in range(n):
        entry = audit.append(
            session, "verdict", "gateway", {"action": "hold", "n": i}, secret=SECRET
        )
        hashes.append(entry.hash)
    session.commit()
    return hashes


def _as_attacker(session: Session, *statements: str) -> None:
    """Change the table the way someone with database rights would: triggers off first."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("DROP TRIGGER audit_log_no_delete"))
    else:
        session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
    for sql in statements:
        session.execute(text(sql))
    session.commit()


def test_audit_chain_verifies(session: Session) -> None:
    hashes = _fill(session)
    result = audit.verify(session, secret=SECRET)
    assert result.ok
    assert result.entries == 6
    assert audit.head(session) == audit.AuditHead(6, hashes[-1])
    assert audit.verify(session, secret=SECRET, expect_head=hashes[-1]).ok


def test_audit_empty_log(session: Session) -> None:
    assert audit.verify(session, secret=SECRET).ok
    assert audit.head(session) == audit.AuditHead(0, audit.GENESIS)


def test_audit_other_secret_fails_at_first_entry(session: Session) -> None:
    _fill(session)
    result = audit.verify(session, secret=b"x" * 32)
    assert (result.ok, result.first_bad) == (False, 1)


TAMPERING: dict[str, tuple[list[str], int, str]] = {
    # One byte of one entry's data.
    "edited": (
        [r"""UPDATE audit_log SET data = replace(data, '"n"\:3', '"n"\:4') WHERE seq = 4"""],
        4,
        "changed",
    ),
    "edited-actor": (["UPDATE audit_log SET actor = 'gatewaz' WHERE seq = 2"], 2, "changed"),
    "deleted": (["DELETE FROM audit_log WHERE seq = 3"], 4, "removed"),
    "deleted-first": (["DELETE FROM audit_log WHERE seq = 1"], 2, "removed"),
    # Two entries swap places (all columns but seq move).
    "swapped": (
        [
            "UPDATE audit_log SET seq = 100 WHERE seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE seq = 100",
        ],
        3,
        "reordered",
    ),
    # A forged entry slipped in with a plausible hash chain link but no valid HMAC.
    "inserted": (
        [
            "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4",
            "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 104",
            "INSERT INTO audit_log (seq, created, kind, actor, data, prev_hash, hash) "
            # The forged link differs from the copied one in its first character, whatever
            # that is (prev_hash is unique: a copy must never equal the original).
            "SELECT 4, created, kind, actor, data, "
            "CASE WHEN substr(prev_hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END "
            "|| substr(prev_hash, 2), hash "
            "FROM audit_log WHERE seq = 3",
        ],
        4,
        "inserted",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_audit_verify_names_first_bad_entry(session: Session, case: str) -> None:
    _fill(session)
    statements, first_bad, word = TAMPERING[case]
    _as_attacker(session, *statements)
    result = audit.verify(session, secret=SECRET)
    assert not result.ok
    assert result.first_bad == first_bad, result.problem
    assert word in result.problem


def test_audit_cut_tail_needs_exported_head(session: Session) -> None:
    hashes = _fill(session)
    _as_attacker(session, "DELETE FROM audit_log WHERE seq = 6")
    assert audit.verify(session, secret=SECRET).ok  # a shorter chain is still a chain
    result = audit.verify(session, secret=SECRET, expect_head=hashes[-1])
    assert (result.ok, result.first_bad) == (False, 6)


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log WHERE seq = 1"],
)
def test_audit_database_refuses_changes(session: Session, sql: str) -> None:
    _fill(session, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(sql))
    session.rollback()
    assert audit.verify(session, secret=SECRET).entries == 2


def test_audit_postgresql_refuses_truncate(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    _fill(session, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("TRUNCATE audit_log"))


def test_audit_concurrent_appends_never_fork(db_engine: Engine) -> None:
    make: Callable[[], Session] = session_factory(db_engine)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(10):
                with make() as s:
                    audit.append(s, "verdict", f"w{k}", {"i": i}, secret=SECRET)
                    s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make() as s:
        result = audit.verify(s, secret=SECRET)
    assert result.ok
    assert result.entries == 40


def test_audit_entry_is_canonical_json(session: Session) -> None:
    entry = audit.append(session, "user.add", "cli:root", {"b": 1, "a": "é"}, secret=SECRET)
    assert entry.data == '{"a":"é","b":1}'
    assert entry.prev_hash == audit.GENESIS
    assert entry.seq == 1
