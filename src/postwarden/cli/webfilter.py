"""``postwarden webfilter export``: the webmail blocklist for a web proxy or DNS resolver."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from postwarden.cli.common import OperationalError
from postwarden.i18n import _
from postwarden.webfilter import BlocklistFormat, export_blocklist

webfilter_app = typer.Typer(
    help=_("Stop webmail browsing: blocklists from the webmail provider list."),
    no_args_is_help=True,
)


@webfilter_app.command(
    "export", help=_("Export the webmail provider list in a proxy or DNS format.")
)
def export(
    fmt: Annotated[
        BlocklistFormat,
        typer.Option("--format", help=_("squid (dstdomain ACL), pac, rpz (zone file) or hosts.")),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help=_("Write to this file (default: standard output)."))
    ] = None,
    block_proxy: Annotated[
        str,
        typer.Option("--block-proxy", help=_("PAC only: the PROXY blocked hosts are sent to.")),
    ] = "127.0.0.1:9",
) -> None:
    text = export_blocklist(fmt, block_proxy=block_proxy)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OperationalError(
            _("cannot write {out}: {strerror}").format(out=out, strerror=exc.strerror)
        ) from None
