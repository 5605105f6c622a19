"""The breach response commands of ``postwarden incident`` (open, letters, report ...)."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from postwarden.cli.audit import cli_actor
from postwarden.cli.common import OperationalError, UsageError, read_input_file, state
from postwarden.cli.inspector import open_database
from postwarden.cli.register import parse_maps
from postwarden.engine import Inspector
from postwarden.engine.registers import (
    Reading,
    RegisterSet,
    register_info,
)
from postwarden.i18n import _
from postwarden.incidents.casebook import Casebook, Details, Status
from postwarden.incidents.clearfile import clear_rows
from postwarden.incidents.facts import IncidentFacts
from postwarden.incidents.fonts import FontError
from postwarden.incidents.intake import Intake, NewItem
from postwarden.incidents.letters import select_addressees, write_letters
from postwarden.incidents.recall import build_recall
from postwarden.incidents.report import write_report
from postwarden.model import Envelope
from postwarden.outbound import OutboundError, outbound_from
from postwarden.settings import Settings, SettingsError
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import session_factory
from postwarden.store.keys import SealError
from postwarden.store.quarantine import Quarantine, QuarantineError

By = Annotated[str | None, typer.Option("--by", help=_("Who acts (default: cli:<os user>)."))]
AsJson = Annotated[bool, typer.Option("--json", help=_("Print JSON."))]
IncidentId = Annotated[int, typer.Argument(help=_("The incident's number."))]
Files = Annotated[
    list[Path] | None, typer.Option("--files", help=_("A leaked file or sent .eml (repeat)."))
]
Registers = Annotated[
    list[str] | None,
    typer.Option("--register", help=_("Scope against this register only (repeat).")),
]


def _casebook(settings: Settings) -> Casebook:
    return Casebook(open_database(settings), settings.secret())


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            _("{option}: expected an ISO date and time, got {text!r}").format(
                option=option, text=text
            )
        ) from None
    return when if when.tzinfo else when.astimezone()


def _details(occurred_at: str | None, discovered_at: str | None, **text: str | None) -> Details:
    return Details(
        occurred_at=_when(occurred_at, "--occurred-at"),
        discovered_at=_when(discovered_at, "--discovered-at"),
        **text,
    )


def _intake(
    ctx: typer.Context,
    messages: list[str] | None,
    files: list[Path] | None,
    registers: list[str] | None,
) -> tuple[Settings, list[NewItem]]:
    """The settings and the items of ``--message`` and ``--files`` (at least one is given)."""
    if not messages and not files:
        raise UsageError(_("give at least one --message ID or --files FILE"))
    settings = state(ctx).settings()
    return settings, _intake_items(settings, messages or [], files or [], registers or [])


def _intake_items(
    settings: Settings, messages: list[str], files: list[Path], registers: list[str]
) -> list[NewItem]:
    """Inspect every quarantined message and file against the registers."""
    register_set = RegisterSet(settings.registers_dir, settings.secret(), registers or None)
    if not len(register_set):
        typer.echo(_("postwarden: no registers imported: the scope will be empty"), err=True)
    intake = Intake(
        Inspector(limits=settings.limits, org_domains=settings.org_domains, registers=register_set)
    )
    items = [intake.file(path, read_input_file(path)) for path in files]
    if messages:
        engine = open_database(settings)
        try:
            quarantine = Quarantine.from_settings(settings, engine)
            with session_factory(engine)() as session:
                for item_id in messages:
                    row = Quarantine.get(session, item_id)
                    raw = quarantine.read(row)
                    new = intake.message(raw, row.id, Envelope(row.sender, tuple(row.recipients)))
                    items.append(
                        new if new.sent_at else dataclasses.replace(new, sent_at=row.created)
                    )
        except QuarantineError as exc:
            raise UsageError(str(exc)) from None
        except (SealError, SettingsError, SQLAlchemyError) as exc:
            raise OperationalError(_("cannot read the quarantine: {exc}").format(exc=exc)) from None
    return items


def open_cmd(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", help=_("A short title for the incident."))],
    message: Annotated[
        list[str] | None,
        typer.Option("--message", help=_("A quarantined message id that left (repeat).")),
    ] = None,
    files: Files = None,
    register: Registers = None,
    occurred_at: Annotated[str | None, typer.Option(help=_("When it happened (ISO)."))] = None,
    discovered_at: Annotated[str | None, typer.Option(help=_("When it was found (ISO)."))] = None,
    discovered_how: Annotated[str | None, typer.Option(help=_("How it was found."))] = None,
    summary: Annotated[str | None, typer.Option(help=_("What happened (English)."))] = None,
    summary_zh: Annotated[str | None, typer.Option(help=_("What happened (Chinese)."))] = None,
    cause: Annotated[str | None, typer.Option(help=_("Why it happened."))] = None,
    data_user: Annotated[str | None, typer.Option(help=_("The organisation (English)."))] = None,
    data_user_zh: Annotated[str | None, typer.Option(help=_("The organisation (Chinese)."))] = None,
    contact: Annotated[str | None, typer.Option(help=_("Whom affected people contact."))] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    settings, items = _intake(ctx, message, files, register)
    details = _details(
        occurred_at,
        discovered_at,
        discovered_how=discovered_how,
        summary=summary,
        summary_zh=summary_zh,
        cause=cause,
        data_user=data_user,
        data_user_zh=data_user_zh,
        contact=contact,
    )
    casebook = _casebook(settings)
    incident_id = casebook.open(title, items, by=by or cli_actor(), details=details)
    if as_json:
        typer.echo(json.dumps({"id": incident_id}))
        return
    facts = casebook.facts(incident_id)
    typer.echo(
        _(
            "incident {incident_id} opened: {subjects} people in scope ({living} living, "
            "{deceased} deceased)"
        ).format(
            incident_id=incident_id,
            subjects=facts.scope.subjects,
            living=facts.scope.living,
            deceased=facts.scope.deceased,
        )
    )


def add_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    message: Annotated[
        list[str] | None, typer.Option("--message", help=_("A quarantined message id (repeat)."))
    ] = None,
    files: Files = None,
    register: Registers = None,
    by: By = None,
) -> None:
    settings, items = _intake(ctx, message, files, register)
    casebook = _casebook(settings)
    casebook.add_items(incident_id, items, by=by or cli_actor())
    typer.echo(
        _("incident {incident_id}: {subjects} people in scope").format(
            incident_id=incident_id, subjects=casebook.facts(incident_id).scope.subjects
        )
    )


def list_cmd(ctx: typer.Context, as_json: AsJson = False) -> None:
    rows = _casebook(state(ctx).settings()).list()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "title": r.title,
                        "status": r.status,
                        "opened_at": r.opened_at.isoformat(),
                        "items": r.items,
                        "subjects": r.subjects,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
            )
        )
        return
    for r in rows:
        typer.echo(
            _("{id:>5}  {status:<10} {subjects:>8} people  {items} item(s)  {title}").format(
                id=r.id, status=r.status, subjects=r.subjects, items=r.items, title=r.title
            )
        )


def facts_json(facts: IncidentFacts) -> dict[str, Any]:
    """An incident as ``incident show --json`` prints it (the console shows the same)."""
    return {
        "id": facts.id,
        "reference": facts.reference,
        "title": facts.title,
        "status": facts.status,
        "opened_at": facts.opened_at.isoformat(),
        "opened_by": facts.opened_by,
        "fields": list(facts.fields),
        "scope": facts.scope.to_json(),
        "items": [
            {
                "id": i.id,
                "kind": i.kind,
                "name": i.name,
                "sender": i.sender,
                "sent_at": i.sent_at.isoformat() if i.sent_at else None,
                "recipients": list(i.recipients),
                "sha256": i.sha256,
            }
            for i in facts.items
        ],
        "recipients": [
            {
                "id": r.id,
                "address": r.address,
                "unintended": r.unintended,
                "recall_sent_at": r.recall_sent_at.isoformat() if r.recall_sent_at else None,
                "confirmed_at": r.confirmed_at.isoformat() if r.confirmed_at else None,
            }
            for r in facts.recipients
        ],
        "timeline": [
            {
                "at": e.at.isoformat(),
                "kind": e.kind,
                "status": e.status,
                "by": e.actor,
                "note": e.note,
            }
            for e in facts.events
        ],
    }


def show_cmd(ctx: typer.Context, incident_id: IncidentId, as_json: AsJson = False) -> None:
    facts = _casebook(state(ctx).settings()).facts(incident_id)
    data = facts_json(facts)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    scope = data["scope"]
    typer.echo(f"{facts.reference}  {facts.title}  [{facts.status}]")
    typer.echo(
        _("scope: {subjects} people ({living} living, {deceased} deceased)").format(
            subjects=scope["subjects"], living=scope["living"], deceased=scope["deceased"]
        )
    )
    for name, reg in scope["registers"].items():
        typer.echo(
            _("  register {name}: {subjects} {by_status}").format(
                name=name, subjects=reg["subjects"], by_status=reg["by_status"]
            )
        )
    for address, regs in scope["by_recipient"].items():
        typer.echo(_("  reached {address}: {registers}").format(address=address, registers=regs))
    for item in data["items"]:
        typer.echo(
            _("item {id}: {kind} {name} to {recipients}").format(
                id=item["id"],
                kind=item["kind"],
                name=item["name"],
                recipients=", ".join(item["recipients"]) or "-",
            )
        )
    for r in data["recipients"]:
        state_ = (
            _("confirmed")
            if r["confirmed_at"]
            else _("recall sent")
            if r["recall_sent_at"]
            else _("no recall yet")
        )
        typer.echo(
            _("recipient {address}: {intended}, {state}").format(
                address=r["address"],
                intended=_("unintended") if r["unintended"] else _("intended"),
                state=state_,
            )
        )
    for e in data["timeline"]:
        status = f" → {e['status']}" if e["status"] else ""
        line = _("  {at}  {kind}{status} by {by}").format(
            at=e["at"], kind=e["kind"], status=status, by=e["by"]
        )
        typer.echo(line + (f": {e['note']}" if e["note"] else ""))


def update_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    occurred_at: Annotated[str | None, typer.Option(help=_("When it happened (ISO)."))] = None,
    discovered_at: Annotated[str | None, typer.Option(help=_("When it was found (ISO)."))] = None,
    discovered_how: Annotated[str | None, typer.Option(help=_("How it was found."))] = None,
    summary: Annotated[str | None, typer.Option(help=_("What happened (English)."))] = None,
    summary_zh: Annotated[str | None, typer.Option(help=_("What happened (Chinese)."))] = None,
    cause: Annotated[str | None, typer.Option(help=_("Why it happened."))] = None,
    remedial: Annotated[str | None, typer.Option(help=_("Remedial actions (English)."))] = None,
    remedial_zh: Annotated[str | None, typer.Option(help=_("Remedial actions (Chinese)."))] = None,
    risk: Annotated[str | None, typer.Option(help=_("Risk of harm assessment."))] = None,
    data_user: Annotated[str | None, typer.Option(help=_("The organisation (English)."))] = None,
    data_user_zh: Annotated[str | None, typer.Option(help=_("The organisation (Chinese)."))] = None,
    contact: Annotated[str | None, typer.Option(help=_("Whom affected people contact."))] = None,
    by: By = None,
) -> None:
    details = _details(
        occurred_at,
        discovered_at,
        discovered_how=discovered_how,
        summary=summary,
        summary_zh=summary_zh,
        cause=cause,
        remedial=remedial,
        remedial_zh=remedial_zh,
        risk=risk,
        data_user=data_user,
        data_user_zh=data_user_zh,
        contact=contact,
    )
    _casebook(state(ctx).settings()).update(incident_id, details, by=by or cli_actor())
    typer.echo(_("incident {incident_id} updated").format(incident_id=incident_id))


def add_recipient_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    address: Annotated[str, typer.Argument(help=_("Who received it."))],
    intended: Annotated[
        bool, typer.Option("--intended", help=_("The address it was meant for (no recall)."))
    ] = False,
    note: Annotated[str, typer.Option("--note", help=_("Why, how it is known."))] = "",
    by: By = None,
) -> None:
    _casebook(state(ctx).settings()).add_recipient(
        incident_id, address, unintended=not intended, by=by or cli_actor(), note=note
    )
    typer.echo(
        _("incident {incident_id}: {address} {intended}").format(
            incident_id=incident_id,
            address=address.strip().lower(),
            intended=_("intended") if intended else _("unintended"),
        )
    )


def status_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    status: Annotated[
        Status, typer.Argument(help=_("open, contained, notified, reported, closed"))
    ],
    by: Annotated[str, typer.Option("--by", help=_("Who changes it."))],
    note: Annotated[str, typer.Option("--note", help=_("What was done."))],
) -> None:
    _casebook(state(ctx).settings()).set_status(incident_id, status, by=by, note=note)
    typer.echo(
        _("incident {incident_id}: {status}").format(incident_id=incident_id, status=status.value)
    )


def recall_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    from_addr: Annotated[str, typer.Option("--from", help=_("The privacy officer's address."))],
    next_hop: Annotated[str | None, typer.Option(help=_("HOST:PORT to send through."))] = None,
    outbox: Annotated[Path | None, typer.Option(help=_("Write to this folder instead."))] = None,
    again: Annotated[
        bool, typer.Option("--again", help=_("Also to recipients who already had one."))
    ] = False,
    by: By = None,
) -> None:
    settings = state(ctx).settings()
    casebook = _casebook(settings)
    facts = casebook.facts(incident_id)
    targets = [
        r
        for r in facts.unintended
        if r.confirmed_at is None and (again or r.recall_sent_at is None)
    ]
    if not targets:
        typer.echo(
            _("incident {incident_id}: nobody left to send a recall request to").format(
                incident_id=incident_id
            )
        )
        return
    try:
        outbound = outbound_from(settings, next_hop, outbox)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    sent: list[int] = []
    try:
        for recipient in targets:
            outbound.send(
                build_recall(facts, recipient, from_addr=from_addr), from_addr, [recipient.address]
            )
            sent.append(recipient.id)
    except OutboundError as exc:
        raise OperationalError(_("recall request not sent: {exc}").format(exc=exc)) from None
    finally:
        if sent:
            casebook.recall_sent(incident_id, sent, by=by or cli_actor())
    typer.echo(
        _("incident {incident_id}: recall request sent to {n} recipient(s)").format(
            incident_id=incident_id, n=len(sent)
        )
    )


def confirm_recall_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    address: Annotated[str, typer.Argument(help=_("The recipient who confirmed."))],
    note: Annotated[str, typer.Option("--note", help=_("How they confirmed."))],
    by: By = None,
) -> None:
    _casebook(state(ctx).settings()).confirm_recall(
        incident_id, address, by=by or cli_actor(), note=note
    )
    typer.echo(
        _("incident {incident_id}: deletion confirmed by {address}").format(
            incident_id=incident_id, address=address.strip().lower()
        )
    )


def letters_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    register_file: Annotated[
        Path,
        typer.Option(
            "--register-file", help=_("The register's clear file (read for this run only).")
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help=_("Folder for the letters."))],
    register: Annotated[
        str | None,
        typer.Option(
            "--register", help=_("Which register the file is (default: the only one in scope).")
        ),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help=_("COLUMN=FIELD, as for register import (repeat; default: as it was imported)."),
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help=_("Processes (default: all cores)."))] = None,
    by: By = None,
) -> None:
    settings = state(ctx).settings()
    casebook = _casebook(settings)
    facts = casebook.facts(incident_id)
    in_scope = sorted(facts.scope.records)
    if register is None:
        if len(in_scope) != 1:
            raise UsageError(
                _("name the register with --register ({registers})").format(
                    registers=", ".join(in_scope) or _("none")
                )
            )
        register = in_scope[0]
    if not register_file.is_file():
        raise UsageError(_("no such file: {register_file}").format(register_file=register_file))
    # The register remembers how its import read the file; --map overrides that.
    info = register_info(settings.registers_dir, register)
    reading = info.reading if info is not None else Reading()
    if map_ is not None:
        reading = dataclasses.replace(reading, mapping=parse_maps(map_))
    try:
        rows = clear_rows(register_file, reading)
        selection = select_addressees(rows, register, facts)
        run = write_letters(facts, selection, out, workers=workers)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except (FontError, OSError) as exc:
        raise OperationalError(_("cannot write the letters: {exc}").format(exc=exc)) from None
    casebook.record(
        incident_id,
        AuditKind.INCIDENT_LETTERS,
        by=by or cli_actor(),
        data={
            "letters": run.letters,
            "deceased": run.deceased,
            "missing": run.missing,
            "register": register,
        },
    )
    written = _("incident {incident_id}: {letters} letters in {out}").format(
        incident_id=incident_id, letters=run.letters, out=out
    )
    skipped = _("{deceased} deceased not written to").format(deceased=run.deceased)
    if run.missing:
        skipped += _(", {missing} in scope but not in the file").format(missing=run.missing)
    typer.echo(_("{written} ({skipped})").format(written=written, skipped=skipped))


def report_cmd(
    ctx: typer.Context,
    incident_id: IncidentId,
    out: Annotated[Path, typer.Option("--out", help=_("FILE.docx, FILE.pdf or FILE.json"))],
    by: By = None,
) -> None:
    if out.suffix.lower() not in (".docx", ".pdf", ".json"):
        raise UsageError(
            _("--out must end in .docx, .pdf or .json, not {name!r}").format(name=out.name)
        )
    settings = state(ctx).settings()
    casebook = _casebook(settings)
    facts = casebook.facts(incident_id)
    try:
        data = write_report(facts, out, now=datetime.now(UTC))
    except (FontError, OSError) as exc:
        raise OperationalError(_("cannot write the report: {exc}").format(exc=exc)) from None
    casebook.record(
        incident_id,
        AuditKind.INCIDENT_REPORT,
        by=by or cli_actor(),
        data={
            "format": out.suffix.lower().lstrip("."),
            "subjects": data["data_subjects"]["subjects"],
        },
    )
    typer.echo(
        _("incident {incident_id}: report written to {out}").format(
            incident_id=incident_id, out=os.fspath(out)
        )
    )
