"""Signing in and out, and a member's own account (TOTP)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from postwarden.console.deps import (
    Visitor,
    console_state,
    cookie_name,
    require,
    safe_next,
    visitor,
)
from postwarden.console.i18n import remember
from postwarden.console.roles import Permission
from postwarden.console.state import Member
from postwarden.i18n import _, ngettext
from postwarden.store import credentials, sessions
from postwarden.store.users import User

router = APIRouter()


def _client(request: Request) -> str:
    """The client's address: the direct peer, or what a trusted proxy says it is (the
    console's ProxyHeadersMiddleware set it from settings.access.trusted_proxies)."""
    return request.client.host if request.client else "unknown"


@router.get("/login", name="login")
def login_form(
    request: Request, current: Annotated[Visitor, Depends(visitor)], next: str = ""
) -> Response:
    root = request.scope.get("root_path", "")
    if current.member is not None:
        return RedirectResponse(safe_next(next, root), status_code=303)
    return console_state(request).render(
        request,
        "login.html",
        title=_("Sign in"),
        next=safe_next(next, root),
        username="",
        error="",
    )


@router.post("/login")
def login(
    request: Request,
    current: Annotated[Visitor, Depends(visitor)],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check password and code; on success the old session is dropped and a new one issued,
    so a session id planted before login (session fixation) is worth nothing after it."""
    state = console_state(request)
    root = request.scope.get("root_path", "")
    address = _client(request)
    with state.db.begin() as db:
        # Sign-ins are rare and cheap to piggyback on: dead sessions and old attempts go here.
        sessions.purge_expired(db)
        wait = sessions.throttle_delay(db, username, address)
        if wait > timedelta(0):
            # Refused before the password is checked, and not counted: waiting is the point.
            seconds = math.ceil(wait.total_seconds())
            error, status = (
                _("Too many failed sign-ins. Try again in {wait}.").format(wait=_duration(seconds)),
                429,
            )
            retry_after = str(seconds)
        else:
            user = db.execute(select(User).where(User.name == username)).scalar_one_or_none()
            ok = credentials.check_password(user, password)
            if ok and user is not None and not credentials.check_totp(db, user.id, code):
                ok = False
            sessions.record_attempt(db, username, address, ok)
            if ok and user is not None:
                fresh = sessions.sign_in(
                    db,
                    user.id,
                    user.name,
                    old_token=current.session.token,
                    address=address,
                    secret=state.secret,
                )
                request.state.new_token = fresh.token
                signed_in = RedirectResponse(safe_next(next, root), status_code=303)
                if user.language:
                    # The user's own choice, in this browser too from now on.
                    remember(request, signed_in, user.language)
                return signed_in
            error, status = _("Wrong user name, password or code."), 401
            retry_after = ""
    response = state.render(
        request,
        "login.html",
        status,
        title=_("Sign in"),
        next=safe_next(next, root),
        username=username,
        error=error,
    )
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def _duration(seconds: int) -> str:
    if seconds < 120:
        return ngettext("{n} second", "{n} seconds", seconds).format(n=seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)


@router.post("/logout", name="logout")
def logout(request: Request, current: Annotated[Visitor, Depends(visitor)]) -> Response:
    state = console_state(request)
    with state.db.begin() as db:
        sessions.close_session(db, current.session.token)
    response = RedirectResponse(request.url_for("login").path, status_code=303)
    response.delete_cookie(cookie_name(request), path="/")
    return response


def _account_page(
    request: Request, member: Member, *, secret: str, error: str = "", status: int = 200
) -> Response:
    """The account page; with ``secret``, the TOTP set-up for it (key and QR link)."""
    uri = credentials.provisioning_uri(secret, member.name) if secret else ""
    return console_state(request).render(
        request,
        "account.html",
        status,
        title=_("Your account"),
        nav="account",
        totp_secret=secret,
        totp_uri=uri,
        error=error,
    )


@router.get("/account", name="account")
def account(
    request: Request,
    member: Annotated[Member, Depends(require(Permission.VIEW))],
    setup: bool = False,
) -> Response:
    secret = credentials.new_totp_secret() if setup and not member.totp else ""
    return _account_page(request, member, secret=secret)


@router.post("/account/totp", name="totp_enable")
def totp_enable(
    request: Request,
    member: Annotated[Member, Depends(require(Permission.VIEW))],
    secret: Annotated[str, Form(min_length=16, max_length=64, pattern="^[A-Z2-7]+=*$")],
    code: Annotated[str, Form(max_length=16)],
) -> Response:
    state = console_state(request)
    with state.db.begin() as db:
        user = db.get(User, member.id)
        assert user is not None  # noqa: S101 - require() loaded this member
        try:
            credentials.enable_totp(db, user, secret, code, secret=state.secret)
        except credentials.CredentialError as exc:
            error = str(exc)
        else:
            return RedirectResponse(request.url_for("account").path + "?ok=totp", status_code=303)
    return _account_page(request, member, secret=secret, error=error, status=400)


def _with_password(db: Session, member: Member, password: str) -> User | None:
    """The signed-in user's row, provided ``password`` is theirs (re-typed to confirm)."""
    user = db.get(User, member.id)
    if user is None or not credentials.check_password(user, password):
        return None
    return user


@router.post("/account/password", name="password_change")
def password_change(
    request: Request,
    member: Annotated[Member, Depends(require(Permission.VIEW))],
    password: Annotated[str, Form(max_length=1024)],
    new_password: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Change one's own password: the current one first, then the passphrase policy."""
    state = console_state(request)
    with state.db.begin() as db:
        user = _with_password(db, member, password)
        if user is None:
            error = _("Wrong current password: the password is unchanged.")
        elif new_password != repeat:
            error = _("The two new passwords differ: the password is unchanged.")
        else:
            try:
                credentials.set_password(
                    db, user.name, new_password, actor=member.name, secret=state.secret
                )
            except credentials.CredentialError as exc:
                error = _("Not changed: {reason}").format(reason=exc)
            else:
                # set_password ended every session of the user; this browser gets a new one.
                fresh = sessions.open_session(db, user.id)
                request.state.new_token = fresh.token
                return RedirectResponse(
                    request.url_for("account").path + "?ok=password", status_code=303
                )
    return _account_page(request, member, secret="", error=error, status=400)


@router.post("/account/totp/disable", name="totp_disable")
def totp_disable(
    request: Request,
    member: Annotated[Member, Depends(require(Permission.VIEW))],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    state = console_state(request)
    with state.db.begin() as db:
        user = _with_password(db, member, password)
        if user is None:
            return _account_page(
                request, member, secret="", error=_("Wrong password: TOTP stays on."), status=400
            )
        credentials.disable_totp(db, user, actor=member.name, secret=state.secret)
    return RedirectResponse(request.url_for("account").path, status_code=303)
