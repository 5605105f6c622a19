"""``postwarden serve | milter | relay``: the long-running front ends."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from postwarden.act import Gateway
from postwarden.cli.common import OperationalError, UsageError, state
from postwarden.cli.tls_options import (
    NextHopCa,
    NextHopName,
    NextHopTlsMode,
    RequireTls,
    TlsCert,
    TlsKey,
    next_hop_tls_option,
    server_tls_option,
)
from postwarden.console import create_console
from postwarden.hardening import forbid_core_dumps
from postwarden.i18n import _
from postwarden.outbound import NextHopTls, Outbound, outbound_from
from postwarden.settings import Settings, parse_host_port
from postwarden.transports.admission import ByteGate
from postwarden.transports.http import create_api
from postwarden.transports.milter import MilterService, run_milter
from postwarden.transports.relay import DEFAULT_SIZE_LIMIT, RelayHandler
from postwarden.transports.relay_access import RelayAccess
from postwarden.transports.serve import Listener, serve

_MILTER_SOCKET = re.compile(r"(inet6?:\d{1,5}(@\S+)?|(unix|local):/\S+)")

NextHop = Annotated[
    str | None,
    typer.Option(
        "--next-hop",
        help=_("HOST:PORT for delivered and released mail (default: the data dir's settings)."),
    ),
]
Outbox = Annotated[
    Path | None,
    typer.Option("--outbox", help=_("Deliver into this folder instead of over SMTP.")),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout", help=_("Seconds per message before answering 4xx (keep under the MTA's).")
    ),
]
MaxBytes = Annotated[
    int, typer.Option("--max-message-bytes", help=_("Largest message taken for inspection."))
]
ClientNetwork = Annotated[
    list[str] | None,
    typer.Option(
        "--client-network",
        help=_(
            "CIDR whose clients may relay (repeat); replaces settings access.client_networks "
            "for this run (default there: loopback)."
        ),
    ),
]
ForeignSenders = Annotated[
    bool | None,
    typer.Option(
        "--foreign-senders/--org-senders-only",
        help=_(
            "Take envelope senders outside the organisation's domains (a content_filter "
            "behind an MTA that did its own relay control); default: settings "
            "access.foreign_senders (off)."
        ),
        show_default=False,
    ),
]
Auth = Annotated[
    bool,
    typer.Option(
        "--auth",
        help=_(
            "Offer SMTP AUTH (PLAIN, LOGIN) against the console users, to loopback "
            "clients only; a signed-in user sends only as their own address."
        ),
    ),
]


MetricsListen = Annotated[
    str | None,
    typer.Option(
        "--metrics",
        help=_(
            "HOST:PORT to serve Prometheus metrics on (/metrics, no authentication; "
            "docs/metrics.md)."
        ),
    ),
]


def milter(
    ctx: typer.Context,
    listen: Annotated[
        str,
        typer.Option("--listen", help=_("libmilter socket: inet:PORT@HOST or unix:/path.")),
    ] = "inet:10027@127.0.0.1",
    timeout: Timeout = 240.0,
    max_message_bytes: MaxBytes = DEFAULT_SIZE_LIMIT,
    metrics: MetricsListen = None,
    next_hop_tls: NextHopTlsMode = None,
    next_hop_ca: NextHopCa = None,
    next_hop_name: NextHopName = None,
) -> None:
    if not _MILTER_SOCKET.fullmatch(listen):
        raise UsageError(
            _("expected inet:PORT@HOST or unix:/path, got {listen!r}").format(listen=listen)
        )
    metrics_at = _listener(metrics, "--metrics") if metrics else None
    settings = state(ctx).settings()
    hop_tls = next_hop_tls_option(settings, next_hop_tls, next_hop_ca, next_hop_name)
    _logging()
    gateway = _gateway(settings, outbound_from(settings, tls=hop_tls))
    stop_metrics = _serve_metrics(gateway, metrics_at, "milter")
    service = MilterService(
        gateway,
        timeout=timeout,
        max_bytes=max_message_bytes,
        memory_bytes=settings.access.spool_bytes,
        gate=ByteGate(settings.access.inspection_memory_bytes),
    )
    try:
        run_milter(service, listen)
    except Exception as exc:  # libmilter reports a socket it cannot open as milter.error
        raise OperationalError(
            _("milter on {listen}: {exc}").format(listen=listen, exc=exc)
        ) from None
    finally:
        stop_metrics()
        gateway.close()


def relay(
    ctx: typer.Context,
    listen: Annotated[
        str, typer.Option("--listen", help=_("HOST:PORT to accept SMTP on."))
    ] = "127.0.0.1:10025",
    next_hop: NextHop = None,
    outbox: Outbox = None,
    timeout: Timeout = 240.0,
    max_message_bytes: MaxBytes = DEFAULT_SIZE_LIMIT,
    client_network: ClientNetwork = None,
    foreign_senders: ForeignSenders = None,
    auth: Auth = False,
    metrics: MetricsListen = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    require_tls: RequireTls = False,
    next_hop_tls: NextHopTlsMode = None,
    next_hop_ca: NextHopCa = None,
    next_hop_name: NextHopName = None,
) -> None:
    smtp = _listener(listen, "--listen")
    metrics_at = _listener(metrics, "--metrics") if metrics else None
    settings = state(ctx).settings()
    access = _access(settings, client_network, foreign_senders, auth)
    tls = server_tls_option(tls_cert, tls_key, require_tls)
    hop_tls = next_hop_tls_option(settings, next_hop_tls, next_hop_ca, next_hop_name)
    gateway, _gate, handler = _relay_gateway(
        settings, next_hop, outbox, [listen], hop_tls, access, timeout
    )
    stop_metrics = _serve_metrics(gateway, metrics_at, "relay")
    try:
        asyncio.run(serve(handler, smtp, size_limit=max_message_bytes, tls=tls))
    except OSError as exc:
        raise OperationalError(
            _("relay on {smtp}: {exc}").format(smtp=smtp, exc=exc.strerror or exc)
        ) from None
    finally:
        stop_metrics()
        gateway.close()


def serve_cmd(
    ctx: typer.Context,
    smtp: Annotated[
        str, typer.Option("--smtp", help=_("HOST:PORT for the SMTP relay."))
    ] = "127.0.0.1:2525",
    http: Annotated[
        str, typer.Option("--http", help=_("HOST:PORT for the HTTP check API."))
    ] = "127.0.0.1:8025",
    next_hop: NextHop = None,
    outbox: Outbox = None,
    timeout: Timeout = 240.0,
    max_message_bytes: MaxBytes = DEFAULT_SIZE_LIMIT,
    client_network: ClientNetwork = None,
    foreign_senders: ForeignSenders = None,
    auth: Auth = False,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    require_tls: RequireTls = False,
    next_hop_tls: NextHopTlsMode = None,
    next_hop_ca: NextHopCa = None,
    next_hop_name: NextHopName = None,
) -> None:
    smtp_listener = _listener(smtp, "--smtp")
    http_listener = _listener(http, "--http")
    settings = state(ctx).settings()
    access = _access(settings, client_network, foreign_senders, auth)
    tls = server_tls_option(tls_cert, tls_key, require_tls)
    hop_tls = next_hop_tls_option(settings, next_hop_tls, next_hop_ca, next_hop_name)
    gateway, gate, handler = _relay_gateway(
        settings, next_hop, outbox, [smtp, http], hop_tls, access, timeout
    )
    from postwarden import metrics  # here: only a server pays for prometheus_client

    scrape = metrics.install(gateway, "relay")
    api = create_api(
        settings,
        gateway.inspector,
        max_body_bytes=max_message_bytes,
        engine=gateway.engine,
        events=gateway.events,
        gate=gate,
    )
    api.add_route("/metrics", metrics.metrics_endpoint(scrape))
    api.mount("/", create_console(settings, gateway))  # after the API routes: they match first
    try:
        asyncio.run(
            serve(
                handler,
                smtp_listener,
                api,
                http_listener,
                size_limit=max_message_bytes,
                access=settings.access,
                tls=tls,
            )
        )
    except OSError as exc:
        raise OperationalError(_("serve: {exc}").format(exc=exc.strerror or exc)) from None
    finally:
        gateway.close()


def _relay_gateway(
    settings: Settings,
    next_hop: str | None,
    outbox: Path | None,
    listen: list[str],
    hop_tls: NextHopTls | None,
    access: RelayAccess,
    timeout: float,
) -> tuple[Gateway, ByteGate, RelayHandler]:
    """Logging on, the gateway, and the relay's handler with the process's one memory gate
    (where the API runs too, it takes turns with the relay in the same budget)."""
    _logging()
    outbound = _outbound(settings, next_hop, outbox, listen, hop_tls)
    gateway = _gateway(settings, outbound)
    gate = ByteGate(settings.access.inspection_memory_bytes)
    handler = RelayHandler(
        gateway, outbound, timeout=timeout, access=access, admit=gate.admit_message
    )
    return gateway, gate, handler


def _access(
    settings: Settings, networks: list[str] | None, foreign_senders: bool | None, auth: bool
) -> RelayAccess:
    """The relay's access controls: the settings' ``access``, with this run's overrides."""
    try:
        return RelayAccess.from_settings(
            settings, client_networks=networks or None, foreign_senders=foreign_senders, auth=auth
        )
    except ValueError as exc:
        option = "--client-network" if networks else f"{settings.settings_file} access"
        raise UsageError(_("{option}: {exc}").format(option=option, exc=exc)) from None


