"""Recipients: who each address really is (class) and what looks wrong about it (flags)."""

from __future__ import annotations

from postwarden.engine.recipients.analyzer import (
    EMITTED_FLAGS,
    EXEMPT,
    FIRST_TIME,
    LOOKALIKE,
    MAILING_LIST,
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
from postwarden.engine.recipients.webmail import Providers, providers, webmail_domains

__all__ = [
    "EMITTED_FLAGS",
    "EXEMPT",
    "FIRST_TIME",
    "LOOKALIKE",
    "MAILING_LIST",
    "NEAR_KNOWN",
    "SELF_FORWARD",
    "ContactHistory",
    "ContactIndex",
    "ExemptionBook",
    "NoExemptions",
    "NoHistory",
    "Providers",
    "RecipientAnalyzer",
    "domain_name",
    "domain_of",
    "name_key",
    "providers",
    "webmail_domains",
]
