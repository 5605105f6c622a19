"""Values every layer shares: envelope, message, text units, findings, recipients, verdict,
SMTP reply."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from email.message import EmailMessage


class Action(IntEnum):
    """What happens to a message; a larger value is stronger and wins."""

    DELIVER = 0
    WARN = 1
    HOLD = 2
    REJECT = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Action:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown action {text!r} (deliver, warn, hold, reject)") from None


class RecipientClass(StrEnum):
    INTERNAL = "internal"
    PARTNER = "partner"
    WEBMAIL = "webmail"
    EXTERNAL = "external"


class RecipientFlag(StrEnum):
    """What looks wrong (or right) about one recipient; the recipients stage and the engine
    set them, policy rules name them (``flags`` / ``not_flags``).  The one list of flags."""

    LOOKALIKE = "lookalike"
    """The domain imitates one the organisation uses (org, partner, frequent contact)."""
    FIRST_TIME = "first-time"
    """Never written to before."""
    NEAR_KNOWN = "near-known"
    """A first-time address one slip from a known contact."""
    SELF_FORWARD = "self-forward"
    """A webmail address resembling the sender's own name."""
    EXEMPT = "exempt"
    """The sender holds an exemption for the recipient's domain."""
    MAILING_LIST = "mailing-list"
    """A list or group host of a webmail provider (groups.msn.com): not a personal mailbox."""
    REGISTERED_CORRESPONDENT = "registered-correspondent"
    """The address is the registered email of a record in a register: that person's own."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """SMTP envelope: the only addresses decisions are made on (reliability.md §6)."""

    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A named or typed leaf part of the MIME tree, as the policy sees it."""

    name: str
    content_type: str
    size: int


@dataclass(slots=True)
class Message:
    """A parsed message: envelope, headers the policy needs, and the MIME tree."""

    envelope: Envelope
    mime: EmailMessage
    raw_size: int
    subject: str = ""
    header_from: str = ""
    header_to: tuple[str, ...] = ()
    header_cc: tuple[str, ...] = ()
    message_id: str = ""
    defects: list[str] = field(default_factory=list)
    display_names: dict[str, str] = field(default_factory=dict)
    """Lowercase address → decoded display name, from the To and Cc headers."""
    sender_name: str = ""
    """The From header's decoded display name."""


@dataclass(frozen=True, slots=True)
class TextUnit:
    """A piece of text extracted from one place of a message.

    ``where`` names the place: ``body``, ``attachment:voters.xlsx#Sheet1!R120``,
    ``attachment:a.zip/b/c.csv#R7``, ``attachment:report.pdf#page 3``.  ``cells`` holds the
    cells of a table row (spreadsheet, csv, html or docx table) so that register matching can
    see which values stand together; it is ``None`` for running text.  ``header`` holds the
    column headings of that table, one per cell, when the extractor knows them (a column
    headed ``DOB`` makes its dates dates of birth).  ``ocr_confidence`` (0-1) is set when the
    text was read from an image by OCR: Tesseract's mean word confidence for that page.
    """

    text: str
    where: str
    cells: tuple[str, ...] | None = None
    header: tuple[str, ...] | None = None
    ocr_confidence: float | None = None

    @property
    def source(self) -> str:
        """The top-level place: ``attachment:voters.xlsx`` for ``...voters.xlsx#Sheet1!R120``."""
        return self.where.split("#", 1)[0]


UNINSPECTABLE = "uninspectable"
MIME_DEFECT = "mime-defect"
EXTRACTION_FINDINGS = (UNINSPECTABLE, MIME_DEFECT)
"""Finding kinds the extraction stage emits itself: not detectors, yet a policy may name them."""
"""A MIME structure the parser could not fully read (``detail`` names the defect)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector (or the extractor, for ``uninspectable``) found.

    ``value`` is the matched text and must never be logged; ``detail`` carries a reason
    (uninspectable content) or the fields matched (register records); ``ocr_confidence``
    (0-1) is the OCR confidence of the text it was found in, when that text was read by OCR.
    """

    detector: str
    where: str
    value: str = ""
    start: int = 0
    end: int = 0
    confidence: float = 1.0
    detail: str = ""
    ocr_confidence: float | None = None

    @property
    def source(self) -> str:
        return self.where.split("#", 1)[0]


