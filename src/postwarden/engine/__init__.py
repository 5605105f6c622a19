"""The inspection engine: bytes + envelope in, Verdict out; no sockets, no database writes.

This module is the only one that composes the stages (parse, extract, detect, registers,
recipients, policy); the stages never import each other.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from operator import attrgetter
from typing import Protocol

from postwarden.engine.detect import DetectorSet, default_detectors
from postwarden.engine.detect import registry as detector_registry
from postwarden.engine.extract import Extraction, extract, extract_file
from postwarden.engine.parse import parse_message
from postwarden.engine.policy import (
    Decision,
    MessageFacts,
    Policy,
    SubjectCount,
    Vocabulary,
    default_policy,
)
from postwarden.engine.recipients import ContactHistory, ExemptionBook, RecipientAnalyzer
from postwarden.engine.registers import RegisterMatch, RegisterSet
from postwarden.mailfiles import is_message_file
from postwarden.model import (
    UNINSPECTABLE,
    Action,
    Envelope,
    Finding,
    Message,
    RecipientClass,
    RecipientFlag,
    RecipientInfo,
    Verdict,
)
from postwarden.settings import Limits

__all__ = [
    "Inspector",
    "Report",
    "SubjectDirectory",
    "collector_paused",
    "is_message_file",
    "policy_vocabulary",
]

# A spreadsheet's hundred thousand findings set off full collections that walk every
# object of the process (a tenth of a 15,070-row check's CPU time, measured); what the
# caller then drops is freed by reference counting, so that work is saved, not deferred.
# The few cycles an inspection makes (a message's parts) wait until the pause ends.
_PAUSE_LOCK = threading.Lock()
_pause_depth = 0
_pause_resumes = False
_pause_since = 0.0
_PAUSE_LIMIT = 10.0
"""Seconds of pause after which a finishing inspection collects anyway: overlapping
inspections under steady load would otherwise keep the collector off for good."""


class _CollectorPause:
    """The cyclic garbage collector off while any inspection runs; the last one to finish
    turns it back on (unless it was off before the first began).  A class, not a
    ``contextlib`` generator, which costs twice as much to enter and leave (2 µs a check)."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _pause_depth, _pause_resumes, _pause_since
        with _PAUSE_LOCK:
            if _pause_depth == 0:
                _pause_resumes, _pause_since = gc.isenabled(), time.monotonic()
                gc.disable()
            _pause_depth += 1

    def __exit__(self, *exc: object) -> None:
        global _pause_depth, _pause_since
        overdue = False
        with _PAUSE_LOCK:
            _pause_depth -= 1
            if _pause_depth == 0:
                if _pause_resumes:
                    gc.enable()
            elif _pause_resumes and time.monotonic() - _pause_since > _PAUSE_LIMIT:
                _pause_since, overdue = time.monotonic(), True
        if overdue:
            gc.collect()


_PAUSE = _CollectorPause()


def collector_paused() -> _CollectorPause:
    """The collector paused for the ``with`` block (see `_CollectorPause`): a caller that
    drops what an inspection made (the discovery scan) drops it before the collector, back
    on, would walk it."""
    return _PAUSE


_NOBODY = Envelope("", ())
"""The envelope of a file inspected on its own (`Inspector.inspect_file`): from nobody to
nobody; frozen, so one serves every file."""

_SHOWN_DEFECTS = 100
"""Defects a verdict carries: a hostile message has thousands, the first ones tell enough."""


def policy_vocabulary(registers: Iterable[str] | None = None) -> Vocabulary:
    """What a policy may name: the registered detectors (plug-ins included) and, when an
    installation is known, its registers; recipient classes, flags and actions are the
    model's enums, which the policy loader knows itself."""
    detector_registry.load_plugins()
    return Vocabulary(
        detectors=frozenset(detector_registry.ids),
        registers=frozenset(registers) if registers is not None else None,
    )


def _with_ocr_confidence(findings: list[Finding], ocr: dict[str, float]) -> list[Finding]:
    """Findings in text that OCR read carry that text's OCR confidence (``check --json``
    shows it), so a reviewer can weigh a number read from a blurred photo."""
    return [replace(f, ocr_confidence=ocr[f.where]) if f.where in ocr else f for f in findings]


