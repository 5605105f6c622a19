from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator

import pytest
from tests.integration.postfix import free_port
from tests.transports.doubles import LiveRelay, ScriptedInspector, Sink, make_gateway, message

from postwarden.act import Gateway
from postwarden.outbound import Outbound, OutboundError, SmtpOutbound
from postwarden.settings import Settings
from postwarden.store.quarantine import Quarantine
from postwarden.transports.relay import (
    VERDICT_HEADER,
    RelayHandler,
    canonical_line_ends,
    forward_failure_reply,
)
from postwarden.transports.reply import SmtpReply

SENDER = "alice@demo.gov.hk"
RCPTS = ["bob@partner.example", "carol@partner.example"]


class BrokenRcptHandler(RelayHandler):
    """A relay whose RCPT hook fails, as any bug outside DATA would."""

    async def handle_RCPT(self, *args: object) -> str:
        raise RuntimeError("hook failure")


class Relay(LiveRelay):
    def __init__(
        self,
        gateway: Gateway,
        outbound: Outbound,
        size_limit: int,
        handler: type[RelayHandler] = RelayHandler,
    ) -> None:
        super().__init__(handler(gateway, outbound, timeout=10), size_limit)

    def send(self, raw: bytes) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            return smtp.sendmail(SENDER, RCPTS, raw)


@pytest.fixture
def relay_for(settings: Settings, inspector: ScriptedInspector) -> Iterator[object]:
    started: list[Relay] = []

    def make(
        outbound: Outbound,
        size_limit: int = 1024 * 1024,
        handler: type[RelayHandler] = RelayHandler,
    ) -> Relay:
        gateway = make_gateway(settings, outbound, inspector)
        relay = Relay(gateway, outbound, size_limit, handler)
        started.append(relay)
        return relay

    yield make
    for relay in started:
        relay.stop()


def test_relay_forwards_clean_mail_with_verdict_header_before_answering(
    relay_for, sink: Sink
) -> None:
    relay = relay_for(sink.outbound)
    raw = message(marker="clean")
    assert relay.send(raw) == {}
    (got,) = sink.messages(b"clean")
    assert got.sender == SENDER
    assert list(got.recipients) == RCPTS
    assert got.raw == f"{VERDICT_HEADER}: deliver\r\n".encode() + raw


def test_relay_rejects_with_550_and_forwards_nothing(relay_for, sink: Sink) -> None:
    relay = relay_for(sink.outbound)
    with pytest.raises(smtplib.SMTPDataError) as err:
        relay.send(message("reject", marker="leak"))
    assert err.value.smtp_code == 550
    assert err.value.smtp_error.startswith(b"5.7.1 Personal webmail is not allowed Bcc:")
    assert sink.messages(b"leak") == []


def test_relay_holds_durably_then_answers_250(
    relay_for, sink: Sink, settings: Settings, inspector: ScriptedInspector
) -> None:
    relay = relay_for(sink.outbound)
    raw = message("hold", marker="held")
    relay.send(raw)
    assert sink.messages(b"Message-ID: <held@") == []  # not delivered
    gateway = relay.handler.gateway
    with gateway.session() as session:
        (item,) = Quarantine.items(session)
    assert item.sender == SENDER
    assert item.recipients == RCPTS
    assert gateway.quarantine.read(item) == raw


@pytest.mark.parametrize(
    ("next_hop_reply", "code"),
    [("452 4.3.1 Insufficient storage", 451), ("554 5.7.0 Go away", 554)],
)
def test_relay_passes_next_hop_refusals_on(
    relay_for, sink: Sink, next_hop_reply: str, code: int
) -> None:
    sink.handler.reply = next_hop_reply
    relay = relay_for(sink.outbound)
    with pytest.raises(smtplib.SMTPDataError) as err:
        relay.send(message(marker="refused"))
    assert err.value.smtp_code == code
    assert next_hop_reply.split(" ", 1)[1].encode() in err.value.smtp_error


def test_relay_answers_451_when_next_hop_is_down(relay_for) -> None:
    relay = relay_for(SmtpOutbound("127.0.0.1", free_port(), timeout=2))
    with pytest.raises(smtplib.SMTPDataError) as err:
        relay.send(message(marker="down"))
    assert err.value.smtp_code == 451


