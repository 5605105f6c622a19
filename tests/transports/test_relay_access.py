"""Issue 10: the relay is not an open relay, and one client cannot hold it forever.

Every test runs the real listener (``start_relay``) on loopback and talks to it with smtplib
or a raw socket. A client "outside" the allowed networks is simulated on loopback by allowing
only 127.0.0.2 and connecting from 127.0.0.1 (``source_address``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import smtplib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from tests.transports.doubles import LiveRelay, ScriptedInspector, Sink, make_gateway, message

from postwarden.settings import Settings
from postwarden.store.credentials import set_password
from postwarden.store.users import add_user
from postwarden.transports.relay import RelayHandler
from postwarden.transports.relay_access import RelayAccess

SENDER = "alice@demo.gov.hk"
RCPT = "bob@partner.example"
PASSWORD = "Correct-Horse-Battery-Staple-7431"  # noqa: S105 (a test user's)

MakeRelay = Callable[..., LiveRelay]


@pytest.fixture
def relay_with(settings: Settings, inspector: ScriptedInspector, sink: Sink) -> Iterator[MakeRelay]:
    """A live relay whose access controls are the settings' with ``overrides``."""
    started: list[LiveRelay] = []

    def make(
        size_limit: int = 1024 * 1024, networks: list[str] | None = None, **overrides: Any
    ) -> LiveRelay:
        gateway = make_gateway(settings, sink.outbound, inspector)
        access = RelayAccess.from_settings(settings, client_networks=networks)
        access = dataclasses.replace(access, **overrides)
        relay = LiveRelay(
            RelayHandler(gateway, sink.outbound, timeout=10, access=access), size_limit
        )
        started.append(relay)
        return relay

    yield make
    for relay in started:
        relay.stop()


def client(relay: LiveRelay, source: str = "127.0.0.1") -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", relay.port, timeout=10, source_address=(source, 0))


# -- senders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["spammer@evil.example", "alice@demo.gov.hk.evil.example"])
def test_relay_refuses_a_foreign_sender_with_550(
    relay_with: MakeRelay, sink: Sink, sender: str
) -> None:
    relay = relay_with()
    with client(relay) as smtp, pytest.raises(smtplib.SMTPSenderRefused) as err:
        smtp.sendmail(sender, [RCPT], message(marker="foreign"))
    assert err.value.smtp_code == 550
    assert err.value.smtp_error.startswith(b"5.7.1")
    assert sink.messages(b"foreign") == []


@pytest.mark.parametrize(
    "sender", ["Alice@Demo.Gov.HK", "clerk@hq.demo.gov.hk", "a+tag@demo.gov.hk"]
)
def test_relay_takes_organisation_senders_and_subdomains(
    relay_with: MakeRelay, sink: Sink, sender: str
) -> None:
    relay = relay_with()
    with client(relay) as smtp:
        assert smtp.sendmail(sender, [RCPT], message(marker="own")) == {}
    (got,) = sink.messages(b"own")
    assert got.sender == sender


def test_relay_takes_foreign_senders_when_configured(relay_with: MakeRelay, sink: Sink) -> None:
    relay = relay_with(foreign_senders=True)
    with client(relay) as smtp:
        assert smtp.sendmail("someone@elsewhere.example", [RCPT], message(marker="fwd")) == {}
    assert len(sink.messages(b"fwd")) == 1


@pytest.mark.parametrize(
    "path",
    [
        "<alice@demo.gov.hk@evil.example>",
        '<"alice@demo.gov.hk"@evil.example>',
        '<"spammer"@demo.gov.hk>',
        "<@evil.example:alice@demo.gov.hk>",
        "<alice@demo.gov.hk>evil@evil.example",
        "alice@demo.gov.hk",
        "<alice(comment)@demo.gov.hk>",
        "<alice..x@demo.gov.hk>",
        "<alice@[192.0.2.1]>",
        "<alice@demo.gov.hk.>",
        "<alice@-demo.gov.hk>",
        "<alice@demo.gov.hk",
        "<alice\x7f@demo.gov.hk>",
        "<" + "a" * 65 + "@demo.gov.hk>",
    ],
)
def test_relay_refuses_envelope_addresses_outside_the_strict_form(
    relay_with: MakeRelay, path: str
) -> None:
    relay = relay_with()
    with client(relay) as smtp:
        smtp.ehlo()
        code, text = smtp.docmd("MAIL", f"FROM:{path}")
        assert (code, text[:5]) == (553, b"5.1.3")
        assert smtp.docmd("MAIL", f"FROM:<{SENDER}>")[0] == 250
        code, text = smtp.docmd("RCPT", f"TO:{path}")
        assert (code, text[:5]) == (553, b"5.1.3")


