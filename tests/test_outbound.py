"""How mail leaves: SMTP to a real loopback server, the outbox folder, memory."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
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
    wire_form,
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
    assert content == RAW  # CRLF and short lines: byte for byte (signatures survive)


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


def _lines(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\r\n")
    return raw[:-2].split(b"\r\n")


def test_smtp_outbound_bare_line_ends_arrive_as_crlf(sink: tuple[Sink, int]) -> None:
    """A bare-LF message used to be one 'line' to the next hop: "500 Line too long"."""
    handler, port = sink
    body = b"".join(b"line %d of a long letter\n" % n for n in range(80))
    raw = b"From: a@example.org\nTo: b@p.example\nSubject: lf\n\n" + body + b".\nafter\rend\n"
    SmtpOutbound("127.0.0.1", port, timeout=5).send(raw, "a@example.org", ["x@p.example"])
    [(_, _, content)] = handler.received
    expected = raw.replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    assert content == expected
    assert b"\r\n.\r\nafter\r\nend\r\n" in content  # the lone dot did not end DATA


def test_smtp_outbound_long_lines_reencoded_content_kept(sink: tuple[Sink, int]) -> None:
    handler, port = sink
    text = "陳大文 " + "x" * 1500 + "\nsecond line\n"
    blob = bytes(b for b in range(256) if b not in b"\r\n") * 8  # 2 KiB, no line break
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["To"] = "b@p.example"
    msg["Subject"] = "long"
    msg.set_content("short part\n")
    msg.add_attachment(text, subtype="plain", cte="8bit")
    msg.add_attachment(blob, maintype="application", subtype="octet-stream", cte="8bit")
    raw = bytes(msg).replace(b"\n", b"\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) > 998
    SmtpOutbound("127.0.0.1", port, timeout=5).send(raw, "a@example.org", ["x@p.example"])
    [(_, _, content)] = handler.received
    assert max(len(line) for line in _lines(content)) <= 998
    got = message_from_bytes(content, policy=policy.default)
    short, long_text, attachment = got.iter_parts()
    assert short.get_content().replace("\r\n", "\n") == "short part\n"
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nshort part\r\n" in content  # untouched
    assert long_text["Content-Transfer-Encoding"] == "quoted-printable"
    assert long_text.get_content().replace("\r\n", "\n") == text
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content() == blob


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Subject: a\r\n\r\nb\r\n", b"Subject: a\r\n\r\nb\r\n"),
        (b"Subject: a\n\nb\n", b"Subject: a\r\n\r\nb\r\n"),
        (b"Subject: a\r\rb\r", b"Subject: a\r\n\r\nb\r\n"),
        (b"Subject: a\r\n\nb\n\r\n", b"Subject: a\r\n\r\nb\r\n\r\n"),
        (
            b"Subject: a\r\n\r\n" + b"y" * 998 + b"\r\n",
            b"Subject: a\r\n\r\n" + b"y" * 998 + b"\r\n",
        ),
    ],
)
def test_wire_form_line_ends(raw: bytes, expected: bytes) -> None:
    assert wire_form(raw) == expected


def test_wire_form_folds_long_header_at_whitespace() -> None:
    refs = " ".join(f"<message-{n}@example.org>" for n in range(60))
    raw = f"References: {refs}\r\nSubject: x\r\n\r\nbody\r\n".encode()
    out = wire_form(raw)
    assert max(len(line) for line in _lines(out)) <= 998
    assert " ".join(message_from_bytes(out, policy=policy.default)["References"].split()) == refs
    assert out.endswith(b"Subject: x\r\n\r\nbody\r\n")


@pytest.mark.parametrize(
    "raw",
    [
        b"X-Token: " + b"t" * 1200 + b"\r\n\r\nbody\r\n",  # a header with nowhere to fold
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        + b"p" * 1200
        + b"\r\n--b\r\n\r\nx\r\n--b--\r\n",  # a preamble cannot be re-encoded
    ],
)
def test_wire_form_refuses_what_cannot_be_fixed(raw: bytes) -> None:
    with pytest.raises(OutboundError, match="998 octets") as info:
        wire_form(raw)
    assert not info.value.temporary


def test_smtp_outbound_unfixable_long_line_is_permanent_and_sends_nothing(
    sink: tuple[Sink, int],
) -> None:
    handler, port = sink
    raw = b"X-Token: " + b"t" * 1200 + b"\r\n\r\nbody\r\n"
    with pytest.raises(OutboundError) as info:
        SmtpOutbound("127.0.0.1", port, timeout=5).send(raw, "a@example.org", ["x@p.example"])
    assert not info.value.temporary
    assert handler.received == []
