"""Quarantine encryption: AES-256-GCM per item, wrapped data keys, rotation."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from postwarden.store.keys import Keyring, Sealed, SealError

CANARY = b"CANARY-A123456(7)-CHAN-TAI-MAN"


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_keyring_open_creates_private_file(tmp_path: Path) -> None:
    ring = Keyring.open(tmp_path / "quarantine.keys")
    mode = stat.S_IMODE((tmp_path / "quarantine.keys").stat().st_mode)
    assert mode == 0o600
    assert len(ring.keys[ring.current]) == 32
    assert Keyring.open(tmp_path / "quarantine.keys").keys == ring.keys  # not replaced


def test_keyring_seal_roundtrip_without_plaintext(tmp_path: Path) -> None:
    ring = Keyring.open(tmp_path / "k")
    sealed = ring.seal("item1", CANARY * 10)
    assert CANARY not in sealed.blob
    assert CANARY[:8] not in sealed.wrapped_key
    assert ring.open_sealed("item1", sealed) == CANARY * 10


def test_keyring_fresh_key_and_nonce_per_item(tmp_path: Path) -> None:
    ring = Keyring.open(tmp_path / "k")
    a, b = ring.seal("item1", CANARY), ring.seal("item1", CANARY)
    assert a.blob != b.blob
    assert a.wrapped_key != b.wrapped_key


@pytest.mark.parametrize("part", ["blob", "wrapped_key"])
def test_keyring_every_flipped_bit_fails(tmp_path: Path, part: str) -> None:
    ring = Keyring.open(tmp_path / "k")
    sealed = ring.seal("item1", CANARY)
    data = getattr(sealed, part)
    for index in range(len(data)):  # nonce, ciphertext and tag alike
        changed = {"blob": sealed.blob, "wrapped_key": sealed.wrapped_key, part: _flip(data, index)}
        with pytest.raises(SealError, match="failed authentication"):
            ring.open_sealed(
                "item1", Sealed(changed["blob"], sealed.key_id, changed["wrapped_key"])
            )


def test_keyring_item_id_is_bound(tmp_path: Path) -> None:
    ring = Keyring.open(tmp_path / "k")
    sealed = ring.seal("item1", CANARY)
    with pytest.raises(SealError):
        ring.open_sealed("item2", sealed)


def test_keyring_blob_under_other_items_key_fails(tmp_path: Path) -> None:
    ring = Keyring.open(tmp_path / "k")
    a, b = ring.seal("item1", CANARY), ring.seal("item1", b"other")
    with pytest.raises(SealError, match="content failed"):
        ring.open_sealed("item1", Sealed(a.blob, b.key_id, b.wrapped_key))


def test_keyring_rotation_rewraps_and_retires(tmp_path: Path) -> None:
    path = tmp_path / "k"
    ring = Keyring.open(path)
    old = ring.current
    sealed = ring.seal("item1", CANARY)
    new = ring.add_key()
    assert new != old
    assert ring.current == new
    kid, wrapped = ring.rewrap("item1", sealed.key_id, sealed.wrapped_key)
    assert kid == new
    ring.retire({old})
    on_disk = json.loads(path.read_text())
    assert set(on_disk["keys"]) == {new}
    assert ring.open_sealed("item1", Sealed(sealed.blob, kid, wrapped)) == CANARY
    with pytest.raises(SealError, match="not in the keyring"):
        ring.open_sealed("item1", sealed)
    with pytest.raises(SealError, match="current"):
        ring.retire({new})


def test_keyring_other_process_sees_rotation(tmp_path: Path) -> None:
    path = tmp_path / "k"
    first, second = Keyring.open(path), Keyring.open(path)
    new = first.add_key()
    sealed = second.seal("item1", CANARY)  # re-reads the changed file before sealing
    assert sealed.key_id == new
    assert first.open_sealed("item1", sealed) == CANARY


def test_keyring_unreadable_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("{not json")
    with pytest.raises(SealError, match="cannot read"):
        Keyring.open(path)