class SubjectDirectory(Protocol):
    """Whose email address a register record holds (the registers stage satisfies this), so
    the policy can tell a member's own reply slip from someone else's."""

    def email_registers(self) -> frozenset[str]:
        """Registers that have an email field."""
        ...

    def records_with_email(self, name: str, addresses: Iterable[str]) -> set[int]:
        """Record numbers of register ``name`` whose email is one of ``addresses``."""
        ...


@dataclass(slots=True)
class Report:
    """Everything the engine learnt about one message, for callers that need more than the
    verdict (the gateway stores it with a held message, incident scoping reads its records)."""

    message: Message
    extraction: Extraction
    verdict: Verdict
    record_ids: dict[str, set[int]] = field(default_factory=dict)
    decision: Decision | None = None
    """How every policy rule went (``policy explain`` shows the near misses)."""


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
        partner_domains: tuple[str, ...] = (),
        policy: Policy | None = None,
        history: ContactHistory | None = None,
        exemptions: ExemptionBook | None = None,
        directory: SubjectDirectory | None = None,
        registers: RegisterSet | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.org_domains = tuple(d.lower() for d in org_domains)
        self.detectors = detectors or default_detectors()
        self.recipients = RecipientAnalyzer(
            self.org_domains, partner_domains, history=history, exemptions=exemptions
        )
        self.policy = policy or default_policy()
        """Replaced whole on reload (an assignment, so a running check keeps its policy)."""
        self.directory = directory
        self.registers = registers
        """Registers matched in every message (exact data match); ``None``: no registers."""

    def inspect(
        self, raw: bytes, envelope: Envelope | None = None, *, decide: bool = True
    ) -> Report:
        """Parse, extract and detect, then decide; never raises on bad input.

        ``decide=False`` leaves the policy out: the report has the findings and subjects, its
        verdict no action (``DELIVER``) and no reasons.  The discovery scan sends nothing
        anywhere and only counts findings; the decision cost a tenth of reading a docx."""
        with collector_paused():
            return self._inspect(raw, envelope, decide)

    def inspect_file(self, name: str, data: bytes, *, decide: bool = True) -> Report:
        """One file on its own (a discovery scan, a leaked file): read as the only attachment
        of a message from nobody to nobody, without building and parsing that message;
        ``decide`` as for :meth:`inspect`."""
        with collector_paused():
            started = time.monotonic()
            deadline = started + self.limits.max_seconds
            message = Message(
                envelope=_NOBODY,
                mime=EmailMessage(),
                raw_size=len(data),
                subject=name,
            )
            extraction = extract_file(name, data, self.limits, deadline)
            timings = {"extract": time.monotonic() - started}
            return self._report(message, extraction, started, timings, decide)

    def file_findings(self, name: str, data: bytes) -> tuple[list[Finding], dict[str, int]]:
        """The findings and register subjects of :meth:`inspect_file` without a decision,
        and without the report around them (message, verdict, timings), which a discovery
        scan, counting findings, drops at once (with the scan's collector pause, a 30 KB
        text file's 2.114 M instructions are 2.097 M, callgrind)."""
        with collector_paused():
            deadline = time.monotonic() + self.limits.max_seconds
            extraction = extract_file(name, data, self.limits, deadline)
            findings, matched = self._found(extraction, {})
            return findings, matched.subjects

    def inspect_named(self, name: str, data: bytes) -> Report:
        """A file by its name: an ``.eml`` is the message it holds (its own envelope from
        its headers), anything else (xlsx, csv, docx, pdf, zip ...) a file on its own."""
        return self.inspect(data) if is_message_file(name) else self.inspect_file(name, data)

    def _inspect(self, raw: bytes, envelope: Envelope | None, decide: bool) -> Report:
        started = time.monotonic()
        deadline = started + self.limits.max_seconds
        message = parse_message(raw, envelope, self.limits)
        parsed = time.monotonic()
        extraction = extract(message, self.limits, deadline)
        timings = {"parse": parsed - started, "extract": time.monotonic() - parsed}
        return self._report(message, extraction, started, timings, decide)

    def _report(
        self,
        message: Message,
        extraction: Extraction,
        started: float,
        timings: dict[str, float],
        decide: bool,
    ) -> Report:
        """Detect and match what was extracted, then decide (if ``decide``); ``timings`` gets
        each stage's seconds (the callers time parse and extract)."""
        findings, matched = self._found(extraction, timings)
        verdict = Verdict(
            action=Action.DELIVER,
            findings=findings,
            attachments=list(extraction.attachments),
            subjects=matched.subjects,
            defects=list(dict.fromkeys(extraction.defects))[:_SHOWN_DEFECTS]
            if extraction.defects
            else [],
        )
        report = Report(
            message=message, extraction=extraction, verdict=verdict, record_ids=matched.record_ids
        )
        if decide:
            mark = time.monotonic()
            self._decide(report)
            _lap(timings, "policy", mark)
        verdict.timings = timings
        verdict.elapsed_ms = (time.monotonic() - started) * 1000
        return report

    def _found(
        self, extraction: Extraction, timings: dict[str, float]
    ) -> tuple[list[Finding], RegisterMatch]:
        """Every finding (the extractor's, the detectors', the registers') and the register
        match; ``timings`` gets the seconds of ``detect`` and ``registers``."""
        findings = [*extraction.findings, *extraction.structure]
        mark = time.monotonic()
        findings.extend(self.detectors.scan(extraction.units))
        mark = _lap(timings, "detect", mark)
        registers = self.registers
        matched = (
            registers.match(extraction.units, findings)
            if registers is not None
            else RegisterMatch()
        )
        findings.extend(matched.findings)
        _lap(timings, "registers", mark)
        if extraction.ocr:
            findings = _with_ocr_confidence(findings, extraction.ocr)
        return findings, matched

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict:
        return self.inspect(raw, envelope).verdict

    def facts(self, report: Report) -> MessageFacts:
        """Everything the policy decides on, from what the earlier stages found."""
        message, verdict = report.message, report.verdict
        envelope = message.envelope
        analyzed = self.recipients.analyze(
            envelope.sender,
            envelope.recipients,
            display_names=message.display_names,
            sender_name=message.sender_name,
        )
        directory = self.directory
        with_email = directory.email_registers() if directory is not None else frozenset()
        owners = self._registered_owners(analyzed, with_email)
        recipients = [_with_registration(r, owners.get(r.address, {})) for r in analyzed]
        # A visible address that is also an envelope recipient has its class already.
        classes = {r.address: r.cls for r in analyzed}
        visible = []
        for shown in dict.fromkeys((*message.header_to, *message.header_cc)):
            address = shown.lower()
            cls = classes.get(address)
            if cls is None:
                cls = self.recipients.classify(shown)
            visible.append(RecipientInfo(address=address, cls=cls))
        findings = verdict.findings
        counts, places = _counts_and_places(findings)
        uninspectable = tuple(
            sorted({f"{f.source}: {f.detail}" for f in findings if f.detector == UNINSPECTABLE})
            if UNINSPECTABLE in counts
            else ()
        )
        return MessageFacts(
            sender=envelope.sender.lower(),
            recipients=tuple(recipients),
            visible=tuple(visible),
            subjects=self._subject_counts(report, recipients, owners, with_email),
            findings=counts,
            finding_places=places,
            uninspectable=uninspectable,
            attachments=len(verdict.attachments),
            subject_line=message.subject,
        )

    def _registered_owners(
        self, recipients: Iterable[RecipientInfo], with_email: frozenset[str]
    ) -> dict[str, dict[str, set[int]]]:
        """Outside address → register → the records whose registered email it is (keyed
        hashes looked up in the index, as content emails are; never a clear list);
        ``with_email``: the directory's registers that have an email field."""
        if self.directory is None:
            return {}
        registers = sorted(with_email)
        out: dict[str, dict[str, set[int]]] = {}
        for r in recipients:
            if r.cls is RecipientClass.INTERNAL or r.address in out:
                continue
            out[r.address] = {
                name: records
                for name in registers
                if (records := self.directory.records_with_email(name, [r.address]))
            }
        return out

    def _subject_counts(
        self,
        report: Report,
        recipients: Iterable[RecipientInfo],
        owners_of: dict[str, dict[str, set[int]]],
        with_email: frozenset[str],
    ) -> dict[str, SubjectCount]:
        """Per register: people present, and those who are not the one outside recipient."""
        outside = [r.address for r in recipients if r.cls is not RecipientClass.INTERNAL]
        out: dict[str, SubjectCount] = {}
        names = set(report.verdict.subjects) | set(report.record_ids)
        for register in sorted(names):
            records = report.record_ids.get(register)
            present = len(records) if records is not None else report.verdict.subjects[register]
            if self.directory is None or register not in with_email or records is None:
                out[register] = SubjectCount(present, present, 0)
                continue
            addressed: set[int] = set()
            owners = [owners_of.get(a, {}).get(register, set()) for a in outside]
            # A person's own data to that person alone (a mail-merge) is no leak; as soon as
            # anyone else receives it too, the data goes to someone who is not its subject.
            if outside and all(owners) and len(set().union(*owners)) == 1:
                addressed = set(owners[0])
            others = len(records - addressed) if outside else 0
            out[register] = SubjectCount(present, others, others)
        return out

    def _decide(self, report: Report) -> None:
        """Classify the recipients, then let the policy decide; internal mail is delivered
        with its findings recorded."""
        facts = self.facts(report)
        decision = self.policy.decide(facts)
        report.decision = decision
        verdict = report.verdict
        verdict.recipients = list(facts.recipients)
        verdict.reasons = list(decision.reasons)
        verdict.action = decision.action


