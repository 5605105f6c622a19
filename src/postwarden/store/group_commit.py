"""Group commit: the writes of messages decided at the same time share one transaction.

Every verdict the gateway delivers or rejects on is written to the audit log (and a delivery to
the contact history) before the transport answers: a verdict that decided a delivery must
never be lost.  Committed one by one, each costs a database commit (an fsync) and an anchor
write (three more, :mod:`postwarden.store.anchor`): about 25 ms of waiting per message on a
disk, in series, while the inspection itself takes 1–2 ms.

Here one writer thread owns those writes.  A caller hands over its write and waits; the writer
takes every write queued by then (at most ``max_batch``) and puts them in one transaction: one
lock and one INSERT for their audit entries (:func:`~postwarden.store.audit.record_many`), one
upsert for their contact history; it commits once and wakes their callers.  While that commit
is on the disk the next writes queue up, so under load a batch holds every message decided in
the meantime and no caller waits longer than one commit plus its own: there is no timer to
tune, and a lone message goes at once.  Durability is unchanged: nobody is answered before
the commit holding their write returned.  A batch that fails is retried write by write, each
in its own transaction, so one bad write fails only its own caller.

The audit head is anchored outside the database (three more fsyncs) by a thread of its own,
after the callers are woken: the anchor is a check against a cut tail, not what makes a verdict
durable, and it may lag the chain (never lead it; see :mod:`postwarden.store.anchor`).  Only the
newest head matters, so the heads committed while one anchor write is on the disk, and within
:data:`ANCHOR_EVERY` of it, collapse into the next.  Answering after the database commit alone
took the writes' wait per message from about 25 ms to about 8 ms on this machine's disk; an
anchor per batch still cost the milter 0.3-0.5 ms of CPU per message, and its fsyncs queued
on the disk before the next batch's commit (benchmarks/gateway.py: the wait for the commit
10.6 -> 7.0 ms median without them).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from postwarden.store import audit
from postwarden.store.anchor import AnchorFile
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.history import Delivery, record_deliveries

__all__ = ["GroupCommit", "Write"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Write:
    """One audit entry, and the delivery it records in the contact history (if any)."""

    kind: AuditKind
    actor: str
    data: Mapping[str, Any]
    delivery: Delivery | None = None


MAX_BATCH = 256
"""Writes per transaction at most: bounds one commit's size and its callers' wait."""

ANCHOR_EVERY = 0.2
"""Seconds between two anchor writes at least: under load a few a second, not one per batch.
The anchor lags the chain by at most this (and one write) more; :meth:`GroupCommit.close`
anchors the last head at once."""


@dataclass(slots=True)
class _Job:
    write: Write
    done: Future[None]


class GroupCommit:
    """One writer thread that commits queued writes together (started on first use)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        secret: bytes,
        *,
        anchor: AnchorFile | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._sessions = sessions
        self._secret = secret
        self._anchor = _LatestHead(anchor) if anchor is not None else None
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.batches = 0
        """Transactions committed so far (for tests and benchmarks)."""

    def run(self, write: Write) -> None:
        """Run ``write`` in the next transaction and return once that is committed; raises
        what the write (or the commit) raised."""
        self.submit(write).result()

    def submit(self, write: Write) -> Future[None]:
        job = _Job(write, Future())
        with self._lock:
            if self._closed:
                raise RuntimeError("group commit writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="postwarden-group-commit", daemon=True
                )
                self._thread.start()
            self._queue.put(job)
        return job.done

    def close(self) -> None:
        """Commit what is queued, then stop the writer."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()
        if self._anchor is not None:
            self._anchor.close()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Job]) -> None:
        live = [job for job in batch if job.done.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            self._write([job.write for job in live])
        except BaseException as exc:
            if len(live) == 1:
                live[0].done.set_exception(exc)
                return
            log.warning("group commit of %d writes failed (%s): one by one", len(live), exc)
            for job in live:
                self._commit_one(job)
            return
        self.batches += 1
        for job in live:
            job.done.set_result(None)

    def _commit_one(self, job: _Job) -> None:
        try:
            self._write([job.write])
        except BaseException as exc:
            job.done.set_exception(exc)
            return
        self.batches += 1
        job.done.set_result(None)

    def _write(self, writes: list[Write]) -> None:
        with self._sessions() as session:
            deliveries = [w.delivery for w in writes if w.delivery is not None]
            if deliveries:
                record_deliveries(session, deliveries)
            entries = [(w.kind, w.actor, w.data) for w in writes]
            audit.record_many(session, entries, secret=self._secret)
            # Anchored by _LatestHead after the callers are answered, not by the commit hook.
            head = session.info.pop(audit.PENDING_HEAD) if self._anchor is not None else None
            session.commit()
        if self._anchor is not None and head is not None:
            self._anchor.advance(head)


class _LatestHead:
    """Anchors the newest committed audit head in a thread, skipping heads it was overtaken by."""

    def __init__(self, anchor: AnchorFile) -> None:
        self._anchor = anchor
        self._head: tuple[int, str] | None = None
        self._stopped = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def advance(self, head: tuple[int, str]) -> None:
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="postwarden-anchor", daemon=True
                )
                self._thread.start()
            if self._head is None or head[0] > self._head[0]:
                self._head = head
            self._changed.notify()

    def close(self) -> None:
        """Anchor the last head, then stop."""
        with self._changed:
            self._stopped = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _loop(self) -> None:
        written = -ANCHOR_EVERY
        while True:
            with self._changed:
                while self._head is None and not self._stopped:
                    self._changed.wait()
                # Heads committed until ANCHOR_EVERY after the last write go in one write.
                self._changed.wait_for(
                    lambda: self._stopped, written + ANCHOR_EVERY - time.monotonic()
                )
                head, self._head = self._head, None
                stopped = self._stopped
            if head is not None:
                written = time.monotonic()
                try:
                    self._anchor.advance(*head)
                except OSError as exc:
                    # The entries are committed; a missed anchor only leaves it behind.
                    log.error("audit anchor not written: %s", exc)
            if stopped and head is None:
                return
