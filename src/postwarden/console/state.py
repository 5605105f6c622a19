"""What every console request shares: settings, the gateway, the database, the templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from postwarden import i18n
from postwarden.console import i18n as console_i18n
from postwarden.console.roles import Permission, allows
from postwarden.i18n import N_
from postwarden.settings import Settings
from postwarden.store import credentials
from postwarden.store.mailboxes import Mailboxes
from postwarden.store.users import User

if TYPE_CHECKING:
    from postwarden.act import Gateway

HERE = Path(__file__).parent

# Outcome notes a redirect asks for with ``?ok=CODE``: fixed texts, so a crafted link cannot
# put words of its own on a console page (translated when shown).
FLASH = {
    "released": N_("Released: the message is on its way to its recipients."),
    "rejected": N_("Rejected: the message will not be sent."),
    "requested": N_("Request sent: a privacy officer will decide."),
    "approved": N_("Exemption granted."),
    "refused": N_("Request refused."),
    "revoked": N_("Exemption revoked."),
    "totp": N_("Authenticator on: sign-ins now ask for a code."),
    "password": N_("Password changed: your other sessions were signed out."),
    "signedout": N_("That user's sessions were ended."),
}


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in member of staff, as the pages need them."""

    id: int
    name: str
    role: str
    email: str | None
    totp: bool
    language: str | None = None
    """The console language the member chose; None: their browser's."""

    def can(self, permission: Permission | str) -> bool:
        return allows(self.role, Permission(permission))

    def is_sender(self, *senders: str, mailboxes: Mailboxes | None = None) -> bool:
        """Whether any of ``senders`` is this member's own mailbox (the four-eyes check:
        sub-addresses, case, IDN and aliases as ``mailboxes`` compares them)."""
        if not self.email:
            return False
        boxes = mailboxes if mailboxes is not None else Mailboxes()
        return boxes.shared(self.email, senders) is not None


def load_member(db: Session, user_id: int) -> Member | None:
    user = db.get(User, user_id)
    if user is None or not user.password_hash:
        return None
    return member_of(db, user)


def member_of(db: Session, user: User) -> Member:
    return Member(
        user.id,
        user.name,
        user.role,
        user.email,
        credentials.totp_enabled(db, user.id),
        user.language,
    )


@dataclass(slots=True)
class ConsoleState:
    settings: Settings
    gateway: Gateway
    db: sessionmaker[Session]
    templates: Jinja2Templates

    @property
    def secret(self) -> bytes:
        return self.settings.secret()

    def render(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> Response:
        """A page: the signed-in member, their CSRF token and ``can()`` are always there."""
        current = getattr(request.state, "visitor", None)
        member = getattr(current, "member", None)
        context.setdefault("title", "Postwarden")
        flash = FLASH.get(request.query_params.get("ok", ""))
        context.setdefault("flash", i18n.gettext(flash) if flash else "")
        language = i18n.current()
        context.update(
            language=language,
            html_lang=console_i18n.html_lang(language),
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            member=member,
            csrf=getattr(current, "csrf", ""),
            can=(lambda p: member is not None and member.can(p)),
        )
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    console_i18n.install(templates.env)
    return templates
