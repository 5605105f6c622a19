"""HSTS: sent when the console is reached over https (directly or via a trusted proxy), never
over plain http, where it would only tell a browser to expect what it cannot have."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
from tests.console.conftest import running
from tests.console.test_console_login import PROXY, _client
from tests.tls_certs import TestCa

from postwarden.act import Gateway
from postwarden.console import create_console
from postwarden.console.app import HSTS
from postwarden.settings import Settings

HEADER = "Strict-Transport-Security"


def test_hsts_value_is_one_year() -> None:
    assert HSTS == "max-age=31536000"


def test_no_hsts_over_plain_http(settings: Settings, gateway: Gateway) -> None:
    with _client(settings, gateway, "127.0.0.1") as client:
        page = client.get("/login")
    assert page.status_code == 200
    assert HEADER not in page.headers


def test_hsts_behind_a_trusted_proxy_that_says_https(settings: Settings, gateway: Gateway) -> None:
    with _client(settings, gateway, PROXY, trusted_proxies=[PROXY]) as client:
        assert client.get("/login", headers={"X-Forwarded-Proto": "https"}).headers[HEADER] == HSTS
        # The proxy's plain-http requests (a redirect listener) get none.
        assert HEADER not in client.get("/login", headers={"X-Forwarded-Proto": "http"}).headers


def test_no_hsts_when_an_untrusted_client_claims_https(
    settings: Settings, gateway: Gateway
) -> None:
    with _client(settings, gateway, "127.0.0.66", trusted_proxies=[PROXY]) as client:
        page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert HEADER not in page.headers


@contextmanager
def _https_console(
    settings: Settings, gateway: Gateway, directory: Path
) -> Iterator[tuple[httpx.Client, TestCa]]:
    """The console served by uvicorn over TLS itself, with a certificate of a test CA."""
    ca = TestCa(directory)
    pair = ca.issue("console")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = create_console(replace(settings), gateway)
    with (
        running(app, sock, ssl_certfile=str(pair.cert), ssl_keyfile=str(pair.key)) as port,
        httpx.Client(
            base_url=f"https://localhost:{port}",
            verify=ssl.create_default_context(cafile=ca.cert_file),
            timeout=30,
        ) as client,
    ):
        yield client, ca


def test_hsts_when_served_over_https_directly(
    settings: Settings, gateway: Gateway, tmp_path: Path
) -> None:
    with _https_console(settings, gateway, tmp_path / "ca") as (client, _):
        page = client.get("/login")
    assert page.status_code == 200
    assert page.headers[HEADER] == HSTS
