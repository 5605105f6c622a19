"""Quarantine rows and encrypted blobs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from postwarden.model import Action, Envelope, Reason, Verdict
from postwarden.store.keys import Keyring, SealError
from postwarden.store.quarantine import Quarantine, QuarantineError, QuarantineItem, State

CANARY = "A123456(7) CHAN Tai Man 陳大文"


def _raw(n: int = 0) -> bytes:
    return (
        f"From: alice@example.org\r\nTo: bob@partner.example\r\nSubject: {n} about {CANARY}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nHKID {CANARY} number {n}\r\n"
    ).encode()


def _verdict(subjects: dict[str, int] | None = None) -> Verdict:
    return Verdict(
        action=Action.HOLD,
        reasons=[Reason("hkid-external", "An HKID is going outside.", Action.HOLD)],
        subjects=subjects or {},
    )


@pytest.fixture
def quarantine(tmp_path: Path) -> Quarantine:
    (tmp_path / "q").mkdir()
    return Quarantine(tmp_path / "q", Keyring.open(tmp_path / "quarantine.keys"))


ENV = Envelope("alice@example.org", ("bob@partner.example", "carol@partner.example"))


def _store(session: Session, quarantine: Quarantine, n: int = 0) -> QuarantineItem:
    item = quarantine.store(session, _raw(n), ENV, _verdict({"voters": 3}), queue_id=f"Q{n}")
    session.commit()
    return item


def test_quarantine_store_and_read(session: Session, quarantine: Quarantine) -> None:
    item = _store(session, quarantine)
    session.expunge_all()
    got = Quarantine.get(session, item.id)
    assert got.state == "held"
    assert got.sender == "alice@example.org"
    assert got.recipients == ["bob@partner.example", "carol@partner.example"]
    assert got.reasons == [
        {"rule": "hkid-external", "message": "An HKID is going outside.", "action": "hold"}
    ]
    assert got.subjects == {"voters": 3}
    assert got.register_data
    assert quarantine.read(got) == _raw(0)


def test_quarantine_files_and_rows_hold_no_plaintext(
    session: Session, quarantine: Quarantine, tmp_path: Path
) -> None:
    """Blobs, keyring and (SQLite, WAL included) database files: no message text."""
    item = _store(session, quarantine)
    canary = CANARY.encode()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert quarantine.blob_path(item.id) in files
    for path in files:
        data = path.read_bytes()
        assert canary not in data, path
        assert b"A123456" not in data, path
        assert b"about" not in data, path  # the subject is not stored in clear either
    session.expunge_all()
    row = Quarantine.get(session, item.id)
    assert "A123456" not in json.dumps([row.reasons, row.subjects, row.recipients, row.sender])


def test_quarantine_flipped_bit_is_never_served(session: Session, quarantine: Quarantine) -> None:
    item = _store(session, quarantine)
    path = quarantine.blob_path(item.id)
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x04
    path.write_bytes(bytes(blob))
    with pytest.raises(SealError, match="failed authentication"):
        quarantine.read(item)


def test_quarantine_swapped_blobs_fail(session: Session, quarantine: Quarantine) -> None:
    a, b = _store(session, quarantine, 1), _store(session, quarantine, 2)
    pa, pb = quarantine.blob_path(a.id), quarantine.blob_path(b.id)
    da, db = pa.read_bytes(), pb.read_bytes()
    pa.write_bytes(db)
    pb.write_bytes(da)
    for item in (a, b):
        with pytest.raises(SealError):
            quarantine.read(item)


def test_quarantine_swapped_wrapped_keys_fail(session: Session, quarantine: Quarantine) -> None:
    a, b = _store(session, quarantine, 1), _store(session, quarantine, 2)
    wa, wb = a.wrapped_key, b.wrapped_key
    a.wrapped_key, b.wrapped_key = wb, wa
    session.commit()
    for item in (a, b):
        with pytest.raises(SealError, match="data key failed"):
            quarantine.read(item)


def test_quarantine_row_sha_must_match(session: Session, quarantine: Quarantine) -> None:
    item = _store(session, quarantine)
    item.content_sha256 = "0" * 64
    with pytest.raises(SealError, match="does not match"):
        quarantine.read(item)


def test_quarantine_missing_blob(session: Session, quarantine: Quarantine) -> None:
    item = _store(session, quarantine)
    quarantine.discard(item.id)
    with pytest.raises(SealError, match="missing"):
        quarantine.read(item)


def test_quarantine_transition_only_once(session: Session, quarantine: Quarantine) -> None:
    item = _store(session, quarantine)
    assert Quarantine.transition(
        session, item.id, State.HELD, State.RELEASING, by="bob", reason="ok"
    )
    assert not Quarantine.transition(
        session, item.id, State.HELD, State.RELEASING, by="eve", reason="me too"
    )
    session.commit()
    got = Quarantine.get(session, item.id)
    assert (got.state, got.decided_by, got.decision_reason) == ("releasing", "bob", "ok")
    assert Quarantine.transition(session, item.id, State.RELEASING, State.HELD, clear_decision=True)
    session.commit()
    got = Quarantine.get(session, item.id)
    assert (got.state, got.decided_by, got.decided_at) == ("held", None, None)


def test_quarantine_get_unknown(session: Session) -> None:
    with pytest.raises(QuarantineError, match="no quarantine item"):
        Quarantine.get(session, "nosuchitem")


def test_quarantine_items_and_expirable(session: Session, quarantine: Quarantine) -> None:
    old, new, done = (_store(session, quarantine, n) for n in range(3))
    old.created = datetime.now(UTC) - timedelta(days=40)
    done.created = datetime.now(UTC) - timedelta(days=50)
    done.state = State.REJECTED.value
    session.commit()
    assert Quarantine.expirable(session, timedelta(days=30)) == [old.id]
    assert [i.id for i in Quarantine.items(session)] == [done.id, old.id, new.id]
    assert [i.id for i in Quarantine.items(session, [State.HELD])] == [old.id, new.id]


def test_quarantine_rotate_key_keeps_every_item(
    session: Session, quarantine: Quarantine, tmp_path: Path
) -> None:
    items = [_store(session, quarantine, n) for n in range(3)]
    old_kid = quarantine.keyring.current
    count, new_kid = quarantine.rotate_key(session)
    assert count == 3
    assert new_kid != old_kid
    keyfile = json.loads((tmp_path / "quarantine.keys").read_text())
    assert set(keyfile["keys"]) == {new_kid}
    fresh = Quarantine(quarantine.directory, Keyring.open(tmp_path / "quarantine.keys"))
    session.expunge_all()
    for n, item in enumerate(items):
        got = Quarantine.get(session, item.id)
        assert got.key_id == new_kid
        assert fresh.read(got) == _raw(n)


def test_quarantine_snapshot_outlives_its_session(session: Session, quarantine: Quarantine) -> None:
    item = _store(session, quarantine)
    item_id = item.id
    snap = item.snapshot()
    session.expire_all()
    session.close()  # the row is detached and expired: touching it would raise
    assert (snap.id, snap.state, snap.recipients) == (
        item_id,
        "held",
        ("bob@partner.example", "carol@partner.example"),
    )
    assert snap.register_data
    assert quarantine.read(snap) == _raw(0)


def test_quarantine_shred_only_decided_once(session: Session, quarantine: Quarantine) -> None:
    item = _store(session, quarantine)
    assert not Quarantine.shred(session, item.id)  # held: its content is still needed
    assert Quarantine.transition(session, item.id, State.HELD, State.REJECTED, by="b", reason="r")
    assert Quarantine.shred(session, item.id)
    assert not Quarantine.shred(session, item.id)
    session.commit()
    quarantine.remove_blob(item.id)
    session.expunge_all()
    row = Quarantine.get(session, item.id)
    assert row.purged
    assert row.wrapped_key == b""
    assert not quarantine.blob_path(item.id).exists()
    with pytest.raises(SealError, match="purged"):
        quarantine.read(row)
