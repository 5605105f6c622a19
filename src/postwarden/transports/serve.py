"""One process for the long-running front ends: the relay and the HTTP API in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from postwarden.settings import Access
from postwarden.transports.http_protocol import HttpGuard, guarded_config
from postwarden.transports.relay import DEFAULT_SIZE_LIMIT, RelayHandler, start_relay
from postwarden.transports.server_tls import ServerTls

__all__ = ["Listener", "serve"]

log = logging.getLogger(__name__)

DRAIN_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Listener:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`serve` owns SIGTERM/SIGINT for the
    whole process (uvicorn would re-raise the signal after shutdown and end us with it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve(
    handler: RelayHandler,
    smtp: Listener,
    api: FastAPI | None = None,
    http: Listener | None = None,
    *,
    hostname: str | None = None,
    size_limit: int = DEFAULT_SIZE_LIMIT,
    access: Access | None = None,
    tls: ServerTls | None = None,
) -> None:
    """Serve the relay (and the API when given) until SIGTERM or SIGINT, then stop taking
    connections and let transactions in flight finish (up to 30 s).  The API's connections
    get the timeouts and caps of ``access`` (default: :class:`Access` defaults).  With
    ``tls`` the relay offers STARTTLS, and SIGHUP reloads its certificate and key."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if tls is not None:
        loop.add_signal_handler(signal.SIGHUP, tls.reload)
    relay = await start_relay(
        handler, smtp.host, smtp.port, hostname=hostname, size_limit=size_limit, tls=tls
    )
    log.info("relay listening on %s", smtp)
    api_server: _ApiServer | None = None
    api_task: asyncio.Task[None] | None = None
    if api is not None and http is not None:
        guard = HttpGuard.from_access(access or Access())
        config = guarded_config(api, http.host, http.port, guard)
        api_server = _ApiServer(config)
        api_task = asyncio.create_task(api_server.serve())
        while not api_server.started:
            if api_task.done():
                await api_task  # raises why it could not start (port in use, ...)
                raise OSError(f"HTTP API on {http} stopped during startup")
            await asyncio.sleep(0.02)
        log.info("HTTP API listening on http://%s", http)
    stopper = asyncio.create_task(stop.wait())
    try:
        waiters: list[asyncio.Task[object]] = [stopper]
        if api_task is not None:
            waiters.append(api_task)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        relay.close()
        await relay.wait_closed()
        if api_server is not None and api_task is not None:
            api_server.should_exit = True
            await api_task
        await handler.drain(DRAIN_SECONDS)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("stopped")
