"""How mail leaves: SMTP to a real loopback server, the outbox folder, memory."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from postwarden.outbound import (
    MemoryOutbound,
    OutboundError,
    OutboxOutbound,
    SmtpOutbound,
    check_no_loop,
    outbound_from,
)
from postwarden.settings import init_data_dir

RAW = b"From: a@example.org\r\nTo: b@partner.example\r\nSubject: hi\r\n\r\nbody\r\n"


@dataclass
class Sink:
    """An aiosmtpd handler that keeps messages and refuses chosen recipients."""

    refuse: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_smtp_outbound_delivers_envelope_exactly(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    SmtpOutbound("127.0.0.1", port, timeout=5).send(RAW, "a@example.org", ["x@p.example"])
    assert len(handler.received) == 1
    sender, rcpts, content = handler.received[0]
    assert (sender, rcpts) == ("a@example.org", ["x@p.example"])
    assert content.replace(b"\r\n", b"\n") == RAW.replace(b"\r\n", b"\n")


def test_smtp_outbound_null_sender(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    SmtpOutbound("127.0.0.1", port, timeout=5).send(RAW, "", ["x@p.example"])
    assert handler.received[0][0] == "<>"  # aiosmtpd keeps the null path as written


@pytest.mark.parametrize(
    ("reply", "temporary"),
    [("450 4.2.1 try later", True), ("550 5.1.1 no such user", False)],
)
def test_smtp_outbound_all_refused(sink: tuple[Sink, int], reply: str, temporary: bool) -> None:
    handler, port = sink
    handler.refuse = {"x@p.example": reply}
    with pytest.raises(OutboundError) as info:
        SmtpOutbound("127.0.0.1", port, timeout=5).send(RAW, "a@example.org", ["x@p.example"])
    assert info.value.temporary is temporary
    assert not info.value.partial
    assert info.value.refused["x@p.example"][0] == int(reply[:3])
    assert handler.received == []


def test_smtp_outbound_partial_refusal(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    handler.refuse = {"y@p.example": "550 5.1.1 no"}
    with pytest.raises(OutboundError) as info:
        SmtpOutbound("127.0.0.1", port, timeout=5).send(
            RAW, "a@example.org", ["x@p.example", "y@p.example"]
        )
    assert info.value.partial
    assert not info.value.temporary
    assert list(info.value.refused) == ["y@p.example"]
    assert handler.received[0][1] == ["x@p.example"]


@pytest.mark.parametrize(
    ("reply", "temporary"), [("451 4.3.0 busy", True), ("554 5.6.0 no", False)]
)
def test_smtp_outbound_data_refused(sink: tuple[Sink, int], reply: str, temporary: bool) -> None:
    handler, port = sink
    handler.data_reply = reply
    with pytest.raises(OutboundError) as info:
        SmtpOutbound("127.0.0.1", port, timeout=5).send(RAW, "a@example.org", ["x@p.example"])
    assert info.value.temporary is temporary


def test_smtp_outbound_connection_refused_is_temporary() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(OutboundError) as info:
            SmtpOutbound("127.0.0.1", port, timeout=5).send(RAW, "a@example.org", ["x@p.ex"])
    assert info.value.temporary


def test_outbox_writes_message_and_envelope(tmp_path: Path) -> None:
    box = OutboxOutbound(tmp_path / "outbox")
    box.send(RAW, "a@example.org", ["x@p.example", "y@p.example"])
    box.send(b"second", "", ["z@p.example"])
    emls = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(emls) == 2
    assert emls[0].read_bytes() == RAW
    assert json.loads(emls[0].with_suffix(".json").read_text()) == {
        "sender": "a@example.org",
        "recipients": ["x@p.example", "y@p.example"],
    }
    assert [m.recipients for m in box.messages()] == [
        ("x@p.example", "y@p.example"),
        ("z@p.example",),
    ]
    assert not list((tmp_path / "outbox").glob(".*tmp"))


def test_outbox_unwritable_is_temporary(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutboundError) as info:
        OutboxOutbound(tmp_path / "file" / "outbox").send(RAW, "a@example.org", ["x@p.example"])
    assert info.value.temporary


def test_memory_outbound_records_or_fails() -> None:
    mem = MemoryOutbound()
    mem.send(RAW, "a@example.org", ("x@p.example",))
    assert mem.sent[0].recipients == ("x@p.example",)
    mem.error = OutboundError("down", temporary=True)
    with pytest.raises(OutboundError):
        mem.send(RAW, "a@example.org", ["x@p.example"])


def test_outbound_from_order(tmp_path: Path) -> None:
    bare = init_data_dir(tmp_path / "a", ["example.org"])
    hop = init_data_dir(tmp_path / "b", ["example.org"], next_hop="127.0.0.1:10026")
    assert outbound_from(bare) == OutboxOutbound(tmp_path / "a" / "outbox")
    assert outbound_from(hop) == SmtpOutbound("127.0.0.1", 10026)
    assert outbound_from(hop, next_hop="[::1]:25") == SmtpOutbound("::1", 25)
    assert outbound_from(hop, outbox=tmp_path / "o") == OutboxOutbound(tmp_path / "o")
    with pytest.raises(ValueError, match="not both"):
        outbound_from(hop, next_hop="h:1", outbox=tmp_path)
    with pytest.raises(ValueError, match="HOST:PORT"):
        outbound_from(hop, next_hop="nohost")


@pytest.mark.parametrize(
    ("hop", "listen", "loops"),
    [
        (("127.0.0.1", 10025), ["127.0.0.1:10025"], True),
        (("localhost", 10025), ["127.0.0.1:10025"], True),
        (("127.0.0.1", 10025), ["0.0.0.0:10025"], True),
        (("127.0.0.1", 10026), ["127.0.0.1:10025"], False),
        (("127.0.0.1", 10025), [], False),
    ],
)
def test_check_no_loop(hop: tuple[str, int], listen: list[str], loops: bool) -> None:
    if loops:
        with pytest.raises(ValueError, match="loop"):
            check_no_loop(hop, listen)
    else:
        check_no_loop(hop, listen)


def test_outbound_from_refuses_own_listener(tmp_path: Path) -> None:
    s = init_data_dir(tmp_path, ["example.org"], next_hop="127.0.0.1:2525")
    with pytest.raises(ValueError, match="loop"):
        outbound_from(s, listen=["127.0.0.1:2525"])
