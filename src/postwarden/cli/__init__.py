"""The ``postwarden`` command line (Typer); each command group lives in its own module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from postwarden.cli import check as check_cmd
from postwarden.cli import gateway as gateway_cmd
from postwarden.cli import scan as scan_cmd
from postwarden.cli import setup as setup_cmd
from postwarden.cli import upgrade as upgrade_cmd
from postwarden.cli.audit import audit_app
from postwarden.cli.common import CliState, OperationalError, UsageError, print_version
from postwarden.cli.exemption import exemption_app
from postwarden.cli.history import history_app
from postwarden.cli.incident import incident_app
from postwarden.cli.policy import policy_app
from postwarden.cli.quarantine import quarantine_app
from postwarden.cli.register import register_app
from postwarden.cli.token import token_app
from postwarden.cli.user import user_app
from postwarden.cli.webfilter import webfilter_app

app = typer.Typer(
    name="postwarden",
    help="Outbound-email personal-data leak prevention gateway.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data dir (default: $POSTWARDEN_DATA_DIR, else ./var)."),
    ] = None,
    _version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=print_version, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = CliState.create(data_dir)


app.command("init")(setup_cmd.init)
app.command("check")(check_cmd.check)
app.command("serve")(gateway_cmd.serve_cmd)
app.command("milter")(gateway_cmd.milter)
app.command("relay")(gateway_cmd.relay)
app.command("scan")(scan_cmd.scan)
app.command("upgrade")(upgrade_cmd.upgrade)
app.add_typer(webfilter_app, name="webfilter")
app.add_typer(history_app, name="history")
app.add_typer(exemption_app, name="exemption")
app.add_typer(policy_app, name="policy")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(register_app, name="register")
app.add_typer(incident_app, name="incident")
app.add_typer(token_app, name="token")


def main() -> None:
    """Entry point: domain errors become one line on stderr with exit 1 (operational) or 2
    (usage); Click's own usage errors already exit 2."""
    try:
        # Non-standalone, Click returns a typer.Exit's code instead of raising it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except UsageError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        sys.exit(2)
    except OperationalError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("postwarden: aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        import click

        from postwarden.store.db import SchemaError

        if isinstance(exc, SchemaError):  # a process started on a schema it does not run on
            print(f"postwarden: {exc}", file=sys.stderr)
            sys.exit(1)

        # Typer >= 0.24 raises its vendored copy of click's exceptions (typer.TyperException).
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
