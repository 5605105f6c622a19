"""``data:`` URIs (RFC 2397) in HTML: files embedded in an attribute or a style sheet
(``<img src="data:image/png;base64,...">``, ``url(data:...)``, ``data:text/plain,...``).

Hand-written: the stdlib has no data-URI reader (``urllib.request`` opens one only as a
whole URL, without telling a broken one from an empty one), and what mail clients accept is
the WHATWG "forgiving base64" (white space anywhere, padding optional), which
``base64.b64decode`` reads once the white space is gone and the padding restored."""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

_HEADER = re.compile(r"data:([^,\s\"'()<>]{0,256}),", re.IGNORECASE)
"""``data:`` with its media type and parameters, up to the comma before the payload."""
_PAYLOAD = re.compile(r"[^\s\"'()<>]*")
"""A payload inside text (a style sheet's ``url(...)``): up to a quote, bracket or space."""
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_SPACE = re.compile(r"[\t\n\f\r ]+")


@dataclass(frozen=True, slots=True)
class Embedded:
    """One decoded ``data:`` URI: its bytes and declared media type (``text/plain`` when
    none is given, as RFC 2397 says)."""

    data: bytes
    content_type: str


def _decode(header: str, payload: str) -> Embedded | None:
    """The URI's bytes, or ``None`` when its base64 is broken (kept as text by the caller)."""
    params = header.split(";")
    ctype = params[0].strip().lower() or "text/plain"
    if params[-1].strip().lower() == "base64" and len(params) > 1:
        compact = _SPACE.sub("", payload)
        if "%" in compact:  # percent-escaped base64 is read as browsers do: escapes first
            compact = _SPACE.sub("", unquote_to_bytes(compact).decode("latin-1"))
        if _BASE64.fullmatch(compact) is None or len(compact.rstrip("=")) % 4 == 1:
            return None
        compact = compact.rstrip("=")
        try:
            data = b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except binascii.Error:
            return None
    else:
        data = unquote_to_bytes(payload)
    return Embedded(data, ctype)


def take(text: str, whole: bool) -> tuple[str, list[Embedded]]:
    """``text`` without the payloads of the ``data:`` URIs in it that decode, and those
    decoded.  ``whole``: ``text`` is an attribute's value, a URI when it begins with
    ``data:``, its payload running to the end (white space and all, as base64 in mail is
    wrapped); else URIs are looked for anywhere in it, each payload ending at a space, quote
    or bracket (``url(data:...)`` in a style sheet).  A URI that does not decode is left as
    it is: its text is inspected as text."""
    if "data:" not in text.lower():  # a tenth of the cost of a case-blind search
        return text, []
    if whole:
        stripped = text.strip()
        header = _HEADER.match(stripped)
        if header is not None:
            found = _decode(header.group(1), stripped[header.end() :])
            if found is not None:
                return header.group(), [found]
            return text, []
    kept: list[str] = []
    found_all: list[Embedded] = []
    last = 0
    for header in _HEADER.finditer(text):
        if header.start() < last:
            continue
        payload = _PAYLOAD.match(text, header.end())
        end = payload.end() if payload is not None else header.end()
        found = _decode(header.group(1), text[header.end() : end])
        if found is None:
            continue
        kept.append(text[last : header.end()])
        found_all.append(found)
        last = end
    kept.append(text[last:])
    return "".join(kept), found_all
