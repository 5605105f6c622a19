"""The language switch on every page: this browser's cookie, and a signed-in user's setting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from postwarden import i18n
from postwarden.console.deps import Visitor, console_state, safe_next, visitor
from postwarden.console.i18n import remember
from postwarden.store.users import set_language

router = APIRouter()


@router.post("/language", name="language")
def switch_language(
    request: Request,
    current: Annotated[Visitor, Depends(visitor)],
    language: Annotated[str, Form(max_length=16)],
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Anonymous visitors (sign-in, a sender's confirm page) get the cookie only; a signed-in
    user's choice is also saved with the account, so it follows them to other browsers.
    ``back`` is the page the switch was on (never another site)."""
    if language not in i18n.LANGUAGES:
        language = i18n.DEFAULT
    if current.member is not None:
        with console_state(request).db.begin() as db:
            set_language(db, current.member.id, language)
    response = RedirectResponse(
        safe_next(back, request.scope.get("root_path", "")), status_code=303
    )
    remember(request, response, language)
    return response
