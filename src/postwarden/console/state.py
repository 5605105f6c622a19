"""What every console request shares: settings, the gateway, the database, the templates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from postwarden.console.roles import Permission, allows
from postwarden.settings import Settings
from postwarden.store import credentials
from postwarden.store.mailboxes import Mailboxes
from postwarden.store.users import User

if TYPE_CHECKING:
    from postwarden.act import Gateway

HERE = Path(__file__).parent

# Outcome notes a redirect asks for with ``?ok=CODE``: fixed texts, so a crafted link cannot
# put words of its own on a console page.
FLASH = {
    "released": "Released: the message is on its way to its recipients.",
    "rejected": "Rejected: the message will not be sent.",
    "requested": "Request sent: a privacy officer will decide.",
    "approved": "Exemption granted.",
    "refused": "Request refused.",
    "revoked": "Exemption revoked.",
    "totp": "Authenticator on: sign-ins now ask for a code.",
    "password": "Password changed: your other sessions were signed out.",
    "signedout": "That user's sessions were ended.",
}


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in member of staff, as the pages need them."""

    id: int
    name: str
    role: str
    email: str | None
    totp: bool

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
    return Member(user.id, user.name, user.role, user.email, credentials.totp_enabled(db, user.id))


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
        context.setdefault("flash", FLASH.get(request.query_params.get("ok", ""), ""))
        context.update(
            member=member,
            csrf=getattr(current, "csrf", ""),
            can=(lambda p: member is not None and member.can(p)),
        )
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    return templates
