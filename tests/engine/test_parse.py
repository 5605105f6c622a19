"""parse_message: envelope fallbacks, guarded header access, defects instead of exceptions."""

from __future__ import annotations

import pytest
from tests.factories import make_eml

from postwarden.engine.parse import parse_message
from postwarden.model import Envelope
from postwarden.settings import Limits

LIMITS = Limits()
RAW = make_eml(
    sender="Clerk <clerk@org.example>",
    to=["Ann <ann@partner.example>", "bob@partner.example"],
    cc=["carol@org.example"],
    bcc=["dave@else.example"],
    subject="=?utf-8?b?6YG45rCR5ZCN5YaK?= list",
    body="hello",
)


@pytest.mark.parametrize(
    ("envelope", "sender", "recipients"),
    [
        (
            None,
            "clerk@org.example",
            (
                "ann@partner.example",
                "bob@partner.example",
                "carol@org.example",
                "dave@else.example",
            ),
        ),
        (Envelope("bounce@org.example", ("x@y.example",)), "bounce@org.example", ("x@y.example",)),
        (Envelope("", ("x@y.example",)), "clerk@org.example", ("x@y.example",)),
        (
            Envelope("bounce@org.example", ()),
            "bounce@org.example",
            (
                "ann@partner.example",
                "bob@partner.example",
                "carol@org.example",
                "dave@else.example",
            ),
        ),
    ],
)
def test_parse_envelope_pieces_fall_back_separately(
    envelope: Envelope | None, sender: str, recipients: tuple[str, ...]
) -> None:
    message = parse_message(RAW, envelope, LIMITS)
    assert message.envelope == Envelope(sender, recipients)


def test_parse_fills_headers() -> None:
    message = parse_message(RAW, None, LIMITS)
    assert message.subject == "選民名冊 list"
    assert message.header_from == "clerk@org.example"
    assert message.header_to == ("ann@partner.example", "bob@partner.example")
    assert message.header_cc == ("carol@org.example",)
    assert message.message_id.startswith("<")
    assert message.message_id.endswith("@example.org>")
    assert message.raw_size == len(RAW)
    assert message.mime.get_content_type() == "text/plain"


def test_parse_group_address_does_not_crash() -> None:
    raw = (
        b"From: a@org.example\r\nTo: unlisted-recipients:;\r\n"
        b"Cc: Team: x@partner.example, y@partner.example;\r\nSubject: s\r\n\r\nbody\r\n"
    )
    message = parse_message(raw, None, LIMITS)
    assert message.header_to == ()
    assert message.envelope.recipients == ("x@partner.example", "y@partner.example")


def test_parse_huge_header_is_fast_and_flagged_over_limit() -> None:
    addresses = ", ".join(f"user{i}@partner.example" for i in range(5000))
    raw = f"From: a@org.example\r\nTo: {addresses}\r\nSubject: s\r\n\r\nbody\r\n".encode()
    assert len(raw) > 100_000
    message = parse_message(raw, None, Limits(max_header_bytes=50_000))
    assert len(message.header_to) == 5000
    assert message.header_to[-1] == "user4999@partner.example"
    assert any(d.startswith("uninspectable: headers of") for d in message.defects)
    assert not any(d.startswith("uninspectable") for d in parse_message(raw, None, LIMITS).defects)


def test_parse_recursion_bomb_header_falls_back_to_scanning() -> None:
    # getaddresses() recurses once per encoded word here (RecursionError on 3.11).
    words = "\r\n\t".join(["=?utf-8?Q?date=3E2017-08-20=3C/pr?="] * 3000)
    raw = f"From: a@org.example\r\nTo: x@p.example,\r\n\t{words}\r\n\r\nbody\r\n".encode()
    message = parse_message(raw, None, LIMITS)
    assert message.header_to == ("x@p.example",)


def test_parse_nul_bytes_and_garbage_are_defects_not_errors() -> None:
    raw = b"From: a@org\x00.example\r\nSubject: \x00\xff\xfe\r\nTo: b@p.example\r\n\r\n\x00body\x00"
    message = parse_message(raw, None, LIMITS)
    assert "NUL bytes in message" in message.defects
    assert message.header_to == ("b@p.example",)


@pytest.mark.parametrize("raw", [b"", b"\r\n\r\n", b"no headers at all", b"\xff" * 100, b":::\r\n"])
def test_parse_never_raises(raw: bytes) -> None:
    message = parse_message(raw, None, LIMITS)
    assert message.envelope == Envelope("", ())