@dataclass(frozen=True, slots=True)
class RecipientInfo:
    """One recipient as the policy sees it: class, flags and why each flag was set."""

    address: str
    cls: RecipientClass
    flags: tuple[str, ...] = ()
    detail: tuple[str, ...] = ()
    """One line per flag saying why: ``lookalike: imitates reo.gov.hk (extra labels)``."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "class": self.cls.value,
            "flags": list(self.flags),
        }
        if self.detail:
            out["detail"] = list(self.detail)
        return out


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a rule fired: the rule id, the message for the sender and the evidence."""

    rule: str
    message: str
    action: Action = Action.DELIVER
    evidence: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "message": self.message}
        out["action"] = self.action.label
        if self.evidence:
            out["evidence"] = list(self.evidence)
        return out


@dataclass(slots=True)
class Verdict:
    """The engine's answer for one message: the strongest action and everything behind it."""

    action: Action
    reasons: list[Reason] = field(default_factory=list)
    subjects: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    recipients: list[RecipientInfo] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    elapsed_ms: float = 0.0
    defects: list[str] = field(default_factory=list)
    """What was wrong with the message but did not stop inspection (a bad encoded-word in a
    header, a broken boundary): places and kinds only, never content."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each engine stage took (``parse``, ``extract``, ``detect``, ``registers``,
    ``policy``), for the latency metrics; not part of ``to_json``."""

    def findings_summary(self) -> list[dict[str, Any]]:
        """Findings grouped by detector and top-level place (the ``check --json`` shape)."""
        counts: Counter[tuple[str, str]] = Counter()
        reasons: dict[tuple[str, str], list[str]] = {}
        ocr: dict[tuple[str, str], float] = {}
        for f in self.findings:
            key = (f.detector, f.source)
            counts[key] += 1
            if f.ocr_confidence is not None:
                ocr[key] = min(ocr.get(key, 1.0), f.ocr_confidence)
            if f.detail and f.detector in (UNINSPECTABLE, MIME_DEFECT):
                reasons.setdefault(key, [])
                if f.detail not in reasons[key]:
                    reasons[key].append(f.detail)
        out: list[dict[str, Any]] = []
        for (detector, where), count in sorted(counts.items()):
            item: dict[str, Any] = {"detector": detector, "count": count, "where": where}
            if (detector, where) in reasons:
                item["reasons"] = reasons[(detector, where)]
            if (detector, where) in ocr:
                # Read by OCR: the lowest confidence of the text these findings came from.
                item["ocr_confidence"] = round(ocr[(detector, where)], 2)
            out.append(item)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.label,
            "reasons": [r.to_json() for r in self.reasons],
            "subjects": dict(self.subjects),
            "findings": self.findings_summary(),
            "recipients": [r.to_json() for r in self.recipients],
            "attachments": [
                {"name": a.name, "content_type": a.content_type, "size": a.size}
                for a in self.attachments
            ],
            "elapsed_ms": round(self.elapsed_ms, 2),
            "defects": list(self.defects),
        }


# RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including code and CRLF.
MAX_REPLY_TEXT = 400
REFUSED_TEXT = "Message refused by policy"

_NOT_REPLY_TEXT = re.compile(r"[^\x20-\x7e]+")
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


def reply_words(text: str) -> str:
    """The printable-ASCII words of ``text``, one space apart: CR, LF and everything else a
    reply line cannot carry become word breaks."""
    return " ".join(_NOT_REPLY_TEXT.sub(" ", text).split())


def reply_text(text: str, fallback: str = REFUSED_TEXT) -> str:
    """One printable ASCII line of at most ``MAX_REPLY_TEXT`` characters: a policy message
    must never add a line or a header to a reply (CR/LF injection), and SMTP replies outside
    SMTPUTF8 are ASCII.  NFKC first, so full-width letters survive as ASCII."""
    cleaned = reply_words(unicodedata.normalize("NFKC", text))
    if len(cleaned) > MAX_REPLY_TEXT:
        cleaned = cleaned[: MAX_REPLY_TEXT - 3].rstrip() + "..."
    return cleaned or fallback


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """A reply code, its enhanced status code (RFC 3463) and one line of text.

    Made safe when made: the text goes through :func:`reply_text`, and an enhanced code that
    is malformed or of another class than the reply code becomes ``X.0.0``; so every
    transport renders it as it is (``str()`` is the SMTP line without its CRLF)."""

    code: int
    status: str
    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", reply_text(self.text))
        if not _STATUS.fullmatch(self.status) or self.status[0] != str(self.code)[0]:
            object.__setattr__(self, "status", f"{self.code // 100}.0.0")

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500
