"""``postwarden audit``: verify the hash chain, export its head; the database helpers the
other gateway commands share."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from postwarden.cli.common import OperationalError, state
from postwarden.i18n import _
from postwarden.store import audit
from postwarden.store.anchor import anchor_engine, anchor_file, anchored_head
from postwarden.store.db import open_database

audit_app = typer.Typer(help=_("The hash-chained audit log."), no_args_is_help=True)


def cli_actor() -> str:
    """Who did something from the command line, for the audit log: ``cli:<os user>``."""
    return f"cli:{getpass.getuser()}"


@contextmanager
def database(ctx: typer.Context) -> Iterator[tuple[Session, bytes]]:
    """A session on the data dir's (migrated) database, and the installation secret."""
    settings = state(ctx).settings()
    secret = settings.secret()
    db = open_database(settings.db_url)
    anchor_engine(db.engine, anchor_file(settings))
    try:
        with db.session() as session:
            yield session, secret
    finally:
        db.engine.dispose()


@audit_app.command(
    "verify",
    help=_(
        "Check every entry; exit 1 naming the first one edited, removed, inserted or "
        "moved.\n\n"
        "The chain must also reach the head anchored outside the database "
        "(``audit-anchor.json`` in the data dir) with the same hash: a cut or replaced "
        "tail fails without any flag."
    ),
)
def verify(
    ctx: typer.Context,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head", help=_("A head hash exported earlier: also catches a cut tail.")
        ),
    ] = None,
) -> None:
    settings = state(ctx).settings()
    with database(ctx) as (session, secret):
        anchored = anchored_head(settings)
        result = audit.verify(session, secret=secret, expect_head=expect_head, anchored=anchored)
    if not result.ok:
        raise OperationalError(
            _("audit log broken at entry {first_bad}: {problem}").format(
                first_bad=result.first_bad, problem=result.problem
            )
        )
    if anchored is None:
        typer.echo(
            _("audit log ok: {entries} entries (no anchored head yet)").format(
                entries=result.entries
            )
        )
    else:
        typer.echo(
            _("audit log ok: {entries} entries, anchored head {seq} found").format(
                entries=result.entries, seq=anchored.seq
            )
        )


@audit_app.command(
    "head",
    help=_("The newest entry's number and hash, to keep somewhere the database cannot reach."),
)
def head(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=_("One JSON object."))] = False,
) -> None:
    with database(ctx) as (session, _engine):
        h = audit.head(session)
    if as_json:
        typer.echo(json.dumps({"seq": h.seq, "hash": h.hash}))
    else:
        typer.echo(f"{h.seq} {h.hash}")