def test_parse_mime_headers_parsed_once_per_message() -> None:
    raw = make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="s",
        body="hello",
        attachments=[("a.csv", b"name,phone\nCHAN Tai Man,91234567\n", "text/csv")],
    )
    first = parse_message(raw, None, LIMITS).mime
    second = parse_message(raw, None, LIMITS).mime
    part = next(p for p in first.walk() if p.get_content_type() == "text/csv")
    assert part.get("Content-Type") is part.get("Content-Type")
    assert part.get_filename() == "a.csv"
    assert first.get("Content-Type") is not second.get("Content-Type")
    assert first.get("Content-Type") == second.get("Content-Type")


def test_parse_display_names_decoded_and_keyed_by_address() -> None:
    raw = (
        b"From: =?utf-8?b?6Zmz5aSn5paH?= <TMChan@org.example>\r\n"
        b'To: "Lee,  Ann" <Ann@Partner.example>, bob@partner.example\r\n'
        b"Cc: =?utf-8?q?Wong_Siu_Ming?= <wsm@else.example>\r\n"
        b"Bcc: Dave <dave@else.example>\r\nSubject: s\r\n\r\nbody\r\n"
    )
    message = parse_message(raw, None, LIMITS)
    assert message.sender_name == "陳大文"
    assert message.display_names == {
        "ann@partner.example": "Lee, Ann",
        "wsm@else.example": "Wong Siu Ming",
    }


def test_parse_display_names_skip_hostile_headers() -> None:
    long_to = ", ".join(f"Person {i} <p{i}@partner.example>" for i in range(400))
    words = "\r\n\t".join(["=?utf-8?Q?date=3E2017-08-20=3C/pr?="] * 3000)
    raw = (
        f"From: Clerk <clerk@org.example>\r\nTo: {long_to}\r\n"
        f"Cc: Ann <ann@p.example>,\r\n\t{words}\r\nSubject: s\r\n\r\nbody\r\n"
    ).encode()
    message = parse_message(raw, None, LIMITS)
    assert len(long_to) > 8192
    assert len(message.header_to) == 400
    assert "p0@partner.example" not in message.display_names
    assert message.sender_name == "Clerk"


def test_parse_display_names_undeclared_8bit_read_as_utf8() -> None:
    raw = "From: 陳大文 <tm@org.example>\r\nTo: 李安 <ann@p.example>\r\n\r\nbody\r\n".encode()
    message = parse_message(raw, None, LIMITS)
    assert message.sender_name == "陳大文"
    assert message.display_names == {"ann@p.example": "李安"}


def test_parsing_in_slices_reads_every_corpus_message_as_a_whole_parse_does() -> None:
    """The parser is fed 64 KiB at a time (a 67 MB message peaks at 202 MiB instead of
    517 MiB); the structure it builds is the one a whole-message parse builds."""
    from email import policy
    from email.parser import BytesParser
    from pathlib import Path

    from postwarden.engine import parse

    corpora = Path(__file__).resolve().parents[1] / "corpora"
    files = [p for p in sorted(corpora.rglob("*.eml")) if p.stat().st_size < 2_000_000]
    assert len(files) > 100
    for path in files:
        raw = path.read_bytes()
        whole = BytesParser(policy=policy.default).parsebytes(raw)
        for feed in (7, 4096):
            parse._FEED = feed
            try:
                sliced = parse._parse_bytes(raw, parse._END_OF_HEADERS.search(raw))
            finally:
                parse._FEED = 64 * 1024
            assert sliced.as_bytes() == whole.as_bytes(), (path, feed)
            assert [type(d) for d in sliced.defects] == [type(d) for d in whole.defects]


def test_parse_content_type_values_parsed_once_per_process_but_no_file_name() -> None:
    """Each message has header objects of its own, made from one parse per process of a
    short value; a value naming a file is parsed anew and not kept."""
    from email import policy
    from email.headerregistry import ContentTypeHeader

    from postwarden.engine.parse import _shared_parse

    _shared_parse.cache_clear()
    value = 'text/plain; charset="utf-8"; format=flowed'
    raw = f"From: a@org.example\r\nContent-Type: {value}\r\n\r\nbody\r\n".encode()
    first, second = (parse_message(raw, None, LIMITS).mime for _ in range(2))
    ours = first["Content-Type"]
    theirs = policy.default.header_factory("Content-Type", value)
    assert isinstance(ours, ContentTypeHeader)
    assert ours is not second["Content-Type"]
    assert (str(ours), ours.content_type, dict(ours.params), ours.defects) == (
        str(theirs),
        theirs.content_type,
        dict(theirs.params),
        theirs.defects,
    )
    assert _shared_parse.cache_info().currsize == 1
    assert _shared_parse.cache_info().hits >= 1
    named = f'{value}; name="HKID A123456(7).txt"'
    raw = f"From: a@org.example\r\nContent-Type: {named}\r\n\r\nbody\r\n".encode()
    assert parse_message(raw, None, LIMITS).mime.get_filename() == "HKID A123456(7).txt"
    assert _shared_parse.cache_info().currsize == 1
