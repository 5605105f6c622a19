"""The console's language: negotiated per request, switched by the visitor, kept per user.

A request's language is, first match wins: the signed-in user's saved choice (``users.language``,
applied by ``deps.visitor``), the ``postwarden_lang`` cookie the switch sets, then the
browser's ``Accept-Language``. ``LanguageMiddleware`` makes that choice current for the
whole request, so route code, exception handlers and templates all translate alike.
"""

from __future__ import annotations

from fastapi import Request
from jinja2 import Environment
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from postwarden import i18n
from postwarden.i18n import N_

__all__ = [
    "COOKIE",
    "EVENTS",
    "LanguageMiddleware",
    "event",
    "html_lang",
    "install",
    "label",
    "negotiate",
    "remember",
]

COOKIE = "postwarden_lang"
_MAX_RANGES = 32
"""Accept-Language ranges looked at; the rest of an overlong header is ignored."""

# Values the pages show that are data, not text (states, actions, roles, recipient classes and
# flags): their words are in the catalogue through these marks; templates show them with
# ``|label``, which leaves any other value (a rule id, an address) as it is.
LABELS = frozenset(
    {
        N_("held"),
        N_("released"),
        N_("rejected"),
        N_("expired"),
        N_("releasing"),
        N_("all"),
        N_("deliver"),
        N_("warn"),
        N_("hold"),
        N_("reject"),
        N_("other"),
        N_("reviewer"),
        N_("privacy-officer"),
        N_("admin"),
        N_("internal"),
        N_("partner"),
        N_("webmail"),
        N_("external"),
        N_("pending"),
        N_("approved"),
        N_("refused"),
        N_("revoked"),
        N_("open"),
        N_("contained"),
        N_("notified"),
        N_("reported"),
        N_("closed"),
        N_("lookalike"),
        N_("first-time"),
        N_("near-known"),
        N_("self-forward"),
        N_("exempt"),
        N_("mailing-list"),
        N_("registered-correspondent"),
    }
)

# What happened, per incident timeline event kind (``incidents.casebook``).
EVENTS = {
    "open": N_("opened"),
    "item": N_("item added"),
    "recipient": N_("recipient added"),
    "status": N_("status changed"),
    "update": N_("details updated"),
    "recall": N_("recall requested"),
    "recall-confirmed": N_("deletion confirmed"),
    "letters": N_("letters written"),
    "report": N_("report written"),
}


def event(kind: str) -> str:
    """An incident timeline event as the page shows it (an unknown kind as it is)."""
    text = EVENTS.get(kind)
    return i18n.gettext(text) if text else kind


def label(word: object) -> str:
    """A data value as the page shows it: translated when it is one of ``LABELS``."""
    text = str(word)
    return i18n.gettext(text) if text in LABELS else text


def negotiate(header: str | None) -> str:
    """The offered language an ``Accept-Language`` header prefers (RFC 9110 §12.5.4).

    Ranges are taken by q-value, highest first, ties in the order given; ``q=0`` means "not
    this one"; a malformed q-value counts as 0; ``*`` takes the default.
    """
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:_MAX_RANGES]):
        tag, *params = part.split(";")
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
                if not 0.0 <= quality <= 1.0:
                    quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return i18n.DEFAULT
        found = i18n.normalize(tag)
        if found:
            return found
    return i18n.DEFAULT


def html_lang(language: str) -> str:
    """The ``<html lang>`` of a page in ``language``."""
    return "zh-Hant-HK" if language == "zh_Hant" else "en"


class LanguageMiddleware:
    """Makes the cookie's or the browser's language current for the request (pure ASGI, so
    the choice reaches the handlers, their thread pool and the exception handlers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = request.cookies.get(COOKIE, "")
        language = (
            chosen
            if chosen in i18n.LANGUAGES
            else negotiate(request.headers.get("accept-language"))
        )
        with i18n.use(i18n.Choice(language)):
            await self.app(scope, receive, send)


def install(env: Environment) -> None:
    """Jinja2's i18n extension on ``env``: ``{% trans %}`` and ``_()`` in the current language."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["label"] = label
    env.filters["event"] = event
    env.globals["languages"] = i18n.LANGUAGES
    env.globals["lang_tag"] = html_lang


def remember(request: Request, response: Response, language: str) -> None:
    """The browser keeps ``language`` for its next visits (a year). Not a secret; HttpOnly and
    Secure behind TLS all the same, like every cookie of the console."""
    response.set_cookie(
        COOKIE,
        language,
        max_age=365 * 24 * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
