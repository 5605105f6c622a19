"""``postwarden token``: who may call the HTTP check API (docs/http-api.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer

from postwarden.cli.audit import cli_actor, database
from postwarden.cli.common import UsageError
from postwarden.cli.listing import echo_rows
from postwarden.i18n import _
from postwarden.store.tokens import (
    TokenScope,
    add_token,
    list_tokens,
    revoke_token,
)

token_app = typer.Typer(help=_("Tokens of the HTTP check API."), no_args_is_help=True)


def _expiry(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (the token works through that day, UTC) or an ISO date-time."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _("--expires: expected YYYY-MM-DD or an ISO date-time, got {text!r}").format(text=text)
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@token_app.command(
    "add", help=_("Make a token (audited) and print it once: it is stored only as a hash.")
)
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("Who or what uses it (e.g. the mail client)."))],
    scope: Annotated[
        TokenScope,
        typer.Option("--scope", help=_("check (action and messages) or check:detail (all).")),
    ],
    expires: Annotated[
        str | None,
        typer.Option("--expires", help=_("Last day it works (YYYY-MM-DD, UTC) or a date-time.")),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help=_('One JSON object: {"name": ..., "token": ...}.'))
    ] = False,
) -> None:
    expires_at = _expiry(expires)
    with database(ctx) as (session, secret):
        made = add_token(
            session, name, scope, actor=cli_actor(), secret=secret, expires_at=expires_at
        )
        session.commit()
        info = made.row.to_json()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "name": made.row.name,
                    "token": made.token,
                    "scope": info["scope"],
                    "expires_at": info["expires_at"],
                }
            )
        )
        return
    until = f", until {info['expires_at']}" if info["expires_at"] else ""
    typer.echo(
        _("token {name} ({scope}{until}); it is shown only now:").format(
            name=name, scope=info["scope"], until=until
        )
    )
    typer.echo(made.token)


@token_app.command(
    "list", help=_("Every token with its scope, status and use (never the token itself).")
)
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=_("One JSON array."))] = False,
) -> None:
    with database(ctx) as (session, _secret):
        rows = [t.to_json() for t in list_tokens(session)]
    echo_rows(
        rows,
        as_json,
        lambda r: (
            f"{r['name']:<24} {r['scope']:<13} {r['status']:<8} calls {r['calls']:<8} "
            f"last used {r['last_used_at'] or '-'}  expires {r['expires_at'] or '-'}"
        ),
        _("no tokens: make one with 'postwarden token add NAME --scope check'"),
    )


@token_app.command("revoke", help=_("Revoke a token at once (audited; the record of it is kept)."))
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("The token's name."))],
) -> None:
    with database(ctx) as (session, secret):
        revoke_token(session, name, actor=cli_actor(), secret=secret)
        session.commit()
    typer.echo(_("token {name} revoked").format(name=name))
