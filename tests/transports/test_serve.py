from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.orm import Session
from tests.integration.postfix import free_port, wait_for_port
from tests.transports.doubles import ScriptedInspector, Sink, make_gateway, message

from postwarden.settings import Settings
from postwarden.store.db import make_engine, migrate
from postwarden.store.tokens import TokenScope, add_token
from postwarden.transports.http import create_api
from postwarden.transports.relay import RelayHandler
from postwarden.transports.serve import Listener, serve


def _run_serve_with(
    settings: Settings, inspector: ScriptedInspector, sink: Sink, client: Callable[..., None]
) -> tuple[Listener, Listener]:
    """Serve in this (the main) thread, as the CLI does, while ``client`` runs in another and
    ends it with SIGTERM to this process."""
    gateway = make_gateway(settings, sink.outbound, inspector)
    handler = RelayHandler(gateway, sink.outbound, timeout=10)
    smtp, http = Listener("127.0.0.1", free_port()), Listener("127.0.0.1", free_port())
    errors: list[BaseException] = []
    api = create_api(settings, inspector)

    def run_client() -> None:
        try:
            wait_for_port(smtp.port)
            wait_for_port(http.port)
            client(smtp, http)
        except BaseException as exc:
            errors.append(exc)
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=run_client)
    thread.start()
    asyncio.run(serve(handler, smtp, api, http))
    thread.join(10)
    if errors:
        raise errors[0]
    return smtp, http


def api_token(settings: Settings, scope: TokenScope = TokenScope.CHECK_DETAIL) -> str:
    """A token for the HTTP API of ``settings`` (the API needs one since issue 10)."""
    migrate(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        with Session(engine) as s:
            made = add_token(
                s, f"t{time.monotonic_ns()}", scope, actor="test", secret=settings.secret()
            )
            s.commit()
            return made.token
    finally:
        engine.dispose()


def _closed(listener: Listener) -> bool:
    with socket.socket() as s:
        return s.connect_ex((listener.host, listener.port)) != 0


@pytest.mark.timeout(60)
def test_serve_relays_and_answers_the_api_then_stops_on_sigterm(
    settings: Settings, inspector: ScriptedInspector, sink: Sink
) -> None:
    answers: dict[str, object] = {}
    token = api_token(settings)

    def client(smtp: Listener, http: Listener) -> None:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s:
            answers["smtp"] = s.sendmail(
                "alice@demo.gov.hk", ["bob@partner.example"], message(marker="served")
            )
        r = httpx.post(
            f"http://{http}/api/v1/check",
            content=message("reject"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        answers["api"] = r.json()["action"]
        os.kill(os.getpid(), signal.SIGTERM)

    smtp, http = _run_serve_with(settings, inspector, sink, client)
    assert answers == {"smtp": {}, "api": "reject"}
    assert len(sink.messages(b"served")) == 1
    assert _closed(smtp)
    assert _closed(http)


@pytest.mark.timeout(60)
def test_serve_finishes_the_transaction_in_flight_at_sigterm(
    settings: Settings, inspector: ScriptedInspector, sink: Sink
) -> None:
    answers: list[dict[str, tuple[int, bytes]]] = []

    def client(smtp: Listener, http: Listener) -> None:
        def stop_soon() -> None:
            time.sleep(0.4)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_soon).start()
        raw = message(marker="inflight").replace(b"\r\n\r\n", b"\r\nX-Test-Sleep: 1.5\r\n\r\n", 1)
        with smtplib.SMTP(smtp.host, smtp.port, timeout=10) as s:
            answers.append(s.sendmail("alice@demo.gov.hk", ["bob@partner.example"], raw))

    _run_serve_with(settings, inspector, sink, client)
    assert answers == [{}]  # a 250, after the sleep that straddled SIGTERM
    assert len(sink.messages(b"inflight")) == 1
