from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from postwarden.store import audit
from postwarden.store.audit import AuditEntry
from postwarden.store.exemptions import (
    ExemptionError,
    active_exemptions,
    add_exemption,
    list_exemptions,
    revoke_exemption,
)

NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
SECRET = b"exemption-tests-secret-0123456789"


def _grant(session: Session, **kw: object) -> int:
    args: dict[str, object] = {
        "sender": "Boss@REO.gov.hk",
        "recipient_domain": "gmail.com",
        "reason": "chairman reads mail only at gmail",
        "granted_by": "privacy-officer",
        "secret": SECRET,
        "now": NOW,
    }
    args.update(kw)
    row = add_exemption(session, **args)  # type: ignore[arg-type]
    session.commit()
    return row.id


def test_add_exemption_records_who_and_why(session: Session) -> None:
    ident = _grant(session)
    [row] = list_exemptions(session)
    assert row.id == ident
    data = row.to_json(today=date(2025, 1, 10))
    assert data["sender"] == "boss@reo.gov.hk"
    assert data["granted_by"] == "privacy-officer"
    assert data["reason"] == "chairman reads mail only at gmail"
    assert data["active"] is True


def test_active_exemptions_cover_subdomains_for_that_sender_only(session: Session) -> None:
    _grant(session, recipient_domain="partner.org")
    book = active_exemptions(session, today=date(2025, 1, 10))
    assert book.exempt("boss@reo.gov.hk", "mail.partner.org")
    assert book.exempt("BOSS@reo.gov.hk", "partner.org")
    assert not book.exempt("clerk@reo.gov.hk", "partner.org")
    assert not book.exempt("boss@reo.gov.hk", "notpartner.org")


def test_revoked_and_expired_exemptions_are_not_active(session: Session) -> None:
    revoked = _grant(session)
    _grant(session, sender="amy@reo.gov.hk", until=date(2025, 1, 11))
    revoke_exemption(session, revoked, revoked_by="auditor", secret=SECRET)
    session.commit()
    assert not active_exemptions(session, today=date(2025, 1, 10)).exempt(
        "boss@reo.gov.hk", "gmail.com"
    )
    assert active_exemptions(session, today=date(2025, 1, 11)).exempt("amy@reo.gov.hk", "gmail.com")
    assert len(active_exemptions(session, today=date(2025, 1, 12))) == 0
    rows = {r.id: r for r in list_exemptions(session)}
    assert rows[revoked].revoked_by == "auditor"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"reason": "  "}, "needs a reason"),
        ({"granted_by": ""}, "who granted it"),
        ({"sender": "not-an-address"}, "not an email address"),
        ({"recipient_domain": "gmail"}, "not a domain"),
        ({"until": date(2025, 1, 9)}, "in the past"),
    ],
)
def test_add_exemption_refuses_bad_input(
    session: Session, kw: dict[str, object], message: str
) -> None:
    with pytest.raises(ExemptionError, match=message):
        _grant(session, **kw)


def test_revoke_exemption_twice_or_unknown_is_an_error(session: Session) -> None:
    ident = _grant(session)
    revoke_exemption(session, ident, revoked_by="x", secret=SECRET)
    with pytest.raises(ExemptionError, match="already revoked"):
        revoke_exemption(session, ident, revoked_by="x", secret=SECRET)
    with pytest.raises(ExemptionError, match="no exemption"):
        revoke_exemption(session, 999, revoked_by="x", secret=SECRET)


def test_grant_and_revoke_are_each_one_audit_entry_on_a_sound_chain(session: Session) -> None:
    ident = _grant(session)
    revoke_exemption(session, ident, revoked_by="auditor", secret=SECRET)
    session.commit()
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [(e.kind, e.actor) for e in entries] == [
        ("exemption.grant", "privacy-officer"),
        ("exemption.revoke", "auditor"),
    ]
    assert audit.verify(session, secret=SECRET).ok
