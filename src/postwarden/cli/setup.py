"""``postwarden init``: create the data dir, its secret and settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from postwarden.cli.common import UsageError, state
from postwarden.cli.tls_options import NextHopCa, NextHopName, NextHopTlsMode, next_hop_tls_option
from postwarden.i18n import _
from postwarden.settings import (
    Settings,
    SettingsError,
    create_cluster_key,
    init_data_dir,
    save_settings,
)


def init(
    ctx: typer.Context,
    org_domain: Annotated[
        list[str], typer.Option("--org-domain", help=_("The organisation's own domain (repeat)."))
    ],
    partner_domain: Annotated[
        list[str] | None,
        typer.Option("--partner-domain", help=_("A partner organisation's domain (repeat).")),
    ] = None,
    next_hop: Annotated[
        str | None,
        typer.Option("--next-hop", help=_("HOST:PORT where delivered and released mail goes.")),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help=_("PostgreSQL URL (default: SQLite)."))
    ] = None,
    next_hop_tls: NextHopTlsMode = None,
    next_hop_ca: NextHopCa = None,
    next_hop_name: NextHopName = None,
    quarantine_store: Annotated[
        str | None,
        typer.Option(
            "--quarantine-store",
            help=_("Where held messages live: local, database or s3 (a cluster: docs/cluster.md)."),
        ),
    ] = None,
    node_id: Annotated[
        str | None, typer.Option("--node-id", help=_("This cluster node's name (default: host)."))
    ] = None,
    s3_bucket: Annotated[str | None, typer.Option("--s3-bucket", help=_("Bucket (s3)."))] = None,
    s3_endpoint: Annotated[
        str | None, typer.Option("--s3-endpoint", help=_("http(s)://HOST:PORT of the S3 server."))
    ] = None,
    s3_region: Annotated[str | None, typer.Option("--s3-region", help=_("Region (s3)."))] = None,
) -> None:
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
        cluster = {
            "quarantine_store": quarantine_store,
            "node_id": node_id,
            "s3_bucket": s3_bucket,
            "s3_endpoint": s3_endpoint,
            "s3_region": s3_region,
        }
        given = {k: v for k, v in cluster.items() if v is not None}
        if given:
            settings = replace(settings, cluster=settings.cluster.with_overrides(given))
            save_settings(settings)
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    typer.echo(
        _("initialised {data_dir} for {org_domains}").format(
            data_dir=settings.data_dir, org_domains=", ".join(settings.org_domains)
        )
    )
    if settings.cluster.shared and create_cluster_key(settings):
        typer.echo(
            _(
                "created the cluster key {path}: copy it and secret.key to "
                "every other node before its init (docs/cluster.md)"
            ).format(path=settings.cluster_key_file)
        )
