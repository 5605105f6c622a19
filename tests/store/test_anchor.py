"""The audit head anchored outside the database: cut and replaced tails fail without a flag."""

from __future__ import annotations

import json
import multiprocessing
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from tests.cli.invocation import run_cli

from postwarden.settings import Settings, init_data_dir, load_settings, write_atomic
from postwarden.store import audit
from postwarden.store.anchor import (
    ANCHOR_FILE,
    AnchorError,
    AnchorFile,
    anchor_engine,
    anchor_file,
    anchored_head,
)
from postwarden.store.db import make_engine, migrate, session_factory


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return init_data_dir(tmp_path / "var", ["demo.gov.hk"])


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    migrate(settings.db_url)
    eng = make_engine(settings.db_url)
    anchor_engine(eng, anchor_file(settings))
    try:
        yield eng
    finally:
        eng.dispose()


def _append(engine: Engine, secret: bytes, n: int, *, batch: int = 1) -> None:
    with session_factory(engine)() as session:
        for i in range(n):
            audit.append(session, "verdict", "gateway", {"n": i}, secret=secret)
            if (i + 1) % batch == 0:
                session.commit()
        session.commit()


def _as_attacker(engine: Engine, *statements: str) -> None:
    """Someone with database rights only: triggers off, rows gone; the data dir untouched."""
    with session_factory(engine)() as session:
        session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        for sql in statements:
            session.execute(text(sql))
        session.commit()


def _verify(engine: Engine, settings: Settings) -> audit.Verification:
    with session_factory(engine)() as session:
        return audit.verify(session, secret=settings.secret(), anchored=anchored_head(settings))


def test_anchor_follows_every_committed_batch(engine: Engine, settings: Settings) -> None:
    _append(engine, settings.secret(), 5, batch=2)
    with session_factory(engine)() as session:
        head = audit.head(session)
    assert anchored_head(settings) == head
    assert head.seq == 5
    assert _verify(engine, settings).ok


def test_anchor_not_moved_by_a_rolled_back_append(engine: Engine, settings: Settings) -> None:
    _append(engine, settings.secret(), 3)
    with session_factory(engine)() as session:
        audit.append(session, "verdict", "gateway", {}, secret=settings.secret())
        session.rollback()
        session.commit()
    assert anchored_head(settings) is not None
    assert anchored_head(settings).seq == 3  # type: ignore[union-attr]


def test_truncated_tail_detected_without_any_flag(engine: Engine, settings: Settings) -> None:
    _append(engine, settings.secret(), 6)
    _as_attacker(engine, "DELETE FROM audit_log WHERE seq > 3")
    with session_factory(engine)() as session:
        plain = audit.verify(session, secret=settings.secret())
    assert plain.ok  # the chain alone cannot tell: that was the bug
    result = _verify(engine, settings)
    assert (result.ok, result.first_bad) == (False, 4)
    assert "entries 4 to 6 removed" in result.problem
    code, _, err = run_cli(settings.data_dir, "audit", "verify")
    assert code == 1
    assert "entries 4 to 6 removed" in err


def test_replaced_tail_detected(engine: Engine, settings: Settings) -> None:
    _append(engine, settings.secret(), 6)
    _as_attacker(engine, "DELETE FROM audit_log WHERE seq > 4")
    # New entries chained onto entry 4 with the right key: a valid chain, but not the one
    # that was anchored (the anchor never moves back or sideways).
    _append(engine, settings.secret(), 2)
    with session_factory(engine)() as session:
        assert audit.verify(session, secret=settings.secret()).ok
    result = _verify(engine, settings)
    assert (result.ok, result.first_bad) == (False, 6)
    assert "replaced" in result.problem
    code, _, err = run_cli(settings.data_dir, "audit", "verify")
    assert (code, "entry 6" in err) == (1, True)


