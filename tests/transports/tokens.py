"""API tokens for the tests that call the HTTP check API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from postwarden.settings import Settings
from postwarden.store.tokens import TokenScope, add_token


def make_token(
    db: Engine,
    settings: Settings,
    name: str,
    scope: TokenScope = TokenScope.CHECK_DETAIL,
    expires_at: datetime | None = None,
) -> str:
    """A new token in ``db``, returned in clear as ``token add`` prints it once."""
    with Session(db) as s:
        made = add_token(
            s, name, scope, actor="test", secret=settings.secret(), expires_at=expires_at
        )
        s.commit()
        return made.token
