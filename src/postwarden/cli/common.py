"""What every command shares: the data dir, settings, and the CLI's names for its two exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from postwarden.errors import Invalid, PostwardenError
from postwarden.i18n import _
from postwarden.model import Envelope
from postwarden.settings import Settings, load_settings, resolve_data_dir

UsageError = Invalid
"""Bad input on the command line: exit 2 (every ``Invalid`` is one)."""

OperationalError = PostwardenError
"""The command was well formed but could not be carried out: exit 1."""


@dataclass(slots=True)
class CliState:
    data_dir: Path

    @classmethod
    def create(cls, data_dir: Path | None) -> CliState:
        return cls(data_dir=resolve_data_dir(data_dir))

    def settings(self) -> Settings:
        return load_settings(self.data_dir)


def print_version(value: bool) -> None:
    """``--version``: print ``postwarden X.Y.Z`` and exit."""
    if value:
        from postwarden import __version__

        typer.echo(f"postwarden {__version__}")
        raise typer.Exit


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)  # noqa: S101 - set by the root callback
    return obj


def read_input_file(path: Path) -> bytes:
    """Read a file named on the command line; a missing or unreadable one is a usage error."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(_("no such file: {path}").format(path=path)) from None
    except IsADirectoryError:
        raise UsageError(_("is a directory, not a file: {path}").format(path=path)) from None
    except OSError as exc:
        raise UsageError(
            _("cannot read {path}: {strerror}").format(path=path, strerror=exc.strerror)
        ) from None


SenderOption = Annotated[
    str | None, typer.Option("--sender", help=_("Envelope sender (default: From)."))
]
RcptOption = Annotated[
    list[str] | None,
    typer.Option("--rcpt", help=_("Envelope recipient, once per recipient (default: To/Cc/Bcc).")),
]


def envelope_from(sender: str | None, rcpt: list[str] | None) -> Envelope | None:
    """The envelope given with ``--sender`` / ``--rcpt``; what is not given comes from the
    message's headers (the engine fills it)."""
    if sender is None and not rcpt:
        return None
    return Envelope(sender=sender or "", recipients=tuple(rcpt or ()))
