"""Sender notices (bilingual, injection-proof) and signed confirm tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from postwarden.notices import (
    NoticeError,
    StoppedMessage,
    TokenError,
    build_notice,
    check_confirm_token,
    confirm_token,
    confirm_url,
)

SECRET = b"n" * 32
SHA = "ab" * 32
ITEM = "abcdefghijklmnop"


def _stopped(
    action: str = "hold", subject: str = "Voters list", sender: str = "alice@example.org"
) -> StoppedMessage:
    return StoppedMessage(
        item_id=ITEM,
        action=action,
        sender=sender,
        recipients=("bob@gmail.com",),
        subject=subject,
        reasons=["A Hong Kong identity card number is going outside."],
        created=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
    )


def _parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def test_notice_hold_is_bilingual_and_complete() -> None:
    msg = _parse(build_notice(_stopped(), from_addr="postmaster@example.org"))
    assert msg["To"] == "alice@example.org"
    assert "held" in msg["Subject"]
    assert "暫緩" in msg["Subject"]
    assert msg["Auto-Submitted"] == "auto-generated"
    body = msg.get_content()
    for text in (
        "Voters list",
        "bob@gmail.com",
        "identity card number",
        ITEM,
        "reviewer",
        "release your own message",
        "審核",
        "收件人",
        "原因",
        "2025-01-02 03:04 UTC",
    ):
        assert text in body, text
    assert "/confirm/" not in body


def test_notice_warn_carries_link() -> None:
    link = confirm_url("http://127.0.0.1:8025/", "TOKEN")
    assert link == "http://127.0.0.1:8025/confirm/TOKEN"
    body = _parse(
        build_notice(_stopped("warn"), from_addr="p@example.org", confirm_link=link)
    ).get_content()
    assert body.count(link) == 2  # English and Chinese halves
    assert "confirm" in body
    assert "確認" in body


@pytest.mark.parametrize(
    "subject",
    [
        "hello\r\nBcc: eve@evil.example",
        "hello\nBcc: eve@evil.example",
        "=?utf-8?q?hello=0D=0ABcc:_eve@evil.example?=",
        "x\x00\x0b\x1b",
    ],
)
def test_notice_subject_cannot_inject_headers(subject: str) -> None:
    raw = build_notice(_stopped(subject=subject), from_addr="p@example.org")
    msg = _parse(raw)
    assert msg["Bcc"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == ["alice@example.org"]
    assert b"\nBcc:" not in raw
    for line in msg.get_content().splitlines():
        assert not line.startswith("Bcc:")


@pytest.mark.parametrize(
    "sender", ["alice@example.org\r\nBcc: eve@evil.example", "alice@example.org, eve@evil.example"]
)
def test_notice_hostile_sender_refused(sender: str) -> None:
    with pytest.raises(NoticeError):
        build_notice(_stopped(sender=sender), from_addr="p@example.org")


def test_notice_reason_newlines_flattened() -> None:
    stopped = _stopped()
    hostile = StoppedMessage(
        **{
            **{f: getattr(stopped, f) for f in stopped.__slots__},
            "reasons": ["bad\r\nBcc: eve@evil.example"],
        }
    )
    body = _parse(build_notice(hostile, from_addr="p@example.org")).get_content()
    assert "  - bad Bcc: eve@evil.example" in body


def test_confirm_token_roundtrip() -> None:
    token = confirm_token(SECRET, ITEM, SHA)
    assert check_confirm_token(SECRET, token, SHA) == ITEM


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # mac changed
        lambda t: "bbcdefghijklmnop" + t[16:],  # other item
        lambda t: t.replace(".", ".9", 1),  # later expiry
        lambda t: t + ".x",
        lambda t: "",
    ],
)
def test_confirm_token_forgeries_fail(mutate) -> None:  # type: ignore[no-untyped-def]
    token = confirm_token(SECRET, ITEM, SHA)
    with pytest.raises(TokenError):
        check_confirm_token(SECRET, mutate(token), SHA)


def test_confirm_token_bound_to_content_and_secret() -> None:
    token = confirm_token(SECRET, ITEM, SHA)
    with pytest.raises(TokenError, match="not valid"):
        check_confirm_token(SECRET, token, "cd" * 32)
    with pytest.raises(TokenError, match="not valid"):
        check_confirm_token(b"other", token, SHA)


def test_confirm_token_expires() -> None:
    issued = datetime.now(UTC) - timedelta(days=4)
    token = confirm_token(SECRET, ITEM, SHA, now=issued)
    with pytest.raises(TokenError, match="expired"):
        check_confirm_token(SECRET, token, SHA)
    assert check_confirm_token(SECRET, token, SHA, now=issued + timedelta(days=2)) == ITEM
