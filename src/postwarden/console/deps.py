"""Request dependencies: the browser session, the signed-in user, role checks and CSRF."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from postwarden import i18n
from postwarden.console.i18n import label
from postwarden.console.roles import Permission, allows
from postwarden.console.state import ConsoleState, Member, load_member
from postwarden.errors import Refused
from postwarden.i18n import _
from postwarden.store import sessions

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
COOKIE = "postwarden_session"
# The __Host- prefix makes browsers refuse the cookie unless it is Secure, Path=/ and without
# Domain, so a sibling subdomain cannot plant or overwrite it; browsers accept it over https
# only, so plain-http loopback use falls back to the bare name.
SECURE_COOKIE = "__Host-" + COOKIE


class LoginRequired(Refused):
    """No signed-in user: pages redirect to the login form, actions are refused."""

    http_status = 401


class Forbidden(Refused):
    """Signed in, but the role does not allow this, or the request failed a CSRF check."""


@dataclass(slots=True)
class Visitor:
    """Who is asking: the browser session and, once signed in, the member of staff."""

    session: sessions.OpenSession
    member: Member | None

    @property
    def csrf(self) -> str:
        return self.session.csrf


def console_state(request: Request) -> ConsoleState:
    state = request.app.state.console
    assert isinstance(state, ConsoleState)  # noqa: S101 - set by create_console
    return state


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request) -> str:
    return SECURE_COOKIE if is_secure(request) else COOKIE


def visitor(request: Request) -> Visitor:
    """The session for this browser; a new anonymous one for a safe request that has none.

    A plain function, so FastAPI runs it in its thread pool: a database that is busy for a
    moment must not stall the event loop the SMTP relay shares.

    A state-changing request without a live session is refused outright, which also refuses
    a forged cross-site POST before any form is read.
    """
    cached = getattr(request.state, "visitor", None)
    if isinstance(cached, Visitor):
        return cached
    state = console_state(request)
    token = request.cookies.get(cookie_name(request), "")
    with state.db.begin() as db:
        found = sessions.find_session(db, token) if token else None
        if found is None:
            if request.method not in SAFE_METHODS:
                raise Forbidden(_("No session: reload the page and try again."))
            found = sessions.open_session(db, None)
            request.state.new_token = found.token
        member = load_member(db, found.user_id) if found.user_id is not None else None
    if member is not None and member.language:
        i18n.switch(member.language)
    result = Visitor(session=found, member=member)
    request.state.visitor = result
    return result


async def csrf_guard(request: Request) -> None:
    """Every state-changing request carries the session's CSRF token and comes from here."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != _own_origin(request):
        raise Forbidden(_("Cross-origin request refused."))
    current = await run_in_threadpool(visitor, request)
    form = await request.form()
    submitted = form.get("csrf")
    if not isinstance(submitted, str) or not sessions.csrf_matches(current.session, submitted):
        raise Forbidden(_("Missing or stale form token: reload the page and try again."))


def _own_origin(request: Request) -> str:
    url = request.url
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default else ""
    return f"{url.scheme}://{url.hostname}{port}"


def require(permission: Permission) -> Callable[..., object]:
    """A dependency that yields the signed-in member holding ``permission``."""

    def check(current: Annotated[Visitor, Depends(visitor)]) -> Member:
        if current.member is None:
            raise LoginRequired
        if not allows(current.member.role, permission):
            raise Forbidden(
                _("Your role ({role}) does not allow this.").format(role=label(current.member.role))
            )
        return current.member

    return check


def safe_next(target: str | None, root: str) -> str:
    """A post-login destination inside the console, never another site.

    Refuses absolute URLs, scheme-relative ``//host`` and the backslash forms browsers treat
    as ``//`` (``/\\host``), and anything with control characters.
    """
    fallback = root + "/"
    if not target or len(target) > 2000:
        return fallback
    if any(ord(ch) < 0x20 or ch == "\\" for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if not (target == root or target.startswith(root + "/")) and root:
        return fallback
    return target


def login_url(request: Request) -> str:
    root = request.scope.get("root_path", "")
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return f"{root}/login?next={quote(path, safe='')}"
