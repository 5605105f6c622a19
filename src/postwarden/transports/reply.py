"""The reply every front end gives when it cannot answer for a message: a tempfail."""

from __future__ import annotations

from postwarden.model import SmtpReply

__all__ = ["TEMPFAIL", "SmtpReply"]

# What every internal error or timeout answers: Postfix keeps the mail and retries.
TEMPFAIL = SmtpReply(451, "4.3.0", "Temporary failure in the content filter, try again later")
