"""Held messages: encrypted blobs (in a :mod:`~postwarden.store.blobs` store), metadata rows,
and their state machine.

States: ``held`` → ``releasing`` → ``released``; ``held`` → ``rejected`` | ``expired``; an
item left in ``releasing`` by a crash is resolved by a person to ``released`` or ``held``.  Every
change is one conditional UPDATE (``WHERE state = <expected>``), so of two concurrent releases
exactly one moves the item to ``releasing`` and only that one sends it.  The move to
``releasing`` takes a lease (node, expiry): when a node dies mid-release, another node claims
the item after the lease expired (:meth:`Quarantine.claim_expired`) and finishes the release.

Rows never leave the session that loaded them: code that works on an item after its
transaction takes an :class:`ItemSnapshot` (plain values) inside it.

The subject line is not stored in the row: it often names the person the mail is about, so it
stays inside the encrypted blob and ``quarantine show`` reads it from there.  Sender and
envelope recipients are stored in clear because the four-eyes check and re-injection need them.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.util import identity_key

from postwarden.errors import NotFound
from postwarden.i18n import _
from postwarden.model import Envelope, Verdict
from postwarden.settings import Settings
from postwarden.store.blobs import BlobStore, LocalBlobs, blob_store
from postwarden.store.db import Base, get_row
from postwarden.store.keys import Keyring, Sealed, SealError, keyring_path

__all__ = [
    "DECIDED",
    "PURGED_KEY_ID",
    "ItemSnapshot",
    "Quarantine",
    "QuarantineClaim",
    "QuarantineError",
    "QuarantineItem",
    "SealError",
    "SealedItem",
    "State",
    "new_item_id",
]

PURGED_KEY_ID = "purged"
"""``key_id`` of an item whose content was purged after retention (keyring ids are hex)."""


class State(StrEnum):
    HELD = "held"
    RELEASING = "releasing"
    RELEASED = "released"
    REJECTED = "rejected"
    EXPIRED = "expired"


DECIDED = (State.RELEASED, State.REJECTED, State.EXPIRED)
"""Final states: the message went, or never will."""


class QuarantineError(NotFound):
    """No such item, or the item is not in the state the operation needs."""


class QuarantineItem(Base):
    __tablename__ = "quarantine_items"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    queue_id: Mapped[str | None] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    action: Mapped[str] = mapped_column(String(16))
    """``hold`` (a reviewer decides) or ``warn`` (the sender confirms)."""
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    subjects: Mapped[dict[str, int]] = mapped_column(JSON)
    """Register name → number of register subjects found; non-empty needs a privacy officer."""
    state: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(16))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)

    @property
    def register_data(self) -> bool:
        return any(self.subjects.values())

    @property
    def purged(self) -> bool:
        return self.key_id == PURGED_KEY_ID

    def snapshot(self) -> ItemSnapshot:
        """This row's values, safe to use after the session is gone."""
        return ItemSnapshot(
            id=self.id,
            created=self.created,
            sender=self.sender,
            recipients=tuple(self.recipients),
            action=self.action,
            reasons=tuple(dict(r) for r in self.reasons),
            subjects=dict(self.subjects),
            state=self.state,
            content_sha256=self.content_sha256,
            key_id=self.key_id,
            wrapped_key=self.wrapped_key,
        )


class QuarantineClaim(Base):
    """A cluster's facts about an item (only nodes on a shared store write them): the node
    that held it, and the node sending it while it is ``releasing``, until ``lease_expires``.
    A table of its own, so a node that is no cluster member never touches it."""

    __tablename__ = "quarantine_claims"

    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    held_by: Mapped[str | None] = mapped_column(String(64))
    lease_node: Mapped[str | None] = mapped_column(String(64))
    lease_expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True, slots=True)
class ItemSnapshot:
    """A quarantine row's values at one moment, detached from any session (an ORM row used
    after its session closed raises ``DetachedInstanceError`` once anything expired it)."""

    id: str
    created: datetime
    sender: str
    recipients: tuple[str, ...]
    action: str
    reasons: tuple[Mapping[str, Any], ...]
    subjects: Mapping[str, int]
    state: str
    content_sha256: str
    key_id: str
    wrapped_key: bytes

    @property
    def register_data(self) -> bool:
        return any(self.subjects.values())


