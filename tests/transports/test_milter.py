from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import Milter
import pytest
from tests.transports.doubles import ScriptedInspector, make_gateway, message

from postwarden.act import Events, Gateway, Outcome
from postwarden.model import Action, Envelope, Verdict
from postwarden.outbound import MemoryOutbound
from postwarden.settings import Settings
from postwarden.store.quarantine import Quarantine
from postwarden.transports.milter import (
    CONTINUE,
    VERDICT_HEADER,
    Accept,
    Discard,
    MilterReply,
    MilterService,
    MilterSockets,
    PostwardenMilter,
    RejectWithCode,
    TempFail,
    _inet_port,
    milter_reply,
    nodelay,
    quickack,
)
from postwarden.transports.reply import TEMPFAIL, SmtpReply

_VERDICT = Verdict(action=Action.DELIVER)
_HELD = SmtpReply(250, "2.0.0", "held")


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (
            Outcome("deliver", _VERDICT, None, SmtpReply(250, "2.0.0", "Ok")),
            Accept(headers=((VERDICT_HEADER, "deliver"),)),
        ),
        (Outcome("quarantined", Verdict(Action.HOLD), "Q1", _HELD), Discard()),
        (Outcome("quarantined", Verdict(Action.WARN), "Q2", _HELD), Discard()),
        (
            Outcome(
                "reject",
                Verdict(Action.REJECT),
                None,
                SmtpReply(550, "5.7.1", "No webmail\r\nBcc: x@y"),
            ),
            RejectWithCode(SmtpReply(550, "5.7.1", "No webmail Bcc: x@y")),
        ),
        # A reject that is not a 5xx is a gateway bug: bugs tempfail, never pass.
        (
            Outcome("reject", Verdict(Action.REJECT), None, SmtpReply(250, "2.0.0", "odd")),
            TempFail(),
        ),
        (
            Outcome("reject", Verdict(Action.REJECT), None, SmtpReply(451, "4.3.0", "odd")),
            TempFail(),
        ),
    ],
)
def test_milter_reply_maps_outcomes(outcome: Outcome, expected: MilterReply) -> None:
    assert milter_reply(outcome) == expected


