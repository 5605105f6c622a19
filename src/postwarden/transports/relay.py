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
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from postwarden.act import Gateway, Outcome
from postwarden.model import Envelope, SmtpReply, reply_text
from postwarden.outbound import Outbound, OutboundError
from postwarden.transports.admission import ByteGate, ConnectionCounter
from postwarden.transports.failure import describe_failure
from postwarden.transports.relay_access import RelayAccess, SmtpLogin, owns_address
from postwarden.transports.relay_server import RelayServer, SpooledEnvelope, peer_host
from postwarden.transports.reply import TEMPFAIL
from postwarden.transports.server_tls import ServerTls
from postwarden.transports.smtp_auth import MAX_FAILURES, SmtpAuthenticator
from postwarden.transports.smtp_path import Mailbox, PathError, parse_mailbox

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
        return SmtpReply(554, "5.5.0", f"{text}: {refused}")
    if exc.temporary:
        return SmtpReply(451, "4.4.0", text)
    return SmtpReply(554, "5.0.0", text)


@dataclass(slots=True)
class RelayHandler:
    """aiosmtpd handler: who may send (MAIL, RCPT, AUTH), and at end of DATA run the gateway,
    then forward, hold or refuse."""

    gateway: Gateway
    outbound: Outbound
    timeout: float = 240.0
    """Seconds for inspection plus forwarding before we answer 451."""
    executor: Executor | None = None
    access: RelayAccess | None = None
    """Client networks, senders, recipient cap, deadlines; default: the gateway's settings."""
    admit: Callable[[int], AbstractAsyncContextManager[object]] | None = None
    """Entered with the message size around reading, inspecting and forwarding it: the
    process's memory gate (``ByteGate.admit_message``), so concurrent large messages wait
    their turn on disk (within ``timeout``, then 451) instead of all being inspected at once;
    default: a gate of the settings' ``access.inspection_memory_bytes``."""
    active: int = 0
    """Transactions between end of DATA and our reply."""
    _idle: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _auth: SmtpAuthenticator | None = field(default=None, init=False, repr=False)
    rules: RelayAccess = field(init=False)
    """``access``, or the gateway settings' when not given."""
    _logins: weakref.WeakKeyDictionary[SmtpSession, SmtpLogin] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )
    _auth_failures: weakref.WeakKeyDictionary[SmtpSession, int] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self._idle.set()
        self.rules = self.access or RelayAccess.from_settings(self.gateway.settings)
        if self.admit is None:
            self.admit = ByteGate(
                self.gateway.settings.access.inspection_memory_bytes
            ).admit_message
        if self.rules.auth:
            self._auth = SmtpAuthenticator(self.gateway)

    # -- who may send ------------------------------------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        tls = _under_tls(session)
        # Under --require-tls AUTH is refused before STARTTLS: do not offer it there either.
        plain_ok = tls or not server.require_starttls
        if plain_ok and self.rules.may_authenticate(peer_host(session.peer), tls):
            return responses
        return [r for r in responses if not r[4:].upper().startswith("AUTH")]

    async def handle_AUTH(
        self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope, args: list[str]
    ) -> str | None:
        if self._auth is None or not self.rules.may_authenticate(
            peer_host(session.peer), _under_tls(session)
        ):
            return "502 5.5.1 Error: AUTH not available"
        if self._auth_failures.get(session, 0) >= MAX_FAILURES:
            return "421 4.7.0 Error: too many failed authentication attempts"
        reply, login = await self._auth.authenticate(server, args)
        if login is not None:
            session.authenticated = True
            self._logins[session] = login
        elif reply:
            self._auth_failures[session] = self._auth_failures.get(session, 0) + 1
        return reply or None

    async def handle_MAIL(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        login = self._logins.get(session)
        refusal = self._sender_refusal(address, peer_host(session.peer), login)
        if refusal is not None:
            log.warning(
                "relay: MAIL from %s refused (%s): %s",
                peer_host(session.peer),
                login.name if login else "no login",
                refusal,
            )
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    def _sender_refusal(self, address: str, host: str, login: SmtpLogin | None) -> str | None:
        rules = self.rules
        sender: Mailbox | None = None
        if address not in ("", "<>"):
            try:
                sender = parse_mailbox(address)
            except PathError as exc:
                return f"553 5.1.3 Error: malformed address: {exc}"
        if login is None and not rules.networks.allows(host):
            if rules.may_authenticate(host):
                return "530 5.7.0 Error: authentication required"
            return f"554 5.7.1 Error: client host [{host}] is not allowed to use this relay"
        if login is not None:
            # Signed in: only as oneself (RFC 4954 §3; Postfix's reject_sender_login_mismatch).
            if sender is None or not owns_address(login, sender, rules.subaddress_separators):
                return f"553 5.7.1 Error: sender address not owned by user {login.name}"
            return None
        if sender is None:
            return None  # a bounce, from an allowed client network
        if not rules.foreign_senders and not rules.in_org(sender):
            return "550 5.7.1 Error: sender address is not in the organisation's domains"
        return None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.rules.max_recipients:
            # RFC 5321 §4.5.3.1.10: a server's recipient limit is answered 452; the client
            # sends the rest in another transaction.
            return "452 4.5.3 Error: too many recipients"
        try:
            parse_mailbox(address)
        except PathError as exc:
            return f"553 5.1.3 Error: malformed address: {exc}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    # -- the message -------------------------------------------------------------------------

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
            self.gateway.events.tempfail("relay", "timeout")
            return str(TEMPFAIL)
        except Exception as exc:
            log.error("relay %s: tempfail after %s", relay_id, describe_failure(exc))
            self.gateway.events.error("relay", type(exc).__name__)
            self.gateway.events.tempfail("relay", "error")
            return str(TEMPFAIL)
        finally:
            self.active -= 1
            if not self.active:
                self._idle.set()
        if 400 <= reply.code < 500:
            # A gateway bug answered as 4xx (see _decide), or the next hop's temporary refusal.
            self.gateway.events.tempfail("relay", "error" if reply is TEMPFAIL else "next-hop")
        log.info("relay %s: %s", relay_id, reply.code)
        return str(reply)

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd answers 500 on an unhandled error, which bounces mail; we answer 451."""
        log.error("relay: tempfail after %s", describe_failure(error))
        self.gateway.events.error("relay", type(error).__name__)
        self.gateway.events.tempfail("relay", "error")
        return str(TEMPFAIL)

    async def _handle(self, relay_id: str, envelope: SmtpEnvelope) -> SmtpReply:
        size = _content_size(envelope)
        async with self.admit(size) if self.admit else contextlib.nullcontext():
            return await self._decide(relay_id, envelope)

    async def _decide(self, relay_id: str, envelope: SmtpEnvelope) -> SmtpReply:
        raw = await self._run(partial(_content, envelope))
        env = Envelope(sender=null_sender(envelope.mail_from), recipients=tuple(envelope.rcpt_tos))
        outcome: Outcome = await self._run(
            partial(self.gateway.process, raw, env, queue_id=relay_id)
        )
        if outcome.disposition == "reject":
            reply = outcome.smtp_reply
            # A reject must be a 5xx; anything else is a gateway bug, and bugs tempfail.
            return reply if reply.code >= 500 else TEMPFAIL
        if outcome.disposition == "quarantined":
            # The quarantine copy is committed: now the 250 may go out.
            return SmtpReply(250, "2.0.0", f"Ok: held for review as {outcome.quarantine_id}")
        if outcome.disposition != "deliver":
            raise ValueError(f"unknown disposition {outcome.disposition!r}")
        marked = with_header(raw, VERDICT_HEADER, outcome.verdict.action.label)
        del raw  # one copy of a large message is enough while it is forwarded
        try:
            await self._run(partial(self.outbound.send, marked, env.sender, env.recipients))
        except OutboundError as exc:
            return forward_failure_reply(exc)
        return SmtpReply(250, "2.0.0", f"Ok: delivered as {relay_id}")

    async def _run(self, call: Callable[[], _T]) -> _T:
        # The gateway and smtplib block; they run in threads so the loop keeps serving.
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)


def _under_tls(session: SmtpSession) -> bool:
    """The session runs over TLS (aiosmtpd sets ``ssl`` once STARTTLS completed)."""
    return session.ssl is not None


def _content_size(envelope: SmtpEnvelope) -> int:
    if isinstance(envelope, SpooledEnvelope):
        return envelope.size
    return len(envelope.original_content or b"")


def _content(envelope: SmtpEnvelope) -> bytes:
    """The message as inspected and forwarded: from the spool file (our server, already with
    canonical line ends), else aiosmtpd's in-memory content."""
    if isinstance(envelope, SpooledEnvelope) and envelope.spool is not None:
        envelope.spool.seek(0)
        return envelope.spool.read()
    return canonical_line_ends(bytes(envelope.original_content or b""))


def relay_smtp(
    handler: RelayHandler,
    *,
    hostname: str | None = None,
    size_limit: int = DEFAULT_SIZE_LIMIT,
    slots: ConnectionCounter | None = None,
    tls: ServerTls | None = None,
) -> SMTP:
    """One protocol instance for one client connection; ``slots`` counts the listener's
    connections (one instance shared by every connection of a listener); ``tls`` offers
    STARTTLS with its current certificate."""
    # data_size_limit: we answer 552 past it and announce SIZE in EHLO (RFC 1870).
    # auth_require_tls=False lets AUTH run without TLS; the handler offers it to loopback
    # clients only (and under TLS to the client networks), and only with --auth.
    return RelayServer(
        handler,
        access=handler.rules,
        slots=slots if slots is not None else handler.rules.connection_counter(),
        hostname=hostname,
        data_size_limit=size_limit,
        auth_require_tls=not handler.rules.auth,
        tls_context=tls.context if tls is not None else None,
        require_starttls=tls is not None and tls.required,
    )


async def start_relay(
    handler: RelayHandler,
    host: str,
    port: int,
    *,
    hostname: str | None = None,
    size_limit: int = DEFAULT_SIZE_LIMIT,
    slots: ConnectionCounter | None = None,
    tls: ServerTls | None = None,
) -> asyncio.Server:
    """Listen on ``host:port`` in the running loop; ``slots`` counts its connections."""
    loop = asyncio.get_running_loop()
    slots = slots if slots is not None else handler.rules.connection_counter()
    return await loop.create_server(
        lambda: relay_smtp(handler, hostname=hostname, size_limit=size_limit, slots=slots, tls=tls),
        host,
        port,
    )
