"""winmail.dat (TNEF, ``application/ms-tnef``: Outlook's rich text wrapper) decoded with
tnefparse: its body (plain, HTML or compressed RTF) and every attachment go through the walk
like any other part: ``attachment:winmail.dat/body``, ``attachment:winmail.dat/list.xlsx``."""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

from tnefparse.tnef import TNEF

from postwarden.engine.extract.budget import Uninspectable
from postwarden.engine.extract.html import extract_html
from postwarden.engine.extract.sniff import Kind, Sniffed
from postwarden.engine.extract.text import decode
from postwarden.engine.extract.walker import FILE_NAMES, place
from postwarden.model import Attachment

if TYPE_CHECKING:
    from postwarden.engine.extract.walker import Walker

_RTF_BODY = Sniffed(Kind.RTF, "winmail.dat rtf body", body=True)

# tnefparse logs every attribute it does not know at WARNING: hostile input would flood the log.
logging.getLogger("tnefparse").setLevel(logging.ERROR)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return decode(value.rstrip(b"\x00"))
    return str(value or "").rstrip("\x00")


def _truncated(data: bytes) -> bool:
    """An attribute runs past the end, or bytes follow the last one (tnefparse reads what
    is there and says nothing)."""
    offset = 6  # signature and key
    while offset + 11 <= len(data):  # level, id, length, data, checksum
        offset += 11 + int(struct.unpack_from("<I", data, offset + 5)[0])
    return offset != len(data)


def _name(attachment: Any) -> str:
    try:
        return _text(attachment.long_filename())
    except UnicodeError:  # tnefparse decodes a title as UTF-8; Outlook wrote it in the ANSI page
        return _text(attachment._name)


class TnefExtractor:
    """``winmail.dat/body`` and ``winmail.dat/<attachment>``; an attached message inside it
    (itself TNEF) is walked the same way."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        walker.budget.check_depth(depth + 1)
        if _truncated(data):
            raise Uninspectable("corrupt winmail.dat: truncated")
        try:
            tnef = TNEF(data, do_checksum=False)
            rtf = tnef.rtfbody if tnef.has_body() else None
        except (ValueError, KeyError, IndexError, struct.error, UnicodeError) as exc:
            raise Uninspectable(f"corrupt winmail.dat: {type(exc).__name__}") from None
        body = f"{where}/body"
        if tnef.body:
            walker.add(_text(tnef.body), body)
        elif tnef.htmlbody:
            extract_html(_text(tnef.htmlbody), body, walker, depth)
        elif rtf:
            rtf_bytes = rtf if isinstance(rtf, bytes) else str(rtf).encode()
            walker.read(rtf_bytes, body, depth, _RTF_BODY)
        members = tnef.attachments
        if len(members) > walker.budget.limits.max_members:
            raise Uninspectable(
                f"winmail.dat with {len(members)} attachments, over limit "
                f"{walker.budget.limits.max_members}"
            )
        for number, attachment in enumerate(members, start=1):
            walker.budget.check_time()
            name = _name(attachment)
            walker.name(f"{where}#{FILE_NAMES}", name)
            name = name or f"attachment {number}"
            inner = f"{where}/{place(name)}"
            content = attachment.data
            if not isinstance(content, bytes):
                walker.uninspectable(inner, "winmail.dat attachment without data")
                continue
            walker.attachments.append(Attachment(name, "", len(content)))
            walker.visit(content, inner, depth + 1, name=name)
