"""Masked excerpts: personal data shown only as much as a reviewer needs to judge a hold."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from postwarden.model import Finding, TextUnit

_HKID = re.compile(r"^\s*([A-Za-z]{1,2})\s*(\d{6})\s*\(?\s*([0-9Aa])\s*\)?\s*$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
EXCERPT_CONTEXT = 40
"""Characters of context on each side of a finding: enough to see a table row or a sentence."""


def mask(value: str, detector: str = "") -> str:
    """``A123456(7)`` → ``A123***(7)``, ``CHAN Tai Man`` → ``CHAN T** M**``, ``陳大文`` → ``陳**``.

    Enough is left to tell two people or two documents apart, not to use the value.
    """
    value = value.strip()
    if not value:
        return value
    hkid = _HKID.match(value)
    if hkid:
        letters, digits, check = hkid.groups()
        return f"{letters.upper()}{digits[:3]}***({check.upper()})"
    if "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if detector.startswith("name") or detector.startswith("address") or _CJK.search(value):
        return _mask_words(value)
    digits = sum(ch.isdigit() for ch in value)
    if digits >= len(value.replace(" ", "").replace("-", "").replace("+", "")) - 1:
        return _mask_digits(value)
    return f"{value[:2]}{'*' * 3}({len(value)})"


def _mask_words(value: str) -> str:
    """Keep the first word (a surname, a flat number) and the first letter of every other."""
    if _CJK.search(value) and " " not in value.strip():
        return value[:1] + "*" * (len(value) - 1)
    words = value.split()
    return " ".join([words[0], *(_initial(w) for w in words[1:])])


def _initial(word: str) -> str:
    """``Tai`` → ``T**``, ``12,`` → ``1*,``: at most two stars, so the length tells nothing."""
    body = word.rstrip(",.;:")
    hidden = sum(ch.isalnum() for ch in body[1:])
    return body[:1] + "*" * min(hidden, 2) + word[len(body) :]


def _mask_digits(value: str) -> str:
    """Keep the first four digits (the operator or area), mask the rest, keep the layout."""
    seen = 0
    out = []
    for ch in value:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= 4 else "*")
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of an excerpt: plain text, or a finding (``detector`` set) shown masked or clear."""

    text: str
    detector: str = ""


@dataclass(frozen=True, slots=True)
class Excerpt:
    """One finding in its context, ready for a template (which escapes every segment)."""

    detector: str
    where: str
    segments: tuple[Segment, ...]
    detail: str = ""


def excerpts(
    findings: Iterable[Finding], units: Sequence[TextUnit], *, reveal: bool = False
) -> list[Excerpt]:
    """Findings in their context, every value masked unless ``reveal``; findings close
    together in one text unit share one excerpt (a table row is quoted once, not per cell)."""
    by_where: dict[str, list[TextUnit]] = {}
    for unit in units:
        by_where.setdefault(unit.where, []).append(unit)
    groups: dict[int, tuple[TextUnit, list[Finding]]] = {}
    order: list[int | Finding] = []
    for f in findings:
        found = _unit_for(f, by_where.get(f.where, ()))
        if found is None:
            order.append(f)
            continue
        key = id(found)
        if key not in groups:
            groups[key] = (found, [])
            order.append(key)
        groups[key][1].append(f)
    out: list[Excerpt] = []
    for entry in order:
        if isinstance(entry, Finding):
            # No text to quote (uninspectable parts, header findings): show the value alone.
            text = entry.value if reveal else mask(entry.value, entry.detector)
            segs = (Segment(text, entry.detector),) if text else ()
            out.append(Excerpt(entry.detector, entry.where, segs, entry.detail))
            continue
        unit, found_here = groups[entry]
        out.extend(_windows(unit, found_here, reveal))
    return out


def _windows(unit: TextUnit, findings: list[Finding], reveal: bool) -> list[Excerpt]:
    """One excerpt per run of findings whose context windows overlap."""
    out: list[Excerpt] = []
    ordered = sorted(findings, key=lambda f: f.start)
    run: list[Finding] = []
    lo = hi = 0
    for f in [*ordered, None]:
        if f is not None and run and f.start - EXCERPT_CONTEXT <= hi:
            run.append(f)
            hi = max(hi, min(len(unit.text), f.end + EXCERPT_CONTEXT))
            continue
        if run:
            detectors = ", ".join(dict.fromkeys(x.detector for x in run))
            details = "; ".join(dict.fromkeys(x.detail for x in run if x.detail))
            segments = _segments(unit.text, lo, hi, run, reveal)
            out.append(Excerpt(detectors, unit.where, segments, details))
        if f is not None:
            run = [f]
            lo = max(0, f.start - EXCERPT_CONTEXT)
            hi = min(len(unit.text), f.end + EXCERPT_CONTEXT)
    return out


def _unit_for(finding: Finding, units: Sequence[TextUnit]) -> TextUnit | None:
    for unit in units:
        if (
            finding.end <= len(unit.text)
            and unit.text[finding.start : finding.end] == finding.value
        ):
            return unit
    return None


def _segments(
    text: str, lo: int, hi: int, findings: Sequence[Finding], reveal: bool
) -> tuple[Segment, ...]:
    inside = sorted(
        (f for f in findings if f.start < hi and f.end > lo and f.end > f.start),
        key=lambda f: (f.start, -f.end),
    )
    segs: list[Segment] = []
    pos = lo
    if lo > 0:
        segs.append(Segment("…"))
    for f in inside:
        if f.start < pos:
            continue  # overlapping finding: the longer one already covers it
        start, end = max(f.start, lo), min(f.end, hi)
        if start > pos:
            segs.append(Segment(_mask_context(text[pos:start], reveal)))
        value = text[start:end]
        segs.append(Segment(value if reveal else mask(value, f.detector), f.detector))
        pos = end
    if pos < hi:
        segs.append(Segment(_mask_context(text[pos:hi], reveal)))
    if hi < len(text):
        segs.append(Segment("…"))
    return tuple(segs)


_LONG_DIGITS = re.compile(r"\d{5,}")


def _mask_context(text: str, reveal: bool) -> str:
    """Context around a finding may hold data no detector named (an account number cut by
    the window): long digit runs are masked there too."""
    if reveal:
        return text
    return _LONG_DIGITS.sub(lambda m: m.group(0)[:2] + "*" * (len(m.group(0)) - 2), text)
