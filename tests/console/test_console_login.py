"""Signing in under attack: forwarded addresses, growing waits, the owner not locked out,
and the password change with the passphrase policy."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from tests.console.conftest import PASSWORD, Console, csrf_of, running

from postwarden.act import Gateway
from postwarden.console import create_console
from postwarden.console.deps import COOKIE, SECURE_COOKIE
from postwarden.settings import Settings
from postwarden.store import credentials
from postwarden.store.sessions import (
    ACCOUNT_DELAY_CAP,
    MAX_FAILURES_PER_ADDRESS,
    LoginAttempt,
    record_attempt,
)
from postwarden.store.users import get_user

PROXY = "127.0.0.9"
"""The reverse proxy in front of the console (trusted)."""


@contextmanager
def _client(
    settings: Settings, gateway: Gateway, peer: str, **access: object
) -> Iterator[httpx.Client]:
    """A console with ``access`` settings on 127.0.0.1, and a client connecting from ``peer``
    (any 127/8 address is this machine's loopback), as uvicorn is run by ``serve``."""
    changed = replace(settings, access=settings.access.with_overrides(access))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    with running(create_console(changed, gateway), sock) as port:
        transport = httpx.HTTPTransport(local_address=peer)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=30
        ) as client:
            yield client


def _login(client: httpx.Client, user: str, password: str, **headers: str) -> int:
    form = client.get("/login", headers=headers)
    data = {"csrf": csrf_of(form), "username": user, "password": password}
    return client.post("/login", data=data, headers=headers).status_code


def _pass_time(gateway: Gateway, seconds: float) -> None:
    """Let time pass for the throttle: every recorded attempt moves into the past."""
    with gateway.session() as db:
        for row in db.execute(select(LoginAttempt)).scalars():
            row.at = row.at - timedelta(seconds=seconds)  # in Python: SQLite has no interval
        db.commit()


@pytest.fixture
def attacked(gateway: Gateway) -> Gateway:
    """Bob's account after a long guessing run from 127.0.0.66."""
    with gateway.session() as db:
        start = datetime.now(UTC) - timedelta(minutes=30)
        for i in range(60):
            record_attempt(db, "bob", "127.0.0.66", ok=False, now=start + timedelta(seconds=i))
        db.commit()
    return gateway


def test_forged_forwarded_for_does_not_defeat_the_throttle(
    settings: Settings, attacked: Gateway
) -> None:
    # Not behind a trusted proxy: the header is the client's own words and is ignored.
    with _client(settings, attacked, "127.0.0.66") as client:
        for fake in ("127.0.0.70", "127.0.0.71", "127.0.0.72"):
            assert _login(client, "olivia", PASSWORD, **{"X-Forwarded-For": fake}) == 429
    # Even when a proxy is configured, a client that is not that proxy is not believed.
    with _client(settings, attacked, "127.0.0.66", trusted_proxies=[PROXY]) as client:
        assert _login(client, "olivia", PASSWORD, **{"X-Forwarded-For": "127.0.0.70"}) == 429


def test_trusted_proxy_forwarded_for_names_the_client(
    settings: Settings, attacked: Gateway
) -> None:
    with _client(settings, attacked, PROXY, trusted_proxies=[PROXY]) as client:
        # The right-most address the proxy did not add itself is the client: a value the
        # client prepended (left of it) changes nothing.
        hdr = {"X-Forwarded-For": "127.0.0.70, 127.0.0.66"}
        assert _login(client, "olivia", PASSWORD, **hdr) == 429
        # Another client behind the same proxy is not slowed by the attacker's address.
        assert _login(client, "olivia", PASSWORD, **{"X-Forwarded-For": "127.0.0.80"}) == 303
        # The proxy's word on TLS is believed: the cookie becomes Secure and __Host-.
        page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert page.headers["set-cookie"].startswith(SECURE_COOKIE)
    with _client(settings, attacked, "127.0.0.66", trusted_proxies=[PROXY]) as client:
        page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert page.headers["set-cookie"].startswith(COOKIE + "=")


def test_owner_signs_in_from_another_address_after_an_attack(
    settings: Settings, attacked: Gateway
) -> None:
    with _client(settings, attacked, "127.0.0.66") as attacker:
        assert _login(attacker, "bob", "guess-123456") == 429
    with _client(settings, attacked, "127.0.0.5") as owner:
        response_code = _login(owner, "bob", PASSWORD)
        # At most the account's short wait (the attack's last try was 30 minutes ago: none).
        assert response_code == 303
    # A fresh failure on the account makes the owner wait, but no longer than the cap.
    with attacked.session() as db:
        for _ in range(MAX_FAILURES_PER_ADDRESS):
            record_attempt(db, "bob", "127.0.0.67", ok=False)
        db.commit()
    with _client(settings, attacked, "127.0.0.6") as owner:
        form = owner.get("/login")
        data = {"csrf": csrf_of(form), "username": "bob", "password": PASSWORD}
        response = owner.post("/login", data=data)
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) <= ACCOUNT_DELAY_CAP.total_seconds()
    _pass_time(attacked, ACCOUNT_DELAY_CAP.total_seconds())
    with _client(settings, attacked, "127.0.0.6") as owner:
        assert _login(owner, "bob", PASSWORD) == 303
    # The attacker's address is still waiting, far longer.
    with _client(settings, attacked, "127.0.0.66") as attacker:
        form = attacker.get("/login")
        data = {"csrf": csrf_of(form), "username": "bob", "password": PASSWORD}
        response = attacker.post("/login", data=data)
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > ACCOUNT_DELAY_CAP.total_seconds()


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("password1234", "breached"),
        (" " * 12, "white space"),
    ],
)
def test_console_password_change_refuses_weak_passwords(
    console: Console, new: str, message: str
) -> None:
    with console.login("bob") as bob:
        page = bob.get("/account")
        data = {"csrf": csrf_of(page), "password": PASSWORD, "new_password": new, "repeat": new}
        response = bob.post("/account/password", data=data)
        assert response.status_code == 400
        assert message in response.text
    with console.gateway.session() as db:
        assert credentials.check_password(get_user(db, "bob"), PASSWORD)


def test_console_password_change_accepts_a_good_passphrase(console: Console) -> None:
    new = "violet kettle mountain ferry 42"
    with console.login("bob") as bob:
        page = bob.get("/account")
        wrong = {"csrf": csrf_of(page), "password": "nope", "new_password": new, "repeat": new}
        assert bob.post("/account/password", data=wrong).status_code == 400
        data = {**wrong, "password": PASSWORD}
        response = bob.post("/account/password", data=data)
        assert response.status_code == 303
        assert bob.get("/account").status_code == 200  # this browser stays signed in
    with console.gateway.session() as db:
        assert credentials.check_password(get_user(db, "bob"), new)
