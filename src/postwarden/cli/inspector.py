"""The database and inspector CLI commands share, with failures turned into CLI errors."""

from __future__ import annotations

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from postwarden.cli.common import OperationalError
from postwarden.engine import Inspector
from postwarden.i18n import _
from postwarden.inspector import PolicyLoad, build_inspector, load_policy_for
from postwarden.settings import Settings
from postwarden.store import db
from postwarden.store.anchor import anchor_engine, anchor_file


def open_inspector(settings: Settings) -> Inspector:
    """``build_inspector`` for a command: a refused local policy is reported on stderr (the
    last good one is used) and a database that cannot be opened is an operational error."""
    loaded = load_policy_reporting(settings)
    engine = open_database(settings)
    try:
        return build_inspector(settings, engine=engine, policy=loaded.policy)
    except SQLAlchemyError as exc:
        raise OperationalError(
            _("cannot read the database: {kind}").format(kind=exc.__class__.__name__)
        ) from None


def load_policy_reporting(settings: Settings) -> PolicyLoad:
    """The policy in force; a refused local policy is reported on stderr (the last good one is
    used in its place)."""
    loaded = load_policy_for(settings)
    for error in loaded.errors:
        typer.echo(
            _("postwarden: policy refused, the last good policy is used: {error}").format(
                error=error
            ),
            err=True,
        )
    return loaded


def open_database(settings: Settings) -> Engine:
    """The installation's database, at this version's schema (else ``SchemaError`` naming
    ``postwarden upgrade``); failures to open it are operational errors."""
    try:
        engine = db.open_database(settings.db_url).engine
    except SQLAlchemyError as exc:
        raise OperationalError(
            _("cannot open the database: {kind}").format(kind=exc.__class__.__name__)
        ) from None
    anchor_engine(engine, anchor_file(settings))
    return engine
