"""Every console page in both languages in a real browser (Playwright driving Debian's
Chromium), and the language switch following the user from one sign-in to the next.

Screenshots at 1366 and 390 px wide land in ``tests/console/screenshots/`` as ``lang-LANG-PAGE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.console.conftest import PASSWORD, Console
from tests.console.test_console_browser import browser, shoot
from tests.console.test_console_i18n import console_pages
from tests.console.test_incidents import incident

__all__ = ["browser", "incident"]  # fixtures this module uses from its neighbours

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian chromium"),
]

# What the browser asks for (Playwright sends it as Accept-Language), and the words to expect.
LANGS = {
    "en": {
        "locale": "en-GB",
        "user": "User name",
        "password": "Password",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "dashboard": "Dashboard",
        "switch": "繁體中文",
    },
    "zh": {
        "locale": "zh-HK",
        "user": "用戶名稱",
        "password": "密碼",
        "sign_in": "登入",
        "sign_out": "登出",
        "dashboard": "儀表板",
        "switch": "English",
    },
}


@pytest.fixture
def pages(browser: Browser) -> Iterator[dict[str, Page]]:
    """A browser context per language, as a browser set to that language would be."""
    contexts = {
        lang: browser.new_context(locale=words["locale"], viewport={"width": 1366, "height": 900})
        for lang, words in LANGS.items()
    }
    yield {lang: context.new_page() for lang, context in contexts.items()}
    for context in contexts.values():
        context.close()


def _shot_name(path: str) -> str:
    """A screenshot's name from the page's path: its first segment, and the query's value."""
    where, _, query = path.partition("?")
    name = where.strip("/").split("/")[0] or "dashboard"
    return f"{name}-{query.rpartition('=')[2]}" if query else name


def _sign_in(page: Page, base: str, lang: str, name: str) -> None:
    words = LANGS[lang]
    page.goto(f"{base}/login")
    page.get_by_label(words["user"]).fill(name)
    page.get_by_label(words["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=words["sign_in"], exact=True).click()
    expect(page.get_by_role("button", name=words["sign_out"])).to_be_visible()


def test_every_page_in_both_languages(
    console: Console, incident: int, pages: dict[str, Page]
) -> None:
    walk = console_pages(console, incident)
    for lang, page in pages.items():
        html_lang = "zh-Hant-HK" if lang == "zh" else "en"
        signed_in = ""
        for n, (who, path) in enumerate(walk):
            if who != signed_in:
                if signed_in:
                    page.get_by_role("button", name=LANGS[lang]["sign_out"]).click()
                _sign_in(page, console.base, lang, who)
                signed_in = who
            page.goto(console.base + path)
            expect(page.locator("html")).to_have_attribute("lang", html_lang)
            if who:
                # The switch offers the other language on every page.
                expect(page.get_by_role("button", name=LANGS[lang]["switch"])).to_be_visible()
            shoot(page, f"lang-{lang}-{n:02}-{_shot_name(path)}")
        page.get_by_role("button", name=LANGS[lang]["sign_out"]).click()
    zh = pages["zh"]
    _sign_in(zh, console.base, "zh", "olivia")
    expect(zh.get_by_role("heading", name="儀表板")).to_be_visible()
    expect(zh.get_by_role("link", name="審核佇列", exact=True)).to_be_visible()


def test_the_switch_follows_the_user_after_signing_out_and_in(
    console: Console, browser: Browser
) -> None:
    first = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 900})
    page = first.new_page()
    _sign_in(page, console.base, "en", "bob")
    page.goto(f"{console.base}/queue")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    page.get_by_role("button", name="繁體中文").click()
    # Back on the same page, now in Chinese.
    expect(page.get_by_role("heading", name="審核佇列")).to_be_visible()
    shoot(page, "lang-switched-queue")
    page.get_by_role("button", name="登出").click()
    expect(page.get_by_role("heading", name="登入")).to_be_visible()
    first.close()
    # A fresh browser that asks for English: the sign-in page is English, and once bob is
    # signed in his own choice applies.
    second = browser.new_context(locale="en-GB", viewport={"width": 1366, "height": 900})
    page = second.new_page()
    page.goto(f"{console.base}/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="儀表板")).to_be_visible()
    shoot(page, "lang-remembered-dashboard")
    # Switching back is kept as well.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    second.close()
