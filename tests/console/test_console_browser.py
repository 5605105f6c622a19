"""The console in a real browser (Playwright driving Debian's Chromium), flow by flow.

Each test leaves screenshots at 1366 and 390 px wide in ``tests/console/screenshots/``.
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tests.console.conftest import ORG, PASSWORD, Console, SinkHandler, _free_socket
from tests.factories import make_csv, make_docx, make_eml

from postwarden.store.quarantine import Quarantine

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian chromium"),
]

SHOTS = Path(__file__).with_name("screenshots")
WIDTHS = (1366, 390)
HKID = "A123456(3)"
PARTNER = "case.officer@partner.example"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    yield context.new_page()
    context.close()


def shoot(page: Page, name: str) -> None:
    """Full-page screenshots at laptop and phone width."""
    SHOTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        # Nothing may overflow sideways at phone width: the page scrolls down only.
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, name
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def sign_in(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=name)).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def leak(sender: str) -> bytes:
    return make_eml(
        sender=sender,
        to=[PARTNER],
        subject="Case file for CHAN Tai Man",
        body=f"Please handle CHAN Tai Man, HKID {HKID}, phone 9123 4567.",
        attachments=[
            ("cases.csv", make_csv([["name", "hkid"], ["CHAN Tai Man", HKID]]), "text/csv")
        ],
    )


def test_browser_sign_in_shows_the_dashboard(console: Console, page: Page) -> None:
    console.hold(leak(f"alice@{ORG}"), f"alice@{ORG}", PARTNER)
    page.goto(console.base)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, console.base, "olivia")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".stat").first).to_have_text("1")  # one message waiting
    expect(page.locator("svg rect")).not_to_have_count(0)  # the day's verdict bar
    expect(page.get_by_role("cell", name="hkid-external")).to_be_visible()
    shoot(page, "dashboard")


def test_browser_review_a_held_leak_with_masked_findings(console: Console, page: Page) -> None:
    item = console.hold(leak(f"alice@{ORG}"), f"alice@{ORG}", PARTNER)
    sign_in(page, console.base, "bob")
    page.get_by_role("link", name="Review queue", exact=True).click()
    shoot(page, "queue")
    page.get_by_role("link", name=re.compile(item)).click()
    expect(page.get_by_role("heading", name=re.compile(item))).to_be_visible()
    excerpts = page.locator(".excerpt")
    expect(excerpts.first).to_be_visible()
    expect(page.get_by_text("A123***(3)").first).to_be_visible()
    expect(page.locator("mark", has_text="CHAN T** M**").first).to_be_visible()
    body = page.content()
    assert HKID not in body
    assert "Tai Man" not in body  # nor in the subject header
    expect(page.get_by_role("cell", name="attachment:cases.csv").first).to_be_visible()
    expect(page.get_by_role("cell", name=PARTNER)).to_be_visible()
    shoot(page, "message-masked")
    page.get_by_role("button", name=re.compile("Reveal personal data")).click()
    expect(page.get_by_text("unmasked")).to_be_visible()
    assert HKID in page.content()


def test_browser_the_sender_cannot_approve_their_own_message(console: Console, page: Page) -> None:
    item = console.hold(leak(f"alice@{ORG}"), f"alice@{ORG}", PARTNER)
    sign_in(page, console.base, "alice")
    page.goto(f"{console.base}/messages/{item}")
    expect(page.get_by_text("You sent this message")).to_be_visible()
    expect(page.get_by_role("button", name="Approve and release")).to_be_disabled()
    shoot(page, "message-own")
    # Forcing the form past the disabled button is refused by the server too.
    token = page.locator('input[name="csrf"]').first.get_attribute("value")
    digest = page.locator('input[name="digest"]').first.get_attribute("value")
    response = page.request.post(
        f"{console.base}/messages/{item}/release",
        form={"csrf": token or "", "digest": digest or "", "reason": "it is fine, trust me"},
    )
    assert response.status == 403
    with console.gateway.session() as db:
        assert Quarantine.get(db, item).state == "held"


def test_browser_privacy_officer_releases_and_the_message_arrives(
    console: Console, page: Page, sink: SinkHandler
) -> None:
    item = console.hold(leak(f"alice@{ORG}"), f"alice@{ORG}", PARTNER)
    assert sink.to(PARTNER) == []
    sign_in(page, console.base, "olivia")
    page.goto(f"{console.base}/messages/{item}")
    page.get_by_label("Reason for releasing").fill("Case transfer agreed with the partner.")
    page.get_by_role("button", name="Approve and release").click()
    expect(page.get_by_text("Released: the message is on its way")).to_be_visible()
    shoot(page, "released")
    [delivered] = sink.to(PARTNER)
    assert HKID.encode() in delivered  # the original message, unchanged
    with console.gateway.session() as db:
        row = Quarantine.get(db, item)
        assert (row.state, row.decided_by) == ("released", "olivia")
    # The page of a released message offers no second release.
    page.goto(f"{console.base}/messages/{item}")
    expect(page.get_by_role("button", name="Approve and release")).to_have_count(0)


def test_browser_sender_confirms_a_warning_once(
    console: Console, page: Page, sink: SinkHandler
) -> None:
    raw = make_eml(
        sender=f"alice@{ORG}",
        to=["events@partner.example"],
        subject="[TEST] Newsletter layout",
        body="Layout test.",
        attachments=[("layout.docx", make_docx(["Quarterly newsletter draft"]), DOCX)],
    )
    console.hold(raw, f"alice@{ORG}", "events@partner.example")
    [notice] = sink.to(f"alice@{ORG}")
    text = message_from_bytes(notice, policy=policy.default).get_body().get_content()  # type: ignore[union-attr]
    [link] = set(re.findall(r"http://\S+/confirm/\S+", text))
    assert link.startswith(console.base)
    page.goto(link)
    expect(page.get_by_role("heading", name=re.compile("Confirm your message"))).to_be_visible()
    expect(page.get_by_text("[TEST] Newsletter layout")).to_be_visible()
    shoot(page, "confirm")
    page.get_by_role("button", name=re.compile("Send it")).click()
    expect(page.get_by_role("heading", name=re.compile("Sent"))).to_be_visible()
    assert len(sink.to("events@partner.example")) == 1
    # Second use: refused, nothing sent again.
    response = page.goto(link)
    assert response is not None
    assert response.status == 410
    expect(page.get_by_text("already used")).to_be_visible()
    shoot(page, "confirm-used")
    assert len(sink.to("events@partner.example")) == 1


def _cli(data_dir: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [sys.executable, "-m", "postwarden", "--data-dir", str(data_dir), *args],
        input=stdin,
        text=True,
        capture_output=True,
        check=True,
        timeout=120,
    )


@pytest.fixture
def served(tmp_path: Path, sink: SinkHandler) -> Iterator[tuple[str, int]]:
    """``postwarden serve`` as people run it: relay and console in one process."""
    data = tmp_path / "var"
    _cli(data, "init", "--org-domain", ORG, "--next-hop", f"127.0.0.1:{sink.port}")
    for name, role in (("alice", "reviewer"), ("olivia", "privacy-officer")):
        _cli(
            data,
            "user",
            "add",
            name,
            "--role",
            role,
            "--email",
            f"{name}@{ORG}",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    with _free_socket() as a, _free_socket() as b:
        smtp_port, http_port = a.getsockname()[1], b.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "postwarden",
            "--data-dir",
            str(data),
            "serve",
            "--smtp",
            f"127.0.0.1:{smtp_port}",
            "--http",
            f"127.0.0.1:{http_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "POSTWARDEN_PUBLIC_URL": f"http://127.0.0.1:{http_port}"},
    )
    base = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "postwarden serve did not come up"
        time.sleep(0.2)
    try:
        yield base, smtp_port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.stderr:
                proc.stderr.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _send(smtp_port: int, sender: str, rcpt: str) -> int:
    raw = make_eml(
        sender=sender,
        to=[rcpt],
        subject="Shift roster",
        body="Roster for next week attached in the usual place.",
    )
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp:
            smtp.sendmail(sender, [rcpt], raw)
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code
    return 250


@pytest.mark.slow
def test_browser_exemption_requested_approved_then_mail_goes_through(
    served: tuple[str, int], page: Page, sink: SinkHandler
) -> None:
    base, smtp_port = served
    sender, friend = f"alice@{ORG}", "field.team@gmail.com"
    assert _send(smtp_port, sender, friend) == 550  # personal webmail: refused
    sign_in(page, base, "alice")
    page.get_by_role("link", name="Exemptions", exact=True).click()
    page.get_by_label("Recipient domain").fill("gmail.com")
    page.get_by_label(re.compile("Reason")).fill("Typhoon field team has only personal mail.")
    until = page.get_by_label(re.compile("Until")).get_attribute("min")
    page.get_by_label(re.compile("Until")).fill(until or "")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("Request sent")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)  # not hers to decide
    shoot(page, "exemption-requested")
    sign_out(page)
    sign_in(page, base, "olivia")
    page.get_by_role("link", name="Exemptions", exact=True).click()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Exemption granted")).to_be_visible()
    expect(page.locator("#active").get_by_role("cell", name="gmail.com")).to_be_visible()
    shoot(page, "exemption-approved")
    assert _send(smtp_port, sender, friend) == 250
    assert len(sink.to(friend)) == 1
    # The audit page shows the whole story on a verified chain.
    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page.get_by_text("chain verified")).to_be_visible()
    expect(page.get_by_role("cell", name="exemption.grant")).to_be_visible()
    shoot(page, "audit")
    page.get_by_role("link", name="Policy", exact=True).click()
    expect(page.locator("#rule-webmail-recipient")).to_contain_text("Fired (30 days)")
    shoot(page, "policy")
