"""The audit log, filterable, with the hash chain's verification status."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import func, select
from starlette.responses import Response

from postwarden.console.deps import console_state, require
from postwarden.console.roles import Permission
from postwarden.console.state import Member
from postwarden.i18n import _
from postwarden.store import audit
from postwarden.store.anchor import AnchorError, anchored_head
from postwarden.store.audit import AuditEntry

router = APIRouter()

PAGE = 100


@router.get("/audit", name="audit")
def audit_page(
    request: Request,
    member: Annotated[Member, Depends(require(Permission.VIEW_AUDIT))],
    kind: Annotated[str, Query(max_length=64)] = "",
    actor: Annotated[str, Query(max_length=255)] = "",
    item: Annotated[str, Query(max_length=64)] = "",
    since: date | None = None,
    until: date | None = None,
    before: int | None = None,
) -> Response:
    state = console_state(request)
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(PAGE + 1)
    if kind:
        stmt = stmt.where(AuditEntry.kind.startswith(kind, autoescape=True))
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if item:
        # Entries name items in their JSON data; a substring match is enough to narrow the list.
        stmt = stmt.where(AuditEntry.data.contains(item, autoescape=True))
    if since:
        stmt = stmt.where(AuditEntry.created >= since.isoformat())
    if until:
        stmt = stmt.where(AuditEntry.created < until.isoformat() + "T99")
    if before:
        stmt = stmt.where(AuditEntry.seq < before)
    with state.db() as db:
        rows = list(db.execute(stmt).scalars())
        kinds = list(
            db.execute(select(AuditEntry.kind).distinct().order_by(AuditEntry.kind)).scalars()
        )
        total = db.scalar(select(func.count()).select_from(AuditEntry)) or 0
        # Walks the whole chain: about a second per 100,000 entries on this class of machine.
        try:
            check = audit.verify(db, secret=state.secret, anchored=anchored_head(state.settings))
        except AnchorError as exc:
            check = audit.Verification(total, 0, str(exc))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    entries = [_entry(r) for r in rows]
    return state.render(
        request,
        "audit.html",
        title=_("Audit log"),
        nav="audit",
        entries=entries,
        kinds=kinds,
        total=total,
        check=check,
        more=more,
        next_before=rows[-1].seq if more and rows else None,
        filters={
            "kind": kind,
            "actor": actor,
            "item": item,
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else "",
        },
    )


def _entry(row: AuditEntry) -> dict[str, Any]:
    try:
        data = json.loads(row.data)
    except ValueError:
        data = {"raw": row.data}
    return {
        "seq": row.seq,
        "created": row.created.replace("T", " ")[:19],
        "kind": row.kind,
        "actor": row.actor,
        "data": data,
        "hash": row.hash[:12],
    }
