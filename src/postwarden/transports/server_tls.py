"""The relay's STARTTLS certificate: modern protocol versions only, reloaded on SIGHUP."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from postwarden.errors import Invalid
from postwarden.i18n import _

__all__ = ["ServerTls", "TlsError", "server_context"]

log = logging.getLogger(__name__)


class TlsError(Invalid):
    """The certificate or key cannot be loaded."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for ``cert`` (PEM, chain after the leaf) and ``key``: TLS 1.2 and
    later, the library's default ciphers, no compression, no client certificates."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # OpenSSL 3 builds have compression off already; say so for older ones (CRIME).
    ctx.options |= ssl.OP_NO_COMPRESSION
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(
            _("cannot load TLS certificate {cert} with key {key}: {exc}").format(
                cert=cert, key=key, exc=exc
            )
        ) from None
    return ctx


@dataclass(slots=True)
class ServerTls:
    """The certificate the relay offers with STARTTLS, and whether plain sessions may send.

    Each new connection takes :attr:`context` as it stands; :meth:`reload` (on SIGHUP) swaps
    in a context built from the files as they are now, so a renewed certificate is used by
    new sessions without a restart, and sessions in progress keep theirs.
    """

    cert: Path
    key: Path
    required: bool = False
    """Refuse MAIL, RCPT, DATA and AUTH before STARTTLS (``530 5.7.0``)."""
    context: ssl.SSLContext = field(init=False)

    def __post_init__(self) -> None:
        self.context = server_context(self.cert, self.key)

    def reload(self) -> bool:
        """Load the files again; on failure keep the current context (and say why)."""
        try:
            self.context = server_context(self.cert, self.key)
        except TlsError as exc:
            log.error("TLS reload failed, keeping the previous certificate: %s", exc)
            return False
        log.info("TLS certificate reloaded from %s", self.cert)
        return True