class SealedItem(Protocol):
    """What opening a blob needs: a row or its snapshot."""

    @property
    def id(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def wrapped_key(self) -> bytes: ...
    @property
    def content_sha256(self) -> str: ...


def new_item_id() -> str:
    """16 lowercase base32 characters: 80 random bits, safe in file names and on a CLI."""
    return base64.b32encode(secrets.token_bytes(10)).decode().lower()


class Quarantine:
    """Encrypted storage of held messages plus their rows."""

    def __init__(self, blobs: BlobStore | Path, keyring: Keyring) -> None:
        """``blobs`` is a store, or a directory for files in it (one node)."""
        self.blobs: BlobStore = LocalBlobs(blobs) if isinstance(blobs, Path) else blobs
        self.keyring = keyring

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> Quarantine:
        """Files and the keyring in the data dir, or (``cluster.quarantine_store`` other than
        ``local``) the configured shared store and the keyring in the database."""
        if settings.cluster.shared:
            from postwarden.store.shared_keys import SharedKeyring

            keyring: Keyring = SharedKeyring.open_shared(settings, engine)
        else:
            keyring = Keyring.open(keyring_path(settings))
        return cls(blob_store(settings, engine), keyring)

    @property
    def directory(self) -> Path:
        """The directory of a file store."""
        if not isinstance(self.blobs, LocalBlobs):
            raise TypeError("this quarantine keeps no files")
        return self.blobs.directory

    def blob_path(self, item_id: str) -> Path:
        """The file of an item in a file store."""
        if not isinstance(self.blobs, LocalBlobs):
            raise TypeError("this quarantine keeps no files")
        return self.blobs.path(item_id)

    def store(
        self,
        session: Session,
        raw: bytes,
        envelope: Envelope,
        verdict: Verdict,
        *,
        queue_id: str | None = None,
        node: str | None = None,
    ) -> QuarantineItem:
        """Encrypt and write the blob durably (to its store), then add the row.

        The row is durable once the caller commits; if that fails the caller calls
        :meth:`discard`.  A crash in between leaves an orphan blob, never a row without one.
        """
        item_id = new_item_id()
        sealed = self.keyring.seal(item_id, raw)
        self.blobs.put(session, item_id, sealed.blob)
        item = QuarantineItem(
            id=item_id,
            created=datetime.now(UTC),
            queue_id=queue_id,
            sender=envelope.sender,
            recipients=list(envelope.recipients),
            action=verdict.action.label,
            reasons=[
                {"rule": r.rule, "message": r.message, "action": r.action.label}
                for r in verdict.reasons
            ],
            subjects=dict(verdict.subjects),
            state=State.HELD.value,
            content_sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            key_id=sealed.key_id,
            wrapped_key=sealed.wrapped_key,
        )
        session.add(item)
        if node is not None:
            session.add(QuarantineClaim(item_id=item_id, held_by=node))
        session.flush()
        return item

    def discard(self, item_id: str) -> None:
        """Remove the blob of an item whose row never committed."""
        self.blobs.delete(item_id)

    def read(self, item: SealedItem) -> bytes:
        """The original message; raises :class:`SealError` if the blob, its key or its row
        was changed or swapped (then it must never be served), or was purged."""
        if item.key_id == PURGED_KEY_ID:
            raise SealError(
                _("quarantine item {item_id}: its content was purged after retention").format(
                    item_id=item.id
                )
            )
        blob = self.blobs.get(item.id)
        if blob is None:
            raise SealError(
                _("quarantine item {item_id}: its encrypted file is missing").format(
                    item_id=item.id
                )
            )
        raw = self.keyring.open_sealed(item.id, Sealed(blob, item.key_id, item.wrapped_key))
        if hashlib.sha256(raw).hexdigest() != item.content_sha256:
            raise SealError(
                _("quarantine item {item_id}: content does not match its row").format(
                    item_id=item.id
                )
            )
        return raw

    @staticmethod
    def get(session: Session, item_id: str) -> QuarantineItem:
        return get_row(
            session,
            QuarantineItem,
            item_id,
            QuarantineError(_("no quarantine item {item_id!r}").format(item_id=item_id)),
        )

    @staticmethod
    def items(session: Session, states: Iterable[State] | None = None) -> list[QuarantineItem]:
        """Items, oldest first, optionally only those in ``states``."""
        stmt = select(QuarantineItem).order_by(QuarantineItem.created, QuarantineItem.id)
        if states is not None:
            stmt = stmt.where(QuarantineItem.state.in_([s.value for s in states]))
        return list(session.execute(stmt).scalars())

    @staticmethod
    def transition(
        session: Session,
        item_id: str,
        expected: State,
        new: State,
        *,
        by: str | None = None,
        reason: str | None = None,
        clear_decision: bool = False,
        lease: tuple[str, timedelta] | None = None,
    ) -> bool:
        """Move ``item_id`` from ``expected`` to ``new`` in one conditional UPDATE; True only
        for the one caller that moved it (the caller commits).  ``lease`` (node, duration)
        records, for the one winner, who sends an item moved to ``releasing`` (a lease only
        counts while the item is ``releasing``)."""
        values: dict[str, Any] = {"state": new.value}
        if by is not None:
            values.update(decided_by=by, decided_at=datetime.now(UTC), decision_reason=reason)
        elif clear_decision:
            values.update(decided_by=None, decided_at=None, decision_reason=None)
        result = session.execute(
            update(QuarantineItem)
            .where(QuarantineItem.id == item_id, QuarantineItem.state == expected.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        moved = bool(result.rowcount == 1)  # type: ignore[attr-defined]
        if moved and lease is not None:
            claim = session.get(QuarantineClaim, item_id) or QuarantineClaim(item_id=item_id)
            claim.lease_node, claim.lease_expires = lease[0], datetime.now(UTC) + lease[1]
            session.add(claim)
            session.flush()
        loaded = session.identity_map.get(identity_key(QuarantineItem, item_id))
        if moved and loaded is not None:
            session.refresh(loaded)  # the caller's object shows the new state
        return moved

    @staticmethod
    def claim_expired(session: Session, node: str, lease: timedelta) -> list[str]:
        """Take over ``releasing`` items whose lease expired (their node died mid-release):
        each is claimed by one node only, in one conditional UPDATE per item, and the caller
        commits before sending.  Items without a lease (released by a node that is no cluster
        member) are left to ``quarantine resolve``."""
        now = datetime.now(UTC)
        stale = session.execute(
            select(QuarantineClaim.item_id, QuarantineClaim.lease_expires)
            .join(QuarantineItem, QuarantineItem.id == QuarantineClaim.item_id)
            .where(
                QuarantineItem.state == State.RELEASING.value,
                QuarantineClaim.lease_expires < now,
            )
        ).all()
        claimed = []
        for item_id, expires in stale:
            result = session.execute(
                update(QuarantineClaim)
                .where(QuarantineClaim.item_id == item_id, QuarantineClaim.lease_expires == expires)
                .values(lease_node=node, lease_expires=now + lease)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(item_id)
        return claimed

    @staticmethod
    def held_by(session: Session, item_id: str) -> str | None:
        """The node that held ``item_id`` (None: not held by a cluster node)."""
        claim = session.get(QuarantineClaim, item_id)
        return claim.held_by if claim is not None else None

    @staticmethod
    def expirable(session: Session, older_than: timedelta) -> list[str]:
        """Ids of held items created more than ``older_than`` ago."""
        cutoff = datetime.now(UTC) - older_than
        stmt = (
            select(QuarantineItem.id)
            .where(QuarantineItem.state == State.HELD.value, QuarantineItem.created < cutoff)
            .order_by(QuarantineItem.created)
        )
        return list(session.execute(stmt).scalars())

    def rotate_key(self, session: Session) -> tuple[int, str]:
        """Re-wrap every data key under a new master key; returns (items re-wrapped, new key
        id).  Old keys are dropped from the keyring only after the re-wrap committed."""
        new_kid = self.keyring.add_key()
        count = 0
        while True:
            # Loop: a process that had not yet seen the new key may still add rows with an
            # old one while we re-wrap.
            stale = list(
                session.execute(
                    select(QuarantineItem).where(
                        QuarantineItem.key_id.not_in([new_kid, PURGED_KEY_ID])
                    )
                ).scalars()
            )
            if not stale:
                break
            for item in stale:
                item.key_id, item.wrapped_key = self.keyring.rewrap(
                    item.id, item.key_id, item.wrapped_key
                )
            session.commit()
            count += len(stale)
        in_use = set(session.execute(select(QuarantineItem.key_id).distinct()).scalars())
        self.keyring.retire(set(self.keyring.keys) - in_use - {new_kid})
        return count, new_kid

    @staticmethod
    def purgeable(session: Session, older_than: timedelta) -> list[str]:
        """Ids of decided items, decided more than ``older_than`` ago, whose content is still
        kept."""
        cutoff = datetime.now(UTC) - older_than
        decided = func.coalesce(QuarantineItem.decided_at, QuarantineItem.created)
        stmt = (
            select(QuarantineItem.id)
            .where(
                QuarantineItem.state.in_([s.value for s in DECIDED]),
                QuarantineItem.key_id != PURGED_KEY_ID,
                decided < cutoff,
            )
            .order_by(decided, QuarantineItem.id)
        )
        return list(session.execute(stmt).scalars())

    @staticmethod
    def shred(session: Session, item_id: str) -> bool:
        """Drop a decided item's wrapped data key, so no copy of its blob (a backup) can be
        opened again; True for the one caller that did (the caller commits, then
        :meth:`remove_blob`)."""
        result = session.execute(
            update(QuarantineItem)
            .where(
                QuarantineItem.id == item_id,
                QuarantineItem.state.in_([s.value for s in DECIDED]),
                QuarantineItem.key_id != PURGED_KEY_ID,
            )
            .values(key_id=PURGED_KEY_ID, wrapped_key=b"")
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def remove_blob(self, item_id: str) -> None:
        """Delete a purged item's encrypted blob durably."""
        self.blobs.delete(item_id)
