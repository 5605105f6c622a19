"""``postwarden init``: create the data dir, its secret and settings."""

from __future__ import annotations

from typing import Annotated

import typer

from postwarden.cli.common import UsageError, state
from postwarden.cli.tls_options import NextHopCa, NextHopName, NextHopTlsMode, next_hop_tls_option
from postwarden.i18n import _
from postwarden.settings import Settings, SettingsError, init_data_dir


def init(
    ctx: typer.Context,
    org_domain: Annotated[
        list[str], typer.Option("--org-domain", help="The organisation's own domain (repeat).")
    ],
    partner_domain: Annotated[
        list[str] | None,
        typer.Option("--partner-domain", help="A partner organisation's domain (repeat)."),
    ] = None,
    next_hop: Annotated[
        str | None,
        typer.Option("--next-hop", help="HOST:PORT where delivered and released mail goes."),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="PostgreSQL URL (default: SQLite).")
    ] = None,
    next_hop_tls: NextHopTlsMode = None,
    next_hop_ca: NextHopCa = None,
    next_hop_name: NextHopName = None,
) -> None:
    """Create (or update) the data dir: settings, per-installation secret (mode 0600)."""
    st = state(ctx)
    hop_tls = (
        None
        if next_hop_tls is None and next_hop_ca is None and next_hop_name is None
        else next_hop_tls_option(Settings(st.data_dir), next_hop_tls, next_hop_ca, next_hop_name)
    )
    try:
        settings = init_data_dir(
            st.data_dir,
            org_domain,
            partner_domain,
            next_hop,
            database_url,
            next_hop_tls=hop_tls.mode if hop_tls else None,
            next_hop_ca=hop_tls.ca_file if hop_tls else None,
            next_hop_name=hop_tls.server_name if hop_tls else None,
        )
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    typer.echo(
        _("initialised {data_dir} for {org_domains}").format(
            data_dir=settings.data_dir, org_domains=", ".join(settings.org_domains)
        )
    )
