"""The sender's confirm page: confirm once, cancel, expired and foreign links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.console.conftest import ORG, Console, SinkHandler, csrf_of
from tests.factories import make_docx, make_eml

from postwarden.notices import CONFIRM_TTL, confirm_token
from postwarden.store.quarantine import Quarantine

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TO = "events@partner.example"


def _warned(console: Console) -> tuple[str, str]:
    """A held *warn* and the path of its confirm link."""
    raw = make_eml(
        sender=f"alice@{ORG}",
        to=[TO],
        subject="[TEST] Newsletter layout",
        body="Layout test.",
        attachments=[("layout.docx", make_docx(["Quarterly newsletter draft"]), DOCX)],
    )
    item_id = console.hold(raw, f"alice@{ORG}", TO)
    with console.gateway.session() as db:
        item = Quarantine.get(db, item_id)
        assert item.action == "warn"
        link = console.gateway.confirm_link(item)
    return item_id, link[link.index("/confirm/") :]


def test_confirm_cancel_never_sends_and_uses_up_the_link(
    console: Console, sink: SinkHandler
) -> None:
    item_id, path = _warned(console)
    with console.client() as sender:
        page = sender.get(path)
        assert page.status_code == 200
        assert "[TEST] Newsletter layout" in page.text
        done = sender.post(path, data={"csrf": csrf_of(page), "decision": "cancel"})
        assert done.status_code == 200
        assert "will not be sent" in done.text
        assert sender.get(path).status_code == 410
        again = sender.post(path, data={"csrf": csrf_of(page), "decision": "confirm"})
        assert again.status_code == 410
    assert sink.to(TO) == []
    with console.gateway.session() as db:
        row = Quarantine.get(db, item_id)
        assert (row.state, row.decided_by) == ("rejected", "sender")


def test_confirm_link_expires(console: Console) -> None:
    item_id, _ = _warned(console)
    with console.gateway.session() as db:
        item = Quarantine.get(db, item_id)
        old = confirm_token(
            console.gateway.settings.secret(),
            item.id,
            item.content_sha256,
            now=datetime.now(UTC) - CONFIRM_TTL - timedelta(minutes=1),
        )
    with console.client() as sender:
        response = sender.get(f"/confirm/{old}")
        assert response.status_code == 410
        assert "expired" in response.text
        assert "Newsletter" not in response.text


def test_confirm_link_of_other_content_is_refused(console: Console) -> None:
    item_id, _ = _warned(console)
    with console.gateway.session() as db:
        item = Quarantine.get(db, item_id)
        forged = confirm_token(console.gateway.settings.secret(), item.id, "0" * 64)
    with console.client() as sender:
        assert sender.get(f"/confirm/{forged}").status_code == 404
        assert sender.get("/confirm/not-a-token").status_code == 404
