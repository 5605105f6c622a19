"""The sender's confirm page behind the signed one-time link of a warn notice.

No sign-in: the link itself is the credential (an HMAC over the item, its content and an
expiry). It works once because the first confirm or cancel moves the item out of ``held``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from starlette.responses import Response

from postwarden.act import DecisionError, ReleaseError
from postwarden.console.deps import Visitor, console_state, visitor
from postwarden.console.review import subject_of
from postwarden.console.state import ConsoleState
from postwarden.i18n import N_, _
from postwarden.model import Action
from postwarden.notices import TokenError, check_confirm_token, read_confirm_token
from postwarden.store.quarantine import QuarantineItem, SealError, State

router = APIRouter()

_GONE = N_("This link was already used, or the message was decided otherwise.")


def _item_for(ctx: ConsoleState, token: str) -> QuarantineItem:
    """The warned item this genuine, unexpired token names; 404/410 otherwise."""
    try:
        item_id = read_confirm_token(token)[0]
    except TokenError:
        raise HTTPException(404, _("This confirm link is not valid.")) from None
    with ctx.db() as db:
        item = db.get(QuarantineItem, item_id)
        if item is not None:
            db.expunge(item)
    if item is None or item.action != Action.WARN.label:
        raise HTTPException(404, _("This confirm link is not valid."))
    try:
        check_confirm_token(ctx.secret, token, item.content_sha256)
    except TokenError as exc:
        status = 410 if "expired" in str(exc) else 404
        raise HTTPException(
            status, _("This confirm link cannot be used: {reason}.").format(reason=exc)
        ) from None
    if item.state != State.HELD.value:
        raise HTTPException(410, _(_GONE))
    return item


@router.get("/confirm/{token}", name="confirm")
def confirm_page(
    request: Request, token: str, current: Annotated[Visitor, Depends(visitor)]
) -> Response:
    """The sender sees why and decides; the page carries a session's CSRF token like every
    other form (the sender has no account, so the session stays anonymous)."""
    ctx = console_state(request)
    item = _item_for(ctx, token)
    try:
        subject = subject_of(ctx.gateway.quarantine.read(item))
    except SealError:
        raise HTTPException(404, _("This message cannot be shown.")) from None
    created = item.created if item.created.tzinfo else item.created.replace(tzinfo=UTC)
    return ctx.render(
        request,
        "confirm.html",
        title=_("Confirm your message"),
        item=item,
        subject=subject,
        token=token,
        created=created.strftime("%Y-%m-%d %H:%M UTC"),
        done="",
    )


@router.post("/confirm/{token}")
def confirm(
    request: Request,
    token: str,
    decision: Annotated[str, Form(pattern="^(confirm|cancel)$")],
) -> Response:
    ctx = console_state(request)
    item = _item_for(ctx, token)
    if decision == "confirm":
        try:
            ctx.gateway.confirm_warn(token)
        except DecisionError as exc:
            raise HTTPException(410, f"{_(_GONE)} ({exc})") from None
        except ReleaseError:
            raise HTTPException(
                503,
                _(
                    "The message could not be handed on just now. It is still held: try the "
                    "link again in a few minutes."
                ),
            ) from None
        done = "sent"
    else:
        try:
            ctx.gateway.cancel_warn(token)
        except DecisionError:
            raise HTTPException(410, _(_GONE)) from None
        done = "cancelled"
    return ctx.render(
        request,
        "confirm.html",
        title=_("Thank you"),
        item=item,
        subject="",
        token="",
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        done=done,
    )
