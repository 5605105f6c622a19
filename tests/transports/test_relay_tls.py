"""STARTTLS on the relay: the real listener on loopback, certificates made by the test, and a
real ``postwarden relay`` process whose certificate is replaced and reloaded on SIGHUP."""

from __future__ import annotations

import dataclasses
import os
import signal
import smtplib
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.postfix import free_port, wait_for_port
from tests.tls_certs import CertPair, TestCa, peer_fingerprint
from tests.transports.doubles import LiveRelay, ScriptedInspector, Sink, make_gateway, message

from postwarden.settings import Settings, init_data_dir
from postwarden.store.credentials import set_password
from postwarden.store.users import add_user
from postwarden.transports.relay import RelayHandler
from postwarden.transports.relay_access import RelayAccess
from postwarden.transports.server_tls import ServerTls, TlsError, server_context

SENDER = "alice@demo.gov.hk"
RCPT = "bob@partner.example"
PASSWORD = "Correct-Horse-Battery-Staple-7431"  # noqa: S105 (a test user's)

MakeRelay = Callable[..., LiveRelay]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    return TestCa(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def cert(ca: TestCa) -> CertPair:
    return ca.issue("relay", ("localhost", "127.0.0.1"))


@pytest.fixture
def relay_with(
    settings: Settings, inspector: ScriptedInspector, sink: Sink, cert: CertPair
) -> Iterator[MakeRelay]:
    started: list[LiveRelay] = []

    def make(required: bool = False, **overrides: Any) -> LiveRelay:
        gateway = make_gateway(settings, sink.outbound, inspector)
        access = dataclasses.replace(RelayAccess.from_settings(settings), **overrides)
        relay = LiveRelay(
            RelayHandler(gateway, sink.outbound, timeout=10, access=access),
            tls=ServerTls(cert.cert, cert.key, required=required),
        )
        started.append(relay)
        return relay

    yield make
    for relay in started:
        relay.stop()


def client_context(ca: TestCa) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca.cert_file))


def test_relay_offers_starttls_and_delivers_under_it(
    relay_with: MakeRelay, sink: Sink, ca: TestCa, cert: CertPair
) -> None:
    relay = relay_with()
    with smtplib.SMTP("localhost", relay.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert smtp.starttls(context=client_context(ca))[0] == 220
        assert isinstance(smtp.sock, ssl.SSLSocket)
        assert smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert peer_fingerprint(smtp.sock) == cert.fingerprint
        smtp.ehlo()
        assert not smtp.has_extn("starttls")  # once is enough (RFC 3207 §4.2)
        assert smtp.sendmail(SENDER, [RCPT], message(marker="overtls")) == {}
    assert len(sink.messages(b"overtls")) == 1


def test_relay_without_require_tls_still_takes_plain_sessions(
    relay_with: MakeRelay, sink: Sink
) -> None:
    relay = relay_with()
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
        assert smtp.sendmail(SENDER, [RCPT], message(marker="plainok")) == {}
    assert len(sink.messages(b"plainok")) == 1


def test_require_tls_refuses_mail_and_auth_before_starttls(
    relay_with: MakeRelay, sink: Sink, ca: TestCa
) -> None:
    relay = relay_with(required=True, auth=True)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.docmd("MAIL", f"FROM:<{SENDER}>") == (
            530,
            b"5.7.0 Must issue a STARTTLS command first",
        )
        assert smtp.docmd("AUTH", "PLAIN AGFsaWNlAHg=")[0] == 530
        assert smtp.docmd("RCPT", f"TO:<{RCPT}>")[0] == 530
        smtp.starttls(context=client_context(ca))
        smtp.ehlo()
        assert smtp.sendmail(SENDER, [RCPT], message(marker="aftertls")) == {}
    assert len(sink.messages(b"aftertls")) == 1


def test_require_tls_refuses_a_plain_client_through_smtplib(relay_with: MakeRelay) -> None:
    relay = relay_with(required=True)
    with (
        smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPSenderRefused) as err,
    ):
        smtp.sendmail(SENDER, [RCPT], message(marker="plain"))
    assert err.value.smtp_code == 530


@pytest.fixture
def alice(settings: Settings, inspector: ScriptedInspector, sink: Sink) -> None:
    gateway = make_gateway(settings, sink.outbound, inspector)
    with gateway.session() as session:
        add_user(session, "alice", "reviewer", SENDER, actor="test", secret=settings.secret())
        set_password(session, "alice", PASSWORD, actor="test", secret=settings.secret())
        session.commit()
    gateway.close()


