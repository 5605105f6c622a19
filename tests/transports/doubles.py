"""Test doubles for the front ends: a scripted engine and a real SMTP sink.

The engine is replaced by :class:`ScriptedInspector` so each test states the verdict it needs
(header ``X-Test-Action``); everything after the verdict (audit, quarantine, notices, the
front end itself) is the real code.  ``tests/integration`` runs the real engine end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from tests.integration.postfix import free_port

from postwarden.act import Gateway
from postwarden.model import Action, Reason, Verdict
from postwarden.model import Envelope as MailEnvelope
from postwarden.outbound import Outbound, SmtpOutbound
from postwarden.settings import Settings
from postwarden.transports.relay import RelayHandler, start_relay
from postwarden.transports.server_tls import ServerTls

_ACTION = re.compile(rb"^X-Test-Action: *(\w+)", re.MULTILINE | re.IGNORECASE)
_SLEEP = re.compile(rb"^X-Test-Sleep: *([\d.]+)", re.MULTILINE | re.IGNORECASE)
POLICY_MESSAGE = "Personal webmail is not allowed\r\nBcc: evil@example.com; 個人電郵 100%"


class ScriptedInspector:
    """Verdict = the action in the message's ``X-Test-Action`` header (deliver without it);
    ``X-Test-Action: raise`` raises, as an engine bug would; ``X-Test-Sleep: S`` takes S
    seconds first."""

    def __init__(self) -> None:
        self.seen: list[tuple[bytes, MailEnvelope | None]] = []

    def check(self, raw: bytes, envelope: MailEnvelope | None = None) -> Verdict:
        self.seen.append((raw, envelope))
        if pause := _SLEEP.search(raw):
            time.sleep(float(pause.group(1)))
        m = _ACTION.search(raw)
        word = m.group(1).decode() if m else "deliver"
        if word == "raise":
            raise RuntimeError("engine failure quoting 'HKID A123456(3)'")
        action = Action.parse(word)
        reasons = []
        if action != Action.DELIVER:
            reasons.append(Reason(rule="test-rule", message=POLICY_MESSAGE, action=action))
        return Verdict(action=action, reasons=reasons)


@dataclass(slots=True)
class Captured:
    sender: str
    recipients: tuple[str, ...]
    raw: bytes


@dataclass(slots=True)
class SinkHandler:
    """A next hop that answers ``reply`` and keeps what it accepted."""

    reply: str = "250 2.0.0 OK"
    received: list[Captured] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.reply.startswith("250"):
            with self.lock:
                self.received.append(
                    Captured(
                        envelope.mail_from or "",
                        tuple(envelope.rcpt_tos),
                        bytes(envelope.original_content or b""),
                    )
                )
        return self.reply


@dataclass(slots=True)
class Sink:
    handler: SinkHandler
    port: int

    @property
    def outbound(self) -> SmtpOutbound:
        return SmtpOutbound("127.0.0.1", self.port, timeout=10)

    def messages(self, needle: bytes = b"") -> list[Captured]:
        with self.handler.lock:
            return [c for c in self.handler.received if needle in c.raw]


@contextlib.contextmanager
def running_sink() -> Iterator[Sink]:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Sink(handler, port)
    finally:
        controller.stop()


def make_gateway(settings: Settings, outbound: Outbound, inspector: ScriptedInspector) -> Gateway:
    return Gateway.from_settings(settings, outbound=outbound, inspector=inspector)


def message(action: str | None = None, *, marker: str = "m1", body: str = "Hello.") -> bytes:
    """A small message; ``action`` goes into X-Test-Action for the scripted inspector."""
    lines = [
        "From: Alice <alice@demo.gov.hk>",
        "To: bob@partner.example",
        f"Subject: test {marker}",
        f"Message-ID: <{marker}@demo.gov.hk>",
    ]
    if action is not None:
        lines.append(f"X-Test-Action: {action}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


class LiveRelay:
    """The real relay listener (:func:`start_relay`, our SMTP server class) on a loopback
    port, served by an event loop in a thread of its own."""

    def __init__(
        self, handler: RelayHandler, size_limit: int = 1024 * 1024, tls: ServerTls | None = None
    ) -> None:
        self.handler = handler
        self.port = free_port()
        self.slots = handler.rules.connection_counter()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            start_relay(
                handler,
                "127.0.0.1",
                self.port,
                hostname="relay.postwarden.test",
                size_limit=size_limit,
                slots=self.slots,
                tls=tls,
            ),
            self.loop,
        ).result(10)

    def stop(self) -> None:
        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()
            # Let connections the tests left close (their clients quit or were dropped).
            for _ in range(100):
                if not self.slots.total:
                    break
                await asyncio.sleep(0.05)
            await self.handler.drain(5)
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
