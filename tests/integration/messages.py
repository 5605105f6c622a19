"""Messages the integration tests send, each marked so the sink and quarantine can find it."""

from __future__ import annotations

import smtplib
import uuid
from email import policy
from email.message import EmailMessage

# A valid HKID check digit (A123456(3)): the engine's hkid-external rule holds it outside.
HKID = "A123456(3)"


def marker() -> str:
    return uuid.uuid4().hex[:12]


def make_mail(
    mark: str, sender: str, to: str, body: str = "Meeting notes attached.", subject: str = "notes"
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"{subject} {mark}"
    msg["Message-ID"] = f"<{mark}@demo.gov.hk>"
    msg.set_content(f"{body}\n\nref {mark}\n")
    return msg.as_bytes(policy=policy.SMTP)


def send(port: int, sender: str, recipients: list[str], raw: bytes) -> None:
    """One SMTP transaction to 127.0.0.1:``port``; raises smtplib's errors on 4xx/5xx."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.sendmail(sender, recipients, raw)
