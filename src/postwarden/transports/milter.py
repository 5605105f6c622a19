"""Postfix milter front end (pymilter): collect in callbacks, decide at end of message.

Three layers, as in purepythonmilter: the wire glue (:class:`PostwardenMilter`, pymilter
callbacks that only collect), the service (:class:`MilterService`, which calls the gateway
under a time limit) and a pure ``outcome → reply`` function (:func:`milter_reply`) returning
typed reply values that the glue turns into libmilter calls.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TypeVar, cast

import Milter

from postwarden.act import Gateway, Outcome
from postwarden.model import Envelope, SmtpReply
from postwarden.settings import Access
from postwarden.transports.admission import ByteGate, inspection_cost
from postwarden.transports.failure import describe_failure
from postwarden.transports.reply import TEMPFAIL
from postwarden.transports.spool import MessageSpool, MessageTooLarge

__all__ = [
    "VERDICT_HEADER",
    "Accept",
    "Discard",
    "MilterReply",
    "MilterService",
    "MilterSockets",
    "PostwardenMilter",
    "RejectWithCode",
    "TempFail",
    "milter_reply",
    "nodelay",
    "quickack",
    "run_milter",
]

log = logging.getLogger(__name__)

VERDICT_HEADER = "X-Postwarden-Verdict"

TOO_LARGE = SmtpReply(552, "5.3.4", "Message too large for content inspection")


@dataclass(frozen=True, slots=True)
class Accept:
    """Let the message go on, with these header fields added."""

    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class RejectWithCode:
    """Refuse the message permanently with this reply."""

    reply: SmtpReply


@dataclass(frozen=True, slots=True)
class Discard:
    """Take the message out of Postfix's flow (it is already durably in our quarantine)."""


@dataclass(frozen=True, slots=True)
class TempFail:
    """Answer 4xx: the client (or the queueing MTA in front) keeps the message and retries."""

    reply: SmtpReply = TEMPFAIL


MilterReply = Accept | RejectWithCode | Discard | TempFail


def milter_reply(outcome: Outcome) -> MilterReply:
    """What the milter answers for a gateway outcome."""
    if outcome.disposition == "deliver":
        return Accept(headers=((VERDICT_HEADER, outcome.verdict.action.label),))
    if outcome.disposition == "quarantined":
        return Discard()
    if outcome.disposition == "reject":
        reply = outcome.smtp_reply
        # A reject must be a 5xx; anything else is a gateway bug, and bugs tempfail.
        return RejectWithCode(reply) if reply.code >= 500 else TempFail()
    raise ValueError(f"unknown disposition {outcome.disposition!r}")


