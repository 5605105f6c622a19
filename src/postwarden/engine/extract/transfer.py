"""Text bodies measured while they are decoded, so one over the text limit stops at the limit.

A message's text budget (``max_text_bytes``) is charged when a body's text is added; before
that, the stdlib decodes the whole transfer encoding and the whole charset, so a 50 MB text
part cost seconds and hundreds of MiB before being refused.  :func:`refuse_text_over_budget`
decodes a big text body a chunk at a time (transfer encoding, then charset, incrementally)
and stops as soon as its characters pass what the budget has left.

Hand-written over ``binascii`` because the stdlib's ``email`` API only decodes a payload
whole; ``binascii`` and ``codecs`` incremental decoders do the decoding itself.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Iterator
from email.message import Message

from postwarden.engine.extract.budget import Budget

__all__ = ["refuse_text_over_budget", "text_chars"]

CHUNK = 1 << 20
"""Encoded characters decoded at a time."""

_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_CODEC_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "x-gbk": "gb18030"}


def _raw_bytes(text: str) -> bytes:
    # The bytes parser keeps undecodable body bytes as surrogate escapes.
    return text.encode("utf-8", "surrogateescape")


def _base64(raw: str) -> Iterator[bytes]:
    carry = ""
    for start in range(0, len(raw), CHUNK):
        letters = carry + _NOT_BASE64.sub("", raw[start : start + CHUNK])
        whole = len(letters) - len(letters) % 4
        carry = letters[whole:]
        if whole:
            yield binascii.a2b_base64(letters[:whole])
    if len(carry) > 1:  # the last group, its "=" padding stripped with the other non-letters
        yield binascii.a2b_base64(carry + "=" * (-len(carry) % 4))


def _quoted_printable(raw: str) -> Iterator[bytes]:
    start = 0
    while start < len(raw):
        end = raw.find("\n", start + CHUNK)
        end = len(raw) if end < 0 else end + 1  # whole lines: no soft break is split
        yield binascii.a2b_qp(_raw_bytes(raw[start:end]))
        start = end


def _identity(raw: str) -> Iterator[bytes]:
    for start in range(0, len(raw), CHUNK):
        yield _raw_bytes(raw[start : start + CHUNK])


def text_chars(raw: str, transfer_encoding: str, charset: str | None, limit: int) -> int:
    """Characters ``raw`` decodes to (transfer encoding, then ``charset``, else UTF-8, with
    undecodable bytes one character each), counted no further than just past ``limit``."""
    chunks = {"base64": _base64, "quoted-printable": _quoted_printable}.get(
        transfer_encoding, _identity
    )
    name = (charset or "utf-8").strip().strip('"').lower()
    try:
        decoder = codecs.getincrementaldecoder(_CODEC_ALIASES.get(name, name))("replace")
    except (LookupError, ValueError):
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
    count = 0
    for chunk in chunks(raw):
        count += len(decoder.decode(chunk))
        if count > limit:
            return count
    return count + len(decoder.decode(b"", final=True))


def refuse_text_over_budget(part: Message, budget: Budget) -> None:
    """Raise the budget's own ``BudgetExhausted`` when ``part`` is a text body (read whole as
    text, so not HTML) whose text would not fit in what is left of the text budget."""
    left = budget.limits.max_text_bytes - budget.text_bytes
    raw = part.get_payload()
    # A body decodes to at most as many characters as it has encoded: small ones pass as is.
    if not isinstance(raw, str) or len(raw) <= left:
        return
    if part.get_content_maintype() != "text" or part.get_content_subtype() == "html":
        return
    try:
        if part.get_content_disposition() == "attachment" or part.get_filename():
            return  # an attachment is sniffed and extracted by its kind, not read as text
    except (ValueError, LookupError, UnicodeError, AttributeError, IndexError):
        return
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    chars = text_chars(raw, encoding, part.get_content_charset(), left)
    if chars > left:
        budget.add_text(chars)  # over the limit: raises, as adding the text would have
