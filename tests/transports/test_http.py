from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from tests.transports.doubles import ScriptedInspector, message

from postwarden.model import Envelope
from postwarden.settings import Settings
from postwarden.transports.http import create_api

Client = Callable[..., httpx.Response]


@pytest.fixture
def client(settings: Settings, inspector: ScriptedInspector) -> Client:
    """``client(method, url, **kw)``: one request through the ASGI app (httpx's transport)."""
    app = create_api(settings, inspector, max_body_bytes=4096)

    def request(method: str, url: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return await c.request(method, url, **kw)

        return asyncio.run(go())

    return request


def test_check_answers_the_verdict_json(client: Client, inspector: ScriptedInspector) -> None:
    raw = message("hold", marker="api")
    resp = client(
        "POST",
        "/api/v1/check",
        content=raw,
        headers={"Content-Type": "message/rfc822"},
        params=[("sender", "alice@demo.gov.hk"), ("rcpt", "x@gmail.com"), ("rcpt", "y@z.hk")],
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["action"] == "hold"
    assert body["reasons"][0]["rule"] == "test-rule"
    assert set(body) >= {"action", "reasons", "subjects", "findings", "recipients"}
    assert inspector.seen == [(raw, Envelope("alice@demo.gov.hk", ("x@gmail.com", "y@z.hk")))]


def test_check_without_envelope_leaves_it_to_the_headers(
    client: Client, inspector: ScriptedInspector
) -> None:
    resp = client("POST", "/api/v1/check", content=message(marker="hdr"))
    assert resp.json()["action"] == "deliver"
    assert inspector.seen[0][1] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 400), (b"  \r\n", 400), (b"x" * 5000, 413)],
)
def test_check_refuses_empty_and_oversized(
    client: Client, inspector: ScriptedInspector, body: bytes, status: int
) -> None:
    assert client("POST", "/api/v1/check", content=body).status_code == status
    assert inspector.seen == []


def test_check_refuses_oversized_stream_without_length(
    client: Client, inspector: ScriptedInspector
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    assert client("POST", "/api/v1/check", content=chunks()).status_code == 413
    assert inspector.seen == []


def test_healthz(client: Client) -> None:
    resp = client("GET", "/healthz")
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