@pytest.mark.usefixtures("alice")
def test_auth_under_tls_signs_in_and_sends(relay_with: MakeRelay, sink: Sink, ca: TestCa) -> None:
    relay = relay_with(required=True, auth=True)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")  # not before STARTTLS when TLS is required
        smtp.starttls(context=client_context(ca))
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"]
        assert smtp.login("alice", PASSWORD)[0] == 235
        assert smtp.sendmail(SENDER, [RCPT], message(marker="authtls")) == {}
    assert len(sink.messages(b"authtls")) == 1


def test_auth_is_offered_to_client_networks_only_under_tls(settings: Settings) -> None:
    # Off loopback cannot be reached from a test on loopback: the rule itself.
    access = RelayAccess.from_settings(settings, client_networks=["192.0.2.0/24"], auth=True)
    assert access.may_authenticate("192.0.2.10", tls=True)
    assert not access.may_authenticate("192.0.2.10", tls=False)
    assert not access.may_authenticate("198.51.100.7", tls=True)  # not a client network
    assert access.may_authenticate("127.0.0.1", tls=False)
    assert not dataclasses.replace(access, auth=False).may_authenticate("192.0.2.10", tls=True)


def test_server_context_allows_tls_1_2_and_later_only(cert: CertPair) -> None:
    ctx = server_context(cert.cert, cert.key)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.verify_mode == ssl.CERT_NONE  # no client certificates asked for


def test_server_tls_refuses_a_key_that_does_not_match(ca: TestCa, cert: CertPair) -> None:
    other = ca.issue("other")
    with pytest.raises(TlsError, match="cannot load"):
        ServerTls(cert.cert, other.key)


# -- a real process, reloaded on SIGHUP ------------------------------------------------------


def _install(pair: CertPair, cert: Path, key: Path) -> None:
    """Replace the files the relay was started with, as certbot's deploy hook would."""
    for src, dst in ((pair.cert, cert), (pair.key, key)):
        tmp = dst.with_suffix(".new")
        tmp.write_bytes(src.read_bytes())
        os.replace(tmp, dst)


def _fingerprint_of_new_session(port: int, ca: TestCa) -> str:
    with smtplib.SMTP("localhost", port, timeout=10) as smtp:
        smtp.starttls(context=client_context(ca))
        assert isinstance(smtp.sock, ssl.SSLSocket)
        return peer_fingerprint(smtp.sock)


@pytest.mark.slow
@pytest.mark.parametrize("command", ["relay", "serve"])
def test_relay_process_reloads_its_certificate_on_sighup(
    tmp_path: Path, ca: TestCa, command: str
) -> None:
    first, second, broken = ca.issue("first"), ca.issue("second"), ca.issue("broken")
    cert, key = tmp_path / "relay.pem", tmp_path / "relay.key"
    _install(first, cert, key)
    data = tmp_path / "var"
    init_data_dir(data, ["demo.gov.hk"])
    port = free_port()
    log = (tmp_path / "relay.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "postwarden",
            "--data-dir",
            str(data),
            *(
                ("relay", "--listen", f"127.0.0.1:{port}")
                if command == "relay"
                else ("serve", "--smtp", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{free_port()}")
            ),
            "--outbox",
            str(tmp_path / "outbox"),
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=120)
        assert _fingerprint_of_new_session(port, ca) == first.fingerprint
        # A session open across the reload keeps the certificate it started with.
        held = smtplib.SMTP("localhost", port, timeout=10)
        held.starttls(context=client_context(ca))
        _install(second, cert, key)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while _fingerprint_of_new_session(port, ca) != second.fingerprint:
            assert time.monotonic() < deadline, "the new certificate was not loaded"
            time.sleep(0.1)
        assert isinstance(held.sock, ssl.SSLSocket)
        assert peer_fingerprint(held.sock) == first.fingerprint
        assert held.noop()[0] == 250
        held.quit()
        # A half-written renewal (a certificate without its key) keeps the last good one.
        broken.cert.replace(cert)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None
        assert _fingerprint_of_new_session(port, ca) == second.fingerprint
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    text = (tmp_path / "relay.log").read_text()
    assert "TLS certificate reloaded" in text
    assert "TLS reload failed, keeping the previous certificate" in text
