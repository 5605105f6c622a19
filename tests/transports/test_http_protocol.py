"""The HTTP listener's limits, with real sockets on loopback against a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from tests.integration.postfix import free_port
from tests.transports.doubles import ScriptedInspector, message
from tests.transports.test_serve import api_token

from postwarden.settings import Settings
from postwarden.transports.http import create_api
from postwarden.transports.http_protocol import HttpGuard, guarded_config
from postwarden.transports.serve import _ApiServer

Start = Callable[..., tuple[int, str]]


@pytest.fixture
def start(settings: Settings, inspector: ScriptedInspector) -> Iterator[Start]:
    """``start(**access_overrides)`` serves the API on a free loopback port in a thread and
    returns (port, a check:detail token)."""
    servers: list[tuple[_ApiServer, threading.Thread]] = []

    def run(**overrides: Any) -> tuple[int, str]:
        access = replace(settings.access, **overrides)
        limited = replace(settings, access=access)
        port = free_port()
        config = guarded_config(
            create_api(limited, inspector), "127.0.0.1", port, HttpGuard.from_access(access)
        )
        server = _ApiServer(config)
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        servers.append((server, thread))
        return port, api_token(limited)

    yield run
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


Connect = Callable[[int], socket.socket]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(port)``: a client socket, closed at the end of the test."""
    opened: list[socket.socket] = []

    def open_(port: int) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


def _closed_after(s: socket.socket, limit: float) -> float:
    """Seconds until the server closed ``s`` (reading and discarding what it sent); fails
    past ``limit``."""
    start = time.monotonic()
    s.settimeout(limit)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"still open after {limit}s")
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def _response(s: socket.socket) -> bytes:
    """One whole HTTP response (status line, headers and Content-Length bytes of body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "closed mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body


def _request(token: str, body: bytes, length: int | None = None) -> bytes:
    return (
        b"POST /api/v1/check HTTP/1.1\r\nHost: api\r\n"
        + f"Authorization: Bearer {token}\r\n".encode()
        + f"Content-Length: {len(body) if length is None else length}\r\n\r\n".encode()
        + body
    )


@pytest.mark.timeout(60)
def test_a_client_that_sends_nothing_or_stalls_in_the_headers_is_dropped(
    start: Start, connect: Connect
) -> None:
    port, _ = start(http_header_timeout=0.5, http_keepalive_timeout=30.0)
    silent = connect(port)
    partial = connect(port)
    partial.sendall(b"POST /api/v1/check HTTP/1.1\r\nHost: api\r\n")
    assert _closed_after(silent, 5) < 3
    assert _closed_after(partial, 5) < 3


@pytest.mark.timeout(60)
def test_a_client_trickling_its_headers_is_dropped_at_the_deadline(
    start: Start, connect: Connect
) -> None:
    """Bytes that keep coming do not restart the clock (slowloris)."""
    port, _ = start(http_header_timeout=1.0)
    s = connect(port)
    started = time.monotonic()
    closed = False
    for ch in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100:
        try:
            s.sendall(bytes([ch]))
        except OSError:
            closed = True
            break
        time.sleep(0.1)
        if time.monotonic() - started > 6:
            break
    if not closed:
        _closed_after(s, 2)
    assert time.monotonic() - started < 4


@pytest.mark.timeout(60)
def test_a_client_that_stalls_in_the_body_is_dropped(
    start: Start, connect: Connect, inspector: ScriptedInspector
) -> None:
    port, token = start(http_body_timeout=1.0, http_header_timeout=30.0)
    s = connect(port)
    s.sendall(_request(token, message()[:20], length=10_000))
    assert _closed_after(s, 8) < 5
    assert inspector.seen == []


@pytest.mark.timeout(60)
def test_an_idle_keepalive_connection_is_closed(start: Start, connect: Connect) -> None:
    port, token = start(http_keepalive_timeout=0.5, http_header_timeout=30.0)
    s = connect(port)
    s.sendall(_request(token, message()))
    assert _response(s).startswith(b"HTTP/1.1 200 ")
    assert _closed_after(s, 5) < 3


@pytest.mark.timeout(60)
def test_keepalive_still_serves_a_second_request(start: Start, connect: Connect) -> None:
    port, token = start(http_keepalive_timeout=2.0)
    s = connect(port)
    for _ in range(2):
        s.sendall(_request(token, message()))
        assert _response(s).startswith(b"HTTP/1.1 200 ")
    s.close()


@pytest.mark.timeout(60)
def test_connections_past_the_per_client_cap_are_refused(start: Start, connect: Connect) -> None:
    port, _ = start(max_connections_per_client=2, http_header_timeout=30.0)
    held = [connect(port), connect(port)]
    time.sleep(0.3)  # both accepted and counted by the server
    extra = connect(port)
    assert _response(extra).startswith(b"HTTP/1.1 503 ")
    assert _closed_after(extra, 5) < 2
    held.pop().close()
    time.sleep(0.3)
    again = connect(port)
    again.sendall(b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
    assert _response(again).startswith(b"HTTP/1.1 200 ")
    for s in (*held, again):
        s.close()


@pytest.mark.timeout(60)
def test_connections_past_the_total_cap_are_refused(start: Start, connect: Connect) -> None:
    port, _ = start(max_connections=3, max_connections_per_client=100, http_header_timeout=30.0)
    held = [connect(port) for _ in range(3)]
    time.sleep(0.3)
    extra = connect(port)
    assert _response(extra).startswith(b"HTTP/1.1 503 ")
    for s in held:
        s.close()