def test_normal_run_passes_and_expect_head_still_works(engine: Engine, settings: Settings) -> None:
    _append(engine, settings.secret(), 4)
    code, out, _ = run_cli(settings.data_dir, "audit", "verify")
    assert (code, out.startswith("audit log ok: 4 entries")) == (0, True)
    code, out, _ = run_cli(settings.data_dir, "audit", "head", "--json")
    head = json.loads(out)
    code, _, _ = run_cli(settings.data_dir, "audit", "verify", "--expect-head", head["hash"])
    assert code == 0
    code, _, err = run_cli(settings.data_dir, "audit", "verify", "--expect-head", "0" * 64)
    assert (code, "not the expected one" in err) == (1, True)


def test_edited_anchor_file_is_refused(engine: Engine, settings: Settings) -> None:
    _append(engine, settings.secret(), 3)
    path = settings.data_dir / ANCHOR_FILE
    doc = json.loads(path.read_text())
    doc["seq"] = 2
    write_atomic(path, json.dumps(doc).encode())
    with pytest.raises(AnchorError, match="MAC"):
        anchored_head(settings)
    code, _, err = run_cli(settings.data_dir, "audit", "verify")
    assert (code, "MAC" in err) == (1, True)


def test_anchor_never_moves_backward(tmp_path: Path) -> None:
    anchor = AnchorFile(tmp_path / ANCHOR_FILE, b"k" * 32)
    assert anchor.advance(5, "a" * 64)
    assert not anchor.advance(4, "b" * 64)
    assert not anchor.advance(5, "c" * 64)
    found = anchor.read()
    assert found is not None
    assert (found.seq, found.hash) == (5, "a" * 64)


def _writer(data_dir: str, n: int) -> None:
    settings = load_settings(Path(data_dir))
    eng = make_engine(settings.db_url)
    anchor_engine(eng, anchor_file(settings))
    _append(eng, settings.secret(), n)
    eng.dispose()


def _watch(data_dir: str, stop_at: float, seen: multiprocessing.Queue[list[int]]) -> None:
    settings = load_settings(Path(data_dir))
    anchor = anchor_file(settings)
    out: list[int] = []
    while time.monotonic() < stop_at:
        found = anchor.read()
        if found is not None and (not out or out[-1] != found.seq):
            out.append(found.seq)
        if out and out[-1] == 80:
            break
    seen.put(out)


def test_anchor_never_moves_backward_under_two_concurrent_writers(
    engine: Engine, settings: Settings
) -> None:
    ctx = multiprocessing.get_context("spawn")
    seen: multiprocessing.Queue[list[int]] = ctx.Queue()
    watcher = ctx.Process(target=_watch, args=(str(settings.data_dir), time.monotonic() + 60, seen))
    watcher.start()
    writers = [ctx.Process(target=_writer, args=(str(settings.data_dir), 40)) for _ in range(2)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    observed = seen.get(timeout=60)
    watcher.join(10)
    assert observed == sorted(observed)
    with session_factory(engine)() as session:
        head = audit.head(session)
    assert head.seq == 80
    assert anchored_head(settings) == head
    assert _verify(engine, settings).ok


def test_anchor_copy_goes_to_syslog(engine: Engine, settings: Settings) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        port = sock.getsockname()[1]
        syslogged = AnchorFile(
            settings.data_dir / ANCHOR_FILE,
            settings.secret(),
            syslog_address=f"127.0.0.1:{port}",
        )
        anchor_engine(engine, syslogged)
        _append(engine, settings.secret(), 2, batch=2)
        line = sock.recv(4096).decode()
    assert "postwarden audit head seq=2" in line
    with session_factory(engine)() as session:
        assert f"hash={audit.head(session).hash}" in line


def test_session_without_anchor_is_unaffected(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    migrate(url)
    eng = make_engine(url)
    with Session(eng) as session:
        audit.append(session, "verdict", "gateway", {}, secret=b"k" * 32)
        session.commit()
    eng.dispose()
