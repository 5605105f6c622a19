"""Register index versions published to the shared database, for the other nodes to fetch.

Each row is one import (or drop) of one register on one node: the generation directory of
the index (keyed hashes, record ids, statuses) as a tar archive sealed by the cluster key.
``id`` orders versions across the cluster; the newest row of a name is its current version,
an empty ``sealed`` says the register was dropped. Each name keeps its newest
``KEPT_VERSIONS`` rows: a sealed index is hundreds of MiB for a register of millions, and a
node that read the previous id just before a new import can still fetch it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.store.db import Base

__all__ = ["KEPT_VERSIONS", "RegisterVersion", "add_version", "latest_versions", "version_blob"]

KEPT_VERSIONS = 2
"""The newest and the one before it: what a node may be fetching while a new one lands."""


class RegisterVersion(Base):
    __tablename__ = "register_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    node: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    """Of the sealed bytes (empty string for a drop)."""
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


def add_version(session: Session, name: str, node: str, sha256: str, sealed: bytes) -> int:
    """Record a new version and delete the name's versions older than the ``KEPT_VERSIONS``
    newest (the caller commits); returns its id."""
    row = RegisterVersion(
        name=name, created=datetime.now(UTC), node=node, sha256=sha256, sealed=sealed
    )
    session.add(row)
    session.flush()
    kept = (
        select(RegisterVersion.id)
        .where(RegisterVersion.name == name)
        .order_by(RegisterVersion.id.desc())
        .limit(KEPT_VERSIONS)
    )
    oldest_kept = min(session.execute(kept).scalars())
    session.execute(
        delete(RegisterVersion).where(
            RegisterVersion.name == name, RegisterVersion.id < oldest_kept
        )
    )
    return row.id


def latest_versions(session: Session) -> dict[str, int]:
    """Register name → id of its newest version (one small query: what nodes poll)."""
    rows = session.execute(
        select(RegisterVersion.name, func.max(RegisterVersion.id)).group_by(RegisterVersion.name)
    ).all()
    return {str(name): int(vid) for name, vid in rows}


def version_blob(session: Session, version_id: int) -> tuple[str, str, bytes]:
    """(name, sha256, sealed) of one version."""
    row = session.get(RegisterVersion, version_id)
    if row is None:
        raise LookupError(f"no register version {version_id}")
    return row.name, row.sha256, row.sealed
