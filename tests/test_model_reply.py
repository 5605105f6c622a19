"""``SmtpReply``: one value from the verdict to the wire, safe when made."""

from __future__ import annotations

import pytest

from postwarden.model import MAX_REPLY_TEXT, SmtpReply, reply_text, reply_words


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
    assert len(out) == MAX_REPLY_TEXT
    assert out.endswith("...")


def test_reply_words_keep_only_printable_ascii_without_nfkc() -> None:
    # What a reject reply keeps of each policy message (act.reject_reply).
    assert reply_words(" 含（HKID）\r\n x ") == "HKID x"


@pytest.mark.parametrize(
    ("reply", "line"),
    [
        (SmtpReply(550, "5.7.1", "Refused: webmail"), "550 5.7.1 Refused: webmail"),
        (
            SmtpReply(250, "2.0.0", "Ok: held for review as Q1"),
            "250 2.0.0 Ok: held for review as Q1",
        ),
        (SmtpReply(550, "4.7.1", "mismatched class"), "550 5.0.0 mismatched class"),
        (SmtpReply(550, "5.7.1\r\nBcc: x", "bad status"), "550 5.0.0 bad status"),
        (SmtpReply(550, "", "no status"), "550 5.0.0 no status"),
        (SmtpReply(550, "5.7.1", "a\r\nBcc: x@y"), "550 5.7.1 a Bcc: x@y"),
        (SmtpReply(550, "5.7.1", "個人電郵"), "550 5.7.1 Message refused by policy"),
    ],
)
def test_smtp_reply_renders_one_safe_line(reply: SmtpReply, line: str) -> None:
    assert str(reply) == line


def test_smtp_reply_line_fits_rfc_5321() -> None:
    # RFC 5321 §4.5.3.1.5: 512 octets with the code and CRLF.
    line = str(SmtpReply(550, "5.7.1", "word " * 1000)) + "\r\n"
    assert len(line.encode("ascii")) <= 512
    assert line.count("\r\n") == 1


def test_smtp_reply_is_made_safe_once() -> None:
    reply = SmtpReply(554, "5.0.0", "x" * 2000)
    assert SmtpReply(reply.code, reply.status, reply.text) == reply  # cleaning is idempotent
    assert not reply.temporary
    assert SmtpReply(451, "4.3.0", "later").temporary
