from __future__ import annotations

import pytest

from postwarden.transports.reply import MAX_TEXT, TEMPFAIL, SmtpReply, parse_reply, reply_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Personal webmail is not allowed", "Personal webmail is not allowed"),
        ("line one\r\nBcc: evil@example.com", "line one Bcc: evil@example.com"),
        ("bare\rcr and bare\nlf", "bare cr and bare lf"),
        ("個人電郵 not allowed", "not allowed"),
        ("ＦＵＬＬ width", "FULL width"),  # NFKC first, so it survives as ASCII
        ("tab\tand\x00nul", "tab and nul"),
        ("個人電郵", "Message refused by policy"),
        ("", "Message refused by policy"),
    ],
)
def test_reply_text_is_one_printable_ascii_line(text: str, expected: str) -> None:
    assert reply_text(text) == expected


def test_reply_text_caps_length() -> None:
    out = reply_text("x" * 2000)
    assert len(out) == MAX_TEXT
    assert out.endswith("...")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 5.7.1 Refused: webmail", SmtpReply(550, "5.7.1", "Refused: webmail")),
        (
            "250 2.0.0 Ok: held for review as Q1",
            SmtpReply(250, "2.0.0", "Ok: held for review as Q1"),
        ),
        ("554 no enhanced code", SmtpReply(554, "5.0.0", "no enhanced code")),
        ("550 4.7.1 mismatched class", SmtpReply(550, "5.0.0", "mismatched class")),
        ("550 5.7.1 a\r\nBcc: x@y", SmtpReply(550, "5.7.1", "a Bcc: x@y")),
        ("garbage", TEMPFAIL),
        ("", TEMPFAIL),
    ],
)
def test_parse_reply_table(text: str, expected: SmtpReply) -> None:
    assert parse_reply(text) == expected


def test_tempfail_is_temporary_and_renders_as_smtp() -> None:
    assert TEMPFAIL.temporary
    assert str(TEMPFAIL).startswith("451 4.3.0 ")