# -- client networks -------------------------------------------------------------------------


def test_relay_greets_a_client_outside_its_networks_with_554(
    relay_with: MakeRelay, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    relay = relay_with(networks=["127.0.0.2/32"])
    with pytest.raises(smtplib.SMTPConnectError) as err:
        client(relay, "127.0.0.1")
    assert err.value.smtp_code == 554
    assert err.value.smtp_error.startswith(b"5.7.1")
    assert "127.0.0.1: not in the client networks" in caplog.text
    # RFC 5321 §3.1: after a 554 greeting, commands get 503 until QUIT.
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        f = s.makefile("rwb")
        assert f.readline().startswith(b"554 5.7.1")
        for line in (b"EHLO x", b"MAIL FROM:<>"):
            f.write(line + b"\r\n")
            f.flush()
            assert f.readline().startswith(b"503")
        f.write(b"QUIT\r\n")
        f.flush()
        assert f.readline().startswith(b"221")
        assert f.readline() == b""
    assert sink.messages() == []


def test_relay_takes_a_bounce_only_from_an_allowed_network(
    relay_with: MakeRelay, sink: Sink
) -> None:
    relay = relay_with(networks=["127.0.0.2/32"])
    with pytest.raises(smtplib.SMTPConnectError):
        client(relay, "127.0.0.1").sendmail("<>", [RCPT], message(marker="bounce1"))
    with client(relay, "127.0.0.2") as smtp:
        assert smtp.sendmail("<>", [RCPT], message(marker="bounce2")) == {}
    assert sink.messages(b"bounce1") == []
    (got,) = sink.messages(b"bounce2")
    assert got.sender == "<>"


def test_relay_handler_refuses_an_outside_client_at_mail_too(
    settings: Settings, inspector: ScriptedInspector, sink: Sink
) -> None:
    """The handler checks the network again at MAIL: a server class without the connect-time
    gate (aiosmtpd's own, in a test or an embedding) is still no open relay."""
    from aiosmtpd.controller import Controller
    from tests.integration.postfix import free_port

    access = RelayAccess.from_settings(settings, client_networks=["127.0.0.2/32"])
    handler = RelayHandler(
        make_gateway(settings, sink.outbound, inspector), sink.outbound, access=access
    )
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as smtp:
            smtp.ehlo()
            code, text = smtp.docmd("MAIL", "FROM:<>")
    finally:
        controller.stop()
    assert (code, text[:5]) == (554, b"5.7.1")


# -- recipients ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1001, 5000])
def test_relay_caps_recipients_at_1000_with_452(
    relay_with: MakeRelay, sink: Sink, count: int
) -> None:
    relay = relay_with()
    rcpts = [f"r{i}@partner.example" for i in range(count)]
    with client(relay) as smtp:
        refused = smtp.sendmail(SENDER, rcpts, message(marker=f"many{count}"))
    assert sorted(refused) == sorted(rcpts[1000:])
    assert {v for v in refused.values()} == {(452, b"4.5.3 Error: too many recipients")}
    (got,) = sink.messages(f"many{count}".encode())
    assert list(got.recipients) == rcpts[:1000]


def test_relay_recipient_cap_is_configurable(relay_with: MakeRelay, sink: Sink) -> None:
    relay = relay_with(max_recipients=2)
    with client(relay) as smtp:
        refused = smtp.sendmail(
            SENDER, ["a@x.example", "b@x.example", "c@x.example"], message(marker="cap2")
        )
    assert list(refused) == ["c@x.example"]
    (got,) = sink.messages(b"cap2")
    assert got.recipients == ("a@x.example", "b@x.example")


# -- deadlines -------------------------------------------------------------------------------


def _talk(port: int, lines: list[bytes], source: str = "127.0.0.1") -> tuple[socket.socket, Any]:
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    f = s.makefile("rwb")
    assert f.readline().startswith(b"220")
    for line in lines:
        f.write(line + b"\r\n")
        f.flush()
        f.readline()
    return s, f


def _trickle_until_dropped(
    s: socket.socket, f: Any, byte: bytes, every: float, limit: float
) -> tuple[float, bytes]:
    """Send ``byte`` every ``every`` seconds until the server answers; (seconds, answer)."""
    start = time.monotonic()
    s.settimeout(every)
    while time.monotonic() - start < limit:
        try:
            s.sendall(byte)
        except OSError:
            break
        try:
            got = s.recv(4096)
        except TimeoutError:
            continue
        return time.monotonic() - start, got
    return time.monotonic() - start, b""


@pytest.mark.timeout(60)
def test_relay_drops_a_client_trickling_its_data_at_the_data_deadline(
    relay_with: MakeRelay, sink: Sink
) -> None:
    relay = relay_with(data_timeout=1.5, command_timeout=5.0)
    s, f = _talk(
        relay.port, [b"HELO t", f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{RCPT}>".encode()]
    )
    with s:
        f.write(b"DATA\r\n")
        f.flush()
        assert f.readline().startswith(b"354")
        took, answer = _trickle_until_dropped(s, f, b"x", every=0.3, limit=10)
    assert answer.startswith(b"421 4.4.2 ")
    assert b"DATA timeout" in answer
    assert 1.2 < took < 5.0  # the deadline, plus slack for a busy test machine
    assert sink.messages() == []


@pytest.mark.timeout(60)
def test_relay_drops_a_client_that_keeps_sending_noop_at_the_session_deadline(
    relay_with: MakeRelay,
) -> None:
    relay = relay_with(session_timeout=2.0, command_timeout=1.0)
    s, f = _talk(relay.port, [b"HELO t"])
    with s:
        start = time.monotonic()
        answer = b""
        while b"421" not in answer and time.monotonic() - start < 10:
            _, answer = _trickle_until_dropped(s, f, b"NOOP\r\n", every=0.3, limit=10)
        took = time.monotonic() - start
    assert b"421 4.4.2 " in answer
    assert b"session timeout" in answer
    assert took < 6.0


@pytest.mark.timeout(60)
def test_relay_drops_a_client_trickling_one_command_at_the_command_deadline(
    relay_with: MakeRelay,
) -> None:
    relay = relay_with(command_timeout=1.0)
    s, f = _talk(relay.port, [b"HELO t"])
    with s:
        took, answer = _trickle_until_dropped(s, f, b"N", every=0.3, limit=10)
    assert answer.startswith(b"421 4.4.2 ")
    assert b"command timeout" in answer
    assert took < 4.0


def test_relay_does_not_count_its_own_inspection_against_the_client(
    relay_with: MakeRelay, sink: Sink
) -> None:
    """The command deadline runs while we wait for the client, never while the gateway
    decides: a slow inspection still gets its answer."""
    relay = relay_with(command_timeout=0.5)
    raw = message(marker="slow").replace(b"\r\n\r\n", b"\r\nX-Test-Sleep: 1.5\r\n\r\n", 1)
    with client(relay) as smtp:
        assert smtp.sendmail(SENDER, [RCPT], raw) == {}
    assert len(sink.messages(b"slow")) == 1


@pytest.mark.timeout(60)
def test_relay_answers_the_transaction_in_flight_before_the_session_deadline_closes(
    relay_with: MakeRelay, sink: Sink
) -> None:
    relay = relay_with(session_timeout=1.0)
    raw = message(marker="late").replace(b"\r\n\r\n", b"\r\nX-Test-Sleep: 2\r\n\r\n", 1)
    s, f = _talk(
        relay.port, [b"HELO t", f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{RCPT}>".encode()]
    )
    with s:
        f.write(b"DATA\r\n")
        f.flush()
        assert f.readline().startswith(b"354")
        f.write(raw + b".\r\n")
        f.flush()
        assert f.readline().startswith(b"250 2.0.0")  # decided and answered, then closed
        last = f.readline()
    assert last.startswith(b"421 4.4.2 ")
    assert b"session timeout" in last
    assert len(sink.messages(b"late")) == 1


# -- connections and size --------------------------------------------------------------------


def test_relay_caps_connections_per_client_address_with_421(relay_with: MakeRelay) -> None:
    relay = relay_with(max_connections_per_client=2)
    first, second = client(relay), client(relay)
    with pytest.raises(smtplib.SMTPConnectError) as err:
        client(relay)
    assert (err.value.smtp_code, err.value.smtp_error[:5]) == (421, b"4.7.0")
    with client(relay, "127.0.0.3") as other:  # another address has its own allowance
        assert other.noop()[0] == 250
    first.quit()
    time.sleep(0.2)
    with client(relay) as again:
        assert again.noop()[0] == 250
    second.quit()


def test_relay_caps_connections_overall_with_421(relay_with: MakeRelay) -> None:
    relay = relay_with(max_connections=2)
    open_ = [client(relay, "127.0.0.1"), client(relay, "127.0.0.2")]
    with pytest.raises(smtplib.SMTPConnectError) as err:
        client(relay, "127.0.0.3")
    assert err.value.smtp_code == 421
    for c in open_:
        c.quit()


def test_relay_refuses_an_oversized_message_with_552_and_stays_usable(
    relay_with: MakeRelay, sink: Sink
) -> None:
    relay = relay_with(size_limit=5000)
    big = message(marker="huge", body=("y" * 70 + "\r\n") * 100)
    with client(relay) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            smtp.sendmail(SENDER, [RCPT], big)  # smtplib declares SIZE=...: refused at MAIL
        assert declared.value.smtp_code == 552
        smtp.rset()
        smtp.mail(SENDER)  # undeclared: refused after the data, which is not kept
        smtp.rcpt(RCPT)
        code, text = smtp.data(big)
        assert (code, text[:5]) == (552, b"5.3.4")
        assert smtp.sendmail(SENDER, [RCPT], message(marker="small")) == {}
    assert sink.messages(b"huge") == []
    assert len(sink.messages(b"small")) == 1


# -- SMTP AUTH -------------------------------------------------------------------------------


@pytest.fixture
def alice(settings: Settings, inspector: ScriptedInspector, sink: Sink) -> None:
    gateway = make_gateway(settings, sink.outbound, inspector)
    with gateway.session() as session:
        add_user(
            session,
            "alice",
            "reviewer",
            "alice@demo.gov.hk",
            actor="test",
            secret=settings.secret(),
        )
        set_password(session, "alice", PASSWORD, actor="test", secret=settings.secret())
        session.commit()
    gateway.close()


def test_relay_without_auth_offers_none(relay_with: MakeRelay) -> None:
    relay = relay_with()
    with client(relay) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("auth")
        assert smtp.docmd("AUTH", "PLAIN AGFsaWNlAHg=")[0] >= 500


@pytest.mark.usefixtures("alice")
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_relay_auth_lets_a_user_send_as_themselves_only(
    relay_with: MakeRelay, sink: Sink, mechanism: str
) -> None:
    relay = relay_with(networks=["127.0.0.2/32"], auth=True)
    with client(relay) as smtp:
        smtp.ehlo()
        assert "PLAIN" in smtp.esmtp_features["auth"]
        code, text = smtp.docmd("MAIL", f"FROM:<{SENDER}>")
        assert (code, text[:5]) == (530, b"5.7.0")  # outside the networks: sign in first
        smtp.user, smtp.password = "alice", PASSWORD
        authenticate = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        assert smtp.auth(mechanism, authenticate)[0] == 235
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            smtp.sendmail("carol@demo.gov.hk", [RCPT], message(marker="asother"))
        assert (err.value.smtp_code, err.value.smtp_error[:5]) == (553, b"5.7.1")
        smtp.rset()
        assert smtp.sendmail("alice+news@demo.gov.hk", [RCPT], message(marker="asself")) == {}
    assert sink.messages(b"asother") == []
    assert len(sink.messages(b"asself")) == 1


@pytest.mark.usefixtures("alice")
def test_relay_auth_refuses_a_wrong_password(relay_with: MakeRelay) -> None:
    relay = relay_with(networks=["127.0.0.2/32"], auth=True)
    with client(relay) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as err:
        smtp.login("alice", PASSWORD + "x")
    assert err.value.smtp_code == 535


def test_relay_auth_is_not_offered_to_clients_off_loopback(settings: Settings) -> None:
    access = dataclasses.replace(RelayAccess.from_settings(settings), auth=True)
    assert access.may_authenticate("127.0.0.1")
    assert access.may_authenticate("::1")
    assert not access.may_authenticate("192.0.2.10")
    assert not dataclasses.replace(access, auth=False).may_authenticate("127.0.0.1")


# -- memory ----------------------------------------------------------------------------------


def test_relay_inspects_one_message_at_a_time_under_an_admission_gate(
    settings: Settings, inspector: ScriptedInspector, sink: Sink
) -> None:
    """``admit`` (the process's memory gate) wraps reading, inspecting and forwarding."""
    sizes: list[int] = []
    running: list[int] = [0, 0]  # now, most at once
    gate = asyncio.Semaphore(1)

    @contextlib.asynccontextmanager
    async def admit(size: int) -> AsyncIterator[None]:
        async with gate:
            sizes.append(size)
            running[0] += 1
            running[1] = max(running)
            try:
                yield
            finally:
                running[0] -= 1

    handler = RelayHandler(
        make_gateway(settings, sink.outbound, inspector), sink.outbound, timeout=10, admit=admit
    )
    relay = LiveRelay(handler)
    raws = [
        message(marker=f"gate{i}").replace(b"\r\n\r\n", b"\r\nX-Test-Sleep: 0.4\r\n\r\n", 1)
        for i in range(3)
    ]

    def send(raw: bytes) -> None:
        with client(relay) as smtp:
            smtp.sendmail(SENDER, [RCPT], raw)

    try:
        threads = [threading.Thread(target=send, args=(raw,)) for raw in raws]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        relay.stop()
    assert running[1] == 1
    assert sorted(sizes) == sorted(len(raw) for raw in raws)
    assert len(sink.messages(b"gate")) == 3