@dataclass(slots=True)
class MilterService:
    """Runs the gateway for each message under a wall-time limit; never raises."""

    gateway: Gateway
    timeout: float = 240.0
    """Seconds before we tempfail; must stay under Postfix's milter_content_timeout (300 s)."""
    max_bytes: int = 64 * 1024 * 1024
    memory_bytes: int = 1024 * 1024
    """A message past this size is collected in a temp file (``access.spool_bytes``)."""
    workers: int = 16
    gate: ByteGate = field(default_factory=lambda: ByteGate(Access().inspection_memory_bytes))
    """The process's memory gate (``access.inspection_memory_bytes``); each message is
    charged :func:`inspection_cost` of its size before it is read back and inspected."""
    _pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        # The gateway runs in a pool so the milter thread can stop waiting at the deadline; a
        # run that overshoots finishes in the background (at worst it stores a held copy of a
        # message the client will send again: a bounded duplicate, never a loss).
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="postwarden-milter")

    def decide(self, raw: bytes, envelope: Envelope, queue_id: str) -> MilterReply:
        return self._decide(lambda: raw, len(raw), envelope, queue_id)

    def decide_spooled(self, spool: MessageSpool, envelope: Envelope, queue_id: str) -> MilterReply:
        """:meth:`decide` for a collected message, read from its spool only once the gate
        admitted it: messages waiting their turn stay on disk."""
        return self._decide(spool.getvalue, spool.size, envelope, queue_id)

    def _decide(
        self, read: Callable[[], bytes], size: int, envelope: Envelope, queue_id: str
    ) -> MilterReply:
        started = time.monotonic()
        # The process's memory gate, shared with every other connection's thread: a message
        # that gets no turn within the deadline is tempfailed, never accepted unseen.
        taken = self.gate.acquire_blocking(inspection_cost(size), self.timeout)
        if taken is None:
            log.error(
                "queue %s: no inspection memory free within %.0f s: tempfail",
                queue_id,
                self.timeout,
            )
            return TempFail()
        try:
            future = self._pool.submit(self.gateway.process, read(), envelope, queue_id=queue_id)
        except Exception as exc:
            self.gate.release(taken)
            log.error("queue %s: tempfail after %s", queue_id, describe_failure(exc))
            return TempFail()
        # Given back when the inspection ends, also one that outlives our deadline.
        future.add_done_callback(lambda _done: self.gate.release(taken))
        try:
            remaining = max(0.0, self.timeout - (time.monotonic() - started))
            outcome = future.result(timeout=remaining)
            reply = milter_reply(outcome)
        except FutureTimeout:
            log.error("queue %s: no verdict within %.0f s: tempfail", queue_id, self.timeout)
            self.gateway.events.tempfail("milter", "timeout")
            return TempFail()
        except Exception as exc:
            # The outer edge: whatever went wrong, Postfix keeps the message.
            log.error("queue %s: tempfail after %s", queue_id, describe_failure(exc))
            self.gateway.events.error("milter", type(exc).__name__)
            self.gateway.events.tempfail("milter", "error")
            return TempFail()
        if isinstance(reply, TempFail):
            self.gateway.events.tempfail("milter", "error")
        elapsed = (time.monotonic() - started) * 1000
        log.info("queue %s: %s in %.0f ms", queue_id, type(reply).__name__.lower(), elapsed)
        return reply

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def quickack(fd: int) -> bool:
    """Ask the kernel to acknowledge what arrives on socket ``fd`` at once; False if gone.

    Over TCP, Postfix writes a milter command larger than its 4 KB stream buffer (the 20 KB
    SMFIC_BODY) in several writes, and Nagle holds the later ones until the first is
    acknowledged; Linux delays that ACK by up to 40 ms while libmilter, waiting for the rest
    of the command, has nothing to send.  Measured with benchmarks/gateway.py: +90 ms median
    per 20 KB message on ``inet:`` loopback.  Quick-ack mode ends by itself (the kernel falls
    back to delayed ACKs once the exchange looks interactive), so callers re-arm it before each
    large command.  The fd belongs to libmilter: we set the option through a duplicate.
    """
    return _setsockopt(fd, socket.TCP_QUICKACK)


def _setsockopt(fd: int, option: int) -> bool:
    """Set a TCP option on libmilter's socket; False if it is gone.

    One system call: the socket object wraps libmilter's fd with its kind given (so Python
    does not ask the kernel for it) and lets go of the fd without closing it.  Through a
    duplicate and with the kind detected it took seven, three of them giving up the GIL,
    three times per message (each a wait for the GIL when the inspections keep it busy).
    The family only matters to Python's address handling, never used here: an ``inet6``
    socket takes TCP options the same way.
    """
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fileno=fd)
    except (OSError, ValueError):  # ValueError: -1, a closed socket's fileno()
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, option, 1)
    except OSError:
        return False
    finally:
        sock.detach()
    return True


def nodelay(fd: int) -> bool:
    """Turn Nagle off on socket ``fd``: our replies go out at once; False if gone.

    At end of message libmilter writes two packets (SMFIR_ADDHEADER, then SMFIR_ACCEPT);
    with Nagle the second waits for Postfix's delayed ACK of the first, up to 40 ms.
    """
    return _setsockopt(fd, socket.TCP_NODELAY)


