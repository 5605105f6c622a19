"""The audit page: filters, and the chain's verification status as tampering shows it."""

from __future__ import annotations

import re
import sqlite3

from tests.console.conftest import Console

from postwarden.settings import Settings


def _kinds(html: str) -> list[str]:
    return re.findall(r'data-label="Kind"><code>([^<]+)</code>', html)


def test_audit_filters_and_shows_a_verified_chain(console: Console) -> None:
    with console.login("bob"), console.login("adam") as adam:
        page = adam.get("/audit")
        assert "chain verified" in page.text
        assert {"user.add", "user.password", "console.login"} <= set(_kinds(page.text))
        logins = adam.get("/audit", params={"kind": "console.login"}).text
        assert set(_kinds(logins)) == {"console.login"}
        assert len(_kinds(logins)) == 2
        by_bob = adam.get("/audit", params={"kind": "console.login", "actor": "bob"}).text
        assert len(_kinds(by_bob)) == 1
        assert _kinds(adam.get("/audit", params={"since": "2999-01-01"}).text) == []


def test_audit_page_names_the_first_tampered_entry(console: Console, settings: Settings) -> None:
    db = settings.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        # An attacker with file access first removes the append-only trigger.
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    conn.close()
    with console.login("adam") as adam:
        page = adam.get("/audit")
        assert "chain broken" in page.text
        assert "entry 2" in page.text
