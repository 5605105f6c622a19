"""Exemptions: staff request one, a privacy officer approves or refuses it, and revokes it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from postwarden.console.deps import Forbidden, console_state, require
from postwarden.console.roles import Permission
from postwarden.console.state import ConsoleState, Member
from postwarden.i18n import _
from postwarden.inspector import StoreExemptions
from postwarden.store.exemption_requests import (
    ExemptionRequest,
    RequestState,
    add_request,
    approve_request,
    pending_requests,
    refuse_request,
)
from postwarden.store.exemptions import (
    ExemptionError,
    list_exemptions,
    revoke_exemption,
)

router = APIRouter()

MAX_PERIOD = timedelta(days=366)
"""An exemption is for an operational need, not forever: a year at most, then ask again."""


@router.get("/exemptions", name="exemptions")
def exemptions_page(
    request: Request, member: Annotated[Member, Depends(require(Permission.VIEW))]
) -> Response:
    return _page(request, member)


def _page(
    request: Request,
    member: Member,
    error: str = "",
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    state = console_state(request)
    today = datetime.now(UTC).date()
    officer = member.can(Permission.DECIDE_EXEMPTION)
    with state.db() as db:
        pending = pending_requests(db)
        if not officer:
            pending = [r for r in pending if r.requested_by == member.name]
        recent_stmt = (
            select(ExemptionRequest)
            .where(ExemptionRequest.state != RequestState.PENDING.value)
            .order_by(ExemptionRequest.decided_at.desc())
            .limit(20)
        )
        recent = [
            r for r in db.execute(recent_stmt).scalars() if officer or r.requested_by == member.name
        ]
        grants = [e for e in list_exemptions(db) if officer or member.is_sender(e.sender)]
        active = [e for e in grants if e.active_on(today)]
        ended = [e for e in grants if not e.active_on(today)][:20]
    return state.render(
        request,
        "exemptions.html",
        status,
        title=_("Exemptions"),
        nav="exemptions",
        pending=pending,
        recent=recent,
        active=active,
        ended=ended,
        officer=officer,
        today=today,
        max_until=today + MAX_PERIOD,
        error=error,
        form=form or {},
    )


@router.post("/exemptions/request", name="exemption_request")
def request_exemption(
    request: Request,
    member: Annotated[Member, Depends(require(Permission.REQUEST_EXEMPTION))],
    recipient_domain: Annotated[str, Form(max_length=255)],
    reason: Annotated[str, Form(max_length=2000)],
    until: Annotated[date, Form()],
) -> Response:
    form = {"recipient_domain": recipient_domain, "reason": reason, "until": str(until)}
    if not member.email:
        return _page(
            request,
            member,
            _(
                "Your account has no e-mail address, so there is no "
                "sender to exempt. Ask an admin to add one."
            ),
            400,
            form,
        )
    today = datetime.now(UTC).date()
    if not today <= until <= today + MAX_PERIOD:
        return _page(
            request, member, _("Choose an end date between today and a year from now."), 400, form
        )
    domain = recipient_domain.strip().lower().lstrip("@").rstrip(".")
    if not domain or "." not in domain or any(c.isspace() or c in "@/<>" for c in domain):
        return _page(
            request, member, _("That is not a domain name (e.g. partner.example)."), 400, form
        )
    if not reason.strip():
        return _page(request, member, _("Say why the exemption is needed."), 400, form)
    state = console_state(request)
    with state.db.begin() as db:
        add_request(
            db,
            sender=member.email,
            recipient_domain=domain,
            reason=reason.strip(),
            until=until,
            requested_by=member.name,
            secret=state.secret,
        )
    return RedirectResponse(request.url_for("exemptions").path + "?ok=requested", status_code=303)


def _refresh(ctx: ConsoleState) -> None:
    """Make this process's gateway see a grant or revocation now, not at its next refresh
    (other gateway processes pick it up within ``inspector.REFRESH_SECONDS``)."""
    recipients = getattr(ctx.gateway.inspector, "recipients", None)
    book = getattr(recipients, "exemptions", None)
    if isinstance(book, StoreExemptions):
        book.refresh()


def _pending(db_request: ExemptionRequest | None) -> ExemptionRequest:
    if db_request is None or db_request.state != RequestState.PENDING.value:
        raise HTTPException(404, _("No such pending request: it may have been decided already."))
    return db_request


@router.post("/exemptions/requests/{request_id}/approve", name="exemption_approve")
def approve(
    request: Request,
    request_id: int,
    member: Annotated[Member, Depends(require(Permission.DECIDE_EXEMPTION))],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    state = console_state(request)
    with state.db.begin() as db:
        row = _pending(db.get(ExemptionRequest, request_id))
        if row.requested_by == member.name or member.is_sender(row.sender):
            raise Forbidden(_("You cannot approve your own exemption request."))
        # an ExemptionError is a 400 page (console/app.py)
        approve_request(db, row, by=member.name, note=note, secret=state.secret)
    _refresh(state)
    return RedirectResponse(request.url_for("exemptions").path + "?ok=approved", status_code=303)


@router.post("/exemptions/requests/{request_id}/refuse", name="exemption_refuse")
def refuse(
    request: Request,
    request_id: int,
    member: Annotated[Member, Depends(require(Permission.DECIDE_EXEMPTION))],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    state = console_state(request)
    with state.db.begin() as db:
        row = _pending(db.get(ExemptionRequest, request_id))
        refuse_request(db, row, by=member.name, note=note, secret=state.secret)
    return RedirectResponse(request.url_for("exemptions").path + "?ok=refused", status_code=303)


@router.post("/exemptions/{exemption_id}/revoke", name="exemption_revoke")
def revoke(
    request: Request,
    exemption_id: int,
    member: Annotated[Member, Depends(require(Permission.DECIDE_EXEMPTION))],
) -> Response:
    state = console_state(request)
    with state.db.begin() as db:
        try:
            revoke_exemption(db, exemption_id, revoked_by=member.name, secret=state.secret)
        except ExemptionError as exc:
            raise HTTPException(404, str(exc)) from None
    _refresh(state)
    return RedirectResponse(request.url_for("exemptions").path + "?ok=revoked", status_code=303)