@dataclass(slots=True)
class MilterSockets:
    """Finds the TCP sockets libmilter accepted on ``port``, which pymilter does not expose."""

    port: int
    _claimed: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self) -> tuple[int, ...]:
        """At connect: the fds of accepted sockets no earlier connection took.

        Usually exactly one, this connection's.  When several connections arrive together
        we cannot tell them apart, so each takes all of them (re-arming quick ACKs on a
        neighbour's socket only makes its kernel ACK sooner) and none is marked taken.
        """
        with self._lock:
            present = dict(_accepted_sockets(self.port))
            # Closed connections' sockets are gone from the scan: forget them.
            self._claimed &= set(present.values())
            found = {inode: fd for fd, inode in present.items() if inode not in self._claimed}
            if len(found) == 1:
                self._claimed.update(found)
            return tuple(found.values())


def _accepted_sockets(port: int) -> list[tuple[int, int]]:
    """(fd, inode) of this process's connected TCP sockets whose local port is ``port``."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            info = os.fstat(fd)
            if not stat.S_ISSOCK(info.st_mode):
                continue
            with socket.socket(fileno=os.dup(fd)) as sock:
                if sock.type != socket.SOCK_STREAM or sock.family not in (
                    socket.AF_INET,
                    socket.AF_INET6,
                ):
                    continue
                if sock.getsockname()[1] != port:
                    continue
                sock.getpeername()  # the listening socket has no peer: OSError
        except OSError:
            continue
        found.append((fd, info.st_ino))
    return found


_F = TypeVar("_F", bound=Callable[..., int])

CONTINUE = int(Milter.CONTINUE)
NOREPLY = int(Milter.NOREPLY)


def _noreply(func: _F) -> _F:
    """pymilter's ``@noreply``, typed: Postfix does not wait for this callback's answer."""
    return cast(_F, Milter.noreply(func))


def _answer_optional(func: _F) -> _F:
    """Ask the MTA not to wait for this callback's answer, as pymilter's ``@noreply`` does,
    for a callback that answers ``NOREPLY`` itself once that was negotiated (``@noreply``
    would raise on anything but CONTINUE, and a test harness or an MTA without the option
    still gets a real answer)."""
    func.milter_protocol = Milter.OPTIONAL_CALLBACKS[func.__name__][0]  # type: ignore[attr-defined]
    return func


def _raw_bytes(func: _F) -> _F:
    """pymilter's ``@decode("bytes")``, typed: header values arrive undecoded."""
    return cast(_F, Milter.decode("bytes")(func))


