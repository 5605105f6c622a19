"""SMTP replies the front ends give, and the text cleaning every reply goes through."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["MAX_TEXT", "TEMPFAIL", "SmtpReply", "parse_reply", "reply_text"]

# RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including code and CRLF.
MAX_TEXT = 400

_UNSAFE = re.compile(r"[^\x20-\x7e]+")
_REPLY = re.compile(r"\s*([2-5]\d\d)[ -](?:\s*([2-5]\.\d{1,3}\.\d{1,3})\b)?(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """A reply code, its enhanced status code (RFC 3463) and one line of text."""

    code: int
    status: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500


# What every internal error or timeout answers: Postfix keeps the mail and retries.
TEMPFAIL = SmtpReply(451, "4.3.0", "Temporary failure in the content filter, try again later")


def reply_text(text: str, fallback: str = "Message refused by policy") -> str:
    """One printable ASCII line: a policy message must never add a line or a header to a
    reply (CR/LF injection), and SMTP replies outside SMTPUTF8 are ASCII."""
    folded = unicodedata.normalize("NFKC", text)
    cleaned = " ".join(_UNSAFE.sub(" ", folded).split())
    if len(cleaned) > MAX_TEXT:
        cleaned = cleaned[: MAX_TEXT - 3].rstrip() + "..."
    return cleaned or fallback


def parse_reply(text: str) -> SmtpReply:
    """``"550 5.7.1 text"`` → a reply with cleaned text; the enhanced code defaults to the
    class of the reply code (``5.0.0``); anything unparseable is a tempfail, never a pass."""
    m = _REPLY.fullmatch(text)
    if m is None:
        return TEMPFAIL
    code = int(m.group(1))
    status = m.group(2) or f"{code // 100}.0.0"
    if status[0] != str(code)[0]:
        status = f"{code // 100}.0.0"
    return SmtpReply(code, status, reply_text(m.group(3)))
