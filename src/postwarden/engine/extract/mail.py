"""MIME trees: the message itself, forwarded messages (message/rfc822) and attached .eml
files; every part is visited, and what the parser could not split is scanned as text."""

from __future__ import annotations

import binascii
import mimetypes
import re
from email import policy
from email.errors import (
    InvalidBase64CharactersDefect,
    InvalidBase64LengthDefect,
    InvalidBase64PaddingDefect,
    MessageDefect,
)
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import TYPE_CHECKING

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.html import extract_html
from postwarden.engine.extract.sniff import Kind, looks_textual, sniff
from postwarden.engine.extract.text import decode
from postwarden.engine.extract.transfer import refuse_text_over_budget
from postwarden.engine.extract.walker import place
from postwarden.headers import decode as decode_header
from postwarden.headers import header_values
from postwarden.model import Attachment

if TYPE_CHECKING:
    from postwarden.engine.extract.sniff import Sniffed
    from postwarden.engine.extract.walker import Walker

_BODY_SUBTYPES = frozenset({"plain", "html", "enriched", "richtext", "rtf", "calendar", "csv"})
_SIGNATURES = frozenset(
    {
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
        "application/pgp-encrypted",
    }
)
_SMIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_NESTED_HEADERS = ("From", "To", "Cc", "Subject", "Date")
_BASE64_DEFECTS = (
    InvalidBase64CharactersDefect,
    InvalidBase64LengthDefect,
    InvalidBase64PaddingDefect,
)
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]+")
_TEXT_KINDS = frozenset({Kind.TEXT, Kind.HTML, Kind.CSV, Kind.EML})
# Kinds read only as printable strings: there, garbage would pass for content.
_STRINGS_KINDS = frozenset({Kind.BINARY, Kind.OLE})
_TEXT_TYPES = frozenset(
    {"application/csv", "application/json", "application/xml", "message/rfc822"}
)


def header_text(msg: Message, name: str, defects: list[str] | None = None) -> str:
    """All values of header ``name`` decoded (RFC 2047) from the raw fields, never raising;
    what was wrong with them is added to ``defects`` when given."""
    out: list[str] = []
    for value in header_values(msg, name):
        decoded = decode_header(value, name)
        out.append(decoded.text)
        if defects is not None:
            defects.extend(decoded.defects)
    return ", ".join(out)


class _Place:
    """Where a message's parts go: ``body`` and ``attachment:x`` at the top, and
    ``attachment:fwd.eml/body``, ``attachment:fwd.eml/x.csv`` inside a forwarded message."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def of(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def attachment(self, name: str) -> str:
        return f"{self.prefix}{place(name)}" if self.prefix else f"attachment:{place(name)}"


def walk_message(msg: Message, prefix: str, depth: int, walker: Walker) -> None:
    """Units of one message; ``prefix`` is ``""`` for the outer message, else its place + "/"."""
    where = _Place(prefix)
    if prefix:
        # A forwarded message's addresses and subject are a third party's data.
        found: list[str] = []
        lines = [
            f"{h}: {header_text(msg, h, found)}" for h in _NESTED_HEADERS if header_values(msg, h)
        ]
        walker.add("\n".join(lines), where.of("headers"))
        walker.defects.extend(f"{where.of('headers')}: {d}" for d in dict.fromkeys(found))
    else:
        # The outer message's header defects were recorded when it was parsed.
        walker.add(header_text(msg, "Subject"), "subject")
    _walk(msg, where, depth, walker, "")


def _walk(part: Message, where: _Place, depth: int, walker: Walker, number: str) -> None:
    walker.budget.check_time()
    ctype = part.get_content_type()
    label = number or "0"
    for defect in part.defects:
        walker.defects.append(f"{where.of('part ' + label)}: {type(defect).__name__}")
    if ctype in ("message/rfc822", "message/global") and part.is_multipart():
        inner = part.get_payload(0)
        name = _filename(part) or f"part {label}.eml"
        nested = where.attachment(name)
        walker.attachments.append(Attachment(name, ctype, _encoded_size(inner)))
        if depth + 1 > walker.budget.limits.max_depth:
            walker.uninspectable(nested, f"nesting deeper than {walker.budget.limits.max_depth}")
            return
        if isinstance(inner, Message):
            walk_message(inner, nested + "/", depth + 1, walker)
        return
    if ctype == "message/delivery-status" and part.is_multipart():
        # RFC 3464 report fields are parsed as header blocks: they name recipients.
        blocks = [
            "\n".join(f"{k}: {v}" for k, v in block.raw_items())
            for block in part.get_payload()
            if isinstance(block, Message)
        ]
        walker.add("\n\n".join(blocks), where.of("body"))
        return
    if part.is_multipart():
        _walk_multipart(part, ctype, where, depth, walker, number)
        return
    refuse_text_over_budget(part, walker.budget)  # stops decoding a body at the text limit
    payload, broken = _payload(part)
    for defect in broken:
        walker.defects.append(f"{where.of('part ' + label)}: {type(defect).__name__}")
    maintype, _, subtype = ctype.partition("/")
    name = _filename(part)
    if maintype == "multipart":
        # A broken boundary leaves the parts unsplit: their text is still text to scan.
        walker.defects.append(f"{where.of('part ' + label)}: unsplit multipart scanned as text")
        walker.add(decode(payload), where.of("body"))
        return
    empty = _decodes_to_nothing(part, payload)
    if (
        maintype == "text"
        and subtype in _BODY_SUBTYPES
        and not name
        and (part.get_content_disposition() != "attachment")
    ):
        if empty or (broken and not looks_textual(payload[:8192])):
            walker.uninspectable(
                where.of("body"), empty or "corrupt base64: text decodes to binary data"
            )
            return
        text = decode(payload, part.get_content_charset())
        if subtype == "html":
            extract_html(text, where.of("body"), walker)
        else:
            walker.add(text, where.of("body"))
        return
    name = name or f"part {label}"
    here = where.attachment(name)
    walker.attachments.append(Attachment(name, ctype, len(payload)))
    if ctype in _SIGNATURES:
        return  # a signature or PGP/MIME version part carries no content of its own
    if ctype in _SMIME:
        walker.uninspectable(here, "encrypted or opaque-signed message (S/MIME)")
        return
    if empty:
        walker.uninspectable(here, empty)
        return
    sniffed = None
    if broken:
        # Stray characters in base64 are harmless when the rest decodes to a file that reads
        # as what it is; garbage that only passes for text or binary strings is not content.
        sniffed = sniff(payload, name, ctype, walker.budget.limits.max_members)
        if sniffed.kind in _STRINGS_KINDS or (
            sniffed.kind in _TEXT_KINDS and not _declared_text(ctype, name)
        ):
            walker.uninspectable(
                here, f"corrupt base64: declared {ctype}, decodes to {sniffed.label}"
            )
            return
    walker.visit(payload, here, depth, name=name, content_type=ctype, sniffed=sniffed)


def _walk_multipart(
    part: Message, ctype: str, where: _Place, depth: int, walker: Walker, number: str
) -> None:
    limits = walker.budget.limits
    here = where.of(f"part {number}") if number else where.of("body")
    if ctype == "multipart/encrypted":
        walker.uninspectable(here, "encrypted message (PGP/MIME)")
        return
    if depth + 1 > limits.max_depth:
        walker.uninspectable(here, f"nesting deeper than {limits.max_depth}")
        return
    children = part.get_payload()
    assert isinstance(children, list)  # noqa: S101 - is_multipart() said so
    if len(children) > limits.max_members:
        walker.uninspectable(here, f"{len(children)} MIME parts, over limit {limits.max_members}")
        children = children[: limits.max_members]
    for index, child in enumerate(children, start=1):
        if isinstance(child, Message):
            _walk(child, where, depth + 1, walker, f"{number}.{index}" if number else str(index))


def _encoded_size(msg: object) -> int:
    """Bytes of a nested message's encoded bodies (serialising it would cost a second parse)."""
    if not isinstance(msg, Message):
        return 0
    total = 0
    for part in msg.walk():
        payload = part.get_payload()
        if isinstance(payload, str):
            total += len(payload)
    return total


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or part.get_param("name", header="content-type")
    except (ValueError, LookupError, UnicodeError, AttributeError, IndexError):
        return ""
    if isinstance(name, tuple):  # an RFC 2231 value the parser could not collapse
        name = name[2]
    return str(name or "").strip()


