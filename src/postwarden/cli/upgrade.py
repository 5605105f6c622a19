"""``postwarden upgrade``: bring the data dir and its database to this version."""

from __future__ import annotations

import typer

from postwarden import __version__
from postwarden.cli.common import state
from postwarden.i18n import _


def upgrade(ctx: typer.Context) -> None:
    # Imported here: the command line's start-up stays free of the database code.
    from postwarden.cli.audit import cli_actor
    from postwarden.upgrade import upgrade_installation

    settings = state(ctx).settings()
    typer.echo(
        _("postwarden {version}: upgrading {data_dir}").format(
            version=__version__, data_dir=settings.data_dir
        )
    )
    report = upgrade_installation(settings, actor=cli_actor())
    for line in report.lines:
        typer.echo(line)
    typer.echo(_("upgrade done") if report.changed else _("nothing to upgrade"))