def _listener(text: str, option: str) -> Listener:
    try:
        host, port = parse_host_port(text)
    except ValueError as exc:
        raise UsageError(_("{option}: {exc}").format(option=option, exc=exc)) from None
    return Listener(host, port)


def _outbound(
    settings: Settings,
    next_hop: str | None,
    outbox: Path | None,
    listen: list[str],
    tls: NextHopTls | None = None,
) -> Outbound:
    try:
        return outbound_from(settings, next_hop, outbox, listen=listen, tls=tls)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _serve_metrics(gateway: Gateway, at: Listener | None, front: str) -> Callable[[], None]:
    """Count ``gateway``'s events and serve them on ``at``; returns the stop function."""
    if at is None:
        return lambda: None
    from postwarden import metrics  # here: only a server pays for prometheus_client

    try:
        return metrics.serve_metrics(metrics.install(gateway, front), at.host, at.port)
    except OSError as exc:
        gateway.close()
        raise OperationalError(
            _("metrics on {at}: {exc}").format(at=at, exc=exc.strerror or exc)
        ) from None


def _gateway(settings: Settings, outbound: Outbound) -> Gateway:
    # Every listener (milter, relay, serve with the console) comes through here, before it
    # loads the register key or takes any mail.
    forbid_core_dumps()
    gateway = Gateway.from_settings(settings, outbound=outbound)
    if settings.cluster.shared:
        from postwarden.cluster import ClusterWorker

        # The cluster's registers before the inspector loads them; then a daemon thread keeps
        # them current and finishes releases other nodes left in flight.
        worker = ClusterWorker(gateway)
        worker.run_once()
        worker.start()
    # Load detectors, registers and policy now: errors show at start, not on the first
    # message, and the first message does not pay for the loading.
    _loaded = gateway.inspector
    return gateway


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