@dataclass
class FakeCtx:
    """The libmilter context a callback sees: macros in, actions out."""

    macros: dict[str, str] = field(default_factory=lambda: {"i": "4ABCDEF"})
    replies: list[tuple[str, ...]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    priv: object = None

    def setpriv(self, priv: object) -> None:
        self.priv = priv

    def getsymval(self, name: str) -> str | None:
        return self.macros.get(name)

    def setreply(self, code: str, xcode: str, *msg: str) -> None:
        self.replies.append((code, xcode, *msg))

    def addheader(self, name: str, value: str, idx: int) -> None:
        self.headers.append((name, value))


ORIGINAL = (
    b"From: Alice <alice@demo.gov.hk>\r\n"
    b"To: bob@partner.example,\r\n\tcarol@partner.example\r\n"
    b"Subject: folded\r\n"
    b"X-Test-Action: ACTION\r\n"
    b"\r\n"
    b"line one\r\n.dot line\r\n"
)


def feed(milter: PostwardenMilter, raw: bytes, *, leadspc: bool, chunk: int = 7) -> int:
    """Drive the callbacks the way Postfix does: folded values joined by LF, the blank after
    the colon kept only with P_HDR_LEADSPC, the body in chunks."""
    milter._protocol = Milter.P_HDR_LEADSPC if leadspc else 0
    head, _, body = raw.partition(b"\r\n\r\n")
    assert milter.envfrom("<alice@demo.gov.hk>", "SIZE=100") == Milter.CONTINUE
    milter.envrcpt("<bob@partner.example>")
    milter.envrcpt("<carol@partner.example>")
    for field_ in head.replace(b"\r\n\t", b"\n\t").split(b"\r\n"):
        name, _, value = field_.partition(b":")
        milter.header_bytes(name.decode(), value if leadspc else value.lstrip(b" "))
    milter.eoh()
    for i in range(0, len(body), chunk):
        assert milter.body(body[i : i + chunk]) == Milter.CONTINUE
    return milter.eom()


def _milter(gateway: Gateway, **kw: object) -> tuple[PostwardenMilter, FakeCtx]:
    service = MilterService(gateway, **kw)  # type: ignore[arg-type]
    milter = PostwardenMilter(service)
    ctx = FakeCtx()
    milter._setctx(ctx)
    return milter, ctx


@pytest.mark.parametrize("leadspc", [True, False])
def test_milter_rebuilds_message_and_accepts_with_verdict_header(
    settings: Settings, inspector: ScriptedInspector, leadspc: bool
) -> None:
    gateway = make_gateway(settings, MemoryOutbound(), inspector)
    milter, ctx = _milter(gateway)
    raw = ORIGINAL.replace(b"ACTION", b"deliver")
    assert feed(milter, raw, leadspc=leadspc) == Milter.ACCEPT
    seen, envelope = inspector.seen[-1]
    assert seen == raw
    assert envelope == Envelope(
        "alice@demo.gov.hk", ("bob@partner.example", "carol@partner.example")
    )
    expected_value = " deliver" if leadspc else "deliver"
    assert ctx.headers == [(VERDICT_HEADER, expected_value)]


def test_milter_rejects_with_sanitised_policy_text(
    settings: Settings, inspector: ScriptedInspector
) -> None:
    milter, ctx = _milter(make_gateway(settings, MemoryOutbound(), inspector))
    assert feed(milter, ORIGINAL.replace(b"ACTION", b"reject"), leadspc=True) == Milter.REJECT
    ((code, xcode, text),) = ctx.replies
    assert (code, xcode) == ("550", "5.7.1")
    assert "\r" not in text
    assert "\n" not in text
    assert "100%%" in text  # libmilter drops replies with a single '%'
    assert ctx.headers == []


def test_milter_discards_held_message_only_after_it_is_stored(
    settings: Settings, inspector: ScriptedInspector
) -> None:
    outbound = MemoryOutbound()
    gateway = make_gateway(settings, outbound, inspector)
    milter, _ctx = _milter(gateway)
    assert feed(milter, ORIGINAL.replace(b"ACTION", b"hold"), leadspc=True) == Milter.DISCARD
    with gateway.session() as session:
        (item,) = Quarantine.items(session)
    assert item.queue_id == "4ABCDEF"
    assert gateway.quarantine.read(item) == ORIGINAL.replace(b"ACTION", b"hold")
    # The sender was told, with the null sender so the notice can never bounce.
    assert [(m.sender, m.recipients) for m in outbound.sent] == [("", ("alice@demo.gov.hk",))]


def test_milter_tempfails_when_the_gateway_raises(
    settings: Settings, inspector: ScriptedInspector, caplog: pytest.LogCaptureFixture
) -> None:
    milter, ctx = _milter(make_gateway(settings, MemoryOutbound(), inspector))
    assert feed(milter, ORIGINAL.replace(b"ACTION", b"raise"), leadspc=True) == Milter.TEMPFAIL
    assert ctx.replies == [("451", "4.3.0", TEMPFAIL.text)]
    assert "RuntimeError" in caplog.text
    assert "A123456" not in caplog.text  # the exception's message quotes the mail


class SlowGateway:
    events = Events()  # a gateway reports its front ends' tempfails here

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def process(self, raw: bytes, envelope: Envelope, *, queue_id: str | None = None) -> Outcome:
        self.release.wait(10)
        return Outcome("deliver", _VERDICT, None, SmtpReply(250, "2.0.0", "Ok"))


def test_milter_tempfails_at_its_deadline() -> None:
    release = threading.Event()
    service = MilterService(SlowGateway(release), timeout=0.3)  # type: ignore[arg-type]
    started = time.monotonic()
    try:
        reply = service.decide(b"x", Envelope("a@b.c", ("d@e.f",)), "Q")
    finally:
        release.set()
        service.shutdown()
    assert reply == TempFail()
    assert time.monotonic() - started < 2


def test_milter_refuses_message_over_the_cap(
    settings: Settings, inspector: ScriptedInspector
) -> None:
    milter, ctx = _milter(make_gateway(settings, MemoryOutbound(), inspector), max_bytes=200)
    milter._protocol = Milter.P_HDR_LEADSPC
    milter.envfrom("<alice@demo.gov.hk>")
    milter.envrcpt("<bob@partner.example>")
    milter.header_bytes("Subject", b" big")
    milter.eoh()
    assert milter.body(b"x" * 100) == Milter.CONTINUE
    assert milter.body(b"x" * 100) == Milter.REJECT
    assert ctx.replies[-1][:2] == ("552", "5.3.4")
    assert inspector.seen == []


def test_milter_refuses_message_over_the_cap_at_the_end_without_body_replies(
    settings: Settings, inspector: ScriptedInspector
) -> None:
    # With SMFIP_NR_BODY negotiated Postfix does not wait for body answers: the refusal
    # comes at end of message, and the message is never inspected.
    milter, ctx = _milter(make_gateway(settings, MemoryOutbound(), inspector), max_bytes=200)
    milter._protocol = Milter.P_HDR_LEADSPC | Milter.P_NR_BODY
    milter.envfrom("<alice@demo.gov.hk>")
    milter.envrcpt("<bob@partner.example>")
    milter.header_bytes("Subject", b" big")
    milter.eoh()
    assert milter.body(b"x" * 100) == Milter.NOREPLY
    assert milter.body(b"x" * 100) == Milter.NOREPLY
    assert milter.eom() == Milter.REJECT
    assert ctx.replies[-1][:2] == ("552", "5.3.4")
    assert inspector.seen == []


def test_milter_asks_postfix_not_to_wait_for_body_answers() -> None:
    # Bits in protocol_mask are the options we decline; the body reply is not one of them.
    assert not PostwardenMilter.protocol_mask() & Milter.P_NR_BODY


def test_milter_starts_afresh_for_each_message_of_a_connection(
    settings: Settings, inspector: ScriptedInspector
) -> None:
    milter, _ = _milter(make_gateway(settings, MemoryOutbound(), inspector))
    first = message("deliver", marker="first")
    second = message("deliver", marker="second")
    feed(milter, first, leadspc=True)
    milter.abort()  # RSET between transactions
    feed(milter, second, leadspc=True)
    assert [raw for raw, _ in inspector.seen] == [first, second]
    assert len(inspector.seen[1][1].recipients) == 2  # type: ignore[union-attr]


def test_spool_moves_large_message_to_disk(tmp_path: Path) -> None:
    from postwarden.transports.spool import MessageSpool, MessageTooLarge

    spool = MessageSpool(max_bytes=4096, memory_bytes=1024)
    spool.add_header("Subject", b"x", leading_space=False)
    spool.end_headers()
    spool.add_body(b"a" * 2000)
    assert spool._file._rolled  # type: ignore[attr-defined]
    assert spool.getvalue() == b"Subject: x\r\n\r\n" + b"a" * 2000
    with pytest.raises(MessageTooLarge):
        spool.add_body(b"b" * 3000)
    spool.close()


@pytest.fixture
def server() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


def _option(sock: socket.socket, option: int) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, option)


