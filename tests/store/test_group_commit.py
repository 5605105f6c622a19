"""Group commit: verdicts written by many threads share transactions, none is lost, and one
bad write fails only its own caller."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from postwarden.store import audit, group_commit
from postwarden.store.anchor import AnchorFile
from postwarden.store.audit_kinds import SHAPES, AuditKind
from postwarden.store.db import session_factory
from postwarden.store.group_commit import GroupCommit, Write
from postwarden.store.history import Delivery, HistoryContact

SECRET = b"s" * 32


def verdict(item: object) -> dict[str, object]:
    """A verdict entry's data (its shape's fields) naming ``item``."""
    return dict.fromkeys(SHAPES[AuditKind.VERDICT].fields, "") | {"item": item}


def test_concurrent_writes_share_commits_and_all_are_durable(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    writer = GroupCommit(sessions, SECRET)
    when = datetime.now(UTC)

    def send(n: int) -> None:
        delivery = Delivery("alice@demo.gov.hk", (f"r{n % 3}@partner.org.hk",), when)
        writer.run(Write(AuditKind.VERDICT, "gateway", verdict(n), delivery))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    with sessions() as session:
        assert audit.verify(session, secret=SECRET).ok
        data = session.scalars(
            select(audit.AuditEntry.data).where(audit.AuditEntry.kind == "verdict")
        )
        assert sorted(json.loads(d)["item"] for d in data) == list(range(60))
        rows = session.execute(select(HistoryContact.recipient, HistoryContact.count))
        counts = {recipient: count for recipient, count in rows}
        assert counts == {f"r{k}@partner.org.hk": 20 for k in range(3)}
        assert session.scalar(select(func.count()).select_from(HistoryContact)) == 3
    assert writer.batches < 60  # sixty threads at once: some shared a commit


def test_a_bad_write_fails_its_caller_only(db_engine: Engine) -> None:
    sessions = session_factory(db_engine)
    writer = GroupCommit(sessions, SECRET)
    with sessions() as blocker:
        # Hold the database's write lock: the first write waits, the next three queue up
        # behind it and are committed as one batch.
        blocker.execute(update(audit.AuditLock).values(appends=audit.AuditLock.appends))
        first = writer.submit(Write(AuditKind.VERDICT, "gateway", verdict(0)))
        time.sleep(0.2)
        futures = [
            writer.submit(Write(AuditKind.VERDICT, "gateway", verdict(1))),
            writer.submit(Write(AuditKind.VERDICT, "gateway", verdict(object()))),  # not JSON
            writer.submit(Write(AuditKind.VERDICT, "gateway", verdict(3))),
        ]
        blocker.rollback()
    first.result()
    futures[0].result()
    futures[2].result()
    with pytest.raises(TypeError):
        futures[1].result()
    writer.close()
    with sessions() as session:
        assert audit.verify(session, secret=SECRET).entries == 3  # 0, 1 and 3


def test_closed_writer_refuses_writes(db_engine: Engine) -> None:
    writer = GroupCommit(session_factory(db_engine), SECRET)
    writer.run(Write(AuditKind.VERDICT, "gateway", verdict(1)))
    writer.close()
    with pytest.raises(RuntimeError):
        writer.submit(Write(AuditKind.VERDICT, "gateway", verdict(2)))


def test_the_anchor_reaches_the_last_committed_head(db_engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(db_engine)
    anchor = AnchorFile(tmp_path / "audit-anchor.json", SECRET)
    writer = GroupCommit(sessions, SECRET, anchor=anchor)
    threads = [
        threading.Thread(target=writer.run, args=(Write(AuditKind.VERDICT, "gateway", verdict(n)),))
        for n in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    anchored = anchor.read()
    with sessions() as session:
        assert anchored is not None
        assert anchored.head() == audit.head(session)
        assert audit.verify(session, secret=SECRET, anchored=anchored.head()).ok


def test_heads_committed_within_the_anchor_interval_share_one_anchor_write(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(group_commit, "ANCHOR_EVERY", 3600.0)
    sessions = session_factory(db_engine)
    anchor = AnchorFile(tmp_path / "audit-anchor.json", SECRET)
    written: list[int] = []
    advance = anchor.advance

    def counted(seq: int, head_hash: str) -> bool:
        written.append(seq)
        return advance(seq, head_hash)

    monkeypatch.setattr(anchor, "advance", counted)
    writer = GroupCommit(sessions, SECRET, anchor=anchor)
    for n in range(5):
        writer.run(Write(AuditKind.VERDICT, "gateway", verdict(n)))
    started = time.monotonic()
    writer.close()
    assert time.monotonic() - started < 60  # closing anchors at once, never waits the interval
    assert writer.batches == 5
    # The first head at once, the rest when the writer closed: never one write per batch.
    assert len(written) <= 2
    assert written[-1] == 5
    anchored = anchor.read()
    assert anchored is not None
    with sessions() as session:
        assert anchored.head() == audit.head(session)
