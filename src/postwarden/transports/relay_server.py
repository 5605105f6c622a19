"""The relay's SMTP protocol: aiosmtpd's server with a client gate, deadlines and DATA on disk.

aiosmtpd's own ``timeout`` restarts on every command and closes the socket without a reply,
so a client that sends a NOOP now and then (or trickles a message) keeps its connection; and
it collects DATA as a list of lines in memory, then joins them. This subclass adds, per
connection: a connection cap and client-network check before the greeting; deadlines for each
command, for the whole DATA and for the whole session, answered ``421 4.4.2``; strict envelope
addresses; and DATA written to a spooled temporary file with canonical line ends.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from typing import IO, Any, AnyStr

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from postwarden.transports.admission import ConnectionCounter
from postwarden.transports.relay_access import RelayAccess
from postwarden.transports.smtp_path import PathError, split_path

__all__ = ["RelayServer", "SpooledEnvelope", "peer_host"]

log = logging.getLogger(__name__)

# After a 421 the client has this long to read it before the socket is cut regardless.
_CLOSE_GRACE = 2.0
# A refused client is answered 503 this many times at most before we hang up.
_REFUSED_COMMANDS = 5
# aiosmtpd's refusal under require_starttls, given its RFC 3463 code (RFC 3207 §4).
_STARTTLS_FIRST = "530 Must issue a STARTTLS command first"
_STARTTLS_FIRST_ENHANCED = "530 5.7.0 Must issue a STARTTLS command first"


def peer_host(peer: Any) -> str:
    """The address part of aiosmtpd's ``session.peer`` (a socket address tuple)."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


class SpooledEnvelope(SmtpEnvelope):
    """An envelope whose content is in ``spool`` (canonical CRLF line ends, dots unstuffed)
    instead of ``original_content``."""

    def __init__(self) -> None:
        super().__init__()
        self.spool: IO[bytes] | None = None
        self.size = 0

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None


