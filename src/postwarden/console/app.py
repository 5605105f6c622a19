"""``create_console()``: the review console as an ASGI app, mounted next to the HTTP API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from postwarden.console.deps import (
    SAFE_METHODS,
    Forbidden,
    LoginRequired,
    console_state,
    cookie_name,
    csrf_guard,
    is_secure,
    login_url,
)
from postwarden.console.i18n import LanguageMiddleware
from postwarden.console.routes import (
    audit,
    auth,
    confirm,
    dashboard,
    exemptions,
    incidents,
    language,
    messages,
    policy,
    users,
)
from postwarden.console.state import HERE, ConsoleState, make_templates
from postwarden.errors import PostwardenError
from postwarden.i18n import _
from postwarden.settings import Settings

if TYPE_CHECKING:
    from postwarden.act import Gateway

__all__ = ["CSP", "HSTS", "ROUTERS", "create_console"]

ROUTERS = tuple(
    m.router
    for m in (
        auth,
        dashboard,
        messages,
        confirm,
        exemptions,
        incidents,
        audit,
        policy,
        users,
        language,
    )
)
"""Every router of the console: the security tests walk all of their routes."""

# Everything the console loads comes from itself: no inline script, no third-party origin.
# The dashboard chart is inline SVG markup, which needs no script or style permission.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=31536000"
"""RFC 6797: browsers use https only for this console for a year after seeing it."""
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Confirm links carry their token in the path: never leak it to another site. Not
    # "no-referrer": with it browsers send "Origin: null" on our own form posts, which the
    # CSRF guard's origin check must then refuse.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Pages may hold (masked) personal data: no browser or proxy keeps a copy.
    "Cache-Control": "no-store",
}


def create_console(
    settings: Settings, gateway: Gateway, db: sessionmaker[Session] | None = None
) -> FastAPI:
    """The console app; mount it (``api.mount("/console", create_console(...))``) or serve it.

    ``db`` defaults to a session factory on ``settings.db_url``; the schema must already be
    migrated (``postwarden serve`` does that at start).
    """
    app = FastAPI(
        title="Postwarden console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_guard)],
    )
    app.state.console = ConsoleState(
        settings=settings,
        gateway=gateway,
        db=db or gateway.sessions,
        templates=make_templates(),
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.middleware("http")(_security_headers)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(PostwardenError, _domain_error)
    # X-Forwarded-For / -Proto only from the configured proxies, and the right-most address
    # that is not one of them (uvicorn's middleware does exactly that); from anyone else the
    # headers are ignored, so a client cannot pick the address the sign-in throttle counts.
    # The server itself must not rewrite them first: serve runs uvicorn with proxy_headers off.
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.access.trusted_proxies))
    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    if is_secure(request):
        # Only over https (directly, or per a trusted proxy's X-Forwarded-Proto): browsers
        # ignore it over http, and sending it there could pin a console nobody can reach.
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    token = getattr(request.state, "new_token", None)
    if token:
        set_session_cookie(request, response, token)
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """HttpOnly, SameSite=Strict, Path=/; Secure (and the ``__Host-`` name) behind TLS."""
    response.set_cookie(
        cookie_name(request),
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )


async def _login_required(request: Request, exc: Exception) -> Response:
    if request.method in SAFE_METHODS:
        return RedirectResponse(login_url(request), status_code=303)
    return console_state(request).render(
        request,
        "error.html",
        401,
        title=_("Sign in first"),
        message=_("Your session has ended. Sign in and try again."),
    )


async def _forbidden(request: Request, exc: Exception) -> Response:
    return console_state(request).render(
        request, "error.html", 403, title=_("Not allowed"), message=str(exc) or _("Not allowed.")
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    return _error_page(request, exc.status_code, str(exc.detail))


async def _domain_error(request: Request, exc: Exception) -> Response:
    """A domain error a route let through: its class's status, and its message when the
    request was at fault (4xx).  A server-side failure is re-raised to the server error path
    (a bare 500, logged), so no internal detail reaches the page."""
    assert isinstance(exc, PostwardenError)  # noqa: S101 - registered for PostwardenError only
    if exc.http_status >= 500:
        raise exc
    return _error_page(request, exc.http_status, str(exc))


def _error_page(request: Request, status: int, message: str) -> Response:
    titles = {404: _("Not found"), 405: _("Not allowed here"), 410: _("Link no longer valid")}
    return console_state(request).render(
        request, "error.html", status, title=titles.get(status, _("Error")), message=message
    )
