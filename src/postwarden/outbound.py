"""How mail leaves the gateway: SMTP to the next hop, an outbox folder, or memory for tests.

Modelled on httpx's ``BaseTransport`` + ``MockTransport`` pair: everything that sends mail
(relay forwarding, quarantine release, sender notices) talks to one small protocol, and tests
swap in :class:`MemoryOutbound`.
"""

from __future__ import annotations

import base64
import json
import quopri
import re
import secrets
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import Message
from io import BytesIO
from pathlib import Path
from typing import Protocol

from postwarden.errors import PostwardenError
from postwarden.i18n import _
from postwarden.settings import Settings, fsync_dir, parse_host_port, write_atomic

__all__ = [
    "TLS_MODES",
    "MemoryOutbound",
    "NextHopTls",
    "Outbound",
    "OutboundError",
    "OutboxOutbound",
    "SentMessage",
    "SmtpOutbound",
    "check_no_loop",
    "next_hop_tls",
    "outbound_from",
    "wire_form",
]

MAX_LINE_OCTETS = 998
"""RFC 5322 §2.1.1 and RFC 5321 §4.5.3.1.6: at most 998 octets between two CRLFs."""

_BARE_EOL = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_ANY_EOL = re.compile(rb"\r\n|\r|\n")
_LONG_LINE = re.compile(rb"[^\r\n]{%d}" % (MAX_LINE_OCTETS + 1))
# compat32 keeps every header and body it does not have to touch as it was; headers longer
# than 998 octets are folded at whitespace, shorter ones are left alone.
_WIRE_POLICY = policy.compat32.clone(linesep="\r\n", max_line_length=MAX_LINE_OCTETS)
_DECODING_CTES = {"base64", "quoted-printable", "x-uuencode", "uuencode", "uue", "x-uue"}


class OutboundError(PostwardenError):
    """The message did not (fully) leave.

    ``temporary`` is True when trying again later may succeed (4xx, connection refused,
    timeout); ``refused`` maps recipients the next hop refused to ``(code, message)``;
    ``partial`` is True when some recipients were accepted, so a retry would duplicate.
    """

    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        refused: Mapping[str, tuple[int, str]] | None = None,
        partial: bool = False,
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.refused = dict(refused or {})
        self.partial = partial


class Outbound(Protocol):
    """Sends one message to its envelope recipients."""

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        """Hand ``raw`` over for ``recipients`` with envelope ``sender`` ("" is the null
        sender); return only once the receiver took responsibility, else raise
        :class:`OutboundError`."""
        ...


TLS_MODES = ("none", "opportunistic", "required", "verify")
"""TLS to the next hop, as Postfix's ``smtp_tls_security_level`` none / may / encrypt / secure."""


@dataclass(frozen=True, slots=True)
class NextHopTls:
    """How the SMTP client protects the hop to the next MTA.

    ``none``: plain SMTP. ``opportunistic``: STARTTLS when the next hop offers it, certificate
    not checked (it only defeats passive listening). ``required``: STARTTLS or no delivery
    (a temporary failure), certificate not checked. ``verify``: as required, and the
    certificate must chain to ``ca_file`` (default: the system's trust store) and name
    ``server_name`` (default: the next hop's host).
    """

    mode: str = "none"
    ca_file: str | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in TLS_MODES:
            raise ValueError(
                _("next hop TLS must be one of {modes}, not {mode!r}").format(
                    modes=", ".join(TLS_MODES), mode=self.mode
                )
            )
        if (self.ca_file or self.server_name) and self.mode != "verify":
            raise ValueError(_("a next hop CA file or server name needs next hop TLS 'verify'"))

    def context(self) -> ssl.SSLContext | None:
        """The client context, or None for plain SMTP; ValueError for an unreadable CA file."""
        if self.mode == "none":
            return None
        if self.mode == "verify":
            try:
                ctx = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    _("next hop CA file {ca_file}: {exc}").format(ca_file=self.ca_file, exc=exc)
                ) from None
        else:
            # Encryption without authentication, as Postfix's "may" and "encrypt": a
            # self-signed certificate is normal on an internal hop.
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


