"""Each side effect writes exactly one audit entry of its kind, whichever front end (the CLI or
the console) asks for it: the effect and its entry are written together in act or the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from tests.cli.invocation import run_cli
from tests.console.conftest import ORG, Console, csrf_of
from tests.console.test_console_confirm import _warned
from tests.console.test_console_exemptions import _request, _request_ids
from tests.console.test_console_security import leak

from postwarden.store.audit import AuditEntry, head
from postwarden.store.quarantine import Quarantine


def _held(console: Console) -> str:
    return console.hold(leak(), f"alice@{ORG}", "case.officer@partner.example")


def _since(console: Console, seq: int) -> list[tuple[str, str]]:
    """(kind, actor) of the entries after ``seq``."""
    with console.gateway.session() as db:
        rows = db.execute(select(AuditEntry).where(AuditEntry.seq > seq).order_by(AuditEntry.seq))
        return [(e.kind, e.actor) for e in rows.scalars()]


def _head(console: Console) -> int:
    with console.gateway.session() as db:
        return head(db).seq


def test_viewing_a_held_message_writes_one_entry_from_the_cli_and_the_console(
    console: Console,
) -> None:
    item = _held(console)
    data_dir = console.gateway.settings.data_dir
    before = _head(console)
    code, _, err = run_cli(data_dir, "quarantine", "show", item, "--json")
    assert code == 0, err
    assert [kind for kind, _ in _since(console, before)] == ["quarantine.view"]
    with console.login("bob") as bob:
        before = _head(console)
        page = bob.get(f"/messages/{item}")
        assert page.status_code == 200
        assert _since(console, before) == [("console.view", "bob")]
        before = _head(console)
        assert bob.post(f"/messages/{item}/reveal", data={"csrf": csrf_of(page)}).status_code == 200
        assert _since(console, before) == [("console.reveal", "bob")]


def test_a_look_whose_content_fails_its_check_is_still_on_the_record_in_the_console(
    console: Console,
) -> None:
    item = _held(console)
    console.gateway.quarantine.blob_path(item).write_bytes(b"damaged")
    with console.login("bob") as bob:
        before = _head(console)
        page = bob.get(f"/messages/{item}")
        assert "failed its integrity check" in page.text
        assert _since(console, before) == [("console.view", "bob")]
    before = _head(console)
    code, _, _ = run_cli(console.gateway.settings.data_dir, "quarantine", "show", item)
    assert code == 1  # refused at the command line, and nothing was shown to record
    assert _since(console, before) == []


def test_rejecting_writes_one_entry_from_the_cli_and_the_console(console: Console) -> None:
    first, second = _held(console), _held(console)
    before = _head(console)
    code, _, err = run_cli(
        console.gateway.settings.data_dir,
        "quarantine",
        "reject",
        first,
        "--by",
        "bob",
        "--reason",
        "not to go",
    )
    assert code == 0, err
    assert _since(console, before) == [("quarantine.reject", "bob")]
    with console.login("bob") as bob:
        page = bob.get(f"/messages/{second}")
        digest = _digest(console, second)
        before = _head(console)
        done = bob.post(
            f"/messages/{second}/reject",
            data={"csrf": csrf_of(page), "reason": "not to go", "digest": digest},
        )
        assert done.status_code == 303, done.text
        assert _since(console, before) == [("quarantine.reject", "bob")]


def _digest(console: Console, item: str) -> str:
    with console.gateway.session() as db:
        return Quarantine.get(db, item).content_sha256


def test_the_senders_cancel_goes_through_the_gateway_with_one_entry(console: Console) -> None:
    item, path = _warned(console)
    with console.client() as sender:
        page = sender.get(path)
        before = _head(console)
        done = sender.post(path, data={"csrf": csrf_of(page), "decision": "cancel"})
        assert done.status_code == 200
    assert _since(console, before) == [("quarantine.cancel", "sender")]
    with console.gateway.session() as db:
        assert Quarantine.get(db, item).state == "rejected"


def test_exemption_request_refusal_and_grant_write_one_entry_each(console: Console) -> None:
    with console.login("alice") as alice:
        before = _head(console)
        assert _request(alice, "gmail.com").status_code == 303
        assert _since(console, before) == [("exemption.request", "alice")]
        assert _request(alice, "yahoo.com.hk").status_code == 303
    first, second = _request_ids(console)
    with console.login("olivia") as olivia:
        token = csrf_of(olivia.get("/exemptions"))
        before = _head(console)
        refused = olivia.post(f"/exemptions/requests/{second}/refuse", data={"csrf": token})
        assert refused.status_code == 303
        assert _since(console, before) == [("exemption.refuse", "olivia")]
        before = _head(console)
        approved = olivia.post(f"/exemptions/requests/{first}/approve", data={"csrf": token})
        assert approved.status_code == 303
        assert _since(console, before) == [("exemption.grant", "olivia")]
    before = _head(console)
    until = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    code, _, err = run_cli(
        console.gateway.settings.data_dir,
        "exemption",
        "add",
        "--sender",
        f"bob@{ORG}",
        "--recipient-domain",
        "gmail.com",
        "--reason",
        "field team",
        "--until",
        until,
        "--by",
        "olivia",
    )
    assert code == 0, err
    assert _since(console, before) == [("exemption.grant", "olivia")]


def test_sign_in_and_an_admins_sign_out_write_one_entry_each(console: Console) -> None:
    before = _head(console)
    with console.login("bob"):
        assert _since(console, before) == [("console.login", "bob")]
    with console.login("adam") as adam:
        page = adam.get("/users")
        before = _head(console)
        done = adam.post("/users/2/signout", data={"csrf": csrf_of(page)})
        assert done.status_code == 303
        assert _since(console, before) == [("console.signout", "adam")]
