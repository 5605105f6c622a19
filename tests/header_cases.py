"""Messages whose headers hold an invalid encoded-word (issue 10): in the Subject, in the
From display name and in a To display name; each must still get a verdict everywhere."""

from __future__ import annotations

BAD_WORD = "=?utf-8?B?abcde?="
"""Five base64 letters: ``email.header.decode_header`` raised HeaderParseError on it."""

SENDER = "alice@demo.gov.hk"
RCPT = "bob@partner.example"
HKID = "A123456(3)"


def bad_header_message(where: str, marker: str = "bad") -> bytes:
    """A small message to an outside recipient with ``BAD_WORD`` in header ``where``
    (``Subject``, ``From`` or ``To``) and an HKID in the body, so the verdict must hold."""
    subject = BAD_WORD if where == "Subject" else "Quarterly figures"
    sender = f"{BAD_WORD} <{SENDER}>" if where == "From" else f"Alice <{SENDER}>"
    rcpt = f"{BAD_WORD} <{RCPT}>" if where == "To" else RCPT
    lines = [
        f"From: {sender}",
        f"To: {rcpt}",
        f"Subject: {subject}",
        f"Message-ID: <{marker}-{where.lower()}@demo.gov.hk>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    body = f"The applicant's HKID is {HKID}."
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


WHERE = ("Subject", "From", "To")
