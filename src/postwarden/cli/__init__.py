"""The ``postwarden`` command line (Typer); each command group lives in its own module."""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from postwarden.cli.common import CliState, print_version
from postwarden.errors import PostwardenError
from postwarden.i18n import N_, _
from postwarden.settings import one_blas_thread


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command or command group imported only when it runs (or shows its own ``--help``).

    ``target`` is ``"module:attribute"``: a command function or a ``typer.Typer`` group.
    ``summary`` is the first paragraph of its help, which ``postwarden --help`` lists without
    importing it (tests/cli/test_lazy.py fails when the two drift apart); a group's help is its
    own, a function's is ``summary`` and then ``details``.  Both are marked with ``N_`` and
    translated when shown, in the language of the environment.
    """

    target: str
    summary: str
    details: str = ""

    def help(self) -> str:
        """A command function's help, in the language messages are in now."""
        return "\n\n".join(_(part) for part in (self.summary, self.details) if part)


# Listed in this order by ``postwarden --help``.
COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "postwarden.cli.setup:init",
        N_("Create (or update) the data dir: settings, per-installation secret (mode 0600)."),
    ),
    "check": LazyCommand(
        "postwarden.cli.check:check",
        N_("Inspect a message and print the verdict (deliver, warn, hold or reject)."),
    ),
    "serve": LazyCommand(
        "postwarden.cli.gateway:serve_cmd",
        N_("Run the relay and the HTTP check API in one process until SIGTERM."),
    ),
    "milter": LazyCommand(
        "postwarden.cli.gateway:milter",
        N_("Run the Postfix milter (smtpd_milters / non_smtpd_milters) until SIGTERM."),
    ),
    "relay": LazyCommand(
        "postwarden.cli.gateway:relay",
        N_("Run the SMTP relay (a Postfix content_filter, or in front of a smarthost)."),
    ),
    "scan": LazyCommand(
        "postwarden.cli.scan:scan",
        N_("Scan files for register subjects and personal data, in parallel and resumably."),
    ),
    "upgrade": LazyCommand(
        "postwarden.cli.upgrade:upgrade",
        N_("Migrate the database schema (Alembic) and the data dir's files to this version."),
        N_(
            "Run it once per installation with every gateway node stopped, then start the units: "
            "nodes refuse to start on an older schema. Idempotent; exit 1 for a database newer "
            "than this version. Changes are recorded in the audit log and its head anchored."
        ),
    ),
    "webfilter": LazyCommand(
        "postwarden.cli.webfilter:webfilter_app",
        N_("Stop webmail browsing: blocklists from the webmail provider list."),
    ),
    "history": LazyCommand(
        "postwarden.cli.history:history_app", N_("Sending history: who the organisation writes to.")
    ),
    "exemption": LazyCommand(
        "postwarden.cli.exemption:exemption_app",
        N_("Exemptions: a sender may write to a recipient domain."),
    ),
    "policy": LazyCommand(
        "postwarden.cli.policy:policy_app", N_("The policy: rules over the facts of a message.")
    ),
    "quarantine": LazyCommand(
        "postwarden.cli.quarantine:quarantine_app", N_("Held messages: review, release, reject.")
    ),
    "user": LazyCommand(
        "postwarden.cli.user:user_app", N_("Reviewers, privacy officers and admins.")
    ),
    "audit": LazyCommand("postwarden.cli.audit:audit_app", N_("The hash-chained audit log.")),
    "register": LazyCommand(
        "postwarden.cli.register:register_app",
        N_("Registers of people (exact data match): import, list, drop."),
    ),
    "incident": LazyCommand(
        "postwarden.cli.incident:incident_app",
        N_("Breach response: scope a leak, incidents, letters, report."),
    ),
    "token": LazyCommand("postwarden.cli.token:token_app", N_("Tokens of the HTTP check API.")),
}