def _payload(part: Message) -> tuple[bytes, list[MessageDefect]]:
    """The decoded bytes of a leaf part, and the base64 defects decoding them raised.

    Broken base64 decodes as far as it can; an unknown transfer encoding gives the raw bytes.
    """
    seen = len(part.defects)
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, UnicodeError, TypeError):
        data = None
    broken: list[MessageDefect] = [d for d in part.defects[seen:] if isinstance(d, _BASE64_DEFECTS)]
    raw = part.get_payload()
    if any(isinstance(d, InvalidBase64LengthDefect) for d in broken) and isinstance(raw, str):
        # bpo-27397: with one base64 character too many, the stdlib hands back the *encoded*
        # text as if it were the content; decode every whole group of four instead.
        letters = _NOT_BASE64.sub(b"", raw.encode("ascii", "ignore"))
        data = binascii.a2b_base64(letters[: len(letters) - len(letters) % 4])
    if isinstance(data, bytes):
        return data, broken
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape"), broken
    return b"", broken


def _decodes_to_nothing(part: Message, payload: bytes) -> str:
    """``"undecodable base64"`` when a base64 body with text in it decodes to no bytes."""
    raw = part.get_payload()
    if payload or not isinstance(raw, str) or not raw.strip():
        return ""
    # get_payload(decode=True) read this header already: asking again cannot raise.
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    return "undecodable base64" if cte == "base64" else ""


def _declared_text(ctype: str, name: str) -> bool:
    """The part says it is text: by its content type, or by its name's extension when the
    type says nothing (``application/octet-stream``)."""
    if ctype.startswith("text/") or ctype in _TEXT_TYPES:
        return True
    guessed = mimetypes.guess_type(name, strict=False)[0] or ""
    return ctype == "application/octet-stream" and (
        guessed.startswith("text/") or guessed in _TEXT_TYPES
    )


def parse_bytes(data: bytes) -> EmailMessage:
    """The stdlib parser with policy.default; it records defects rather than raising."""
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)  # noqa: S101 - policy.default builds EmailMessage
    return msg


class EmlExtractor:
    """An attached or archived message (.eml): ``attachment:fwd.eml/body``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        limit = walker.budget.limits.max_depth
        if depth + 1 > limit:
            raise Uninspectable(f"nesting deeper than {limit}")
        walk_message(parse_bytes(data), where + "/", depth + 1, walker)