class RelayServer(SMTP):
    """One client connection of the relay."""

    def __init__(
        self, handler: Any, *, access: RelayAccess, slots: ConnectionCounter, **kwargs: Any
    ) -> None:
        # aiosmtpd's timer only backs ours up: it restarts on each command and would also run
        # while we inspect a message (it does not know a reply is pending).
        kwargs.setdefault("timeout", access.session_timeout + 900)
        super().__init__(handler, **kwargs)
        self.access = access
        self.slots = slots
        self._host = ""
        self._counted = False
        self._refusal: str | None = None
        self._in_data = False
        self._busy = False
        self._session_over = False
        self._phase_timer: asyncio.TimerHandle | None = None
        self._session_timer: asyncio.TimerHandle | None = None
        self._abort_timer: asyncio.TimerHandle | None = None

    # -- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if not first:
            return  # STARTTLS re-enters here; the gate and the deadlines are already set
        self._host = peer_host(transport.get_extra_info("peername"))
        why = self.slots.take(self._host)
        if why is not None:
            log.warning("relay: refused %s: %s", self._host, why)
            self._refusal = f"421 4.7.0 {self.hostname} Error: {why}, try again later"
            return
        self._counted = True
        if not self.access.networks.allows(self._host) and not self.access.may_authenticate(
            self._host
        ):
            log.warning("relay: refused %s: not in the client networks", self._host)
            self._refusal = (
                f"554 5.7.1 {self.hostname} Error: client host [{self._host}] "
                "is not allowed to use this relay"
            )
        self._session_timer = self.loop.call_later(
            self.access.session_timeout, self._session_deadline
        )
        self._arm(self.access.command_timeout, "command")

    def connection_lost(self, error: Exception | None) -> None:
        for timer in (self._phase_timer, self._session_timer, self._abort_timer):
            if timer is not None:
                timer.cancel()
        if self._counted:
            self._counted = False
            self.slots.close(self._host)
        envelope = self.envelope
        if isinstance(envelope, SpooledEnvelope):
            envelope.close()
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if not self._in_data and b"\n" in data:
            # A command line is complete: we work on it and owe a reply; the client's clock
            # starts again when that reply is out (see push).
            self._busy = True
            self._disarm()
        super().data_received(data)

    async def _handle_client(self) -> None:
        # aiosmtpd has no hook before its 220 greeting; RFC 5321 §3.1 lets a server greet
        # with 554 instead (then wait for QUIT, answering 503), and §3.8 close after 421.
        if self._refusal is None:
            await super()._handle_client()
            return
        await self.push(self._refusal)
        if self._refusal.startswith("421"):
            self._close()
            return
        try:
            for _ in range(_REFUSED_COMMANDS):
                line = await self._reader.readline()
                if not line:
                    break
                if line.strip().upper() == b"QUIT":
                    await self.push("221 2.0.0 Bye")
                    break
                await self.push("503 5.5.1 Error: this client may not use this relay")
        except (ValueError, ConnectionError):  # an over-long line, a reset
            pass
        finally:  # also when cancelled: the client hung up (aiosmtpd cancels us on EOF)
            self._close()

    # -- replies and deadlines -------------------------------------------------------------

    async def push(self, status: AnyStr) -> None:
        if status == _STARTTLS_FIRST:
            status = _STARTTLS_FIRST_ENHANCED
        await super().push(status)
        if self._in_data or self.transport is None:
            return
        self._busy = False
        if self._session_over:
            self._expire("session")
        else:
            self._arm(self.access.command_timeout, "command")

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._phase_timer = self.loop.call_later(seconds, self._expire, what)

    def _disarm(self) -> None:
        if self._phase_timer is not None:
            self._phase_timer.cancel()
            self._phase_timer = None

    def _session_deadline(self) -> None:
        if self._busy:
            # A transaction is being decided: answer it first (the gateway's own timeout
            # bounds that), then close (push sees _session_over).
            self._session_over = True
        else:
            self._expire("session")

    def _expire(self, what: str) -> None:
        transport = self.transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return
        log.warning("relay: %s timeout for %s, closing", what, self._host)
        transport.write(
            f"421 4.4.2 {self.hostname} Error: {what} timeout exceeded, closing\r\n".encode()
        )
        self._close()

    def _close(self) -> None:
        transport = self.transport
        if not isinstance(transport, asyncio.WriteTransport) or transport.is_closing():
            return
        transport.close()  # flushes the 421 first
        # A client that does not read would keep close() waiting on a full buffer.
        self._abort_timer = self.loop.call_later(_CLOSE_GRACE, transport.abort)

    # -- commands ----------------------------------------------------------------------------

    def _create_envelope(self) -> SmtpEnvelope:
        old = getattr(self, "envelope", None)
        if isinstance(old, SpooledEnvelope):
            old.close()
        return SpooledEnvelope()

    async def smtp_MAIL(self, arg: str | None) -> None:
        if arg is not None and (bad := _bad_path(arg, "FROM:")):
            await self.push(bad)
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if arg is not None and (bad := _bad_path(arg, "TO:")):
            await self.push(bad)
            return
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, with the data deadline and the content spooled to a temp file
        (in memory up to ``spool_bytes``): concurrent large messages do not pile up in RAM."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        if not isinstance(envelope, SpooledEnvelope):
            raise TypeError("RelayServer envelopes are SpooledEnvelope")
        if not envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        self._in_data = True
        self._arm(self.access.data_timeout, "DATA")
        spool = tempfile.SpooledTemporaryFile(max_size=self.access.spool_bytes)
        envelope.spool = spool
        try:
            status = await self._receive(spool)
        finally:
            self._in_data = False
            self._busy = True
            self._disarm()
        if status is not None:
            self.envelope = self._create_envelope()
            await self.push(status)
            return
        spool.seek(0)
        envelope.size = _size(spool)
        reply = await self._call_handler_hook("DATA")
        self.envelope = self._create_envelope()
        await self.push(reply if isinstance(reply, str) else "250 2.0.0 OK")

    async def _receive(self, spool: IO[bytes]) -> str | None:
        """Read up to the lone dot into ``spool``; a reply when the message is refused."""
        limit = self.data_size_limit
        size = 0
        too_long = too_big = False
        while True:
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as exc:
                # A line past the stream limit: drop it, and the message (RFC 5321 §4.5.3.1.6).
                too_long = True
                await self._reader.read(exc.consumed)
                continue
            if line == b".\r\n":
                break
            size += len(line)
            if limit and size > limit:
                too_big = True
            if too_long or too_big:
                continue  # keep reading to the end of data, storing nothing
            if line.startswith(b"."):
                line = line[1:]  # RFC 5321 §4.5.2 transparency
            # Bare CR and LF inside a line become CRLF, as canonical_line_ends does for the
            # whole message: what we inspect is what we forward (reliability.md §7).
            body = line[:-2]
            if b"\r" in body or b"\n" in body:
                line = (
                    body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
                    + b"\r\n"
                )
            spool.write(line)
        if too_long:
            return "500 5.5.2 Error: line too long (RFC 5321 section 4.5.3.1.6)"
        if too_big:
            return "552 5.3.4 Error: message size exceeds fixed maximum message size"
        return None


def _size(spool: IO[bytes]) -> int:
    spool.seek(0, 2)
    size = spool.tell()
    spool.seek(0)
    return size


def _bad_path(arg: str, keyword: str) -> str | None:
    """``553 5.1.3`` for an envelope address outside the strict form, else None."""
    try:
        split_path(arg, keyword)
    except PathError as exc:
        return f"553 5.1.3 Error: malformed address: {exc}"
    return None
