"""The review queue and a held message's page: masked findings, reveal, release, reject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from postwarden.act import DecisionError, Gateway, ReleaseError, ViewKind
from postwarden.console.deps import Forbidden, console_state, require
from postwarden.console.i18n import label
from postwarden.console.review import inspect_held, reporter
from postwarden.console.roles import Permission
from postwarden.console.state import ConsoleState, Member
from postwarden.console.stats import format_age
from postwarden.i18n import _
from postwarden.model import Envelope
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.mailboxes import Mailboxes, message_senders
from postwarden.store.quarantine import QuarantineItem, SealError, State

router = APIRouter()

QUEUE_LIMIT = 500
STATES = ("held", "released", "rejected", "expired", "releasing", "all")


@router.get("/queue", name="queue")
def queue(
    request: Request,
    member: Annotated[Member, Depends(require(Permission.VIEW))],
    state: Annotated[
        str, Query(pattern="^(held|released|rejected|expired|releasing|all)$")
    ] = "held",
    action: Annotated[str, Query(pattern="^(|hold|warn)$")] = "",
    rule: Annotated[str, Query(max_length=64)] = "",
    q: Annotated[str, Query(max_length=320)] = "",
    register: bool = False,
) -> Response:
    """Held messages, oldest first: filter by state, action, rule, register data; search by
    sender, recipient or reference."""
    ctx = console_state(request)
    stmt = select(QuarantineItem).order_by(QuarantineItem.created, QuarantineItem.id)
    if state != "all":
        stmt = stmt.where(QuarantineItem.state == state)
    if action:
        stmt = stmt.where(QuarantineItem.action == action)
    with ctx.db() as db:
        items = list(db.execute(stmt).scalars())
    needle = q.strip().lower()
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    rules: set[str] = set()
    boxes = _mailboxes(ctx.gateway)
    for item in items:
        item_rules = [str(r.get("rule", "")) for r in item.reasons]
        rules.update(item_rules)
        if rule and rule not in item_rules:
            continue
        if register and not item.register_data:
            continue
        if needle and not (
            needle in item.sender.lower()
            or any(needle in r.lower() for r in item.recipients)
            or needle == item.id
        ):
            continue
        rows.append(_row(item, now, member, boxes))
    return ctx.render(
        request,
        "queue.html",
        title=_("Review queue"),
        nav="queue",
        rows=rows[:QUEUE_LIMIT],
        count=len(rows),
        limit=QUEUE_LIMIT,
        rules=sorted(rules),
        states=STATES,
        filters={"state": state, "action": action, "rule": rule, "q": q, "register": register},
    )


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _mailboxes(gateway: Gateway) -> Mailboxes:
    """For what the pages show; the gateway itself refuses a release when the aliases file
    cannot be read, so the pages fall back to comparing without it."""
    try:
        return gateway.mailboxes()
    except DecisionError:
        access = gateway.settings.access
        return Mailboxes(gateway.settings.org_domains, separators=access.subaddress_separators)


def _senders(ctx: ConsoleState, item: QuarantineItem) -> list[str]:
    """Envelope sender and header From/Sender of a held message (envelope only if the blob
    cannot be opened: then it is never released anyway)."""
    try:
        return message_senders(item.sender, ctx.gateway.quarantine.read(item))
    except SealError:
        return [item.sender]


def _row(item: QuarantineItem, now: datetime, member: Member, boxes: Mailboxes) -> dict[str, Any]:
    return {
        "id": item.id,
        "age": format_age(now - _aware(item.created)),
        "created": _aware(item.created).strftime("%Y-%m-%d %H:%M"),
        "sender": item.sender,
        "recipients": list(item.recipients),
        "action": item.action,
        "rules": [str(r.get("rule", "")) for r in item.reasons],
        "register": item.register_data,
        "state": item.state,
        # The queue shows the envelope only: opening every blob for a list is too costly.
        "own": member.is_sender(item.sender, mailboxes=boxes),
    }


def _blockers(
    item: QuarantineItem, member: Member, boxes: Mailboxes, senders: list[str]
) -> list[str]:
    """Why this member may not release this item (empty: they may)."""
    out = []
    if item.state != State.HELD.value:
        out.append(_("It is {state}, no longer held.").format(state=label(item.state)))
    if not member.email:
        out.append(
            _(
                "Your account has no e-mail address, so the four-eyes check cannot tell "
                "you from the sender. Ask an admin to add one."
            )
        )
    elif member.is_sender(*senders, mailboxes=boxes):
        out.append(_("You sent this message: someone else must release it (four eyes)."))
    if item.register_data and not member.can(Permission.DECIDE_REGISTER):
        out.append(_("It holds register data: a privacy officer must release it."))
    if not member.can(Permission.DECIDE):
        out.append(_("Your role does not decide holds."))
    return out


def _item(db: Session, item_id: str) -> QuarantineItem:
    item = db.get(QuarantineItem, item_id)
    if item is None:
        raise HTTPException(404, _("No such message in the quarantine."))
    return item


def _page(
    request: Request,
    member: Member,
    item_id: str,
    *,
    reveal: bool,
    error: str = "",
    status: int = 200,
) -> Response:
    ctx = console_state(request)
    with ctx.db.begin() as db:
        item = _item(db, item_id)
        # Every look at held content is on the record, masked or not (design.md: every view),
        # even one whose content then fails its check.
        kind: ViewKind = AuditKind.CONSOLE_REVEAL if reveal else AuditKind.CONSOLE_VIEW
        raw: bytes | None
        try:
            raw = ctx.gateway.view(db, item, actor=member.name, kind=kind)
        except SealError:
            raw = None
        db.expunge(item)
    inspection = None
    boxes = _mailboxes(ctx.gateway)
    senders = [item.sender]
    if raw is None:
        error = error or (
            _(
                "The stored message failed its integrity check and is not shown. "
                "Reject it, and tell the administrator."
            )
        )
    else:
        senders = message_senders(item.sender, raw)
        envelope = Envelope(item.sender, tuple(item.recipients))
        inspector = reporter(ctx.gateway.inspector, ctx.settings)
        inspection = inspect_held(inspector, raw, envelope, reveal=reveal)
    return ctx.render(
        request,
        "message.html",
        status,
        title=_("Message {id}").format(id=item.id),
        nav="queue",
        item=item,
        received=_aware(item.created).strftime("%Y-%m-%d %H:%M UTC"),
        age=format_age(datetime.now(UTC) - _aware(item.created)),
        inspection=inspection,
        reveal=reveal,
        blockers=_blockers(item, member, boxes, senders),
        error=error,
        own=member.is_sender(*senders, mailboxes=boxes),
    )


@router.get("/messages/{item_id}", name="message")
def message(
    request: Request, item_id: str, member: Annotated[Member, Depends(require(Permission.VIEW))]
) -> Response:
    return _page(request, member, item_id, reveal=False)


@router.post("/messages/{item_id}/reveal", name="message_reveal")
def reveal(
    request: Request,
    item_id: str,
    member: Annotated[Member, Depends(require(Permission.REVEAL))],
) -> Response:
    """Show the personal data unmasked: a deliberate act, answered with POST and audited."""
    return _page(request, member, item_id, reveal=True)


def _held(ctx: ConsoleState, item_id: str, digest: str) -> QuarantineItem:
    """The held item, provided it is still the very content the reviewer looked at."""
    with ctx.db() as db:
        item = _item(db, item_id)
        db.expunge(item)
    if item.content_sha256 != digest:
        raise Forbidden(_("This decision was made on other content: reload the message page."))
    return item


@router.post("/messages/{item_id}/release", name="message_release")
def release(
    request: Request,
    item_id: str,
    member: Annotated[Member, Depends(require(Permission.DECIDE))],
    reason: Annotated[str, Form(min_length=3, max_length=2000)],
    digest: Annotated[str, Form(max_length=64)],
) -> Response:
    ctx = console_state(request)
    item = _held(ctx, item_id, digest)
    blockers = _blockers(item, member, _mailboxes(ctx.gateway), _senders(ctx, item))
    if blockers:
        return _page(request, member, item_id, reveal=False, error=" ".join(blockers), status=403)
    try:
        ctx.gateway.release(item_id, by=member.name, reason=reason)
    except DecisionError as exc:
        return _page(request, member, item_id, reveal=False, error=str(exc), status=409)
    except ReleaseError as exc:
        where = _("It was partly delivered.") if exc.partial else _("It is still held.")
        return _page(
            request,
            member,
            item_id,
            reveal=False,
            status=502,
            error=_("The next hop did not take the message. {where} ({reason})").format(
                where=where, reason=exc
            ),
        )
    return RedirectResponse(request.url_for("queue").path + "?ok=released", status_code=303)


@router.post("/messages/{item_id}/reject", name="message_reject")
def reject(
    request: Request,
    item_id: str,
    member: Annotated[Member, Depends(require(Permission.DECIDE))],
    reason: Annotated[str, Form(min_length=3, max_length=2000)],
    digest: Annotated[str, Form(max_length=64)],
) -> Response:
    ctx = console_state(request)
    _held(ctx, item_id, digest)
    try:
        ctx.gateway.reject_item(item_id, by=member.name, reason=reason)
    except DecisionError as exc:
        return _page(request, member, item_id, reveal=False, error=str(exc), status=409)
    return RedirectResponse(request.url_for("queue").path + "?ok=rejected", status_code=303)