def test_quickack_and_nodelay_set_the_options_on_a_loopback_socket(
    server: socket.socket,
) -> None:
    with socket.create_connection(server.getsockname()) as _client:
        accepted, _ = server.accept()
        with accepted:
            # Off first: a fresh socket starts in quick-ack mode, the kernel leaves it later.
            accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            assert _option(accepted, socket.TCP_QUICKACK) == 0
            assert _option(accepted, socket.TCP_NODELAY) == 0
            assert quickack(accepted.fileno())
            assert nodelay(accepted.fileno())
            assert _option(accepted, socket.TCP_QUICKACK) == 1
            assert _option(accepted, socket.TCP_NODELAY) == 1
        # Through a duplicate: libmilter's socket stays open while we tune it.
        assert not quickack(accepted.fileno())  # closed: -1
    closed = os.open(os.devnull, os.O_RDONLY)
    os.close(closed)
    assert not nodelay(closed)


def test_milter_sockets_claims_each_accepted_socket_once(server: socket.socket) -> None:
    sockets = MilterSockets(server.getsockname()[1])
    with (
        socket.create_connection(server.getsockname()) as _first,
        socket.create_connection(server.getsockname()) as _second,
        socket.create_connection(server.getsockname()) as _third,
    ):
        one, _ = server.accept()
        with one:
            # Only the accepted end: not the listener, not the client ends.
            assert sockets.claim() == (one.fileno(),)
            assert sockets.claim() == ()  # taken by the first connection
            two, _ = server.accept()
            three, _ = server.accept()
            with two, three:
                # Two arrived together: no telling them apart, each connection takes both.
                assert sorted(sockets.claim()) == sorted([two.fileno(), three.fileno()])
                assert sorted(sockets.claim()) == sorted([two.fileno(), three.fileno()])


def test_milter_connect_tunes_its_socket_and_rearms_quickack(
    settings: Settings, inspector: ScriptedInspector, server: socket.socket
) -> None:
    gateway = make_gateway(settings, MemoryOutbound(), inspector)
    milter = PostwardenMilter(MilterService(gateway), MilterSockets(server.getsockname()[1]))
    milter._setctx(FakeCtx())
    with socket.create_connection(server.getsockname()) as _client:
        accepted, _ = server.accept()
        with accepted:
            assert milter.connect("client", socket.AF_INET, ("192.0.2.1", 4321)) == CONTINUE
            assert _option(accepted, socket.TCP_NODELAY) == 1
            # Each callback before a command that may span several writes re-arms it.
            steps: list[tuple[str, Callable[[], int]]] = [
                ("envfrom", lambda: milter.envfrom("<alice@demo.gov.hk>")),
                ("eoh", milter.eoh),
                ("body", lambda: milter.body(b"x")),
            ]
            for name, callback in steps:
                accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
                assert callback() == CONTINUE
                assert _option(accepted, socket.TCP_QUICKACK) == 1, name
            milter.close()  # frees the message spool


@pytest.mark.parametrize(
    ("listen", "port"),
    [("inet:10027@127.0.0.1", 10027), ("inet6:10027@[::1]", 10027), ("unix:/x.sock", None)],
)
def test_inet_port_of_listen_address(listen: str, port: int | None) -> None:
    assert _inet_port(listen) == port
