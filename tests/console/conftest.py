"""A live console over a real gateway: scratch data dir, users, a loopback SMTP sink, uvicorn."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from postwarden.act import Gateway
from postwarden.console import create_console
from postwarden.model import Envelope as MailEnvelope
from postwarden.outbound import SmtpOutbound
from postwarden.settings import Settings, init_data_dir
from postwarden.store.credentials import set_password
from postwarden.store.users import add_user

ORG = "demo.gov.hk"
PASSWORD = "correct horse battery staple"  # noqa: S105 - the test users' password
# name → (role, e-mail address)
PEOPLE = {
    "alice": ("reviewer", f"alice@{ORG}"),
    "bob": ("reviewer", f"bob@{ORG}"),
    "olivia": ("privacy-officer", f"olivia@{ORG}"),
    "adam": ("admin", f"adam@{ORG}"),
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(slots=True)
class SinkHandler:
    """The next hop: keeps every message it accepted."""

    port: int = 0
    received: list[tuple[str, tuple[str, ...], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.append(
                (
                    envelope.mail_from or "",
                    tuple(envelope.rcpt_tos),
                    bytes(envelope.original_content or b""),
                )
            )
        return "250 2.0.0 OK"

    def to(self, address: str) -> list[bytes]:
        """Messages that reached ``address`` (notices to senders included)."""
        with self.lock:
            return [raw for _, rcpts, raw in self.received if address in rcpts]


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def sink() -> Iterator[SinkHandler]:
    handler = SinkHandler()
    with _free_socket() as probe:
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    handler.port = port
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def _people_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding ``PEOPLE`` with their passwords, made once per run.

    Each argon2 hash costs 64 MiB and ~0.17 s of CPU (argon2-cffi's defaults); four per test
    were ~0.7 s of every console test.  Tests get a copy (:func:`settings`), so what one test
    changes (users, sessions, audit rows, quarantine) never reaches another.
    """
    settings = init_data_dir(tmp_path_factory.mktemp("console-template") / "var", [ORG])
    gw = Gateway.from_settings(settings)
    try:
        with gw.session() as db:
            for name, (role, email) in PEOPLE.items():
                add_user(db, name, role, email, actor="test", secret=settings.secret())
                set_password(db, name, PASSWORD, actor="test", secret=settings.secret())
            db.commit()
    finally:
        gw.close()
    return settings.data_dir


@pytest.fixture
def settings(tmp_path: Path, _people_template: Path) -> Settings:
    """A fresh data dir with ``PEOPLE`` signed up: the template copied (its secret, which
    keys the audit chain of the users' rows, with it), then ``init`` run on it as here."""
    data_dir = tmp_path / "var"
    shutil.copytree(_people_template, data_dir)
    return init_data_dir(data_dir, [ORG])


@pytest.fixture
def gateway(settings: Settings, sink: SinkHandler) -> Iterator[Gateway]:
    gw = Gateway.from_settings(settings, outbound=SmtpOutbound("127.0.0.1", sink.port, timeout=10))
    try:
        yield gw
    finally:
        gw.close()


@dataclass(slots=True)
class Console:
    base: str
    gateway: Gateway

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)

    @contextmanager
    def login(self, name: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
        """A client signed in as ``name``."""
        with self.client() as client:
            form = client.get("/login")
            data = {"csrf": csrf_of(form), "username": name, "password": password}
            response = client.post("/login", data=data)
            assert response.status_code == 303, response.text
            yield client

    def hold(self, raw: bytes, sender: str, *recipients: str) -> str:
        """Send ``raw`` through the gateway; it must end in the quarantine.

        Line ends become CRLF first, as mail arriving over SMTP has them (smtplib sends
        bytes as given, and a bare-LF message is one over-long line to the next hop).
        """
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        outcome = self.gateway.process(raw, MailEnvelope(sender, tuple(recipients)))
        assert outcome.quarantine_id is not None, outcome.verdict.to_json()
        return outcome.quarantine_id


def csrf_of(response: httpx.Response) -> str:
    match = _CSRF.search(response.text)
    assert match, f"no CSRF token in {response.request.url}"
    return match.group(1)


@contextlib.contextmanager
def running(app: Any, sock: socket.socket, **config: Any) -> Iterator[int]:
    """``app`` served by uvicorn on the bound ``sock`` in a thread, as ``serve`` runs it
    (forwarded headers not believed by uvicorn itself); yields the port."""
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            ws="none",
            http="h11",
            proxy_headers=False,
            **config,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "console did not start"
        assert time.monotonic() < deadline, "console did not start within 10 s"
        time.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def console(settings: Settings, gateway: Gateway) -> Iterator[Console]:
    sock = _free_socket()
    host = sock.getsockname()[0]
    with running(create_console(settings, gateway), sock) as port:
        # Warn notices link to the confirm page of this console.
        gateway.public_url = f"http://{host}:{port}"
        yield Console(f"http://{host}:{port}", gateway)
