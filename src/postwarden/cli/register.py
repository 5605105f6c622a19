"""``postwarden register import | list | drop``: the registers exact data match uses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from postwarden.cli.common import OperationalError, UsageError, state
from postwarden.engine.registers import (
    FIELDS,
    Reading,
    RegisterError,
    RegisterFileError,
    RegisterSet,
    drop,
    import_register,
    list_registers,
    register_info,
)
from postwarden.i18n import _
from postwarden.settings import Settings, SettingsError

register_app = typer.Typer(
    help=_("Registers of people (exact data match): import, list, drop."), no_args_is_help=True
)


def open_registers(settings: Settings, names: Iterable[str] | None = None) -> RegisterSet:
    """The installation's registers (or only ``names``), memory-mapped; errors are operational."""
    return RegisterSet(settings.registers_dir, settings.secret(), names)


def parse_maps(maps: list[str] | None) -> dict[str, str]:
    """``--map COLUMN=FIELD`` options as column → field; a malformed one is a usage error."""
    out: dict[str, str] = {}
    for item in maps or ():
        column, sep, field = item.rpartition("=")
        if not sep or not column.strip() or not field.strip():
            raise UsageError(_("--map takes COLUMN=FIELD, got {item!r}").format(item=item))
        field = field.strip().lower()
        if field not in FIELDS:
            raise UsageError(
                _("--map {item!r}: unknown field {field!r} ({fields})").format(
                    item=item, field=field, fields=", ".join(FIELDS)
                )
            )
        out[column.strip()] = field
    return out


@register_app.command(
    "import",
    help=_(
        "Import (or replace) a register; only keyed hashes, record ids and statuses are"
        " kept.\n\n"
        "A re-import reads the new file as the register's last import read its own "
        "(mapping, encoding, sheet, header row); each option given replaces that part."
    ),
)
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=_("The register (.csv or .xlsx)."))],
    name: Annotated[str, typer.Option("--name", help=_("Register name, e.g. voters."))],
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help=_("COLUMN=FIELD, once per column; FIELD: {fields}.").format(
                fields=" ".join(FIELDS)
            ),
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help=_("Text encoding of a csv (default: UTF-8)."))
    ] = None,
    sheet: Annotated[
        str | None, typer.Option("--sheet", help=_("The workbook's sheet (default: the first)."))
    ] = None,
    header_row: Annotated[
        int | None,
        typer.Option("--header-row", min=1, help=_("Row of the column headings (default: 1).")),
    ] = None,
) -> None:
    settings = state(ctx).settings()
    if not file.is_file():
        raise UsageError(_("no such file: {file}").format(file=file))
    info = register_info(settings.registers_dir, name)
    last = info.reading if info is not None else Reading()
    try:
        secret = settings.secret()
        result = import_register(
            file,
            name,
            settings.registers_dir,
            secret,
            overrides=parse_maps(maps) if maps is not None else last.mapping,
            encoding=encoding or last.encoding,
            sheet=sheet if sheet is not None else last.sheet,
            header_row=header_row or last.header_row,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except (RegisterFileError, RegisterError, SettingsError) as exc:
        raise OperationalError(
            _("{exc} (register {name!r} left as it was)").format(exc=exc, name=name)
        ) from None
    except OSError as exc:
        raise OperationalError(
            _("cannot write the register index: {exc}").format(exc=exc)
        ) from None
    _publish(settings, name)
    info = result.info
    fields = ", ".join(f"{k} {v:,}" for k, v in info.fields.items())
    typer.echo(
        _("imported register {name}: {rows:,} records ({fields})").format(
            name=info.name, rows=info.rows, fields=fields
        )
    )
    if result.ignored_columns:
        typer.echo(
            _("ignored columns (use --map COLUMN=FIELD): ") + ", ".join(result.ignored_columns)
        )
    for field, count in sorted(result.unrecognised.items()):
        typer.echo(
            _("warning: {count:,} {field} values not recognised as {field}").format(
                count=count, field=field
            ),
            err=True,
        )


@register_app.command(
    "list", help=_("The registers: name, records, fields and when each was imported.")
)
def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    settings = state(ctx).settings()
    infos = list_registers(settings.registers_dir)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "name": i.name,
                        "rows": i.rows,
                        "fields": i.fields,
                        "statuses": list(i.statuses),
                        "imported_at": i.imported_at,
                        "reading": i.reading.to_json(),
                    }
                    for i in infos
                ],
                ensure_ascii=False,
            )
        )
        return
    if not infos:
        typer.echo(_("no registers (postwarden register import FILE --name NAME)"))
        return
    for i in infos:
        line = f"{i.name}\t{i.rows:,} records\t{','.join(i.fields)}\timported {i.imported_at}"
        options = " ".join(i.reading.options())
        typer.echo(line + (f"\t{options}" if options else ""))


@register_app.command("drop", help=_("Remove a register and its index."))
def drop_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("The register to remove."))],
) -> None:
    settings = state(ctx).settings()
    try:
        drop(settings.registers_dir, name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _publish(settings, name)
    typer.echo(_("dropped register {name}").format(name=name))


def _publish(settings: Settings, name: str) -> None:
    """On a cluster, make this node's change the version every node picks up."""
    if not settings.cluster.shared:
        return
    from postwarden.cli.inspector import open_database
    from postwarden.cluster import publish_register

    engine = open_database(settings)
    try:
        version = publish_register(settings, engine, name)
    except (SettingsError, OSError) as exc:
        raise OperationalError(
            _("register {name} changed here but not published: {exc}").format(name=name, exc=exc)
        ) from None
    typer.echo(
        _("published register {name} to the cluster as version {version}").format(
            name=name, version=version
        )
    )
