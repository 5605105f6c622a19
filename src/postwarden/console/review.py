"""What a reviewer sees of a held message: re-inspected findings, masked excerpts, headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from postwarden.console.masking import Excerpt, excerpts, mask
from postwarden.headers import decode, header_of, header_values
from postwarden.model import Envelope, Finding, RecipientInfo
from postwarden.settings import Settings

if TYPE_CHECKING:
    from postwarden.engine import Report

SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID")


@runtime_checkable
class Reporting(Protocol):
    """An inspector that returns the whole report (findings with their text units)."""

    def inspect(self, raw: bytes, envelope: Envelope | None = None) -> Report: ...


@dataclass(slots=True)
class Inspection:
    """A held message as the message page shows it."""

    headers: list[tuple[str, str]]
    recipients: list[RecipientInfo]
    findings: list[dict[str, object]]
    excerpts: list[Excerpt]
    attachments: list[tuple[str, str, int]] = field(default_factory=list)


def reporter(candidate: object, settings: Settings) -> Reporting:
    """The gateway's inspector when it reports in full, else the engine's with our limits."""
    if isinstance(candidate, Reporting):
        return candidate
    # Imported here: loading the engine (detectors, compiled patterns) is the gateway's job
    # at start; the console only needs it when the gateway's inspector cannot report.
    from postwarden.engine import Inspector

    return Inspector(limits=settings.limits, org_domains=settings.org_domains)


def inspect_held(
    inspector: Reporting, raw: bytes, envelope: Envelope, *, reveal: bool
) -> Inspection:
    """Inspect the stored message again: the quarantine keeps no values, only the message."""
    report = inspector.inspect(raw, envelope)
    verdict = report.verdict
    return Inspection(
        headers=_headers(report.message.mime, verdict.findings, reveal),
        recipients=list(verdict.recipients),
        findings=verdict.findings_summary(),
        excerpts=excerpts(verdict.findings, report.extraction.units, reveal=reveal),
        attachments=[(a.name, a.content_type, a.size) for a in verdict.attachments],
    )


def _headers(mime: EmailMessage, findings: list[Finding], reveal: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name in SHOWN_HEADERS:
        values = header_values(mime, name)
        if not values:
            continue
        value = decode(values[0], name).text
        out.append((name, value if reveal else redact(value, findings)))
    return out


def redact(text: str, findings: list[Finding]) -> str:
    """Mask every found value wherever it appears in ``text`` (a subject naming a person)."""
    for f in sorted(findings, key=lambda f: -len(f.value)):
        if len(f.value) >= 3 and f.value in text:
            text = text.replace(f.value, mask(f.value, f.detector))
    return text


def subject_of(raw: bytes) -> str:
    """The decoded subject of a stored message (a bad encoded-word is shown as it came)."""
    return header_of(raw, "Subject").text
