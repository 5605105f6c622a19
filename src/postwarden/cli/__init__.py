"""The ``postwarden`` command line (Typer); each command group lives in its own module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from postwarden.cli import check as check_cmd
from postwarden.cli import setup as setup_cmd
from postwarden.cli.common import CliState, OperationalError, UsageError

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
) -> None:
    ctx.obj = CliState.create(data_dir)


app.command("init")(setup_cmd.init)
app.command("check")(check_cmd.check)


def main() -> None:
    """Entry point: domain errors become one line on stderr with exit 1 (operational) or 2
    (usage); Click's own usage errors already exit 2."""
    try:
        app(standalone_mode=False)
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

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
