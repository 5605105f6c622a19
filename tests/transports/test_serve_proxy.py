"""``serve`` does not let uvicorn believe X-Forwarded-For: the console decides whom to trust."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import httpx
import pytest
from fastapi import Request
from tests.integration.postfix import free_port, wait_for_port
from tests.transports.doubles import ScriptedInspector, Sink, make_gateway

from postwarden.settings import Settings
from postwarden.transports.http import create_api
from postwarden.transports.relay import RelayHandler
from postwarden.transports.serve import Listener, serve


@pytest.mark.timeout(60)
def test_serve_ignores_forwarded_headers_from_an_untrusted_peer(
    settings: Settings, inspector: ScriptedInspector, sink: Sink
) -> None:
    api = create_api(settings, inspector)

    @api.get("/peer")
    async def peer(request: Request) -> dict[str, str]:
        return {
            "client": request.client.host if request.client else "",
            "scheme": request.url.scheme,
        }

    gateway = make_gateway(settings, sink.outbound, inspector)
    handler = RelayHandler(gateway, sink.outbound, timeout=10)
    smtp, http = Listener("127.0.0.1", free_port()), Listener("127.0.0.1", free_port())
    seen: dict[str, str] = {}
    errors: list[BaseException] = []

    def client() -> None:
        try:
            wait_for_port(http.port)
            r = httpx.get(
                f"http://{http}/peer",
                headers={"X-Forwarded-For": "127.0.0.70", "X-Forwarded-Proto": "https"},
                timeout=10,
            )
            seen.update(r.json())
        except BaseException as exc:
            errors.append(exc)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    asyncio.run(serve(handler, smtp, api, http))
    thread.join(10)
    assert not errors
    # uvicorn's default believes these headers from 127.0.0.1: a local client chose its own
    # address for the sign-in throttle (issue 10).
    assert seen == {"client": "127.0.0.1", "scheme": "http"}
