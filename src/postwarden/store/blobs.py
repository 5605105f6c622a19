"""Where encrypted quarantine blobs live: files in the data dir, a database table, or an
S3-compatible bucket (``cluster.quarantine_store``, docs/cluster.md).

Every store holds only what :class:`~postwarden.store.keys.Keyring` sealed: AES-GCM blobs
whose data keys are wrapped in the item's row.  A blob is written durably before its row
commits; a crash in between leaves an orphan blob, never a row without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.settings import Settings, fsync_dir, write_atomic
from postwarden.store.db import Base, session_factory

__all__ = ["BlobStore", "DatabaseBlobs", "LocalBlobs", "QuarantineBlob", "S3Blobs", "blob_store"]


class QuarantineBlob(Base):
    """One sealed message, for ``quarantine_store = database``."""

    __tablename__ = "quarantine_blobs"

    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class BlobStore(Protocol):
    """Sealed blobs by item id."""

    def put(self, session: Session, item_id: str, blob: bytes) -> None:
        """Store durably; ``session`` is the transaction that will add the item's row."""

    def get(self, item_id: str) -> bytes | None:
        """The blob, or None when there is none."""

    def delete(self, item_id: str) -> None:
        """Remove durably (missing is fine)."""


class LocalBlobs:
    """``DIR/<id>.pwq`` files, fsynced with their directory: one node only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, item_id: str) -> Path:
        return self.directory / f"{item_id}.pwq"

    def put(self, session: Session, item_id: str, blob: bytes) -> None:
        write_atomic(self.path(item_id), blob, mode=0o600)
        fsync_dir(self.directory)

    def get(self, item_id: str) -> bytes | None:
        try:
            return self.path(item_id).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, item_id: str) -> None:
        self.path(item_id).unlink(missing_ok=True)
        fsync_dir(self.directory)


class DatabaseBlobs:
    """A row per blob in the shared database, added in the item row's own transaction (so
    the two commit together and a rolled-back hold leaves nothing behind)."""

    def __init__(self, engine: Engine) -> None:
        self.sessions = session_factory(engine)

    def put(self, session: Session, item_id: str, blob: bytes) -> None:
        session.add(QuarantineBlob(item_id=item_id, blob=blob))

    def get(self, item_id: str) -> bytes | None:
        with self.sessions() as session:
            blob: bytes | None = session.execute(
                select(QuarantineBlob.blob).where(QuarantineBlob.item_id == item_id)
            ).scalar_one_or_none()
            return blob

    def delete(self, item_id: str) -> None:
        with self.sessions() as session:
            session.execute(delete(QuarantineBlob).where(QuarantineBlob.item_id == item_id))
            session.commit()


class S3Blobs:
    """Objects ``PREFIX<id>.pwq`` in an S3-compatible bucket (a PUT is durable once it
    returns).  Credentials come from boto3's usual chain (its environment variables or
    ``~/.aws/credentials``)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Blobs:
        import boto3  # only nodes configured for S3 load it

        c = settings.cluster
        client = boto3.client("s3", endpoint_url=c.s3_endpoint, region_name=c.s3_region)
        assert c.s3_bucket is not None  # noqa: S101 - Cluster checks it
        return cls(client, c.s3_bucket, c.s3_prefix)

    def key(self, item_id: str) -> str:
        return f"{self.prefix}{item_id}.pwq"

    def put(self, session: Session, item_id: str, blob: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(item_id), Body=blob)

    def get(self, item_id: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(item_id))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body

    def delete(self, item_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(item_id))


def blob_store(settings: Settings, engine: Engine) -> BlobStore:
    """The store ``cluster.quarantine_store`` names."""
    kind = settings.cluster.quarantine_store
    if kind == "database":
        return DatabaseBlobs(engine)
    if kind == "s3":
        return S3Blobs.from_settings(settings)
    settings.quarantine_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return LocalBlobs(settings.quarantine_dir)
