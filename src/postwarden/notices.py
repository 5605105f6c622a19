"""Bilingual (English, Traditional Chinese) notices to senders, and signed confirm links.

A notice says what was stopped, why (the policy's messages) and what happens next.  For a
*warn* it carries a one-time link whose token is an HMAC over the item id, an expiry and the
item's content hash, so it confirms exactly that message and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from postwarden.errors import PostwardenError, Refused

__all__ = [
    "CONFIRM_TTL",
    "DEFAULT_PUBLIC_URL",
    "NoticeError",
    "StoppedMessage",
    "TokenError",
    "build_notice",
    "check_confirm_token",
    "confirm_token",
    "confirm_url",
    "read_confirm_token",
]

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8025"
"""Where the console (and its confirm page) is reached when ``POSTWARDEN_PUBLIC_URL`` is unset."""
CONFIRM_TTL = timedelta(days=3)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class NoticeError(PostwardenError):
    """A notice would not come out as written (header injection attempt or bad address)."""


class TokenError(Refused):
    """A confirm token is malformed, forged, for other content, or expired."""


@dataclass(frozen=True, slots=True)
class StoppedMessage:
    """What a notice tells the sender about their message (the original subject is quoted in
    the body only, never in a header)."""

    item_id: str
    action: str
    """``hold`` or ``warn``."""
    sender: str
    recipients: Sequence[str]
    subject: str
    reasons: Sequence[str]
    created: datetime


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, b"postwarden confirm-warn v1", hashlib.sha256).digest()


def _mac(secret: bytes, item_id: str, expires: int, content_sha256: str) -> str:
    msg = f"confirm-warn\0{item_id}\0{expires}\0{content_sha256}".encode()
    digest = hmac.new(_key(secret), msg, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def confirm_token(
    secret: bytes,
    item_id: str,
    content_sha256: str,
    *,
    now: datetime | None = None,
    ttl: timedelta = CONFIRM_TTL,
) -> str:
    """``ITEM.EXPIRES.MAC``: URL-safe, bound to the item, its content and an expiry."""
    expires = int(((now or datetime.now(UTC)) + ttl).timestamp())
    return f"{item_id}.{expires}.{_mac(secret, item_id, expires, content_sha256)}"


def read_confirm_token(token: str) -> tuple[str, int, str]:
    """Split a token into (item id, expiry, mac) without trusting it yet."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit() or not re.fullmatch(r"[a-z2-7]{16}", parts[0]):
        raise TokenError("malformed confirm link")
    return parts[0], int(parts[1]), parts[2]


def check_confirm_token(
    secret: bytes, token: str, content_sha256: str, *, now: datetime | None = None
) -> str:
    """The item id if ``token`` is genuine for this content and unexpired."""
    item_id, expires, mac = read_confirm_token(token)
    if not hmac.compare_digest(mac, _mac(secret, item_id, expires, content_sha256)):
        raise TokenError("confirm link is not valid for this message")
    if (now or datetime.now(UTC)).timestamp() > expires:
        raise TokenError("confirm link has expired")
    return item_id


def confirm_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/confirm/{token}"


def build_notice(
    stopped: StoppedMessage,
    *,
    from_addr: str,
    confirm_link: str | None = None,
) -> bytes:
    """The notice as bytes, checked by parsing it back: its headers must be exactly the ones
    written (Python 3.11 lacks ``verify_generated_headers``, reliability.md §6)."""
    held = stopped.action == "hold"
    msg = EmailMessage(policy=policy.SMTP)
    headers = {
        "From": f"Postwarden <{from_addr}>",
        "To": stopped.sender,
        "Subject": (
            "Your message is held for review / 您的郵件已暫緩發送，待審核"
            if held
            else "Please confirm your message / 請確認是否發送您的郵件"
        ),
        "Date": format_datetime(datetime.now(UTC)),
        "Message-ID": make_msgid(domain=from_addr.rpartition("@")[2] or None),
        "Auto-Submitted": "auto-generated",
    }
    try:
        for name, value in headers.items():
            msg[name] = value
    except (ValueError, IndexError) as exc:
        raise NoticeError(f"cannot write notice header: {exc}") from None
    msg.set_content(_body(stopped, confirm_link))
    raw = msg.as_bytes()
    _verify(raw, headers)
    return raw


def _verify(raw: bytes, expected: dict[str, str]) -> None:
    parsed = message_from_bytes(raw, policy=policy.default)
    names = [
        k.lower()
        for k in parsed
        if k.lower() not in ("mime-version", "content-type", "content-transfer-encoding")
    ]
    if sorted(names) != sorted(k.lower() for k in expected):
        raise NoticeError("notice headers changed when generated (header injection?)")
    for name, value in expected.items():
        if name == "To":
            got = [a.addr_spec for a in parsed[name].addresses]
            if got != [value]:
                raise NoticeError("notice recipient changed when generated (header injection?)")
        elif name not in ("Date", "Message-ID", "From") and str(parsed[name]) != value:
            raise NoticeError(f"notice {name} changed when generated (header injection?)")


def _clean(text: str) -> str:
    """One line of plain text: CR, LF and other control characters become single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _body(s: StoppedMessage, link: str | None) -> str:
    when = s.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    to = ", ".join(_clean(r) for r in s.recipients)
    why = "\n".join(f"  - {_clean(r)}" for r in s.reasons) or "  - (policy)"
    subject = _clean(s.subject) or "(no subject)"
    ref = f"Reference / 參考編號: {s.item_id}"
    if s.action == "hold":
        en_next = (
            "A reviewer will look at it. If it is released it is delivered unchanged to\n"
            "the original recipients; if it is rejected it is not sent. You cannot\n"
            "release your own message. Do not send it again in the meantime."
        )
        zh_next = (
            "審核人員會檢查此郵件。如獲放行，郵件會原封不動送交原收件人；如被拒絕，郵件\n"
            "不會發出。您不能放行自己的郵件。在此期間請勿重新發送。"
        )
        en_head = "Your message was stopped before it left the organisation and is held."
        zh_head = "您的郵件在離開機構前被攔截，現正暫緩發送。"
    else:
        en_next = (
            "It is held until you confirm. If you are sure it should go to these\n"
            f"recipients, confirm here (the link works once, for {CONFIRM_TTL.days} days):\n"
            f"  {link}\nOtherwise do nothing: it will not be sent."
        )
        zh_next = (
            "郵件會在您確認後才發送。如確定要發送給以上收件人，請按以下連結確認（連結只可\n"
            f"使用一次，{CONFIRM_TTL.days} 日內有效）：\n  {link}\n如不確認，郵件將不會發出。"
        )
        en_head = "Your message needs your confirmation before it leaves the organisation."
        zh_head = "您的郵件須經您確認後才會發出機構。"
    return (
        f"{en_head}\n\n  Subject: {subject}\n  To: {to}\n  Sent: {when}\n\n"
        f"Why:\n{why}\n\nWhat happens next:\n{en_next}\n\n{ref}\n\n"
        "----------------------------------------------------------------\n\n"
        f"{zh_head}\n\n  主旨：{subject}\n  收件人：{to}\n  發送時間：{when}\n\n"
        f"原因：\n{why}\n\n接下來：\n{zh_next}\n\n{ref}\n"
    )
