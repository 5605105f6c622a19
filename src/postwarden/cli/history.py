"""``postwarden history``: learn who the organisation writes to from its sent mail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from postwarden.cli.common import UsageError, state
from postwarden.cli.inspector import open_database
from postwarden.i18n import _
from postwarden.store.db import session_factory
from postwarden.store.history import import_sent_mail

history_app = typer.Typer(
    help=_("Sending history: who the organisation writes to."), no_args_is_help=True
)


@history_app.command(
    "import",
    help=_("Learn from sent mail: who wrote to whom, how often, when, and under which names."),
)
def import_cmd(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help=_("A maildir, an mbox, or a folder of .eml files."))],
) -> None:
    settings = state(ctx).settings()
    if not path.exists():
        raise UsageError(_("no such file or folder: {path}").format(path=path))
    engine = open_database(settings)
    try:
        with session_factory(engine)() as session:
            stats = import_sent_mail(session, path)
            session.commit()
    finally:
        engine.dispose()
    typer.echo(
        _(
            "learnt from {messages} sent messages ({skipped} without sender or recipients skipped)"
        ).format(messages=stats.messages, skipped=stats.skipped)
    )
