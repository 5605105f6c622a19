"""uvicorn's HTTP/1.1 protocol (h11) with the limits it lacks: a deadline for the request
headers and one for the body, an idle keep-alive deadline from the first byte, and connection
caps in total and per client address.

uvicorn only closes an idle connection *after* a response (``timeout_keep_alive``); a client
that connects and sends nothing, or trickles its headers or body a byte at a time, keeps its
connection (and a slot) for ever.  An ASGI middleware cannot help with the headers (the app
is called only once they are complete) nor with a body the app no longer reads, so the guard
sits here, where bytes arrive: one timer per connection, re-armed as h11's view of the client
moves between waiting for headers, sending a body, and idle.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from postwarden.settings import Access
from postwarden.transports.admission import ConnectionCounter

__all__ = ["HttpGuard", "guarded_config"]

log = logging.getLogger(__name__)

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: 21\r\n\r\n"
    b"too many connections\n"
)


@dataclass(frozen=True, slots=True)
class HttpGuard:
    """The limits of one HTTP listener."""

    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    connections: ConnectionCounter

    @classmethod
    def from_access(cls, access: Access) -> HttpGuard:
        return cls(
            header_timeout=access.http_header_timeout,
            body_timeout=access.http_body_timeout,
            keepalive_timeout=access.http_keepalive_timeout,
            connections=ConnectionCounter(
                access.max_connections,
                access.max_connections_per_client,
                exempt=access.trusted_proxies,
            ),
        )


class _GuardedProtocol(H11Protocol):
    guard: ClassVar[HttpGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._phase = ""
        self._fresh = True
        self._peer: str | None = None

    # -- connection caps ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = self.client[0] if self.client else "unix"
        if not self.guard.connections.open(peer):
            log.warning("refused an HTTP connection from %s: too many connections", peer)
            transport.write(_REFUSED)
            transport.close()
            return
        self._peer = peer
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self._peer is not None:
            self.guard.connections.close(self._peer)
            self._peer = None
        super().connection_lost(exc)

    # -- deadlines ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._update()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update()

    def _update(self) -> None:
        """Arm the deadline of what we now wait for from the client, if it changed."""
        if self.transport is None or self.transport.is_closing():
            self._cancel()
            return
        state = self.conn.their_state
        want = ""
        if state is h11.IDLE:
            pending = bool(self.conn.trailing_data[0])
            # A new connection owes its request headers at once; after a response, an idle
            # connection may wait for the next request, and owes its headers from their first
            # byte.
            want = "headers" if (pending or self._fresh) else "idle"
        elif state is h11.SEND_BODY:
            self._fresh = False
            want = "body"
        else:
            self._fresh = False
        if want == self._phase:
            return
        self._cancel()
        self._phase = want
        seconds = {
            "headers": self.guard.header_timeout,
            "body": self.guard.body_timeout,
            "idle": self.guard.keepalive_timeout,
        }.get(want)
        if seconds is not None:
            self._timer = self.loop.call_later(seconds, self._expired, want, seconds)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._phase = ""

    def _expired(self, phase: str, seconds: float) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if phase != "idle":
            peer = self.client[0] if self.client else "unix"
            log.info("closed an HTTP connection from %s: no %s within %gs", peer, phase, seconds)
        self.transport.close()


def guarded_config(app: Any, host: str, port: int, guard: HttpGuard) -> uvicorn.Config:
    """A uvicorn configuration for ``app`` on ``host:port`` whose connections ``guard``
    limits (uvicorn's own keep-alive timer, later than ours, stays as a backstop)."""
    protocol = type("GuardedH11Protocol", (_GuardedProtocol,), {"guard": guard})
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_config=None,
        http=protocol,
        timeout_keep_alive=int(guard.keepalive_timeout) + 10,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 by default; the console
        # applies settings.access.trusted_proxies itself.
        proxy_headers=False,
    )