def _new_root(cls: type[TyperGroup] | None = None) -> typer.Typer:
    return typer.Typer(
        name="postwarden",
        help=_("Outbound-email personal-data leak prevention gateway."),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=cls,
    )


HELP_OPTION = N_("Show this message and exit.")
"""Typer's own ``--help`` line (its text has no catalogue): ours, in the language of the rest."""


def translate_help_option(command: Any) -> None:
    """Give ``command`` and every command under it our ``--help`` line."""
    option = command.get_help_option(typer.Context(command))
    if option is not None:
        option.help = _(HELP_OPTION)
    for sub in getattr(command, "commands", {}).values():
        translate_help_option(sub)


def _import_for_good(module_name: str) -> ModuleType:
    """``module_name`` imported with the cyclic garbage collector off, then everything the
    process holds so far moved out of the collector's sight (``gc.freeze``).

    A command's imports (the engine, SQLAlchemy, numpy ...) make over a hundred thousand
    objects that live as long as the process and are no garbage: the collector would walk
    them again and again as they are made, and once more at exit (a fifth of the CPU time of
    a ``check`` of a small message in a fresh process, measured).  The
    frozen objects are shared, not copied, by processes forked later (CPython's advice for
    ``gc.freeze``); what is made after is collected as usual.  Only a first import does
    this: a process running several commands (the tests) freezes a few times, not each time."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        module = importlib.import_module(module_name)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
    return module


def load_command(name: str) -> Any:
    """The Click command ``name`` exactly as registering it eagerly on the root app made it:
    its module is imported now, and converted by Typer under the same root settings."""
    lazy = COMMANDS[name]
    module_name, _sep, attribute = lazy.target.partition(":")
    target = getattr(_import_for_good(module_name), attribute)
    holder = _new_root()
    holder.callback()(_root)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name, help=lazy.help())(target)
    command = typer.main.get_group(holder).commands[name]
    translate_help_option(command)
    return command


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name: every name of ``COMMANDS`` is listed, and a command is
    loaded the first time it is looked up (so code walking ``group.commands`` still sees the
    whole tree)."""

    def __init__(self, loaded: MutableMapping[str, Any]) -> None:
        self.loaded = loaded

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded and name in COMMANDS:
            self.loaded[name] = load_command(name)
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.loaded
        yield from (name for name in COMMANDS if name not in self.loaded)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return name in self.loaded or name in COMMANDS


class LazyGroup(TyperGroup):
    """The root group: Click's documented LazyGroup pattern on Typer's group.  A command's
    module is imported when the command is resolved to run; the root's own help lists the
    summaries without importing anything (each command module pulls in the engine, the
    database or the web stack, seconds of start-up that ``--help`` must not pay)."""

    _summaries_only = False

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = _(HELP_OPTION)
        return option

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        commands = self.commands
        if self._summaries_only and isinstance(commands, LazyCommands):
            if cmd_name not in commands.loaded and cmd_name in COMMANDS:
                return TyperCommand(name=cmd_name, help=_(COMMANDS[cmd_name].summary))
        return commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._summaries_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._summaries_only = False


app = _new_root(LazyGroup)


def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help=_("Data dir (default: $POSTWARDEN_DATA_DIR, else ./var).")),
    ] = None,
    _version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=print_version, help=_("Print the version.")
        ),
    ] = False,
) -> None:
    ctx.obj = CliState.create(data_dir)


app.callback()(_root)


def main() -> None:
    """Entry point: a ``PostwardenError`` becomes one line on stderr and its class's exit code
    (2 for usage errors, 1 otherwise); Click's own usage errors already exit 2."""
    one_blas_thread()  # before a command loads numpy
    try:
        # Non-standalone, Click returns a typer.Exit's code instead of raising it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except PostwardenError as exc:
        print(f"postwarden: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print(_("postwarden: aborted"), file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        import click

        # Typer >= 0.24 raises its vendored copy of click's exceptions (typer.TyperException).
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
