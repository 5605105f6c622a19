"""What nodes sharing one database do for each other (docs/cluster.md).

* :func:`publish_register` — after ``register import`` or ``register drop`` on one node, its
  index is sealed by the cluster key and stored as a new version in the database.
* :func:`pull_registers` — every other node fetches versions newer than its own, unpacks each
  into a new generation directory in its data dir (fsynced), and swaps the register's link
  in one rename; running matchers pick the new generation up within a second
  (:class:`~postwarden.engine.registers.RegisterSet`), with no restart.
* :class:`ClusterWorker` — a server's background thread: pulls registers and finishes
  releases other nodes left in flight, every ``cluster.register_poll_seconds``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import shutil
import tarfile
import threading
from pathlib import Path

from sqlalchemy import Engine

from postwarden.act import Gateway
from postwarden.engine.registers.index import (
    check_name,
    current_generation,
    locked,
    publish,
    remove_stale,
)
from postwarden.settings import Settings, fsync_dir, write_atomic
from postwarden.store.db import session_factory
from postwarden.store.register_versions import add_version, latest_versions, version_blob
from postwarden.store.shared_keys import seal_with, unseal_with

__all__ = ["ClusterWorker", "publish_register", "pull_registers"]

log = logging.getLogger(__name__)


def _aad(name: str) -> bytes:
    return f"postwarden register {name} v1".encode()


def _marker(settings: Settings, name: str) -> Path:
    """``registers/.NAME.version``: the published version this node's index is."""
    return settings.registers_dir / f".{name}.version"


def _local_version(settings: Settings, name: str) -> int:
    try:
        return int(_marker(settings, name).read_text())
    except (FileNotFoundError, ValueError):
        return 0


def publish_register(settings: Settings, engine: Engine, name: str) -> int:
    """Store the current index of ``name`` (or, when it is gone, its drop) as the cluster's
    newest version; returns the version id."""
    check_name(name)
    kek = settings.cluster_key()
    with locked(settings.registers_dir, name):
        generation = current_generation(settings.registers_dir, name)
        if generation is None:
            sealed = b""
        else:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                directory = settings.registers_dir / generation
                for path in sorted(directory.iterdir()):
                    tar.add(path, arcname=path.name, recursive=False)
            sealed = seal_with(kek, buffer.getvalue(), _aad(name))
        digest = hashlib.sha256(sealed).hexdigest() if sealed else ""
        with session_factory(engine)() as session:
            version = add_version(session, name, settings.node_id, digest, sealed)
            session.commit()
        write_atomic(_marker(settings, name), str(version).encode(), mode=0o600)
    return version


def pull_registers(settings: Settings, engine: Engine) -> list[str]:
    """Bring every register up to the cluster's newest version; returns the names changed."""
    with session_factory(engine)() as session:
        latest = latest_versions(session)
    changed = []
    for name, version in sorted(latest.items()):
        if _local_version(settings, name) >= version:
            continue
        with locked(settings.registers_dir, name):
            if _local_version(settings, name) >= version:
                continue  # another process of this node got it first
            with session_factory(engine)() as session:
                _, digest, sealed = version_blob(session, version)
            _install(settings, name, sealed, digest)
            write_atomic(_marker(settings, name), str(version).encode(), mode=0o600)
        changed.append(name)
    return changed


def _install(settings: Settings, name: str, sealed: bytes, digest: str) -> None:
    """Unpack a version into a new generation and swap the link (lock held)."""
    registers = settings.registers_dir
    if not sealed:
        link = registers / name
        if link.is_symlink():
            link.unlink()
            fsync_dir(registers)
        remove_stale(registers, name)
        return
    if hashlib.sha256(sealed).hexdigest() != digest:
        raise ValueError(f"register {name}: the published version does not match its digest")
    archive = unseal_with(settings.cluster_key(), sealed, _aad(name))
    build = registers / f".{name}.{secrets.token_hex(8)}"
    build.mkdir(mode=0o700)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
            tar.extractall(build, filter="data")  # plain files only, inside build
        for path in build.iterdir():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(build)
        publish(registers, name, build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


class ClusterWorker:
    """A daemon thread of a server on a shared quarantine: registers and stranded releases."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.interval = gateway.settings.cluster.register_poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="postwarden-cluster", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def run_once(self) -> None:
        """One round; a failure is logged and the next round tries again (the database or
        the next hop may be down for a while)."""
        settings, engine = self.gateway.settings, self.gateway.engine
        try:
            for name in pull_registers(settings, engine):
                log.info("register %s: picked up the cluster's new version", name)
        except Exception:
            log.exception("pulling the cluster's register versions failed")
        try:
            for item_id in self.gateway.finish_releases():
                log.info("quarantine item %s: finished a release its node left", item_id)
        except Exception:
            log.exception("finishing releases other nodes left failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)
