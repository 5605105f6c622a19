"""``postwarden init``: create the data dir, its secret and settings."""

from __future__ import annotations

from typing import Annotated

import typer

from postwarden.cli.common import UsageError, state
from postwarden.settings import SettingsError, init_data_dir


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
) -> None:
    """Create (or update) the data dir: settings, per-installation secret (mode 0600)."""
    st = state(ctx)
    try:
        settings = init_data_dir(st.data_dir, org_domain, partner_domain, next_hop, database_url)
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    typer.echo(f"initialised {settings.data_dir} for {', '.join(settings.org_domains)}")
