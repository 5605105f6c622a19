"""Recipients: who each address really is (class) and what looks wrong about it (flags)."""

from __future__ import annotations

from postwarden.engine.recipients.analyzer import (
    EXEMPT,
    FIRST_TIME,
    LOOKALIKE,
    NEAR_KNOWN,
    SELF_FORWARD,
    RecipientAnalyzer,
)
from postwarden.engine.recipients.contacts import ContactIndex
from postwarden.engine.recipients.domains import domain_name, domain_of
from postwarden.engine.recipients.history import (
    ContactHistory,
    ExemptionBook,
    NoExemptions,
    NoHistory,
)
from postwarden.engine.recipients.names import name_key
from postwarden.engine.recipients.webmail import webmail_domains

__all__ = [
    "EXEMPT",
    "FIRST_TIME",
    "LOOKALIKE",
    "NEAR_KNOWN",
    "SELF_FORWARD",
    "ContactHistory",
    "ContactIndex",
    "ExemptionBook",
    "NoExemptions",
    "NoHistory",
    "RecipientAnalyzer",
    "domain_name",
    "domain_of",
    "name_key",
    "webmail_domains",
]
