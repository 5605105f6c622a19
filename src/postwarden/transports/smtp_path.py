"""Envelope addresses as the relay accepts them: a strict reading of RFC 5321 paths.

Hand-written on purpose: Python 3.11's ``email`` address parsers are lenient (CVE-2023-27043,
reliability.md §6) and aiosmtpd reads ``MAIL FROM`` / ``RCPT TO`` with them, so quoted local
parts, comments, source routes and several ``@`` pass through. A sender or recipient that a
policy judges must be the exact string that is used afterwards, so the relay accepts only the
plain form nearly all mail uses and refuses the rest with ``553 5.1.3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postwarden.errors import Invalid

__all__ = ["Mailbox", "PathError", "parse_mailbox", "split_path"]

# RFC 5321 §4.5.3.1: local part 64 octets, domain 255, whole path 256 including "<>".
MAX_LOCAL = 64
MAX_DOMAIN = 255
MAX_PATH = 256

# RFC 5321 §4.1.2 Dot-string: atoms of RFC 5322 atext joined by single dots. Quoted-string
# local parts are legal but rare, and exactly where parsers disagree: refused.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
# RFC 5321 §4.1.2 sub-domain (letters, digits, hyphens; not starting or ending with a hyphen).
# Address literals ("[192.0.2.1]") are refused: mail we relay is addressed by name.
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class PathError(Invalid, ValueError):
    """Not an envelope address the relay accepts; the text says why (safe to show)."""


@dataclass(frozen=True, slots=True)
class Mailbox:
    """``local@domain``; the domain in lower case (domains are case-insensitive)."""

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"

    def within(self, domain: str) -> bool:
        """The domain is ``domain`` or one of its subdomains."""
        d = domain.lower().rstrip(".")
        return self.domain == d or self.domain.endswith("." + d)


def parse_mailbox(text: str) -> Mailbox:
    """``local@domain`` with a dot-atom local part and an LDH domain, else :class:`PathError`."""
    if not text.isascii() or not text.isprintable():
        raise PathError("address has control or non-ASCII characters")
    local, at, domain = text.rpartition("@")
    if not at or not local:
        raise PathError("address needs a local part, one @ and a domain")
    if "@" in local:
        raise PathError("address has more than one @")
    if len(local) > MAX_LOCAL or len(domain) > MAX_DOMAIN:
        raise PathError("address too long")
    if not _LOCAL.fullmatch(local):
        raise PathError("local part is not a plain dot-atom (no quotes, spaces or empty atoms)")
    labels = domain.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise PathError("domain is not a host name (letters, digits, hyphens, dots)")
    return Mailbox(local, domain.lower())


def split_path(arg: str, keyword: str) -> tuple[Mailbox | None, str]:
    """``FROM:<a@b> SIZE=1`` → (mailbox, ``"SIZE=1"``); ``<>`` gives ``None``.

    ``keyword`` is ``FROM:`` or ``TO:``. The path must be in angle brackets (RFC 5321 §4.1.2)
    and carry no source route; parameters follow after a space.
    """
    if not arg[: len(keyword)].upper() == keyword:
        raise PathError(f"expected {keyword}<address>")
    rest = arg[len(keyword) :].lstrip(" ")
    if not rest.startswith("<"):
        raise PathError("address must be in angle brackets")
    end = rest.find(">")
    if end < 0:
        raise PathError("address has no closing angle bracket")
    inner, params = rest[1:end], rest[end + 1 :]
    if params and not params.startswith(" "):
        raise PathError("text after the address")
    if end + 1 > MAX_PATH:
        raise PathError("address too long")
    if inner == "":
        return None, params.strip()
    if inner.startswith("@"):
        raise PathError("source routes are not accepted")
    return parse_mailbox(inner), params.strip()