@Milter.header_leading_space
class PostwardenMilter(Milter.Base):  # type: ignore[misc] # pymilter is untyped
    """One SMTP connection: collects envelope and message, asks the service at end of data."""

    def __init__(self, service: MilterService, sockets: MilterSockets | None = None) -> None:
        self.service = service
        self.sockets = sockets
        self.fds: tuple[int, ...] = ()
        self.sender = ""
        self.recipients: list[str] = []
        self.spool: MessageSpool | None = None
        self.too_large = False

    def _reset(self) -> None:
        if self.spool is not None:
            self.spool.close()
        self.spool = None
        self.sender = ""
        self.recipients = []
        self.too_large = False

    def _collect(self, write: Callable[[MessageSpool], None]) -> None:
        if self.too_large:
            return
        if self.spool is None:
            self.spool = MessageSpool(self.service.max_bytes, self.service.memory_bytes)
        try:
            write(self.spool)
        except MessageTooLarge:
            self.too_large = True
            self.spool.close()

    @property
    def _leading_space(self) -> bool:
        """Whether Postfix passes header values verbatim after the colon (P_HDR_LEADSPC)."""
        return bool(self._protocol & Milter.P_HDR_LEADSPC)

    def _quickack(self) -> None:
        for fd in self.fds:
            quickack(fd)

    @_noreply
    def connect(self, hostname: str, family: int, hostaddr: object) -> int:
        if self.sockets is not None:
            # Over TCP only: find our socket once, then tune it (see quickack, nodelay).
            self.fds = self.sockets.claim()
            for fd in self.fds:
                nodelay(fd)
        return CONTINUE

    @_noreply
    def envfrom(self, mailfrom: str, *params: str) -> int:
        self._reset()
        self._quickack()  # header commands come next; a long one spans several writes too
        self.sender = _address(mailfrom)
        return CONTINUE

    @_noreply
    def envrcpt(self, to: str, *params: str) -> int:
        self.recipients.append(_address(to))
        return CONTINUE

    @_noreply
    @_raw_bytes
    def header(self, name: str, value: bytes) -> int:
        leading = self._leading_space
        self._collect(lambda spool: spool.add_header(name, value, leading_space=leading))
        return CONTINUE

    @_noreply
    def eoh(self) -> int:
        self._quickack()  # the body comes next, in commands of up to 64 KB
        self._collect(MessageSpool.end_headers)
        return CONTINUE

    @_answer_optional
    def body(self, chunk: bytes) -> int:
        self._quickack()  # for the next chunk of a body over 64 KB
        self._collect(lambda spool: spool.add_body(chunk))
        if self._protocol & Milter.P_NR_BODY:
            # Postfix sends the next chunk or the end without waiting for us (one round trip
            # less per chunk); a message past the cap is refused at end of message instead.
            return NOREPLY
        if self.too_large:
            return self._apply(RejectWithCode(TOO_LARGE))
        return CONTINUE

    def eom(self) -> int:
        queue_id = str(self.getsymval("i") or "-")
        if self.too_large:
            return self._apply(RejectWithCode(TOO_LARGE))
        envelope = Envelope(sender=self.sender, recipients=tuple(self.recipients))
        try:
            if self.spool is None:
                return self._apply(self.service.decide(b"", envelope, queue_id))
            return self._apply(self.service.decide_spooled(self.spool, envelope, queue_id))
        finally:
            self._reset()

    def abort(self) -> int:
        self._reset()
        return CONTINUE

    def close(self) -> int:
        self._reset()
        return CONTINUE

    def _apply(self, reply: MilterReply) -> int:
        """Turn a reply value into libmilter calls and a callback result."""
        match reply:
            case Accept(headers=headers):
                # With P_HDR_LEADSPC negotiated the MTA takes our value verbatim after ':'.
                space = " " if self._leading_space else ""
                for name, value in headers:
                    self.addheader(name, space + value)
                return int(Milter.ACCEPT)
            case Discard():
                return int(Milter.DISCARD)
            case RejectWithCode(reply=r):
                self.setreply(str(r.code), r.status, _milter_text(r.text))
                return int(Milter.REJECT)
            case TempFail(reply=r):
                self.setreply(str(r.code), r.status, _milter_text(r.text))
                return int(Milter.TEMPFAIL)
        raise AssertionError(f"unhandled reply {reply!r}")  # pragma: no cover


def _address(arg: str) -> str:
    """``<a@b>`` → ``a@b``; ``<>`` (the null sender) → ``""``."""
    return arg.strip().removeprefix("<").removesuffix(">").strip()


def _milter_text(text: str) -> str:
    # libmilter silently drops a reply containing a single '%' (smfi_setreply).
    return text.replace("%", "%%")


def _inet_port(listen: str) -> int | None:
    """The TCP port of ``inet:PORT@HOST`` / ``inet6:PORT@HOST``; None for a unix socket."""
    kind, _, rest = listen.partition(":")
    if kind not in ("inet", "inet6"):
        return None
    return int(rest.partition("@")[0])


def run_milter(service: MilterService, listen: str, name: str = "postwarden") -> None:
    """Serve on ``listen`` (libmilter syntax: ``inet:PORT@HOST``, ``unix:/path``) until
    SIGTERM/SIGINT; libmilter runs one thread per MTA connection."""
    port = _inet_port(listen)
    sockets = MilterSockets(port) if port is not None else None
    Milter.factory = lambda: PostwardenMilter(service, sockets)
    # Declare the one modification we make, so the MTA needs to offer no more.
    Milter.set_flags(Milter.ADDHDRS)
    log.info("milter listening on %s", listen)
    try:
        Milter.runmilter(name, listen, timeout=600)
    finally:
        service.shutdown()
