"""The audit log: an append-only HMAC hash chain of every decision and change.

Each entry's ``hash`` is HMAC-SHA256, keyed by a key derived from the installation secret, over
the previous entry's hash and the canonical JSON of the entry (seq, time, kind, actor, data).
Editing, deleting, inserting or reordering entries breaks the chain at the first affected
entry; truncating or replacing the tail is caught by comparing with the head anchored outside
the database after every append batch (:mod:`postwarden.store.anchor`), or with an exported
head (``audit head``).
The database itself refuses UPDATE and DELETE on the table (triggers in migration 0002).

Entries never carry personal data values: rule ids, counts, item ids and hashes only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Integer, Result, String, Table, Text, bindparam, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.store.audit_kinds import AuditKind, check
from postwarden.store.db import Base

__all__ = [
    "GENESIS",
    "PENDING_HEAD",
    "AuditEntry",
    "AuditHead",
    "Verification",
    "append",
    "audit_key",
    "head",
    "record",
    "record_many",
    "verify",
]

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""
PENDING_HEAD = "postwarden.audit.pending_head"
"""``Session.info`` key: the (seq, hash) this session appended last, anchored after commit."""


class AuditEntry(Base):
    """One audit record; ``seq`` runs 1, 2, 3… without gaps."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created: Mapped[str] = mapped_column(String(32))
    """UTC, ISO 8601 with microseconds: stored as the exact text that was hashed."""
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)
    """Canonical JSON (sorted keys, no spaces)."""
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


class AuditLock(Base):
    """A single row every append updates first: a row lock on PostgreSQL and the database
    write lock on SQLite, so two appends can never chain onto the same head."""

    __tablename__ = "audit_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    appends: Mapped[int] = mapped_column(Integer)


def audit_key(secret: bytes) -> bytes:
    """The chain's HMAC key, derived so it differs from the register-hashing key."""
    return hmac.new(secret, b"postwarden audit chain v1", hashlib.sha256).digest()


def canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    key: bytes, prev_hash: str, seq: int, created: str, kind: str, actor: str, data: str
) -> str:
    body = canonical({"seq": seq, "created": created, "kind": kind, "actor": actor, "data": data})
    return hmac.new(key, f"{prev_hash}\n{body}".encode(), hashlib.sha256).hexdigest()


def append(
    session: Session, kind: str, actor: str, data: Mapping[str, Any], *, secret: bytes
) -> AuditEntry:
    """Append one entry in the caller's transaction (it becomes durable with their commit).

    ``kind`` is dotted (``verdict``, ``quarantine.release``, ``user.add``); ``actor`` is a
    user name or ``gateway``; ``data`` must hold no personal data values.
    """
    seq, prev = _lock_head(session, 1)
    created = _now()
    body = canonical(data)
    entry = AuditEntry(
        seq=seq,
        created=created,
        kind=kind,
        actor=actor,
        data=body,
        prev_hash=prev,
        hash=entry_hash(audit_key(secret), prev, seq, created, kind, actor, body),
    )
    session.add(entry)
    session.flush()
    session.info[PENDING_HEAD] = (entry.seq, entry.hash)
    return entry


