"""SMTP relay front end (aiosmtpd): a Postfix after-queue content_filter, or standalone.

Never answers 250 before the message is durably somewhere (reliability.md §1): delivered mail
only after the next hop accepted it, held mail only after the quarantine committed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from postwarden.act import Gateway, Outcome
from postwarden.model import Envelope
from postwarden.outbound import Outbound, OutboundError
from postwarden.transports.failure import describe_failure
from postwarden.transports.reply import TEMPFAIL, SmtpReply, parse_reply, reply_text

__all__ = [
    "DEFAULT_SIZE_LIMIT",
    "VERDICT_HEADER",
    "RelayHandler",
    "canonical_line_ends",
    "forward_failure_reply",
    "null_sender",
    "relay_smtp",
    "start_relay",
    "with_header",
]

log = logging.getLogger(__name__)

VERDICT_HEADER = "X-Postwarden-Verdict"
DEFAULT_SIZE_LIMIT = 64 * 1024 * 1024

_T = TypeVar("_T")
_LINE_END = re.compile(rb"\r\n|\r|\n")


def canonical_line_ends(raw: bytes) -> bytes:
    """Every bare CR and bare LF becomes CRLF, as Postfix does when it relays: what we inspect
    is exactly what we forward, and no next hop can read a bare-LF '.' as end of data
    (SMTP smuggling, reliability.md §7)."""
    return _LINE_END.sub(b"\r\n", raw)


def null_sender(mail_from: str | None) -> str:
    """aiosmtpd keeps the null reverse path as ``<>``; the envelope spells it ``""``."""
    return "" if mail_from in (None, "", "<>") else str(mail_from)


def with_header(raw: bytes, name: str, value: str) -> bytes:
    """``raw`` with one header field prepended (value already a safe single line)."""
    return f"{name}: {value}\r\n".encode("ascii") + raw


def forward_failure_reply(exc: OutboundError) -> SmtpReply:
    """Our answer when the next hop did not take a delivered message."""
    text = reply_text(str(exc), fallback="next hop failed")
    if exc.partial:
        # Some recipients already have it: a 4xx would make the sender's MTA send it again
        # to them, a 250 would silently lose the refused ones; a 5xx bounce names them.
        refused = ", ".join(f"{r} ({c})" for r, (c, _) in sorted(exc.refused.items()))
        return SmtpReply(554, "5.5.0", reply_text(f"{text}: {refused}"))
    if exc.temporary:
        return SmtpReply(451, "4.4.0", text)
    return SmtpReply(554, "5.0.0", text)


@dataclass(slots=True)
class RelayHandler:
    """aiosmtpd handler: at end of DATA run the gateway, then forward, hold or refuse."""

    gateway: Gateway
    outbound: Outbound
    timeout: float = 240.0
    """Seconds for inspection plus forwarding before we answer 451."""
    executor: Executor | None = None
    active: int = 0
    """Transactions between end of DATA and our reply."""
    _idle: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        self._idle.set()

    async def drain(self, seconds: float) -> None:
        """Wait until no transaction is in flight, or ``seconds`` passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), seconds)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        relay_id = secrets.token_hex(6).upper()
        self.active += 1
        self._idle.clear()
        try:
            reply = await asyncio.wait_for(self._handle(relay_id, envelope), self.timeout)
        except TimeoutError:
            log.error("relay %s: no answer within %.0f s: tempfail", relay_id, self.timeout)
            return str(TEMPFAIL)
        except Exception as exc:
            log.error("relay %s: tempfail after %s", relay_id, describe_failure(exc))
            return str(TEMPFAIL)
        finally:
            self.active -= 1
            if not self.active:
                self._idle.set()
        log.info("relay %s: %s", relay_id, reply.code)
        return str(reply)

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd answers 500 on an unhandled error, which bounces mail; we answer 451."""
        log.error("relay: tempfail after %s", describe_failure(error))
        return str(TEMPFAIL)

    async def _handle(self, relay_id: str, envelope: SmtpEnvelope) -> SmtpReply:
        raw = canonical_line_ends(bytes(envelope.original_content or b""))
        env = Envelope(sender=null_sender(envelope.mail_from), recipients=tuple(envelope.rcpt_tos))
        outcome: Outcome = await self._run(
            partial(self.gateway.process, raw, env, queue_id=relay_id)
        )
        if outcome.disposition == "reject":
            reply = parse_reply(outcome.smtp_reply)
            # A reject must be a 5xx; anything else is a gateway bug, and bugs tempfail.
            return reply if reply.code >= 500 else TEMPFAIL
        if outcome.disposition == "quarantined":
            # The quarantine copy is committed: now the 250 may go out.
            return SmtpReply(250, "2.0.0", f"Ok: held for review as {outcome.quarantine_id}")
        if outcome.disposition != "deliver":
            raise ValueError(f"unknown disposition {outcome.disposition!r}")
        marked = with_header(raw, VERDICT_HEADER, outcome.verdict.action.label)
        try:
            await self._run(partial(self.outbound.send, marked, env.sender, env.recipients))
        except OutboundError as exc:
            return forward_failure_reply(exc)
        return SmtpReply(250, "2.0.0", f"Ok: delivered as {relay_id}")

    async def _run(self, call: Callable[[], _T]) -> _T:
        # The gateway and smtplib block; they run in threads so the loop keeps serving.
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)


def relay_smtp(
    handler: RelayHandler, *, hostname: str | None = None, size_limit: int = DEFAULT_SIZE_LIMIT
) -> SMTP:
    """One aiosmtpd protocol instance for one client connection."""
    # data_size_limit: aiosmtpd answers 552 past it and announces SIZE in EHLO.
    return SMTP(handler, hostname=hostname, data_size_limit=size_limit)


async def start_relay(
    handler: RelayHandler,
    host: str,
    port: int,
    *,
    hostname: str | None = None,
    size_limit: int = DEFAULT_SIZE_LIMIT,
) -> asyncio.Server:
    """Listen on ``host:port`` in the running loop."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: relay_smtp(handler, hostname=hostname, size_limit=size_limit), host, port
    )