def test_relay_answers_451_not_500_on_internal_error(
    relay_for, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    relay = relay_for(sink.outbound)
    with pytest.raises(smtplib.SMTPDataError) as err:
        relay.send(message("raise", marker="bug"))
    assert (err.value.smtp_code, err.value.smtp_error[:5]) == (451, b"4.3.0")
    assert "A123456" not in caplog.text


def test_relay_handle_exception_answers_451(relay_for, sink: Sink) -> None:
    relay = relay_for(sink.outbound, handler=BrokenRcptHandler)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail(SENDER)
        code, text = smtp.rcpt(RCPTS[0])
    assert (code, text[:5]) == (451, b"4.3.0")


def test_relay_refuses_oversized_message_with_552(relay_for, sink: Sink) -> None:
    relay = relay_for(sink.outbound, size_limit=2000)
    with pytest.raises(smtplib.SMTPException) as err:
        relay.send(message(marker="big", body="x" * 70 + ("\r\n" + "y" * 70) * 40))
    assert getattr(err.value, "smtp_code", None) == 552 or "552" in str(err.value)
    assert sink.messages(b"big") == []


def test_relay_treats_bare_lf_dot_as_data_one_message(relay_for, sink: Sink) -> None:
    """SMTP smuggling (reliability.md §7): '\\n.\\n' and '\\r.\\r' end nothing."""
    relay = relay_for(sink.outbound)
    smuggled = (
        b"From: alice@demo.gov.hk\r\nSubject: outer\r\n\r\nbody\n.\nMAIL FROM:<evil@x.example>\r\n"
        b"RCPT TO:<victim@y.example>\r\nDATA\r\nSubject: smuggled\r\n\r\ninner\r.\rtail\r\n"
    )
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()
        for cmd in (b"HELO t", f"MAIL FROM:<{SENDER}>".encode(), f"RCPT TO:<{RCPTS[0]}>".encode()):
            f.write(cmd + b"\r\n")
            f.flush()
            assert f.readline().startswith(b"250")
        f.write(b"DATA\r\n")
        f.flush()
        assert f.readline().startswith(b"354")
        f.write(smuggled + b".\r\nQUIT\r\n")
        f.flush()
        assert f.readline().startswith(b"250")  # one reply for one message
        assert f.readline().startswith(b"221")
    (got,) = sink.messages(b"outer")
    assert got.recipients == (RCPTS[0],)
    # Forwarded with canonical line ends: no next hop can see a bare-LF end of data.
    assert b"\r\n..\r\nMAIL FROM:<evil@x.example>" not in got.raw  # dot unstuffed by sink
    assert b"body\r\n.\r\nMAIL FROM:<evil@x.example>\r\n" in got.raw
    assert b"inner\r\n.\r\ntail" in got.raw
    assert sink.messages(b"victim") == [got]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a\nb\rc\r\nd", b"a\r\nb\r\nc\r\nd"),
        (b"a\r\r\nb", b"a\r\n\r\nb"),
        (b"no newline", b"no newline"),
    ],
)
def test_canonical_line_ends(raw: bytes, expected: bytes) -> None:
    assert canonical_line_ends(raw) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OutboundError("next hop answered 421 busy", temporary=True), (451, "4.4.0")),
        (OutboundError("next hop answered 550 no", temporary=False), (554, "5.0.0")),
        (
            OutboundError(
                "refused 1 of 2", temporary=False, refused={"b@x": (550, "no")}, partial=True
            ),
            (554, "5.5.0"),
        ),
    ],
)
def test_forward_failure_reply(exc: OutboundError, expected: tuple[int, str]) -> None:
    reply = forward_failure_reply(exc)
    assert (reply.code, reply.status) == expected
    assert isinstance(reply, SmtpReply)


def test_relay_keeps_the_null_sender_null(
    relay_for, sink: Sink, inspector: ScriptedInspector
) -> None:
    relay = relay_for(sink.outbound)
    with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
        smtp.sendmail("<>", RCPTS, message(marker="dsn"))
    assert inspector.seen[-1][1].sender == ""  # type: ignore[union-attr]
    (got,) = sink.messages(b"dsn")
    assert got.sender == "<>"