@dataclass(slots=True)
class SmtpOutbound:
    """SMTP to the next hop: an MTA port that does not loop back into the filter."""

    host: str
    port: int
    timeout: float = 60.0
    local_hostname: str | None = None
    tls: NextHopTls = field(default_factory=NextHopTls)

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if not recipients:
            raise OutboundError("no recipients", temporary=False)
        raw = wire_form(raw)
        try:
            with smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
            ) as smtp:
                self._starttls(smtp)
                refused = smtp.sendmail(sender, list(recipients), raw)
        except smtplib.SMTPRecipientsRefused as exc:
            # Every recipient was refused: temporary only if every refusal was a 4xx.
            codes = {rcpt: (int(code), _text(msg)) for rcpt, (code, msg) in exc.recipients.items()}
            raise OutboundError(
                f"{self._where()} refused every recipient",
                temporary=all(400 <= c < 500 for c, _ in codes.values()),
                refused=codes,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise OutboundError(
                f"{self._where()} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                temporary=400 <= exc.smtp_code < 500,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Connection refused, reset, timeout, disconnect: the message did not leave.
            raise OutboundError(f"{self._where()}: {exc}", temporary=True) from None
        if refused:
            raise OutboundError(
                f"{self._where()} refused {len(refused)} of {len(recipients)} recipients",
                temporary=False,
                refused={rcpt: (int(code), _text(msg)) for rcpt, (code, msg) in refused.items()},
                partial=True,
            )

    def _starttls(self, smtp: smtplib.SMTP) -> None:
        """STARTTLS as ``tls`` asks, before any envelope is sent; a required TLS that cannot
        be had (not offered, failed handshake, wrong certificate) raises a temporary
        failure, so the message waits in a queue instead of going in clear or to an
        impostor."""
        context = self.tls.context()
        if context is None:
            return
        smtp.ehlo()
        if not smtp.has_extn("starttls"):
            if self.tls.mode == "opportunistic":
                return
            raise OutboundError(
                f"{self._where()} offers no STARTTLS and TLS is {self.tls.mode}", temporary=True
            )
        # smtplib checks the certificate against the name it connected to (``_host``, also
        # sent as SNI) and has no parameter for another one; an expected name that differs
        # from the address (a next hop given as an IP) is set there.
        if self.tls.server_name:
            smtp._host = self.tls.server_name  # type: ignore[attr-defined]  # not in the stubs
        try:
            smtp.starttls(context=context)
        except smtplib.SMTPResponseException as exc:
            raise OutboundError(
                f"{self._where()} refused STARTTLS: {exc.smtp_code} {_text(exc.smtp_error)}",
                temporary=True,
            ) from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise OutboundError(f"{self._where()}: TLS failed: {exc}", temporary=True) from None

    def _where(self) -> str:
        return f"next hop {self.host}:{self.port}"


def wire_form(raw: bytes) -> bytes:
    """``raw`` as SMTP may carry it: CRLF line ends, no line over 998 octets.

    A message that already has both is returned unchanged, byte for byte, so DKIM and S/MIME
    signatures survive.  Bare LF or CR become CRLF: the SMTP and DKIM canonical form, which
    every signer signs, so this changes nothing a signature covers (and a lone ``.`` after a
    bare LF can no longer end DATA early at a receiver that splits lines differently).  Only
    when a line is still too long is the message rewritten, the least a receiver will take:
    a header is folded at whitespace (RFC 5322 §2.2.3), a leaf body part is re-encoded
    (text as quoted-printable, anything else as base64) with its decoded content unchanged;
    every other part keeps its bytes.  Receivers refuse such lines ("500 Line too long") or
    cut them (Postfix), which corrupts content; a signature over that part is lost either
    way.  What cannot be folded or re-encoded (a header without whitespace, a multipart
    preamble) is refused with a permanent :class:`OutboundError`.
    """
    if _BARE_EOL.search(raw):
        raw = _ANY_EOL.sub(b"\r\n", raw)
    if not _LONG_LINE.search(raw):
        return raw
    rewritten = _reencoded(raw)
    if _LONG_LINE.search(rewritten):
        raise OutboundError(
            f"the message has a line longer than {MAX_LINE_OCTETS} octets that can be neither "
            "folded nor re-encoded (RFC 5322 §2.1.1)",
            temporary=False,
        )
    return rewritten


def _reencoded(raw: bytes) -> bytes:
    """Re-encode every leaf part whose body has an over-long line; fold long headers."""
    msg = message_from_bytes(raw, policy=_WIRE_POLICY)
    reencoded = False
    for part in msg.walk():
        if part.get_content_maintype() in ("multipart", "message") or part.is_multipart():
            continue  # RFC 2045 §6.4: only leaf parts may carry base64 or quoted-printable
        body = part.get_payload(decode=True)
        if not isinstance(body, bytes) or not _LONG_LINE.search(_body_as_sent(part, body)):
            continue
        if part.get_content_maintype() == "text":
            # Text line breaks are CRLF in canonical form; quoted-printable hard breaks stand
            # for exactly that (RFC 2045 §6.7), so encode them as breaks, not as =0D.
            encoded, cte = quopri.encodestring(body.replace(b"\r\n", b"\n")), "quoted-printable"
        else:
            encoded, cte = base64.encodebytes(body), "base64"
        del part["Content-Transfer-Encoding"]
        part.set_payload(encoded.decode("ascii"))
        part["Content-Transfer-Encoding"] = cte
        reencoded = True
    if reencoded and "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"  # a Content-Transfer-Encoding means nothing without it
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_WIRE_POLICY).flatten(msg)
    return out.getvalue()


def _body_as_sent(part: Message, decoded: bytes) -> bytes:
    """A leaf part's body as it stands in the message (``decoded`` is it for 7bit, 8bit,
    binary and unknown encodings, which the email package passes through)."""
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte in _DECODING_CTES:
        return str(part.get_payload()).encode("ascii", "replace")
    return decoded


@dataclass(frozen=True, slots=True)
class SentMessage:
    raw: bytes
    sender: str
    recipients: tuple[str, ...]


@dataclass(slots=True)
class OutboxOutbound:
    """One ``.eml`` file per message in ``directory`` plus an envelope sidecar ``.json``.

    Both files are written to a temporary name, fsynced and renamed, and the directory is
    fsynced, so a message is either wholly there or not at all; the sidecar is written first
    so a reader that sees an ``.eml`` always finds its envelope.
    """

    directory: Path

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if not recipients:
            raise OutboundError("no recipients", temporary=False)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(6)}"
        envelope = {"sender": sender, "recipients": list(recipients)}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            write_durably(self.directory / f"{name}.json", json.dumps(envelope).encode() + b"\n")
            write_durably(self.directory / f"{name}.eml", raw)
        except OSError as exc:
            raise OutboundError(
                f"outbox {self.directory}: {exc.strerror}", temporary=True
            ) from None

    def messages(self) -> list[SentMessage]:
        """What the outbox holds, oldest first (for ``make run`` and tests)."""
        out = []
        for eml in sorted(self.directory.glob("*.eml")):
            env = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
            out.append(SentMessage(eml.read_bytes(), env["sender"], tuple(env["recipients"])))
        return out


