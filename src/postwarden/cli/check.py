"""``postwarden check``: the verdict for one message file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from postwarden.cli.common import RcptOption, SenderOption, envelope_from, read_input_file, state
from postwarden.cli.inspector import open_inspector
from postwarden.i18n import _
from postwarden.model import Verdict


def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=_("The message (.eml) to check."))],
    sender: SenderOption = None,
    rcpt: RcptOption = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print the verdict as JSON."))] = False,
) -> None:
    settings = state(ctx).settings()
    raw = read_input_file(file)
    verdict = open_inspector(settings).check(raw, envelope_from(sender, rcpt))
    if as_json:
        typer.echo(json.dumps(verdict.to_json(), ensure_ascii=False))
    else:
        _print_verdict(verdict)


def _print_verdict(verdict: Verdict) -> None:
    typer.echo(_("verdict: {label}").format(label=verdict.action.label))
    for reason in verdict.reasons:
        typer.echo(f"  [{reason.action.label}] {reason.rule}: {reason.message}")
    for name, count in verdict.subjects.items():
        typer.echo(_("  register {name}: {count} people").format(name=name, count=count))
    for item in verdict.findings_summary():
        typer.echo(f"  {item['detector']}: {item['count']} in {item['where']}")
    for r in verdict.recipients:
        flags = f" ({', '.join(r.flags)})" if r.flags else ""
        typer.echo(f"  to {r.address}: {r.cls.value}{flags}")
    for defect in verdict.defects:
        typer.echo(_("  defect: {defect}").format(defect=defect))
