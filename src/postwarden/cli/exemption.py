"""``postwarden exemption``: let a sender write to a domain, recorded with who and why."""

from __future__ import annotations

import getpass
from datetime import date
from typing import Annotated, Any

import typer

from postwarden.cli.common import UsageError, state
from postwarden.cli.inspector import open_database
from postwarden.cli.listing import echo_rows
from postwarden.i18n import _
from postwarden.settings import login_user
from postwarden.store.db import session_factory
from postwarden.store.exemptions import (
    add_exemption,
    list_exemptions,
    revoke_exemption,
)

exemption_app = typer.Typer(
    help=_("Exemptions: a sender may write to a recipient domain."), no_args_is_help=True
)


def _current_user() -> str:
    try:
        return login_user() or getpass.getuser()
    except (KeyError, OSError):
        return ""


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _("--until: expected a date as YYYY-MM-DD, got {text!r}").format(text=text)
        ) from None


@exemption_app.command("add", help=_("Grant an exemption."))
def add(
    ctx: typer.Context,
    sender: Annotated[str, typer.Option("--sender", help=_("The sender's address."))],
    recipient_domain: Annotated[
        str, typer.Option("--recipient-domain", help=_("The domain (and its subdomains)."))
    ],
    reason: Annotated[str, typer.Option("--reason", help=_("The operational need."))],
    until: Annotated[
        str | None, typer.Option("--until", help=_("Last day it applies (YYYY-MM-DD)."))
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help=_("Who grants it (default: $USER)."))
    ] = None,
) -> None:
    settings = state(ctx).settings()
    last_day = _parse_date(until)
    granted_by = by or _current_user()
    engine = open_database(settings)
    try:
        with session_factory(engine)() as session:
            row = add_exemption(
                session,
                sender=sender,
                recipient_domain=recipient_domain,
                reason=reason,
                granted_by=granted_by,
                secret=settings.secret(),
                until=last_day,
            )
            session.commit()
            granted = _("exemption {id}: {sender} may write to {domain}").format(
                id=row.id, sender=row.sender, domain=row.recipient_domain
            )
            if row.until:
                granted += _(" until {until}").format(until=row.until.isoformat())
            typer.echo(granted)
    finally:
        engine.dispose()


@exemption_app.command("list", help=_("Every exemption, active or not, newest first."))
def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print a JSON array."))] = False,
) -> None:
    settings = state(ctx).settings()
    engine = open_database(settings)
    try:
        with session_factory(engine)() as session:
            rows = [row.to_json() for row in list_exemptions(session)]
    finally:
        engine.dispose()
    echo_rows(rows, as_json, _exemption_line, _("no exemptions"))


def _exemption_line(r: dict[str, Any]) -> str:
    status = "active" if r["active"] else ("revoked" if r["revoked_at"] else "expired")
    until = f" until {r['until']}" if r["until"] else ""
    return (
        f"{r['id']}\t{status}\t{r['sender']} -> {r['recipient_domain']}{until}"
        f"\tby {r['granted_by']}: {r['reason']}"
    )


@exemption_app.command("revoke", help=_("Revoke an exemption (the record of it is kept)."))
def revoke(
    ctx: typer.Context,
    exemption_id: Annotated[int, typer.Argument(metavar="ID", help=_("The exemption's id."))],
    by: Annotated[
        str | None, typer.Option("--by", help=_("Who revokes it (default: $USER)."))
    ] = None,
) -> None:
    settings = state(ctx).settings()
    revoked_by = by or _current_user()
    engine = open_database(settings)
    try:
        with session_factory(engine)() as session:
            revoke_exemption(session, exemption_id, revoked_by=revoked_by, secret=settings.secret())
            session.commit()
    finally:
        engine.dispose()
    typer.echo(_("exemption {exemption_id} revoked").format(exemption_id=exemption_id))
