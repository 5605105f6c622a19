"""The TLS options of ``relay``, ``serve``, ``milter`` and ``init``, and what they build."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from postwarden.cli.common import UsageError
from postwarden.i18n import _

if TYPE_CHECKING:
    from postwarden.outbound import NextHopTls
    from postwarden.settings import Settings
    from postwarden.transports.server_tls import ServerTls

__all__ = [
    "NextHopCa",
    "NextHopName",
    "NextHopTlsMode",
    "RequireTls",
    "TlsCert",
    "TlsKey",
    "next_hop_tls_option",
    "server_tls_option",
]

TlsCert = Annotated[
    Path | None,
    typer.Option(
        "--tls-cert",
        help=_(
            "PEM certificate (leaf first, then its chain) to offer with STARTTLS; "
            "reloaded on SIGHUP."
        ),
    ),
]
TlsKey = Annotated[
    Path | None,
    typer.Option("--tls-key", help=_("PEM private key of --tls-cert; reloaded on SIGHUP.")),
]
RequireTls = Annotated[
    bool,
    typer.Option(
        "--require-tls",
        help=_("Refuse MAIL and AUTH before STARTTLS (530 5.7.0); needs --tls-cert."),
    ),
]
NextHopTlsMode = Annotated[
    str | None,
    typer.Option(
        "--next-hop-tls",
        help=_(
            "TLS to the next hop: none, opportunistic (STARTTLS if offered), required "
            "(STARTTLS or the mail waits) or verify (required, and the certificate must chain to "
            "--next-hop-ca and name --next-hop-name). Default: the data dir's settings (none)."
        ),
        show_default=False,
    ),
]
NextHopCa = Annotated[
    Path | None,
    typer.Option(
        "--next-hop-ca",
        help=_("CA file for --next-hop-tls verify (default: the system's trust store)."),
    ),
]
NextHopName = Annotated[
    str | None,
    typer.Option(
        "--next-hop-name",
        help=_(
            "Name the next hop's certificate must carry (--next-hop-tls verify; default: "
            "the next hop's host)."
        ),
    ),
]


def server_tls_option(cert: Path | None, key: Path | None, required: bool) -> ServerTls | None:
    """The relay's STARTTLS certificate from the options, or None without ``--tls-cert``."""
    from postwarden.transports.server_tls import ServerTls

    if cert is None and key is None:
        if required:
            raise UsageError(_("--require-tls needs --tls-cert and --tls-key"))
        return None
    if cert is None or key is None:
        raise UsageError(_("--tls-cert and --tls-key go together"))
    return ServerTls(cert, key, required=required)


def next_hop_tls_option(
    settings: Settings, mode: str | None, ca: Path | None, name: str | None
) -> NextHopTls:
    """The next hop TLS from the options, else from the data dir's settings."""
    from postwarden.outbound import NextHopTls, next_hop_tls

    try:
        if mode is None:
            if ca is not None or name is not None:
                raise UsageError(_("--next-hop-ca and --next-hop-name need --next-hop-tls verify"))
            tls = next_hop_tls(settings)
        else:
            tls = NextHopTls(mode, str(ca) if ca else None, name)
        tls.context()  # an unreadable CA file is a usage error now, not a tempfail later
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return tls