_FEW_FINDINGS = 64
"""Up to this many findings, `_counts_and_places` counts them in one Python loop."""


def _counts_and_places(
    findings: list[Finding],
) -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
    """Findings per detector (in order of first finding) and the top-level places of each
    detector's findings, sorted (``where`` up to its "#", as Finding.source has it)."""
    places: dict[str, set[str]] = {}
    if len(findings) <= _FEW_FINDINGS:
        # A short mail's few findings: one loop, where the passes below cost three times as
        # much.
        counts: dict[str, int] = {}
        for finding in findings:
            detector, place = finding.detector, finding.where.split("#", 1)[0]
            if detector in counts:
                counts[detector] += 1
                places[detector].add(place)
            else:
                counts[detector] = 1
                places[detector] = {place}
    else:
        # Counted in C-level passes (a spreadsheet brings a hundred thousand findings), each
        # place worked out once per distinct ``where``.
        detectors = list(map(attrgetter("detector"), findings))
        wheres = list(map(attrgetter("where"), findings))
        counts = dict(Counter(detectors))
        source = {w: w.split("#", 1)[0] for w in set(wheres)}
        places = {d: set() for d in counts}
        for d, place in set(zip(detectors, map(source.__getitem__, wheres), strict=True)):
            places[d].add(place)
    return counts, {d: tuple(sorted(p)) for d, p in places.items()}


def _lap(timings: dict[str, float], stage: str, since: float) -> float:
    """Record the seconds since ``since`` as ``stage``'s and return now."""
    now = time.monotonic()
    timings[stage] = now - since
    return now


def _with_registration(info: RecipientInfo, owned: dict[str, set[int]]) -> RecipientInfo:
    """``info`` with the ``registered-correspondent`` flag when its address is the registered
    email of a record (design.md, default policy rule 1): the office writing to a member at
    the address the member gave.  Not for an address that resembles the sender's own name:
    a member who is also staff forwarding office mail home is no correspondence."""
    if not owned or RecipientFlag.SELF_FORWARD in info.flags:
        return info
    where = ", ".join(
        f"{len(records)} record(s) of {name}" for name, records in sorted(owned.items())
    )
    flag = RecipientFlag.REGISTERED_CORRESPONDENT
    return dataclasses.replace(
        info,
        flags=(*info.flags, flag),
        detail=(*info.detail, f"{flag}: the registered email of {where}"),
    )
