"""The audit chain's head, anchored outside the database after every committed append batch.

Someone with rights on the database alone (a DBA, a stolen backup restored, an injected
statement) can cut the tail of the chain: what remains still verifies.  So every commit that
appended entries also writes ``DATA_DIR/audit-anchor.json`` — the newest ``seq`` and its hash,
HMAC'd with a key derived from the installation secret — and ``audit verify`` always checks
the chain against it.  Optionally the same line goes to syslog, off the machine.

Several processes append (relay, console, CLI); the anchor only ever moves forward: under an
exclusive ``fcntl`` lock on ``audit-anchor.lock`` the file is replaced (atomically, fsynced)
only by a head with a higher ``seq``.  A crash between the database commit and the anchor
write leaves the anchor behind the chain, which verifies; never ahead of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import logging.handlers
import os
import socket
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from postwarden.errors import PostwardenError
from postwarden.i18n import _
from postwarden.settings import Settings, fsync_dir, write_atomic
from postwarden.store import audit

__all__ = [
    "ANCHOR_FILE",
    "Anchor",
    "AnchorError",
    "AnchorFile",
    "anchor_engine",
    "anchor_file",
    "anchored_head",
]

ANCHOR_FILE = "audit-anchor.json"
log = logging.getLogger(__name__)


class AnchorError(PostwardenError):
    """The anchor file cannot be read, or its MAC does not match (it was edited)."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """An anchored head: entry ``seq`` had ``hash`` when it was written at ``at``."""

    seq: int
    hash: str
    at: str

    def head(self) -> audit.AuditHead:
        return audit.AuditHead(self.seq, self.hash)


def _anchor_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"postwarden audit anchor v1", hashlib.sha256).digest()


def _mac(key: bytes, seq: int, head_hash: str, at: str) -> str:
    return hmac.new(key, f"{seq}\n{head_hash}\n{at}".encode(), hashlib.sha256).hexdigest()


class AnchorFile:
    """One data dir's anchor file, its lock file and the optional syslog copy."""

    def __init__(self, path: Path, secret: bytes, *, syslog_address: str | None = None) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._key = _anchor_key(secret)
        self._syslog_address = syslog_address
        self._thread_lock = threading.Lock()  # flock is per open file, not per thread

    def read(self) -> Anchor | None:
        """The anchored head, or None before the first anchored append."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AnchorError(
                _("cannot read the audit anchor {path}: {exc}").format(path=self.path, exc=exc)
            ) from None
        try:
            doc = json.loads(raw)
            anchor = Anchor(int(doc["seq"]), str(doc["hash"]), str(doc["at"]))
            mac = str(doc["mac"])
        except (ValueError, KeyError, TypeError):
            raise AnchorError(
                _("the audit anchor {path} is not valid JSON").format(path=self.path)
            ) from None
        if not hmac.compare_digest(mac, _mac(self._key, anchor.seq, anchor.hash, anchor.at)):
            raise AnchorError(
                _(
                    "the audit anchor {path} does not match its MAC (it was edited, or belongs to "
                    "another installation)"
                ).format(path=self.path)
            )
        return anchor

    def advance(self, seq: int, head_hash: str) -> bool:
        """Anchor ``seq``/``head_hash`` if it is newer than the anchored head; True if moved."""
        with self._thread_lock, self._locked():
            try:
                current = self.read()
            except AnchorError:
                log.error("audit anchor %s is unreadable: left as it is", self.path)
                return False
            if current is not None and current.seq >= seq:
                if current.seq == seq and not hmac.compare_digest(current.hash, head_hash):
                    log.error("audit entry %d differs from its anchored hash: not re-anchored", seq)
                return False
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            mac = _mac(self._key, seq, head_hash, at)
            doc = {"seq": seq, "hash": head_hash, "at": at, "mac": mac}
            write_atomic(self.path, json.dumps(doc).encode() + b"\n", mode=0o600)
            fsync_dir(self.path.parent)
        self._send_syslog(seq, head_hash, mac)
        return True

    def _locked(self) -> _FileLock:
        return _FileLock(self.lock_path)

    def _send_syslog(self, seq: int, head_hash: str, mac: str) -> None:
        if not self._syslog_address:
            return
        # A handler per line: opt-in, one datagram per commit, and no socket left open.
        try:
            handler = _syslog_handler(self._syslog_address)
        except (OSError, ValueError) as exc:
            log.warning("audit head not sent to syslog: %s", exc)
            return
        try:
            handler.emit(
                logging.LogRecord(
                    "postwarden.audit",
                    logging.INFO,
                    __file__,
                    0,
                    "postwarden audit head seq=%d hash=%s mac=%s",
                    (seq, head_hash, mac),
                    None,
                )
            )
        finally:
            handler.close()


class _FileLock:
    """An exclusive ``flock`` on a lock file, held for a ``with`` block."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _FileLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _syslog_handler(address: str) -> logging.handlers.SysLogHandler:
    """A handler writing to ``address``: a socket path (``/dev/log``) or ``HOST:PORT`` (UDP)."""
    target: str | tuple[str, int]
    if address.startswith("/"):
        target = address
    else:
        host, _, port = address.rpartition(":")
        target = (host.strip("[]"), int(port))
    handler = logging.handlers.SysLogHandler(
        address=target,
        facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV,
        socktype=socket.SOCK_DGRAM,
    )
    handler.ident = "postwarden: "
    return handler


def anchored_head(settings: Settings) -> audit.AuditHead | None:
    """The head anchored in the data dir (None before the first); raises :class:`AnchorError`."""
    found = anchor_file(settings).read()
    return found.head() if found is not None else None


def anchor_file(settings: Settings) -> AnchorFile:
    """The data dir's anchor (``settings.access.audit_syslog``: optional syslog copy)."""
    return AnchorFile(
        settings.data_dir / ANCHOR_FILE,
        settings.secret(),
        syslog_address=settings.access.audit_syslog,
    )


_ANCHORS: weakref.WeakKeyDictionary[Engine, AnchorFile] = weakref.WeakKeyDictionary()


def anchor_engine(engine: Engine, anchor: AnchorFile) -> None:
    """Anchor the head after every commit, on ``engine``, of a session that appended."""
    _ANCHORS[engine] = anchor


def _engine_of(session: Session) -> Engine | None:
    bind: Any = session.bind
    if isinstance(bind, Connection):
        return bind.engine
    return bind if isinstance(bind, Engine) else None


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(audit.PENDING_HEAD, None)
    if pending is None:
        return
    engine = _engine_of(session)
    anchor = _ANCHORS.get(engine) if engine is not None else None
    if anchor is None:
        return
    seq, head_hash = pending
    try:
        anchor.advance(seq, head_hash)
    except OSError as exc:
        # The entries are committed; a missed anchor only leaves it behind the chain.
        log.error("audit anchor not written: %s", exc)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(audit.PENDING_HEAD, None)
