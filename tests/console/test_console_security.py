"""Console security: sessions, roles, CSRF, open redirects, and held content kept in."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator

import httpx
import pyotp
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from tests.console.conftest import ORG, PASSWORD, Console, SinkHandler, csrf_of
from tests.factories import make_csv, make_eml

from postwarden.console.app import ROUTERS
from postwarden.console.deps import COOKIE
from postwarden.model import Action, Envelope, Reason, Verdict
from postwarden.store import credentials
from postwarden.store.audit import AuditEntry
from postwarden.store.quarantine import Quarantine
from postwarden.store.sessions import ACCOUNT_DELAY_CAP, MAX_FAILURES_PER_USER, record_attempt
from postwarden.store.users import get_user

CANARY_SUBJECT = "Canary case 7Q4ZP"
HKID = "A123456(3)"


def leak(sender: str = f"alice@{ORG}") -> bytes:
    return make_eml(
        sender=sender,
        to=["case.officer@partner.example"],
        subject=CANARY_SUBJECT,
        body=f"Please handle CHAN Tai Man, HKID {HKID}, phone 9123 4567.",
        attachments=[
            ("list.csv", make_csv([["name", "hkid"], ["CHAN Tai Man", HKID]]), "text/csv")
        ],
    )


@pytest.fixture
def held(console: Console) -> str:
    return console.hold(leak(), f"alice@{ORG}", "case.officer@partner.example")


def _routes(console: Console) -> Iterator[tuple[str, str]]:
    """Every (method, concrete path) of the console app, path parameters filled in."""
    for route in (r for router in ROUTERS for r in router.routes):
        assert isinstance(route, APIRoute)
        path = re.sub(r"\{item_id\}", "aaaaaaaaaaaaaaaa", route.path)
        path = re.sub(r"\{token\}", "aaaaaaaaaaaaaaaa.1.x", path)
        path = re.sub(r"\{\w+\}", "1", path)
        for method in route.methods:
            yield method, path


PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/confirm/aaaaaaaaaaaaaaaa.1.x"),
    ("POST", "/confirm/aaaaaaaaaaaaaaaa.1.x"),
}


def test_every_route_without_a_session_is_refused(console: Console, held: str) -> None:
    routes = sorted(set(_routes(console)))
    assert len(routes) >= 15  # the enumeration itself works
    with console.client() as anonymous:
        for method, path in routes:
            path = path.replace("aaaaaaaaaaaaaaaa", held) if "confirm" not in path else path
            response = anonymous.request(method, path, data={"reason": "x" * 10})
            if (method, path.replace(held, "aaaaaaaaaaaaaaaa")) in PUBLIC:
                assert response.status_code != 200 or path == "/login", (method, path)
                continue
            if method == "GET":
                assert response.status_code == 303, (method, path)
                assert response.headers["location"].startswith("/login?next="), path
            else:
                assert response.status_code in (401, 403), (method, path)
            assert CANARY_SUBJECT not in response.text
            assert "case.officer" not in response.text
    # Nothing was decided by all those requests.
    with console.gateway.session() as db:
        assert Quarantine.get(db, held).state == "held"


def test_a_post_with_a_stale_cookie_and_no_session_is_refused(console: Console) -> None:
    with console.client() as client:
        client.cookies.set(COOKIE, "forged-session-id")
        response = client.post(
            "/login", data={"username": "alice", "password": PASSWORD, "csrf": "x"}
        )
        assert response.status_code == 403
        assert COOKIE not in response.cookies or response.cookies[COOKIE] != "forged-session-id"


def test_reviewer_cannot_reach_admin_or_officer_routes(console: Console, held: str) -> None:
    with console.login("alice") as alice:
        token = csrf_of(alice.get("/"))
        for path in ("/users", "/audit"):
            response = alice.get(path)
            assert response.status_code == 403, path
            assert "Not allowed" in response.text
        refused = [
            ("/users/1/signout", {}),
            ("/exemptions/requests/1/approve", {}),
            ("/exemptions/requests/1/refuse", {}),
            ("/exemptions/1/revoke", {}),
        ]
        for path, data in refused:
            assert alice.post(path, data={"csrf": token, **data}).status_code == 403, path
        # The navigation does not even offer them.
        page = alice.get("/").text
        assert 'href="/users"' not in page
        assert 'href="/audit"' not in page
    with console.login("adam") as adam:
        assert adam.get("/users").status_code == 200
        assert adam.get("/audit").status_code == 200


def test_post_without_or_with_a_wrong_csrf_token_is_refused(console: Console, held: str) -> None:
    posts = sorted({p for m, p in _routes(console) if m == "POST" and p not in ("/login",)})
    with console.login("olivia") as olivia:
        good = csrf_of(olivia.get("/"))
        for path in posts:
            path = path.replace("aaaaaaaaaaaaaaaa", held)
            data = {
                "reason": "looks fine to me",
                "digest": "0" * 64,
                "decision": "cancel",
                "recipient_domain": "x.example",
                "until": "2030-01-01",
            }
            for token in (None, "", good[:-2] + "zz"):
                body = dict(data) if token is None else {**data, "csrf": token}
                response = olivia.post(path, data=body)
                assert response.status_code == 403, (path, token)
        # A cross-site form post is refused even with the right token (Origin check).
        response = olivia.post(
            f"/messages/{held}/reject",
            headers={"Origin": "https://evil.example"},
            data={"csrf": good, "reason": "x" * 5, "digest": "0" * 64},
        )
        assert response.status_code == 403
        # The token itself is good: the same request with it passes the guard.
        assert olivia.post("/logout", data={"csrf": good}).status_code == 303
    with console.gateway.session() as db:
        assert Quarantine.get(db, held).state == "held"


def test_session_id_rotates_at_login(console: Console) -> None:
    with console.client() as client:
        form = client.get("/login")
        before = client.cookies[COOKIE]
        client.post(
            "/login", data={"csrf": csrf_of(form), "username": "alice", "password": PASSWORD}
        )
        after = client.cookies[COOKIE]
        assert after != before
        assert client.get("/").status_code == 200
    # An attacker who planted (or read) the pre-login id holds nothing.
    with console.client() as attacker:
        attacker.cookies.set(COOKIE, before)
        assert attacker.get("/").status_code == 303


def test_session_cookie_flags(console: Console) -> None:
    with console.client() as client:
        cookie = client.get("/login").headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Path=/" in cookie
        # Plain http on loopback: no Secure flag (and so no __Host- prefix), documented.
        assert "Secure" not in cookie


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "//evil.example/%2F..",
        "/%09/evil.example",
        " //evil.example",
    ],
)
def test_login_never_redirects_off_site(console: Console, target: str) -> None:
    with console.client() as client:
        form = client.get("/login", params={"next": target})
        [kept] = re.findall(r'name="next" value="([^"]*)"', form.text)
        response = client.post(
            "/login",
            data={"csrf": csrf_of(form), "username": "bob", "password": PASSWORD, "next": target},
        )
        assert response.status_code == 303
        for location in (html.unescape(kept), response.headers["location"]):
            assert location.startswith("/")
            assert not location.startswith(("//", "/\\"))
            # However a browser resolves it, it stays on the console's own origin.
            assert httpx.URL(console.base).join(location).host == "127.0.0.1"


def test_login_returns_to_the_page_asked_for(console: Console, held: str) -> None:
    with console.client() as client:
        first = client.get(f"/messages/{held}")
        assert first.status_code == 303
        form = client.get(first.headers["location"])
        response = client.post(
            "/login",
            data={
                "csrf": csrf_of(form),
                "username": "bob",
                "password": PASSWORD,
                "next": f"/messages/{held}",
            },
        )
        assert response.headers["location"] == f"/messages/{held}"


def test_login_is_throttled_after_repeated_failures(console: Console) -> None:
    # Issue 10: the throttle is a growing wait, no longer a 15-minute lock of the account.
    with console.client() as client:
        for _ in range(MAX_FAILURES_PER_USER):
            response = client.post(
                "/login",
                data={
                    "csrf": csrf_of(client.get("/login")),
                    "username": "bob",
                    "password": "wrong",
                },
            )
            assert response.status_code == 401
        with console.gateway.session() as db:
            for _ in range(3):  # a longer attack: the wait is 8 s now, not a race with 1 s
                record_attempt(db, "bob", "127.0.0.1", ok=False)
            db.commit()
        response = client.post(
            "/login",
            data={"csrf": csrf_of(client.get("/login")), "username": "bob", "password": PASSWORD},
        )
        assert response.status_code == 429
        assert 0 < int(response.headers["retry-after"]) <= ACCOUNT_DELAY_CAP.total_seconds()
        assert "Try again in" in response.text
        assert client.get("/").status_code == 303


def test_unknown_user_and_wrong_password_look_the_same(console: Console) -> None:
    with console.client() as client:
        texts = []
        for name in ("bob", "nobody-here"):
            response = client.post(
                "/login",
                data={"csrf": csrf_of(client.get("/login")), "username": name, "password": "nope"},
            )
            texts.append(
                (response.status_code, "Wrong user name, password or code." in response.text)
            )
        assert texts[0] == texts[1] == (401, True)


def test_totp_is_asked_for_once_enabled(console: Console) -> None:
    secret = credentials.new_totp_secret()
    with console.gateway.session() as db:
        user = get_user(db, "bob")
        credentials.enable_totp(
            db, user, secret, pyotp.TOTP(secret).now(), secret=console.gateway.settings.secret()
        )
        db.commit()
    with console.client() as client:
        response = client.post(
            "/login",
            data={"csrf": csrf_of(client.get("/login")), "username": "bob", "password": PASSWORD},
        )
        assert response.status_code == 401
        # The code enable_totp accepted cannot be used again; the next time step's can.
        later = time.time() + 30
        response = client.post(
            "/login",
            data={
                "csrf": csrf_of(client.get("/login")),
                "username": "bob",
                "password": PASSWORD,
                "code": pyotp.TOTP(secret).at(later),
            },
        )
        assert response.status_code == 303


def test_security_headers_on_every_page(console: Console) -> None:
    with console.client() as client:
        for path in ("/login", "/", "/nope", "/static/console.css"):
            response = client.get(path)
            csp = response.headers["content-security-policy"]
            assert "default-src 'none'" in csp
            assert "frame-ancestors 'none'" in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"


def test_held_content_is_masked_until_revealed_and_reveal_is_audited(
    console: Console, held: str
) -> None:
    with console.login("bob") as bob:
        page = bob.get(f"/messages/{held}")
        assert page.status_code == 200
        assert HKID not in page.text
        assert "A123***(3)" in page.text
        assert "CHAN T** M**" in page.text
        assert "Tai Man" not in page.text
        assert "9123 ****" in page.text
        revealed = bob.post(f"/messages/{held}/reveal", data={"csrf": csrf_of(page)})
        assert HKID in revealed.text
        assert "no-store" in revealed.headers["cache-control"]
    with console.gateway.session() as db:
        kinds = [(e.kind, e.actor) for e in db.execute(select(AuditEntry)).scalars()]
    assert ("console.view", "bob") in kinds
    assert ("console.reveal", "bob") in kinds


def test_confirm_link_for_a_hold_or_forged_token_shows_nothing(console: Console, held: str) -> None:
    with console.gateway.session() as db:
        item = Quarantine.get(db, held)
        link = console.gateway.confirm_link(item)  # genuine token, but for a hold
    path = link[link.index("/confirm/") :]
    with console.client() as anonymous:
        for p in (path, path[:-3] + "abc", f"/confirm/{held}.99999999999.forged"):
            response = anonymous.get(p)
            assert response.status_code == 404
            assert CANARY_SUBJECT not in response.text


def test_register_hold_needs_a_privacy_officer(console: Console, sink: SinkHandler) -> None:
    raw = leak().replace(b"\n", b"\r\n")
    verdict = Verdict(
        action=Action.HOLD,
        reasons=[Reason("register-data-external", "Register data to outside.", Action.HOLD)],
        subjects={"voters": 2},
    )
    with console.gateway.session() as db:
        item = console.gateway.quarantine.store(
            db, raw, Envelope(f"alice@{ORG}", ("case.officer@partner.example",)), verdict
        )
        db.commit()
    data = {"reason": "needed for the case", "digest": item.content_sha256}
    with console.login("bob") as bob:
        page = bob.get(f"/messages/{item.id}")
        assert "a privacy officer must release it" in page.text
        assert "voters: 2" in page.text
        response = bob.post(f"/messages/{item.id}/release", data={**data, "csrf": csrf_of(page)})
        assert response.status_code == 403
    assert sink.to("case.officer@partner.example") == []
    with console.login("olivia") as olivia:
        page = olivia.get(f"/messages/{item.id}")
        # A decision bound to other content than the one shown is refused.
        stale = {**data, "digest": "0" * 64, "csrf": csrf_of(page)}
        assert olivia.post(f"/messages/{item.id}/release", data=stale).status_code == 403
        response = olivia.post(f"/messages/{item.id}/release", data={**data, "csrf": csrf_of(page)})
        assert response.status_code == 303
    assert len(sink.to("case.officer@partner.example")) == 1


@pytest.mark.parametrize(
    ("envelope_sender", "from_header"),
    [(f"alice+x@{ORG}", f"alice+x@{ORG}"), (f"lists@{ORG}", f"Alice@{ORG.upper()}")],
    ids=["plus-tag", "from-header"],
)
def test_sender_cannot_release_own_mail_under_another_form(
    console: Console, sink: SinkHandler, envelope_sender: str, from_header: str
) -> None:
    item_id = console.hold(leak(from_header), envelope_sender, "case.officer@partner.example")
    with console.gateway.session() as db:
        digest = Quarantine.get(db, item_id).content_sha256
    with console.login("alice") as alice:
        page = alice.get(f"/messages/{item_id}")
        assert "You sent this message" in page.text
        data = {"reason": "my own mail", "digest": digest, "csrf": csrf_of(page)}
        assert alice.post(f"/messages/{item_id}/release", data=data).status_code == 403
    assert sink.to("case.officer@partner.example") == []
    with console.login("olivia") as olivia:
        page = olivia.get(f"/messages/{item_id}")
        data = {"reason": "checked", "digest": digest, "csrf": csrf_of(page)}
        assert olivia.post(f"/messages/{item_id}/release", data=data).status_code == 303
    assert len(sink.to("case.officer@partner.example")) == 1
