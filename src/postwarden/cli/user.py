"""``postwarden user``: the people who review and decide, and their roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from postwarden.cli.audit import cli_actor, database
from postwarden.cli.common import UsageError
from postwarden.cli.listing import echo_rows
from postwarden.i18n import _
from postwarden.store.credentials import set_password
from postwarden.store.users import Role, add_user, list_users

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help=_("Read the console password from standard input (one line).")
    ),
]

user_app = typer.Typer(help=_("Reviewers, privacy officers and admins."), no_args_is_help=True)


@user_app.command(
    "add", help=_("Add a user (audited); with --password-stdin they can sign in to the console.")
)
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("Login name."))],
    role: Annotated[Role, typer.Option("--role", help=_("reviewer, privacy-officer or admin."))],
    email: Annotated[
        str | None,
        typer.Option("--email", help=_("Their mail address: needed to release (four eyes).")),
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    password = _read_password() if password_stdin else None
    with database(ctx) as (session, secret):
        add_user(session, name, role, email, actor=cli_actor(), secret=secret)
        if password is not None:
            set_password(session, name, password, actor=cli_actor(), secret=secret)
        session.commit()
    typer.echo(_("added {name} ({role})").format(name=name, role=role.value))


@user_app.command("list", help=_("Users and their roles."))
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=_("One JSON array."))] = False,
) -> None:
    with database(ctx) as (session, _secret):
        users = list_users(session)
    rows = [
        {"name": u.name, "role": u.role, "email": u.email, "created": u.created.isoformat()}
        for u in users
    ]
    echo_rows(
        rows,
        as_json,
        lambda r: f"{r['name']:<24} {r['role']:<16} {r['email'] or '-'}",
        _("no users: add one with 'postwarden user add NAME --role ROLE --email ADDR'"),
    )


@user_app.command(
    "passwd", help=_("Set a user's console password (argon2id; audited without the password).")
)
def passwd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("Login name."))],
    password_stdin: PasswordStdin = False,
) -> None:
    if password_stdin:
        password = _read_password()
    else:
        password = typer.prompt(
            _("New password"), hide_input=True, confirmation_prompt=_("New password again")
        )
    with database(ctx) as (session, secret):
        set_password(session, name, password, actor=cli_actor(), secret=secret)
        session.commit()
    typer.echo(_("password set for {name}").format(name=name))


def _read_password() -> str:
    """One line from standard input, without its line ending (``printf %s`` or ``echo``)."""
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise UsageError(_("--password-stdin: no password on standard input"))
    return password
