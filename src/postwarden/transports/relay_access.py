"""Who may hand mail to the relay, as whom, and what one client may cost (issue 10).

Not an open relay: clients only from the configured networks, envelope senders only in the
organisation's domains (unless ``foreign_senders``), a recipient cap per message, deadlines per
command, DATA and session, and caps on connections overall and per client address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from postwarden.i18n import _
from postwarden.settings import Access, Settings
from postwarden.transports.admission import ConnectionCounter
from postwarden.transports.smtp_path import Mailbox

__all__ = [
    "LOOPBACK",
    "ClientNetworks",
    "RelayAccess",
    "SmtpLogin",
    "owns_address",
]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


_DEFAULTS = Access()
"""The defaults are settings.Access's own, stated once there."""


@dataclass(frozen=True, slots=True)
class ClientNetworks:
    """Networks whose clients may use the relay (``Access.client_networks``)."""

    networks: tuple[_Network, ...]

    @classmethod
    def parse(cls, texts: Iterable[str]) -> ClientNetworks:
        """CIDR texts (``10.1.0.0/16``, ``::1/128``, a bare address) → networks; ValueError
        names a bad one. Host bits must be zero: ``10.1.2.3/16`` is refused as a likely typo."""
        nets: list[_Network] = []
        for text in texts:
            try:
                nets.append(ipaddress.ip_network(text.strip()))
            except ValueError as exc:
                raise ValueError(
                    _("not a client network: {text!r} ({exc})").format(text=text, exc=exc)
                ) from None
        return cls(tuple(nets))

    def allows(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            addr = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped  # a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d
        return any(addr.version == net.version and addr in net for net in self.networks)

    def __str__(self) -> str:
        return ", ".join(str(n) for n in self.networks) or "none"


LOOPBACK = ClientNetworks.parse(["127.0.0.0/8", "::1/128"])


@dataclass(frozen=True, slots=True)
class SmtpLogin:
    """A console user who signed in with SMTP AUTH, and the address they may send as."""

    name: str
    email: str | None


def owns_address(login: SmtpLogin, sender: Mailbox, separators: str) -> bool:
    """The user's own address, or a sub-address of it (``alice+tag@org`` for ``alice@org``)."""
    if not login.email:
        return False
    local, _, domain = login.email.rpartition("@")
    if sender.domain != domain.lower():
        return False
    mine = sender.local.lower()
    for sep in separators:
        if sep in mine:
            mine = mine.split(sep, 1)[0]
    return mine == local.lower()


@dataclass(frozen=True, slots=True)
class RelayAccess:
    """The relay's access controls, from ``settings.access`` plus per-run overrides."""

    networks: ClientNetworks = field(
        default_factory=lambda: ClientNetworks.parse(_DEFAULTS.client_networks)
    )
    org_domains: tuple[str, ...] = ()
    foreign_senders: bool = _DEFAULTS.foreign_senders
    max_recipients: int = _DEFAULTS.max_recipients
    subaddress_separators: str = _DEFAULTS.subaddress_separators
    command_timeout: float = _DEFAULTS.smtp_command_timeout
    data_timeout: float = _DEFAULTS.smtp_data_timeout
    session_timeout: float = _DEFAULTS.smtp_session_timeout
    max_connections: int = _DEFAULTS.max_connections
    max_connections_per_client: int = _DEFAULTS.max_connections_per_client
    spool_bytes: int = _DEFAULTS.spool_bytes
    auth: bool = False
    """SMTP AUTH (PLAIN, LOGIN) against the console users; off unless ``--auth``."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        client_networks: Iterable[str] | None = None,
        foreign_senders: bool | None = None,
        auth: bool = False,
    ) -> RelayAccess:
        """``settings.access``; ``client_networks`` and ``foreign_senders`` override it for
        one run."""
        a = settings.access
        return cls(
            networks=ClientNetworks.parse(
                a.client_networks if client_networks is None else client_networks
            ),
            org_domains=tuple(d.lower() for d in settings.org_domains),
            foreign_senders=a.foreign_senders if foreign_senders is None else foreign_senders,
            max_recipients=a.max_recipients,
            subaddress_separators=a.subaddress_separators,
            command_timeout=a.smtp_command_timeout,
            data_timeout=a.smtp_data_timeout,
            session_timeout=a.smtp_session_timeout,
            max_connections=a.max_connections,
            max_connections_per_client=a.max_connections_per_client,
            spool_bytes=a.spool_bytes,
            auth=auth,
        )

    def connection_counter(self) -> ConnectionCounter:
        """A counter for one listener's connections under this access's caps."""
        return ConnectionCounter(self.max_connections, self.max_connections_per_client)

    def in_org(self, sender: Mailbox) -> bool:
        """The sender's domain is one of the organisation's domains or a subdomain of one
        (as the engine counts a recipient internal)."""
        return any(sender.within(d) for d in self.org_domains)

    def may_authenticate(self, host: str | None, tls: bool = False) -> bool:
        """AUTH is offered only with ``--auth``: under TLS to clients of the allowed networks,
        without TLS only to loopback clients (a TLS terminator or webmail on the same host):
        a password never crosses a network in clear."""
        if not self.auth:
            return False
        return LOOPBACK.allows(host) or (tls and self.networks.allows(host))
