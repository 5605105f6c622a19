"""An incident in a real browser (Playwright driving Debian's Chromium): scope, status change.

Screenshots at 1366 and 390 px wide land in ``tests/console/screenshots/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.console.conftest import Console
from tests.console.test_console_browser import browser, page, shoot, sign_in
from tests.console.test_incidents import INTENDED, MISTYPED, TITLE, incident

from postwarden.incidents.casebook import Casebook
from postwarden.settings import Settings

__all__ = ["browser", "incident", "page"]  # fixtures this module uses from its neighbours

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian chromium"),
]


def test_browser_incident_scope_and_status_change(
    console: Console, settings: Settings, incident: int, page: Page
) -> None:
    sign_in(page, console.base, "olivia")
    page.get_by_role("link", name="Incidents", exact=True).click()
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    shoot(page, "incidents")
    page.get_by_role("link", name=f"PW-INC-{incident:05d}").click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    # Both sends are one set of five people: four to write to, one who has died.
    expect(page.locator("#scope-subjects")).to_have_text("5")
    expect(page.locator("#scope-living")).to_have_text("4")
    expect(page.locator("#scope-deceased")).to_have_text("1")
    expect(page.locator("#scope-registers")).to_contain_text("active: 4")
    for address in (MISTYPED, INTENDED):
        expect(page.locator("#scope-recipients")).to_contain_text(address)
    shoot(page, "incident")
    page.get_by_label("New status").select_option("contained")
    page.get_by_label("What was done").fill("Both recipients confirmed deletion by phone.")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status")).to_contain_text("Status changed")
    expect(page.locator("h1 .badge")).to_have_text("contained")
    expect(page.locator("#timeline")).to_contain_text("Both recipients confirmed deletion")
    shoot(page, "incident-contained")
    facts = Casebook(console.gateway.engine, settings.secret()).facts(incident)
    assert facts.status == "contained"
    assert [e.actor for e in facts.events if e.kind == "status"] == ["olivia"]
