"""What one process lets in at once: message bytes under inspection, connections per client.

One :class:`ByteGate` is shared by every front end of a process (``serve``: the relay and the
HTTP API; ``relay``; ``milter``), so it works from event-loop tasks and from threads alike.
A :class:`ConnectionCounter` counts the connections of one listener (the relay's, the API's).
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field

__all__ = [
    "FIXED_MEMORY_BYTES",
    "INSPECTION_BYTES_PER_MESSAGE_BYTE",
    "ByteGate",
    "ConnectionCounter",
    "inspection_cost",
    "memory_ceiling",
]

INSPECTION_BYTES_PER_MESSAGE_BYTE = 8
"""Peak memory of one inspection per byte of message, measured (docs/security.md): a 60 MB
message costs ~460 MiB while the engine parses, decodes and scans it, text or binary."""


FIXED_MEMORY_BYTES = 512 * 1024 * 1024
"""What a front-end process needs besides its inspections: the interpreter, the loaded engine
and detectors (~170 MiB measured for ``serve``), the transports' buffers (bodies past
``access.spool_bytes`` wait on disk) and the copies a front end holds around one inspection
(the relay's message and its marked copy for the next hop)."""


def inspection_cost(size: int) -> int:
    """The memory an inspection of a ``size``-byte message is charged at the gate."""
    return max(size, 1) * INSPECTION_BYTES_PER_MESSAGE_BYTE


def memory_ceiling(inspection_memory_bytes: int) -> int:
    """The documented peak resident set of one front-end process (docs/security.md):
    its inspection budget (``access.inspection_memory_bytes``) plus :data:`FIXED_MEMORY_BYTES`.
    ``make bench BENCH=memory`` measures it."""
    return inspection_memory_bytes + FIXED_MEMORY_BYTES


@dataclass(slots=True)
class _Waiter:
    amount: int
    event: threading.Event | None = None
    future: asyncio.Future[None] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    granted: bool = False


class ByteGate:
    """A weighted, first-come-first-served semaphore over bytes, for threads and event loops.

    ``capacity`` bytes may be held at once; a request larger than the capacity is clamped to
    it, so it runs alone rather than never.  Hand-written because neither asyncio, anyio nor
    the standard library has a weighted semaphore that both a thread (the milter) and a
    coroutine (the API, the relay) can wait on; FIFO order keeps a large message from being
    starved by a stream of small ones.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least one byte")
        self.capacity = capacity
        self._in_use = 0
        self._lock = threading.Lock()
        self._queue: deque[_Waiter] = deque()

    @property
    def in_use(self) -> int:
        with self._lock:
            return self._in_use

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._queue)

    def _clamp(self, amount: int) -> int:
        return min(max(amount, 0), self.capacity)

    def _try_take(self, amount: int) -> bool:
        # Called with the lock held; nobody overtakes a waiter already queued.
        if not self._queue and self._in_use + amount <= self.capacity:
            self._in_use += amount
            return True
        return False

    def _grant_waiters(self) -> None:
        # Called with the lock held.
        while self._queue and self._in_use + self._queue[0].amount <= self.capacity:
            waiter = self._queue.popleft()
            self._in_use += waiter.amount
            waiter.granted = True
            if waiter.event is not None:
                waiter.event.set()
            elif waiter.future is not None and waiter.loop is not None:
                waiter.loop.call_soon_threadsafe(_resolve, waiter.future)

    async def acquire(self, amount: int) -> int:
        """Wait until ``amount`` bytes (clamped to the capacity) are free; returns what was
        taken, to give back with :meth:`release`."""
        amount = self._clamp(amount)
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._try_take(amount):
                return amount
            waiter = _Waiter(amount, future=loop.create_future(), loop=loop)
            self._queue.append(waiter)
        assert waiter.future is not None  # noqa: S101 - set just above
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                if waiter.granted:
                    self._in_use -= amount
                else:
                    self._queue.remove(waiter)
                self._grant_waiters()
            raise
        return amount

    def acquire_blocking(self, amount: int, timeout: float | None = None) -> int | None:
        """:meth:`acquire` for a thread; None when ``timeout`` passed first."""
        amount = self._clamp(amount)
        with self._lock:
            if self._try_take(amount):
                return amount
            waiter = _Waiter(amount, event=threading.Event())
            self._queue.append(waiter)
        assert waiter.event is not None  # noqa: S101 - set just above
        if waiter.event.wait(timeout):
            return amount
        with self._lock:
            if waiter.granted:
                return amount
            self._queue.remove(waiter)
            self._grant_waiters()
        return None

    def release(self, amount: int) -> None:
        with self._lock:
            self._in_use -= amount
            if self._in_use < 0:
                self._in_use = 0
                raise RuntimeError("released more bytes than were acquired")
            self._grant_waiters()

    @asynccontextmanager
    async def admit(self, amount: int) -> AsyncIterator[int]:
        taken = await self.acquire(amount)
        try:
            yield taken
        finally:
            self.release(taken)

    def admit_message(self, size: int) -> AbstractAsyncContextManager[int]:
        """:meth:`admit` charged :func:`inspection_cost` of a ``size``-byte message: the
        relay's ``admit`` seam."""
        return self.admit(inspection_cost(size))

    @contextmanager
    def admit_blocking(self, amount: int, timeout: float | None = None) -> Iterator[int | None]:
        """Yields what was taken, or None (nothing held) when ``timeout`` passed first."""
        taken = self.acquire_blocking(amount, timeout)
        try:
            yield taken
        finally:
            if taken is not None:
                self.release(taken)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(slots=True)
class ConnectionCounter:
    """Open connections of one listener, in total and per client address.

    Addresses in ``exempt`` (a TLS proxy in front of us, where every client has the proxy's
    address) count towards the total but have no per-client cap.
    """

    max_total: int
    max_per_client: int
    exempt: tuple[str, ...] = ()
    _open: Counter[str] = field(default_factory=Counter)
    _total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def __post_init__(self) -> None:
        self._networks = _networks(self.exempt)

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    def of(self, client: str) -> int:
        with self._lock:
            return self._open[client]

    def open(self, client: str) -> bool:
        """Count a new connection from ``client``; False (nothing counted) past a cap."""
        return self.take(client) is None

    def take(self, client: str) -> str | None:
        """Count a new connection from ``client``, or say why it is one too many (then
        nothing is counted)."""
        with self._lock:
            if self._total >= self.max_total:
                return "too many connections"
            if self._open[client] >= self.max_per_client and not self._exempt(client):
                return "too many connections from your address"
            self._open[client] += 1
            self._total += 1
            return None

    def close(self, client: str) -> None:
        with self._lock:
            if self._open[client] <= 0:
                return
            self._open[client] -= 1
            self._total -= 1
            if not self._open[client]:
                del self._open[client]

    def _exempt(self, client: str) -> bool:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(address in net for net in self._networks)


def _networks(
    items: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in items:
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue  # not an address (a host name): it can never match a peer address
    return tuple(nets)
