"""Admin: who can sign in, with which role and factors, and ending a user's sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import func, select
from starlette.responses import RedirectResponse, Response

from postwarden.console.deps import console_state, require
from postwarden.console.roles import Permission
from postwarden.console.state import Member
from postwarden.i18n import _
from postwarden.store import sessions
from postwarden.store.credentials import TotpSecret
from postwarden.store.sessions import ConsoleSession
from postwarden.store.users import User, list_users

router = APIRouter()


@router.get("/users", name="users")
def users_page(
    request: Request, member: Annotated[Member, Depends(require(Permission.MANAGE_USERS))]
) -> Response:
    state = console_state(request)
    with state.db() as db:
        people = list_users(db)
        totp = set(db.execute(select(TotpSecret.user_id)).scalars())
        live = {
            user_id: n
            for user_id, n in db.execute(
                select(ConsoleSession.user_id, func.count())
                .where(ConsoleSession.user_id.is_not(None))
                .group_by(ConsoleSession.user_id)
            )
        }
    rows = [
        {
            "id": u.id,
            "name": u.name,
            "role": u.role,
            "email": u.email,
            "password": bool(u.password_hash),
            "totp": u.id in totp,
            "sessions": live.get(u.id, 0),
        }
        for u in people
    ]
    return state.render(request, "users.html", title=_("Users"), nav="users", users=rows)


@router.post("/users/{user_id}/signout", name="user_signout")
def sign_out_everywhere(
    request: Request,
    user_id: int,
    member: Annotated[Member, Depends(require(Permission.MANAGE_USERS))],
) -> Response:
    state = console_state(request)
    with state.db.begin() as db:
        user = db.get(User, user_id)
        if user is None:
            raise HTTPException(404, _("No such user."))
        sessions.sign_out_user(db, user.id, user.name, actor=member.name, secret=state.secret)
    return RedirectResponse(request.url_for("users").path + "?ok=signedout", status_code=303)
