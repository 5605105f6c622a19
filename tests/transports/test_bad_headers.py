"""An invalid encoded-word in Subject, From or To through the HTTP check API and the relay,
each with the real inspector: a verdict (it was 500 from the API and 451 from the relay on
every retry, so the message sat in the queue until it bounced)."""

from __future__ import annotations

import asyncio
import smtplib

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from tests.header_cases import RCPT, SENDER, WHERE, bad_header_message
from tests.integration.postfix import free_port
from tests.transports.doubles import Sink
from tests.transports.tokens import make_token

from postwarden.act import Gateway
from postwarden.headers import INVALID_BASE64
from postwarden.settings import Settings
from postwarden.store.quarantine import Quarantine
from postwarden.transports.http import create_api
from postwarden.transports.relay import RelayHandler


@pytest.mark.parametrize("where", WHERE)
def test_http_check_bad_encoded_word_answers_a_verdict(
    settings: Settings, db: Engine, where: str
) -> None:
    app = create_api(settings, engine=db)  # the inspector every front end of these settings uses
    token = make_token(db, settings, "bad-headers")

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.post(
                "/api/v1/check",
                content=bad_header_message(where),
                headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {token}"},
            )

    resp = asyncio.run(go())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["action"] == "hold"
    assert f"{where}: {INVALID_BASE64}" in body["defects"]


@pytest.mark.parametrize("where", WHERE)
def test_relay_bad_encoded_word_gets_a_verdict_not_451(
    settings: Settings, sink: Sink, where: str
) -> None:
    gateway = Gateway.from_settings(settings, outbound=sink.outbound)
    port = free_port()
    controller = Controller(RelayHandler(gateway, sink.outbound, timeout=10), "127.0.0.1", port)
    controller.start()
    raw = bad_header_message(where, marker="relay")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            refused = smtp.sendmail(SENDER, [RCPT], raw)
    finally:
        controller.stop()
    assert refused == {}  # 250: held durably (a 451 raises SMTPDataError here)
    assert sink.messages(b"relay-") == []
    with gateway.session() as session:
        (item,) = Quarantine.items(session)
    assert item.action == "hold"
    assert gateway.quarantine.read(item) == raw
