"""Incidents: the list, an incident's scope and timeline, status changes, letters and report.

Privacy officers only (``Permission.DECIDE_REGISTER``): an incident is about register data,
which stays with that role; an admin sees the ``incident.*`` entries in the audit log.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from sqlalchemy import Engine
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, RedirectResponse, Response

from postwarden.console.deps import console_state, require
from postwarden.console.roles import Permission
from postwarden.console.state import ConsoleState, Member
from postwarden.engine.registers import Reading, RegisterFileError, register_info
from postwarden.i18n import N_, _
from postwarden.incidents.casebook import Casebook, IncidentError, Status
from postwarden.incidents.clearfile import clear_rows, memory_copy
from postwarden.incidents.facts import IncidentFacts
from postwarden.incidents.fonts import FontError
from postwarden.incidents.letters import LetterRun, select_addressees, write_letters
from postwarden.incidents.report import report_data, report_docx, report_json, report_pdf
from postwarden.store.audit_kinds import AuditKind

router = APIRouter()

OFFICER = Permission.DECIDE_REGISTER

MAX_REGISTER_UPLOAD = 64 * 1024 * 1024
"""The clear register is copied into memory for the run: bigger files go through the CLI."""

REPORT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "json": "application/json",
}

# Outcome notes a redirect asks for with ``?ok=CODE``: fixed texts, as state.FLASH.
_FLASH = {"status": N_("Status changed; it is on the timeline and in the audit log.")}


def _casebook(state: ConsoleState) -> Casebook:
    bind = state.db.kw.get("bind")
    return Casebook(bind if isinstance(bind, Engine) else state.gateway.engine, state.secret)


def _facts(casebook: Casebook, incident_id: int) -> IncidentFacts:
    try:
        return casebook.facts(incident_id)
    except IncidentError:
        raise HTTPException(404, _("No incident {id}.").format(id=incident_id)) from None


@router.get("/incidents", name="incidents")
def incidents_page(
    request: Request, member: Annotated[Member, Depends(require(OFFICER))]
) -> Response:
    state = console_state(request)
    return state.render(
        request,
        "incidents.html",
        title=_("Incidents"),
        nav="incidents",
        rows=_casebook(state).list(),
    )


@router.get("/incidents/{incident_id}", name="incident")
def incident_page(
    request: Request, incident_id: int, member: Annotated[Member, Depends(require(OFFICER))]
) -> Response:
    state = console_state(request)
    return _detail(request, _facts(_casebook(state), incident_id))


def _detail(
    request: Request, facts: IncidentFacts, error: str = "", status_code: int = 200
) -> Response:
    scope = facts.scope
    registers = sorted(scope.records)
    per_item = {
        i.id: {name: len(ids) for name, ids in scope.by_item.get(i.id, {}).items()}
        for i in facts.items
    }
    per_recipient = {
        address: {name: len(ids) for name, ids in regs.items()}
        for address, regs in scope.by_recipient.items()
    }
    # Recipients added by hand (a forward found later) may have received no item.
    recipients: list[dict[str, Any]] = [
        {"fact": r, "records": per_recipient.get(r.address.lower(), {})} for r in facts.recipients
    ]
    return console_state(request).render(
        request,
        "incident.html",
        status_code,
        title=f"{facts.reference} {facts.title}",
        nav="incidents",
        facts=facts,
        scope=scope,
        registers=registers,
        by_register={name: scope.by_status(name) for name in registers},
        by_status=scope.by_status(),
        per_item=per_item,
        recipients=recipients,
        statuses=[s.value for s in Status],
        report_types=list(REPORT_TYPES),
        max_upload_mib=MAX_REGISTER_UPLOAD // (1024 * 1024),
        error=error,
        flash=_(flash) if (flash := _FLASH.get(request.query_params.get("ok", ""))) else "",
    )


@router.post("/incidents/{incident_id}/status", name="incident_status")
def change_status(
    request: Request,
    incident_id: int,
    member: Annotated[Member, Depends(require(OFFICER))],
    status: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=4000)],
) -> Response:
    """Move the incident to another status; Casebook puts it on the timeline and the chain."""
    casebook = _casebook(console_state(request))
    facts = _facts(casebook, incident_id)
    if status not in {s.value for s in Status}:
        return _detail(request, facts, _("Unknown status {status!r}.").format(status=status), 400)
    if not note.strip():
        return _detail(request, facts, _("Say what was done (the note is on the timeline)."), 400)
    try:
        casebook.set_status(incident_id, Status(status), by=member.name, note=note.strip())
    except IncidentError as exc:
        return _detail(request, facts, str(exc).capitalize() + ".", 400)
    url = request.url_for("incident", incident_id=incident_id).path
    return RedirectResponse(url + "?ok=status", status_code=303)


@router.post("/incidents/{incident_id}/report", name="incident_report")
def download_report(
    request: Request,
    incident_id: int,
    member: Annotated[Member, Depends(require(OFFICER))],
    kind: Annotated[str, Form(pattern="^(docx|pdf|json)$")],
) -> Response:
    """The PCPD notification draft as a download (counts only, never a record)."""
    casebook = _casebook(console_state(request))
    facts = _facts(casebook, incident_id)
    data = report_data(facts, now=datetime.now(UTC))
    try:
        body = (
            report_docx(data)
            if kind == "docx"
            else report_pdf(data)
            if kind == "pdf"
            else report_json(data)
        )
    except FontError as exc:
        raise HTTPException(
            503, _("Cannot write the report: {reason}").format(reason=exc)
        ) from None
    casebook.record(
        incident_id,
        AuditKind.INCIDENT_REPORT,
        by=member.name,
        data={"format": kind, "subjects": data["data_subjects"]["subjects"]},
    )
    return Response(
        body,
        media_type=REPORT_TYPES[kind],
        headers={"Content-Disposition": _attachment(f"{facts.reference}-report.{kind}")},
    )


@router.post("/incidents/{incident_id}/letters", name="incident_letters")
def download_letters(
    request: Request,
    incident_id: int,
    member: Annotated[Member, Depends(require(OFFICER))],
    register_file: Annotated[UploadFile, File()],
    register_name: Annotated[str, Form(max_length=64)] = "",
    mapping: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Letters to the living people in scope, as one zip of the PDFs and the mail-merge CSV.

    The clear register is copied from the upload into an anonymous memory file for this run
    only; the letters are written to a private temporary directory outside the data dir,
    which is removed as soon as the zip has been sent.
    """
    state = console_state(request)
    casebook = _casebook(state)
    facts = _facts(casebook, incident_id)
    in_scope = sorted(facts.scope.records)
    register = register_name
    if not register:
        if len(in_scope) != 1:
            return _detail(request, facts, _("Choose the register the file belongs to."), 400)
        register = in_scope[0]
    if register not in in_scope:
        return _detail(
            request,
            facts,
            _("No record of register {name!r} is in scope.").format(name=register),
            400,
        )
    if register_file.size is not None and register_file.size > MAX_REGISTER_UPLOAD:
        return _detail(
            request,
            facts,
            _(
                "The file is over {mib} MiB: "
                "write the letters with `postwarden incident letters` instead."
            ).format(mib=MAX_REGISTER_UPLOAD // (1024 * 1024)),
            413,
        )
    overrides: dict[str, str] = {}
    for line in mapping.splitlines():
        if line.strip():
            column, sep, field = line.partition("=")
            if not sep:
                return _detail(
                    request,
                    facts,
                    _("Mapping lines read COLUMN=FIELD: {line!r}.").format(line=line),
                    400,
                )
            overrides[column.strip()] = field.strip()
    # An empty mapping reads the file as the register's import read its own.
    info = register_info(state.settings.registers_dir, register)
    reading = info.reading if info is not None else Reading()
    if overrides:
        reading = dataclasses.replace(reading, mapping=overrides)
    with memory_copy(register_file.file) as clear:
        try:
            rows = clear_rows(clear, reading)
            selection = select_addressees(rows, register, facts)
        except (RegisterFileError, ValueError) as exc:
            # The reader names the memory file; the officer knows the upload by its name.
            message = str(exc).replace(str(clear), register_file.filename or _("the file"))
            return _detail(request, facts, message, 400)
    # Private (0700), in the system's temp dir, never the data dir; removed after sending.
    work = Path(tempfile.mkdtemp(prefix="postwarden-console-letters-"))
    try:
        # Half the cores: the gateway serving mail on this machine keeps the rest.
        workers = max(1, (os.cpu_count() or 2) // 2)
        run = write_letters(facts, selection, work / "letters", workers=workers)
        bundle = _zip(run, work / f"{facts.reference}-letters.zip")
    except FontError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise HTTPException(
            503, _("Cannot write the letters: {reason}").format(reason=exc)
        ) from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    casebook.record(
        incident_id,
        AuditKind.INCIDENT_LETTERS,
        by=member.name,
        data={
            "letters": run.letters,
            "deceased": run.deceased,
            "missing": run.missing,
            "register": register,
        },
    )
    return FileResponse(
        bundle,
        media_type="application/zip",
        filename=bundle.name,
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )


def _zip(run: LetterRun, out: Path) -> Path:
    """The run as one zip: PDFs stored (already compressed), the CSV deflated."""
    with zipfile.ZipFile(out, "w") as bundle:
        for path in (*run.files, run.merged):
            bundle.write(path, path.name, compress_type=zipfile.ZIP_STORED)
        bundle.write(run.csv, run.csv.name, compress_type=zipfile.ZIP_DEFLATED)
    return out


def _attachment(name: str) -> str:
    return f'attachment; filename="{name}"'