@dataclass(slots=True)
class MemoryOutbound:
    """Keeps what it is given in :attr:`sent`; raises :attr:`error` instead when set."""

    sent: list[SentMessage] = field(default_factory=list)
    error: OutboundError | None = None

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(SentMessage(raw, sender, tuple(recipients)))


def write_durably(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``path`` via a temporary name (fsynced, renamed), then fsync the directory so the
    rename itself survives a power cut."""
    write_atomic(path, data, mode=mode)
    fsync_dir(path.parent)


def outbound_from(
    settings: Settings,
    next_hop: str | None = None,
    outbox: Path | None = None,
    *,
    listen: Sequence[str] = (),
    tls: NextHopTls | None = None,
) -> Outbound:
    """Where delivered and released mail goes, in this order: ``next_hop`` (HOST:PORT),
    ``outbox`` (a folder), the data dir's recorded next hop, else ``DATA_DIR/outbox``.

    ``listen`` names the process's own HOST:PORT listeners; a next hop equal to one of them
    would loop mail back into the filter and raises ValueError. ``tls`` protects the SMTP
    hop (default: the data dir's ``next_hop_tls``, ``next_hop_ca``, ``next_hop_name``).
    """
    if next_hop is not None and outbox is not None:
        raise ValueError(_("give a next hop or an outbox, not both"))
    if outbox is not None:
        return OutboxOutbound(outbox)
    hop = next_hop or settings.next_hop
    if hop is None:
        return OutboxOutbound(settings.data_dir / "outbox")
    host, port = parse_host_port(hop)
    check_no_loop((host, port), listen)
    if tls is None:
        tls = next_hop_tls(settings)
    tls.context()  # an unreadable CA file shows at start, not on the first message
    return SmtpOutbound(host, port, tls=tls)


def next_hop_tls(settings: Settings) -> NextHopTls:
    """The data dir's next hop TLS; ValueError names a bad setting."""
    return NextHopTls(settings.next_hop_tls, settings.next_hop_ca, settings.next_hop_name)


def check_no_loop(next_hop: tuple[str, int], listen: Sequence[str]) -> None:
    """Refuse a next hop that is one of our own listeners (it would inspect released mail
    again, hold it again, and never deliver it)."""
    hop_host, hop_port = next_hop
    hop_addrs = _addresses(hop_host)
    for text in listen:
        host, port = parse_host_port(text)
        if port != hop_port:
            continue
        addrs = _addresses(host)
        if host in ("0.0.0.0", "::", "") or hop_addrs & addrs:  # noqa: S104 - comparing, not binding
            raise ValueError(
                _(
                    "next hop {hop_host}:{hop_port} is this gateway's own listener {text}: "
                    "released and delivered mail would loop back into the filter"
                ).format(hop_host=hop_host, hop_port=hop_port, text=text)
            )


def _addresses(host: str) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return {host}


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
