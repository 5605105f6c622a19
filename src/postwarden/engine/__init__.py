"""The inspection engine: bytes + envelope in, Verdict out; no sockets, no database writes.

This module is the only one that composes the stages (parse, extract, detect, registers,
recipients, policy); the stages never import each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from postwarden.engine.detect import DetectorSet, default_detectors
from postwarden.engine.extract import Extraction, extract
from postwarden.engine.parse import parse_message
from postwarden.model import UNINSPECTABLE, Action, Envelope, Message, Reason, Verdict
from postwarden.settings import Limits

__all__ = ["Inspector", "Report"]


@dataclass(slots=True)
class Report:
    """Everything the engine learnt about one message, for callers that need more than the
    verdict (the gateway stores it with a held message, incident scoping reads its records)."""

    message: Message
    extraction: Extraction
    verdict: Verdict
    record_ids: dict[str, set[int]] = field(default_factory=dict)


class Inspector:
    """Loaded, reusable inspection state: compiled detectors, limits, org domains.

    Build one per process and call :meth:`check` for each message; it is safe to share
    between threads because it holds no per-message state.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        org_domains: tuple[str, ...] = (),
        detectors: DetectorSet | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.org_domains = tuple(d.lower() for d in org_domains)
        self.detectors = detectors or default_detectors()

    def inspect(self, raw: bytes, envelope: Envelope | None = None) -> Report:
        """Parse, extract and detect, then decide; never raises on bad input."""
        started = time.monotonic()
        deadline = started + self.limits.max_seconds
        message = parse_message(raw, envelope, self.limits)
        extraction = extract(message, self.limits, deadline)
        findings = list(extraction.findings)
        findings.extend(self.detectors.scan(extraction.units))
        verdict = Verdict(action=Action.DELIVER, findings=findings,
                          attachments=list(extraction.attachments))
        self._decide(message, verdict)
        verdict.elapsed_ms = (time.monotonic() - started) * 1000
        return Report(message=message, extraction=extraction, verdict=verdict)

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict:
        return self.inspect(raw, envelope).verdict

    def _is_internal(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower().rstrip(".")
        return any(domain == d or domain.endswith("." + d) for d in self.org_domains)

    def _decide(self, message: Message, verdict: Verdict) -> None:
        """Built-in rules until the policy engine lands: hold uninspectable content, and a
        valid HKID going outside the organisation."""
        outside = [r for r in message.envelope.recipients if not self._is_internal(r)]
        uninspectable = [f for f in verdict.findings if f.detector == UNINSPECTABLE]
        if uninspectable:
            verdict.reasons.append(Reason(
                rule="uninspectable-content",
                message="Part of this message could not be inspected: "
                + "; ".join(sorted({f"{f.source}: {f.detail}" for f in uninspectable})),
                action=Action.HOLD,
            ))
        if outside and any(f.detector == "hkid" for f in verdict.findings):
            verdict.reasons.append(Reason(
                rule="hkid-external",
                message="A Hong Kong identity card number is going outside the organisation.",
                action=Action.HOLD,
                evidence=tuple(outside),
            ))
        verdict.action = max((r.action for r in verdict.reasons), default=Action.DELIVER)
