"""Outlook .msg files (OLE compound files, MS-OXMSG) with extract-msg: headers, body and
attachments, embedded messages included: ``attachment:mail.msg/list.csv#R2``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from postwarden.engine.extract.sniff import Kind, Sniffed
from postwarden.engine.extract.walker import FILE_NAMES, place
from postwarden.model import Attachment

if TYPE_CHECKING:
    from postwarden.engine.extract.walker import Walker

_HTML_BODY = Sniffed(Kind.HTML, "outlook html body", body=True)


def _walk(msg: Any, where: str, depth: int, walker: Walker) -> None:
    walker.budget.check_depth(depth + 1)
    fields = (("From", msg.sender), ("To", msg.to), ("Cc", msg.cc), ("Subject", msg.subject))
    walker.add("\n".join(f"{k}: {v}" for k, v in fields if v), f"{where}/headers")
    body = msg.body
    if body:
        walker.add(str(body), f"{where}/body")
    else:
        html = msg.htmlBody
        if html:
            walker.read(bytes(html), f"{where}/body", depth, _HTML_BODY)
    for number, attachment in enumerate(msg.attachments, start=1):
        walker.budget.check_time()
        long_name, short_name = attachment.longFilename, attachment.shortFilename
        for each in (long_name, short_name, getattr(attachment, "displayName", None)):
            walker.name(f"{where}#{FILE_NAMES}", str(each or "").strip())
        name = str(long_name or short_name or f"attachment {number}")
        inner = f"{where}/{place(name)}"
        kind = attachment.type
        if kind == _attachment_types().MSG:
            walker.attachments.append(Attachment(name, "application/vnd.ms-outlook", 0))
            _walk(attachment.data, inner, depth + 1, walker)
        elif isinstance(attachment.data, bytes):
            walker.attachments.append(
                Attachment(name, str(attachment.mimetype or ""), len(attachment.data))
            )
            walker.visit(attachment.data, inner, depth + 1, name=name)
        else:
            walker.uninspectable(inner, f"unsupported outlook attachment ({kind.name.lower()})")


def _attachment_types() -> Any:
    from extract_msg.enums import AttachmentType  # loaded with extract_msg, see extract()

    return AttachmentType


class MsgExtractor:
    """``.msg`` files: ``mail.msg/headers``, ``mail.msg/body``, ``mail.msg/<attachment>``."""

    def extract(
        self, data: bytes, where: str, depth: int, sniffed: Sniffed, walker: Walker
    ) -> None:
        import extract_msg  # imported here: half of a command line's start-up otherwise

        msg = extract_msg.openMsg(data, delayAttachments=False)
        try:
            _walk(msg, where, depth, walker)
        finally:
            msg.close()
