"""Recall requests: a bilingual email asking an unintended recipient to delete what they got."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from postwarden.errors import Invalid
from postwarden.incidents.facts import IncidentFacts, RecipientFact

__all__ = ["RecallError", "build_recall"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RecallError(Invalid):
    """The request could not be written safely (a header would not survive as written)."""


def _clean(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def build_recall(facts: IncidentFacts, recipient: RecipientFact, *, from_addr: str) -> bytes:
    """The recall request to ``recipient``, checked by parsing it back (Python 3.11 lacks
    ``verify_generated_headers``, reliability.md §6)."""
    ref = f"{facts.reference}-R{recipient.id}"
    org = _clean(facts.data_user) or "the sender's organisation"
    org_zh = _clean(facts.data_user_zh or facts.data_user) or "寄件機構"
    sent = sorted(
        i.sent_at
        for i in facts.items
        if i.sent_at is not None and recipient.address in i.recipients
    )
    when = sent[0].astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if sent else "recently"
    when_zh = sent[0].astimezone(UTC).strftime("%Y年%m月%d日 %H:%M（UTC）") if sent else "近日"
    headers = {
        "From": from_addr,
        "To": recipient.address,
        "Subject": f"Please delete an email sent to you in error / 請刪除誤發予閣下的電郵 [{ref}]",
        "Date": format_datetime(datetime.now(UTC)),
        "Message-ID": make_msgid(domain=from_addr.rpartition("@")[2] or None),
    }
    contact = _clean(facts.contact) or from_addr
    body = (
        f"Dear recipient,\n\n"
        f"An email from {org} sent to you ({recipient.address}) on {when} was sent to you in "
        "error. It contains personal data of other people that you are not entitled to hold.\n\n"
        "Please:\n"
        "  1. delete the email and any attachment, including from your deleted items and any "
        "device or storage you saved it to;\n"
        "  2. do not open, copy, forward or disclose it to anyone;\n"
        f"  3. reply to this email to confirm that you have deleted it, quoting {ref}.\n\n"
        f"If you have questions, please contact {contact}. Thank you for your help.\n\n"
        f"{org}\n\n"
        "--------------------------------------------------------------------\n\n"
        "收件人您好：\n\n"
        f"{org_zh}於{when_zh}發送至閣下電郵地址（{recipient.address}）的一封電郵乃屬誤發。"
        "該電郵載有其他人士的個人資料，閣下無權持有。\n\n"
        "敬請閣下：\n"
        "  1. 刪除該電郵及所有附件，包括「已刪除郵件」及任何曾儲存該電郵的裝置或儲存空間；\n"
        "  2. 切勿開啟、複製、轉發或向任何人披露該電郵；\n"
        f"  3. 回覆本電郵確認已刪除，並註明參考編號 {ref}。\n\n"
        f"如有疑問，請聯絡{contact}。謝謝閣下協助。\n\n"
        f"{org_zh}\n"
    )
    msg = EmailMessage(policy=policy.SMTP)
    try:
        for name, value in headers.items():
            msg[name] = value
    except (ValueError, IndexError) as exc:
        raise RecallError(f"cannot write recall header: {exc}") from None
    msg.set_content(body)
    raw = msg.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    if [a.addr_spec for a in parsed["To"].addresses] != [recipient.address]:
        raise RecallError("recall recipient changed when generated (header injection?)")
    if str(parsed["Subject"]) != headers["Subject"]:
        raise RecallError("recall subject changed when generated (header injection?)")
    return raw
