"""MIME trees: the message itself, forwarded messages (message/rfc822) and attached .eml
files; every part is visited, and what the parser could not split is scanned as text."""

from __future__ import annotations

import binascii
import mimetypes
import re
from email import policy
from email.errors import (
    CloseBoundaryNotFoundDefect,
    InvalidBase64CharactersDefect,
    InvalidBase64LengthDefect,
    InvalidBase64PaddingDefect,
    InvalidMultipartContentTransferEncodingDefect,
    MessageDefect,
    MissingHeaderBodySeparatorDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import TYPE_CHECKING

from postwarden.engine.extract.sniff import Kind, Sniffed, looks_textual, sniff
from postwarden.engine.extract.transfer import refuse_text_over_budget
from postwarden.engine.extract.walker import FILE_NAMES, place
from postwarden.headers import decoded_text, header_values
from postwarden.model import MIME_DEFECT, Attachment, Finding

if TYPE_CHECKING:
    from postwarden.engine.extract.walker import Walker

_BODY_SUBTYPES = frozenset({"plain", "html", "enriched", "richtext", "rtf", "calendar", "csv"})
_BODY_KINDS = {"html": Kind.HTML, "rtf": Kind.RTF}
"""The extractor of an inline ``text/*`` body by its subtype; the others are read as text."""
_SIGNATURES = frozenset(
    {
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
    }
)
_SIGNATURE_BYTES = 256 * 1024
"""A detached signature is a few KiB (a certificate chain at most); more is content."""
_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
"""The DER OID of PKCS #7 signedData (1.2.840.113549.1.7.2)."""
# Defects that mean the parser could not read the structure the sender built, so a reader
# (ours or the recipient's client) may see other parts than the other one does:
# - no start boundary / no boundary parameter / multipart that is not split: the parts were
#   never separated; we scan them as one block of text, attachments still encoded;
# - no close boundary: the last part runs to the end of its parent, swallowing anything
#   after it; truncated mail and MIME-smuggling (parser differential) tricks look like this;
# - no header/body separator: a line that is not a header ended the headers, so the part's
#   remaining headers (its Content-Type or transfer encoding) were read as body;
# - a transfer encoding on a multipart (RFC 2045 §6.4 forbids it): some clients decode it
#   first, the stdlib does not.
# Header-level defects (an obsolete or non-printable header, a bad encoded word) and base64
# damage that still decodes (stray characters, missing padding) change no part's content
# and are kept as notes only; base64 that does not decode is reported below.
_STRUCTURE_DEFECTS: dict[type[MessageDefect], str] = {
    StartBoundaryNotFoundDefect: "start boundary not found",
    NoBoundaryInMultipartDefect: "multipart without a boundary",
    MultipartInvariantViolationDefect: "multipart not split into parts",
    CloseBoundaryNotFoundDefect: "close boundary not found",
    MissingHeaderBodySeparatorDefect: "missing header/body separator",
    InvalidMultipartContentTransferEncodingDefect: "transfer encoding on a multipart",
}
_TRANSFER_ENCODINGS = frozenset(
    {"", "7bit", "8bit", "binary", "base64", "quoted-printable"}
    | {"uuencode", "x-uuencode", "uue", "x-uue"}
)
# "7-bit", "8 bit", "7bits": misspelt identity encodings; the stdlib reads them as they are,
# as a mail client does, so nothing is hidden.
_IDENTITY_ENCODING = re.compile(r"^\d+[- ]?bits?$|^binary$")
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
    found: list[str] = [] if defects is None else defects
    return ", ".join(decoded_text(value, name, found) for value in header_values(msg, name))


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

    def names(self) -> str:
        """The place of the message's names unit: ``file names`` for the outer message,
        ``attachment:fwd.eml#file names`` for a forwarded one."""
        return f"{self.prefix[:-1]}#{FILE_NAMES}" if self.prefix else FILE_NAMES


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
        what = _STRUCTURE_DEFECTS.get(type(defect))
        if what:
            _mime_defect(walker, where.of("part " + label), what)
    if ctype in ("message/rfc822", "message/global") and part.is_multipart():
        inner = part.get_payload(0)
        name = _filename(part)
        if name:
            walker.name(where.names(), name)
            walker.name(where.names(), _type_name(part))
        name = name or f"part {label}.eml"
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
    cte = _transfer_encoding(part)
    if cte not in _TRANSFER_ENCODINGS and not _IDENTITY_ENCODING.match(cte):
        # The stdlib hands back the encoded text as it is: what it encodes was not read.
        _mime_defect(walker, where.of("part " + label), f"unknown transfer encoding {cte!r}")
    maintype, _, subtype = ctype.partition("/")
    name = _filename(part)
    if name:
        # Any part's names leave with it, whatever the part turns out to be (a signature).
        walker.name(where.names(), name)
        walker.name(where.names(), _type_name(part))
    if maintype == "multipart":
        # A broken boundary leaves the parts unsplit: their text is still text to scan.
        walker.defects.append(f"{where.of('part ' + label)}: unsplit multipart scanned as text")
        walker.read(payload, where.of("body"), depth, Sniffed(Kind.TEXT, ctype, body=True))
        return
    empty = _decodes_to_nothing(part, payload)
    if (
        maintype == "text"
        and subtype in _BODY_SUBTYPES
        and not name
        and (part.get_content_disposition() != "attachment")
    ):
        if empty or (broken and not looks_textual(payload[:8192])):
            reason = empty or "corrupt base64: text decodes to binary data"
            walker.uninspectable(where.of("body"), reason)
            _mime_defect(walker, where.of("part " + label), reason)
            return
        kind = _BODY_KINDS.get(subtype, Kind.TEXT)
        body = Sniffed(kind, ctype, charset=part.get_content_charset(), body=True)
        walker.read(payload, where.of("body"), depth, body)
        return
    name = name or f"part {label}"
    here = where.attachment(name)
    walker.attachments.append(Attachment(name, ctype, len(payload)))
    signed = ctype in _SIGNATURES or name.lower().endswith((".p7s", ".sig", ".asc"))
    if signed and _is_signature(payload):
        return  # a detached signature carries no content of its own
    if ctype == "application/pgp-encrypted" and len(payload) < 256 and b"ersion" in payload:
        return  # the PGP/MIME control part ("Version: 1"); its sibling is the ciphertext
    if ctype in _SMIME or name.lower().endswith(".p7m"):
        walker.uninspectable(here, "encrypted or opaque-signed message (S/MIME)")
        return
    if empty:
        walker.uninspectable(here, empty)
        _mime_defect(walker, where.of("part " + label), empty)
        return
    sniffed = None
    if broken:
        # Stray characters in base64 are harmless when the rest decodes to a file that reads
        # as what it is; garbage that only passes for text or binary strings is not content.
        sniffed = sniff(payload, name, ctype, walker.budget.limits.max_members)
        if sniffed.kind in _STRINGS_KINDS or (
            sniffed.kind in _TEXT_KINDS and not _declared_text(ctype, name)
        ):
            reason = f"corrupt base64: declared {ctype}, decodes to {sniffed.label}"
            walker.uninspectable(here, reason)
            _mime_defect(walker, where.of("part " + label), reason)
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


def _mime_defect(walker: Walker, where: str, what: str) -> None:
    walker.structure.append(Finding(detector=MIME_DEFECT, where=where, detail=what))


def _transfer_encoding(part: Message) -> str:
    """The declared Content-Transfer-Encoding, lowercased; never raises."""
    for key, value in part.raw_items():
        if key.lower() == "content-transfer-encoding":
            return str(value).strip().strip('"').lower()
    return ""


def _is_signature(payload: bytes) -> bool:
    """A detached signature as it is sent: armoured PGP, a binary OpenPGP signature packet
    (RFC 4880 §4.2: tag 2) or a DER structure (PKCS #7 SignedData), of signature size.  A part
    merely labelled as a signature is inspected like any other."""
    if len(payload) > _SIGNATURE_BYTES:
        return False
    head = payload.lstrip()[:64]
    if head.startswith(b"-----BEGIN PGP SIGNATURE-----"):
        return True
    if head.startswith(b"\x30") and _SIGNED_DATA in head[:32]:
        return True
    # Old-format packet tag 2 (0x88, 0x89, 0x8a) or new-format tag 2 (0xc2).
    return head[:1] in (b"\x88", b"\x89", b"\x8a", b"\xc2")


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


_NO_NAME = object()


def _filename(part: Message) -> str:
    try:
        name = part.get_filename(_NO_NAME)
        if name is _NO_NAME:
            # No filename or name parameter at all: nothing for get_param to find below.
            return ""
        name = name or part.get_param("name", header="content-type")
    except (ValueError, LookupError, UnicodeError, AttributeError, IndexError):
        return ""
    return _text(name)


def _type_name(part: Message) -> str:
    """The Content-Type ``name`` parameter (what `_filename` reads when no Content-Disposition
    ``filename`` is given): a client may show either, so both are read as names."""
    try:
        return _text(part.get_param("name", header="content-type"))
    except (ValueError, LookupError, UnicodeError, AttributeError, IndexError):
        return ""


def _text(name: object) -> str:
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
    # The encoded text is fetched only when needed: each get_payload() reads the headers again.
    too_long = any(isinstance(d, InvalidBase64LengthDefect) for d in broken)
    if isinstance(data, bytes) and not too_long:
        return data, broken
    raw = part.get_payload()
    if too_long and isinstance(raw, str):
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
    if payload:
        return ""
    raw = part.get_payload()
    if not isinstance(raw, str) or not raw.strip():
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
        walker.budget.check_depth(depth + 1)
        walk_message(parse_bytes(data), where + "/", depth + 1, walker)
