"""What the policy decides on: every fact the earlier stages established about one message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from postwarden.model import RecipientInfo


@dataclass(frozen=True, slots=True)
class SubjectCount:
    """Registered people whose data a message carries, for one register."""

    present: int
    """Distinct records present in the content."""
    not_recipients: int
    """Present records that are not the message's one outside recipient (all of them when
    the register has no email field to tell)."""
    known_not_recipients: int
    """Of those, the ones the register's email field shows to be someone other than the
    outside recipient: data of person A going to person B (the misattached reply slip)."""


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """One message as the policy sees it; built by the engine, never by a rule."""

    sender: str
    recipients: tuple[RecipientInfo, ...]
    """Envelope recipients with class and flags."""
    visible: tuple[RecipientInfo, ...] = ()
    """Addresses in the To and Cc headers (everyone who receives the message sees them)."""
    subjects: Mapping[str, SubjectCount] = field(default_factory=dict)
    findings: Mapping[str, int] = field(default_factory=dict)
    """Finding count per detector (``uninspectable`` included)."""
    finding_places: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Where each detector's findings are (top-level places), for the evidence."""
    uninspectable: tuple[str, ...] = ()
    """``place: reason`` for every part that could not be inspected."""
    attachments: int = 0
    subject_line: str = ""
