"""Quarantine encryption: a master keyring in the data dir, AES-256-GCM per item.

Each item gets a fresh 256-bit data key; its content is sealed with a random 96-bit nonce and
the item id as associated data, and the data key is wrapped (AES-256-GCM again, item id as
associated data) by the current master key (reliability.md §9).  Moving a blob or a wrapped key
to another row therefore fails authentication.  Rotation adds a new master key, re-wraps every
data key, then retires the old key: the keyring keeps every key any row may still name until
the re-wrap has committed, so no crash point loses an item.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postwarden.errors import PostwardenError
from postwarden.i18n import _
from postwarden.settings import Settings, fsync_dir, write_atomic

__all__ = [
    "KEYRING_FILE",
    "Keyring",
    "SealError",
    "Sealed",
    "keyring_path",
]

KEYRING_FILE = "quarantine.keys"
NONCE_BYTES = 12


class SealError(PostwardenError):
    """A key is missing or a ciphertext failed authentication: never serve the content."""


def keyring_path(settings: Settings) -> Path:
    """``DATA_DIR/quarantine.keys``, mode 0600."""
    return settings.data_dir / KEYRING_FILE


@dataclass(frozen=True, slots=True)
class Sealed:
    """One encrypted item: the blob (nonce + ciphertext + tag) and its wrapped data key."""

    blob: bytes
    key_id: str
    wrapped_key: bytes


@dataclass(slots=True)
class Keyring:
    """Master keys by id, one of them current; the file is re-read when it changes so every
    process of a node picks up a rotation."""

    path: Path
    current: str = ""
    keys: dict[str, bytes] = field(default_factory=dict)
    _stamp: tuple[int, int] = (-1, -1)
    """(inode, mtime) of the file last read: every save is a rename, so a new inode."""

    @classmethod
    def open(cls, path: Path) -> Keyring:
        """Load the keyring, creating it (one fresh master key, mode 0600) when absent."""
        ring = cls(path)
        if not path.exists():
            _create(path)
        ring.reload()
        return ring

    def reload(self) -> None:
        try:
            st = self.path.stat()
            if (st.st_ino, st.st_mtime_ns) == self._stamp:
                return
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            keys = {kid: base64.b64decode(k) for kid, k in raw["keys"].items()}
            current = str(raw["current"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SealError(
                _("cannot read quarantine keyring {path}: {exc}").format(path=self.path, exc=exc)
            ) from None
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise SealError(_("quarantine keyring {path} is inconsistent").format(path=self.path))
        self.current, self.keys, self._stamp = current, keys, (st.st_ino, st.st_mtime_ns)

    def seal(self, item_id: str, plaintext: bytes) -> Sealed:
        """Encrypt ``plaintext`` under a fresh data key wrapped by the current master key."""
        self.reload()
        data_key = AESGCM.generate_key(bit_length=256)
        aad = item_id.encode()
        nonce = secrets.token_bytes(NONCE_BYTES)
        blob = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
        return Sealed(blob, self.current, self._wrap(self.current, data_key, aad))

    def open_sealed(self, item_id: str, sealed: Sealed) -> bytes:
        """Decrypt; raises :class:`SealError` when anything was changed or moved."""
        aad = item_id.encode()
        data_key = self.unwrap(item_id, sealed.key_id, sealed.wrapped_key)
        blob = sealed.blob
        try:
            return AESGCM(data_key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise SealError(
                _("quarantine item {item_id}: content failed authentication").format(
                    item_id=item_id
                )
            ) from None

    def unwrap(self, item_id: str, key_id: str, wrapped: bytes) -> bytes:
        if key_id not in self.keys:
            self._stamp = (-1, -1)
            self.reload()
        master = self.keys.get(key_id)
        if master is None:
            raise SealError(
                _("quarantine item {item_id}: master key {key_id} is not in the keyring").format(
                    item_id=item_id, key_id=key_id
                )
            )
        try:
            return AESGCM(master).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], item_id.encode()
            )
        except (InvalidTag, ValueError):
            raise SealError(
                _("quarantine item {item_id}: data key failed authentication").format(
                    item_id=item_id
                )
            ) from None

    def rewrap(self, item_id: str, key_id: str, wrapped: bytes) -> tuple[str, bytes]:
        """The same data key wrapped by the current master key."""
        data_key = self.unwrap(item_id, key_id, wrapped)
        return self.current, self._wrap(self.current, data_key, item_id.encode())

    def add_key(self) -> str:
        """Step 1 of rotation: a new master key becomes current; old ones stay readable."""
        self.reload()
        kid = _new_kid()
        self.keys[kid] = AESGCM.generate_key(bit_length=256)
        self.current = kid
        self._save()
        return kid

    def retire(self, key_ids: set[str]) -> None:
        """Last step of rotation: forget keys no row names any more."""
        self.reload()
        if self.current in key_ids:
            raise SealError(_("cannot retire the current master key"))
        for kid in key_ids:
            self.keys.pop(kid, None)
        self._save()

    def _wrap(self, key_id: str, data_key: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + AESGCM(self.keys[key_id]).encrypt(nonce, data_key, aad)

    def _save(self) -> None:
        _write_keyring(self.path, self.current, self.keys)
        st = self.path.stat()
        self._stamp = (st.st_ino, st.st_mtime_ns)


def _new_kid() -> str:
    return secrets.token_hex(4)


def _serialise(current: str, keys: dict[str, bytes]) -> bytes:
    body = {"current": current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
    return json.dumps(body, indent=2).encode() + b"\n"


def _write_keyring(path: Path, current: str, keys: dict[str, bytes]) -> None:
    write_atomic(path, _serialise(current, keys), mode=0o600)
    fsync_dir(path.parent)


def _create(path: Path) -> None:
    """Create the keyring once even when several processes start together: the file is
    linked into place, which fails if another process won the race."""
    kid = _new_kid()
    data = _serialise(kid, {kid: AESGCM.generate_key(bit_length=256)})
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
        fsync_dir(path.parent)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
