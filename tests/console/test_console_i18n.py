"""The console in English and Traditional Chinese: negotiation, the switch, the user's setting,
and no untranslated text on any page (templates checked statically, pages over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po
from tests.console.conftest import ORG, PASSWORD, Console, csrf_of
from tests.console.template_text import untranslated
from tests.console.test_console_confirm import _warned
from tests.console.test_incidents import incident
from tests.factories import make_eml

from postwarden.console.i18n import negotiate
from postwarden.i18n import LOCALE_DIR

__all__ = ["incident"]  # the fixture this module uses from its neighbour

TEMPLATES = Path(__file__).parents[2] / "src/postwarden/console/templates"
PO = LOCALE_DIR / "zh_Hant/LC_MESSAGES/postwarden.po"
ZH_HK = {"Accept-Language": "zh-HK,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-HK", "zh_Hant"),
        ("zh-TW", "zh_Hant"),
        ("zh-Hant", "zh_Hant"),
        ("zh-Hant-HK", "zh_Hant"),
        ("zh-hk", "zh_Hant"),
        ("zh-MO", "zh_Hant"),
        ("zh-CN", "en"),
        ("zh-Hans", "en"),
        ("zh", "en"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, zh-TW;q=0.5", "zh_Hant"),  # French is not offered: the next one is
        ("en;q=0.4, zh-HK;q=0.8", "zh_Hant"),  # by q-value, not by order
        ("zh-HK;q=0.5, en;q=0.5", "zh_Hant"),  # a tie keeps the order given
        ("zh-HK;q=0, en", "en"),  # q=0: not acceptable
        ("zh-HK;q=bogus, en;q=0.1", "en"),  # a malformed q-value counts as 0
        ("zh-HK;q=2, en;q=0.1", "en"),  # out of range, likewise
        ("*", "en"),
        ("de, *;q=0.5, zh-TW;q=0.1", "en"),
        ("", "en"),
        (None, "en"),
        (",,;;,", "en"),
        ("en-GB;Q=0.7, zh-Hant ; q=0.9", "zh_Hant"),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_have_no_english_outside_gettext(template: str) -> None:
    """Every text node and visible attribute is inside _() or {% trans %}."""
    assert untranslated((TEMPLATES / template).read_text(encoding="utf-8")) == []


def test_the_checker_finds_literal_english() -> None:
    source = (
        '<h1>{{ _("Fine") }}</h1><p>Left behind</p><input placeholder="type here">'
        "{% trans %}Also fine{% endtrans %}<td>{{ value }}</td>"
    )
    assert untranslated(source) == ["Left behind", "type here"]


def _msgids() -> tuple[set[str], set[str]]:
    """English msgids and Chinese msgstrs whole words could show as a text node."""
    english, chinese = set(), set()
    with PO.open("rb") as po:
        catalog = read_po(po)
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strs = message.string if isinstance(message.string, tuple) else (message.string,)
        english.update(i for i in ids if "%" not in i and "{" not in i and "<" not in i)
        chinese.update(s for s in strs if "%" not in s and "{" not in s and "<" not in s)
    # The same in both languages, or data (a domain the pages use as an example value).
    english -= {"partner.example"}
    chinese -= {"partner.example"}
    return english, chinese


class _Texts(HTMLParser):
    """Text nodes and visible attributes, except inside ``translate="no"`` (HTML's mark for
    content that stays as it is: a message's own header names)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._open: list[str] = []
        self._kept = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("input", "meta", "link", "br", "img", "rect", "line"):
            return
        self._open.append(tag)
        if self._kept or ("translate", "no") in attrs:
            self._kept += 1
            return
        for name, value in attrs:
            if name in ("placeholder", "aria-label", "title", "data-label") and value:
                self.texts.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open and self._open.pop() != tag:
                pass
            if self._kept:
                self._kept -= 1

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._kept:
            self.texts.append(" ".join(data.split()))


def _texts(html: str) -> list[str]:
    parser = _Texts()
    parser.feed(html)
    return parser.texts


def console_pages(console: Console, incident: int) -> list[tuple[str, str]]:
    """(who, path) for every console page, with data on it: both languages' tests walk this
    one list (here over HTTP, in test_console_i18n_browser.py in Chromium)."""
    raw = make_eml(
        sender=f"alice@{ORG}",
        to=["case.officer@partner.example"],
        subject="Case file",
        body="HKID A123456(3) for the case.",
    )
    held = console.hold(raw, f"alice@{ORG}", "case.officer@partner.example")
    _, confirm = _warned(console)
    return [
        ("", "/login"),
        ("", confirm),
        ("olivia", "/"),
        ("olivia", "/queue"),
        ("olivia", "/queue?state=all"),
        ("olivia", f"/messages/{held}"),
        ("olivia", "/exemptions"),
        ("olivia", "/incidents"),
        ("olivia", f"/incidents/{incident}"),
        ("olivia", "/audit"),
        ("olivia", "/policy"),
        ("olivia", "/account"),
        ("olivia", "/account?setup=1"),
        ("olivia", "/messages/no-such-item"),
        ("adam", "/users"),
    ]


@contextmanager
def _client(console: Console, name: str, headers: dict[str, str]) -> Iterator[httpx.Client]:
    """A browser with these headers; signed in as ``name`` unless it is empty."""
    with httpx.Client(base_url=console.base, headers=headers, timeout=30) as client:
        if name:
            form = client.get("/login")
            data = {"csrf": csrf_of(form), "username": name, "password": PASSWORD}
            assert client.post("/login", data=data).status_code == 303
        yield client


def test_every_page_is_whole_in_each_language(console: Console, incident: int) -> None:
    """In Chinese no text node is an English message, in English none is a Chinese one."""
    english, chinese = _msgids()
    for who, path in console_pages(console, incident):
        for headers, lang, foreign in ((ZH_HK, "zh-Hant-HK", english), (EN, "en", chinese)):
            with _client(console, who, headers) as client:
                page = client.get(path)
            assert page.status_code in (200, 404), (path, page.status_code)
            assert f'<html lang="{lang}">' in page.text, path
            leftovers = [t for t in _texts(page.text) if t in foreign]
            assert leftovers == [], (lang, path, leftovers)


def test_sign_in_page_follows_the_browser(console: Console) -> None:
    with _client(console, "", ZH_HK) as client:
        page = client.get("/login")
    assert "<h1>登入</h1>" in page.text
    assert 'name="language" value="en"' in page.text  # the switch offers the other one
    with _client(console, "", {"Accept-Language": "zh-CN,fr;q=0.9"}) as client:
        assert "<h1>Sign in</h1>" in client.get("/login").text
    with _client(console, "", {}) as client:
        assert "<h1>Sign in</h1>" in client.get("/login").text


def test_anonymous_switch_sets_a_cookie_only(console: Console) -> None:
    with _client(console, "", EN) as client:
        form = client.get("/login")
        switched = client.post(
            "/language", data={"csrf": csrf_of(form), "language": "zh_Hant", "back": "/login"}
        )
        assert switched.status_code == 303
        assert switched.headers["location"] == "/login"
        assert client.cookies.get("postwarden_lang") == "zh_Hant"
        # The cookie beats the browser's Accept-Language.
        assert "<h1>登入</h1>" in client.get("/login").text
        # Errors are translated too.
        data = {"csrf": csrf_of(form), "username": "alice", "password": "wrong"}
        refused = client.post("/login", data=data)
        assert refused.status_code == 401
        assert "用戶名稱、密碼或驗證碼不正確。" in refused.text


def test_switch_refuses_foreign_destinations_and_unknown_languages(console: Console) -> None:
    with _client(console, "", EN) as client:
        form = client.get("/login")
        switched = client.post(
            "/language",
            data={"csrf": csrf_of(form), "language": "xx", "back": "https://evil.example/"},
        )
        assert switched.headers["location"] == "/"
        assert client.cookies.get("postwarden_lang") == "en"
        # Without the form token the switch is refused like every other form.
        assert client.post("/language", data={"language": "zh_Hant"}).status_code == 403


def test_a_users_choice_follows_them_across_sign_ins(console: Console) -> None:
    with _client(console, "alice", EN) as client:
        dashboard = client.get("/")
        assert "<h1>Dashboard</h1>" in dashboard.text
        switched = client.post(
            "/language", data={"csrf": csrf_of(dashboard), "language": "zh_Hant", "back": "/"}
        )
        assert switched.status_code == 303
        assert "<h1>儀表板</h1>" in client.get("/").text
        client.post("/logout", data={"csrf": csrf_of(client.get("/"))})
    # Another browser, asking for English, with no cookie: the user's setting wins once
    # signed in, and the browser keeps it.
    with _client(console, "", EN) as other:
        assert "<h1>Sign in</h1>" in other.get("/login").text
        form = other.get("/login")
        data = {"csrf": csrf_of(form), "username": "alice", "password": PASSWORD}
        signed_in = other.post("/login", data=data)
        assert signed_in.status_code == 303
        assert other.cookies.get("postwarden_lang") == "zh_Hant"
        assert "<h1>儀表板</h1>" in other.get("/").text
        assert "<h1>審核佇列</h1>" in other.get("/queue").text
    # Another user is not affected.
    with _client(console, "bob", EN) as bob:
        assert "<h1>Dashboard</h1>" in bob.get("/").text
    # And back to English.
    with _client(console, "alice", ZH_HK) as client:
        page = client.get("/")
        client.post("/language", data={"csrf": csrf_of(page), "language": "en", "back": "/"})
        assert "<h1>Dashboard</h1>" in client.get("/").text
    with _client(console, "alice", ZH_HK) as client:
        assert "<h1>Dashboard</h1>" in client.get("/").text
