"""``postwarden incident scope``: whose register data is in leaked files, counted by status."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from postwarden.cli import incident_cases as cases
from postwarden.cli.common import UsageError, read_input_file, state
from postwarden.cli.register import open_registers
from postwarden.engine import Inspector
from postwarden.i18n import _
from postwarden.model import UNINSPECTABLE

incident_app = typer.Typer(
    help=_("Breach response: scope a leak, incidents, letters, report."), no_args_is_help=True
)


@incident_app.command(
    "scope", help=_("The distinct register records present in the files, counted by status.")
)
def scope(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help=_("Leaked files: eml, xlsx, csv, docx, pdf, zip."))
    ],
    register: Annotated[str, typer.Option("--register", help=_("The register to count against."))],
    as_json: Annotated[bool, typer.Option("--json", help=_("Print one JSON object."))] = False,
    export: Annotated[
        Path | None,
        typer.Option("--export", help=_("Write the affected record ids here (csv, header 'id').")),
    ] = None,
) -> None:
    settings = state(ctx).settings()
    raws = [(path, read_input_file(path)) for path in files]
    registers = open_registers(settings, [register])
    index = registers.get(register)
    inspector = Inspector(
        limits=settings.limits, org_domains=settings.org_domains, registers=registers
    )
    everyone: set[int] = set()
    per_file: list[dict[str, Any]] = []
    for path, data in raws:
        report = inspector.inspect_named(path.name, data)
        records = report.record_ids.get(register, set())
        everyone |= records
        unreadable = sorted(
            {
                f"{f.source}: {f.detail}"
                for f in report.verdict.findings
                if f.detector == UNINSPECTABLE
            }
        )
        per_file.append({"file": str(path), "subjects": len(records), "uninspectable": unreadable})
        for reason in unreadable:
            # Never silent: a scope that could not read everything says so.
            typer.echo(
                _("postwarden: {path}: not inspected: {reason}").format(path=path, reason=reason),
                err=True,
            )
    ordered = sorted(everyone)
    by_status = index.by_status(ordered)
    if export is not None:
        try:
            with export.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(["id"])
                writer.writerows([rid] for rid in index.ids(ordered))
        except OSError as exc:
            raise UsageError(
                _("cannot write {export}: {strerror}").format(export=export, strerror=exc.strerror)
            ) from None
    if as_json:
        result = {
            "register": register,
            "subjects": len(ordered),
            "by_status": by_status,
            "files": per_file,
        }
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    typer.echo(_("register {register}: {n:,} people").format(register=register, n=len(ordered)))
    for status, count in by_status.items():
        typer.echo(f"  {status}: {count:,}")
    for item in per_file:
        typer.echo(f"  {item['file']}: {item['subjects']:,}")
    if export is not None:
        typer.echo(_("record ids written to {export}").format(export=export))


# Breach response (issue 7): the commands live in cli/incident_cases.py.
incident_app.command(
    "open", help=_("Open an incident for messages or files that left; its scope is computed now.")
)(cases.open_cmd)
incident_app.command(
    "add", help=_("Add more messages or files that left to an incident (a resend, a forward).")
)(cases.add_cmd)
incident_app.command("list", help=_("List incidents, newest first."))(cases.list_cmd)
incident_app.command(
    "show", help=_("Show an incident: scope per register, status and recipient, items, timeline.")
)(cases.show_cmd)
incident_app.command(
    "update", help=_("Record the facts the letters and the regulator report are written from.")
)(cases.update_cmd)
incident_app.command(
    "add-recipient",
    help=_("Record a recipient of the incident's items, unintended unless ``--intended``."),
)(cases.add_recipient_cmd)
incident_app.command(
    "status", help=_("Move an incident to another status (on the timeline and in the audit chain).")
)(cases.status_cmd)
incident_app.command(
    "recall", help=_("Send the bilingual recall request to every unintended recipient.")
)(cases.recall_cmd)
incident_app.command(
    "confirm-recall",
    help=_("Record a recipient's confirmation that they deleted what they received."),
)(cases.confirm_recall_cmd)
incident_app.command(
    "letters",
    help=_("Bilingual PDF letters to the living people in scope, a print file and a CSV."),
)(cases.letters_cmd)
incident_app.command("report", help=_("Write the data breach notification draft for the PCPD."))(
    cases.report_cmd
)
