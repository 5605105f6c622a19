"""The quarantine keyring of a cluster: in the shared database, sealed by the cluster key.

With held messages in a shared store, every node must open every item, so the master keys
cannot stay in one node's data dir.  They live in one row, sealed (AES-256-GCM) by the
cluster key-encryption key ``cluster.key`` that each node keeps in its data dir and that is
never written to the database: the database alone (or a dump of it) opens nothing.  A
rotation on any node is seen by the others on their next seal or unwrap.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, Integer, LargeBinary, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from postwarden.i18n import _
from postwarden.settings import Settings
from postwarden.store.db import Base, session_factory
from postwarden.store.keys import NONCE_BYTES, Keyring, SealError, _new_kid, _serialise

__all__ = ["ClusterKeyring", "SharedKeyring", "seal_with", "unseal_with"]

_AAD = b"postwarden cluster keyring v1"


class ClusterKeyring(Base):
    """The single row (id 1) holding the sealed keyring; ``version`` counts its changes."""

    __tablename__ = "cluster_keyring"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


def seal_with(kek: bytes, data: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, data, aad)


def unseal_with(kek: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Raises :class:`SealError` when the cluster key is not the one that sealed it."""
    try:
        return AESGCM(kek).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise SealError(
            _(
                "the shared keyring does not open with this node's cluster.key: copy the "
                "cluster's key to this node (docs/cluster.md)"
            )
        ) from None


@dataclass(slots=True)
class SharedKeyring(Keyring):
    """A :class:`Keyring` read from and saved to ``cluster_keyring``; ``path`` names the
    cluster key file (for messages only)."""

    engine: Engine | None = None
    kek: bytes = b""

    @classmethod
    def open_shared(cls, settings: Settings, engine: Engine) -> SharedKeyring:
        """Load the shared keyring, creating it (one fresh master key) on first use."""
        ring = cls(settings.cluster_key_file, engine=engine, kek=settings.cluster_key())
        with session_factory(engine)() as session:
            if session.get(ClusterKeyring, 1) is None:
                kid = _new_kid()
                body = _serialise(kid, {kid: AESGCM.generate_key(bit_length=256)})
                session.add(ClusterKeyring(id=1, version=1, sealed=seal_with(ring.kek, body, _AAD)))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()  # another node created it first
        ring.reload()
        return ring

    def reload(self) -> None:
        assert self.engine is not None  # noqa: S101
        with session_factory(self.engine)() as session:
            row = session.execute(
                select(ClusterKeyring.version, ClusterKeyring.sealed).where(ClusterKeyring.id == 1)
            ).first()
        if row is None:
            raise SealError(_("the shared quarantine keyring is missing from the database"))
        version, sealed = row
        if (version, 0) == self._stamp:
            return
        raw = json.loads(unseal_with(self.kek, sealed, _AAD))
        keys = {kid: base64.b64decode(k) for kid, k in raw["keys"].items()}
        current = str(raw["current"])
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise SealError(_("the shared quarantine keyring is inconsistent"))
        self.current, self.keys, self._stamp = current, keys, (version, 0)

    def _save(self) -> None:
        """Compare-and-swap on ``version``: a rotation racing another node's fails, unsaved."""
        assert self.engine is not None  # noqa: S101
        version = self._stamp[0]
        sealed = seal_with(self.kek, _serialise(self.current, self.keys), _AAD)
        with session_factory(self.engine)() as session:
            done = session.execute(
                update(ClusterKeyring)
                .where(ClusterKeyring.id == 1, ClusterKeyring.version == version)
                .values(version=version + 1, sealed=sealed)
            )
            session.commit()
        self._stamp = (-1, -1)
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise SealError(_("the shared keyring was changed by another node meanwhile: retry"))