def record_many(
    session: Session,
    entries: Sequence[tuple[AuditKind, str, Mapping[str, Any]]],
    *,
    secret: bytes,
) -> None:
    """:func:`record` for several ``(kind, actor, data)`` entries, chained in order: one lock,
    one head lookup and one INSERT for all of them (the gateway's batched verdicts)."""
    if not entries:
        return
    for kind, _actor, data in entries:
        check(kind, data)
    seq, prev = _lock_head(session, len(entries))
    key = audit_key(secret)
    created = _now()
    rows = []
    for kind, actor, data in entries:
        body = canonical(data)
        digest = entry_hash(key, prev, seq, created, kind, actor, body)
        rows.append(
            {
                "seq": seq,
                "created": created,
                "kind": kind,
                "actor": actor,
                "data": body,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        seq, prev = seq + 1, digest
    session.execute(_INSERT, rows)
    session.info[PENDING_HEAD] = (seq - 1, prev)


_LOCK_TABLE = cast(Table, AuditLock.__table__)
_LOCK = (
    update(_LOCK_TABLE)
    .where(_LOCK_TABLE.c.id == 1)
    .values(appends=_LOCK_TABLE.c.appends + bindparam("count"))
)
_ENTRY_TABLE = cast(Table, AuditEntry.__table__)
_HEAD = select(_ENTRY_TABLE.c.seq, _ENTRY_TABLE.c.hash).order_by(_ENTRY_TABLE.c.seq.desc()).limit(1)
_INSERT = insert(_ENTRY_TABLE)
"""The append path's statements, built once and on the tables (not through the ORM): built
per call they cost about 0.5 ms of CPU per batch of verdicts (benchmarks/gateway.py)."""


def _lock_head(session: Session, count: int) -> tuple[int, str]:
    """Take the append lock (for ``count`` appends); the next seq and the hash it follows."""
    locked = session.execute(_LOCK, {"count": count})
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        raise RuntimeError("audit_lock row missing: run the migrations")
    last = session.execute(_HEAD).first()
    return (last[0] + 1, last[1]) if last else (1, GENESIS)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(
    session: Session, kind: AuditKind, actor: str, data: Mapping[str, Any], *, secret: bytes
) -> AuditEntry:
    """:func:`append` an entry of a listed kind whose ``data`` has that kind's shape
    (:mod:`postwarden.store.audit_kinds`); the program writes every entry through here."""
    return append(session, check(kind, data), actor, data, secret=secret)


@dataclass(frozen=True, slots=True)
class AuditHead:
    seq: int
    hash: str


def head(session: Session) -> AuditHead:
    """The newest entry's seq and hash (``0`` and :data:`GENESIS` for an empty log)."""
    last = session.execute(_HEAD).first()
    return AuditHead(last[0], last[1]) if last else AuditHead(0, GENESIS)


@dataclass(frozen=True, slots=True)
class Verification:
    """``ok``, or the seq of the first bad entry and what is wrong with it."""

    entries: int
    first_bad: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify(
    session: Session,
    *,
    secret: bytes,
    expect_head: str | None = None,
    anchored: AuditHead | None = None,
) -> Verification:
    """Walk the chain from the start; name (by seq) the first entry that does not fit.

    ``anchored`` is the head last written outside the database: the chain must reach it and
    hold the same hash at that seq, so a cut or replaced tail fails.
    """
    stmt = (
        select(
            AuditEntry.seq,
            AuditEntry.created,
            AuditEntry.kind,
            AuditEntry.actor,
            AuditEntry.data,
            AuditEntry.prev_hash,
            AuditEntry.hash,
        )
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=1000)
    )
    result = session.execute(stmt)
    try:
        return _walk(result, audit_key(secret), expect_head, anchored)
    finally:
        result.close()  # a server-side cursor on PostgreSQL: close it even when we stop early


def _walk(
    rows: Result[int, str, str, str, str, str, str],
    key: bytes,
    expect_head: str | None,
    anchored: AuditHead | None,
) -> Verification:
    prev, prev_seq, count = GENESIS, 0, 0
    for count, row in enumerate(rows, start=1):
        seq, created, kind, actor, data, prev_hash, stored = row
        if seq != prev_seq + 1 or prev_hash != prev:
            where = f"entry {prev_seq}" if prev_seq else "the start of the log"
            return Verification(
                count,
                seq,
                f"entry {seq} does not follow {where} "
                "(an entry was removed, inserted or reordered)",
            )
        if not hmac.compare_digest(
            stored, entry_hash(key, prev_hash, seq, created, kind, actor, data)
        ):
            return Verification(
                count, seq, f"entry {seq} does not match its hash (the entry was changed)"
            )
        if anchored is not None and seq == anchored.seq:
            if not hmac.compare_digest(stored, anchored.hash):
                return Verification(
                    count,
                    seq,
                    f"entry {seq} is not the entry anchored outside the database (its hash "
                    "differs): the tail of the log was replaced",
                )
        prev, prev_seq = stored, seq
    if anchored is not None and prev_seq < anchored.seq:
        missing = (
            f"entry {anchored.seq}"
            if prev_seq + 1 == anchored.seq
            else f"entries {prev_seq + 1} to {anchored.seq}"
        )
        return Verification(
            count,
            prev_seq + 1,
            f"the log ends at entry {prev_seq} but entry {anchored.seq} was anchored outside "
            f"the database: {missing} removed",
        )
    if expect_head is not None and not hmac.compare_digest(prev, expect_head):
        return Verification(
            count,
            prev_seq + 1,
            f"the head (entry {prev_seq}) is not the expected one: entries after it were "
            "removed, or this is another log",
        )
    return Verification(count)
