"""Conditions evaluated over the facts: each answers yes or no, with the evidence."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from postwarden.engine.policy.facts import MessageFacts
from postwarden.engine.policy.schema import Count, Findings, RecipientSelector, Subjects, When
from postwarden.model import RecipientFlag, RecipientInfo

_EXEMPT = RecipientFlag.EXEMPT
_MAX_LISTED = 10


@dataclass(frozen=True, slots=True)
class Check:
    """One condition's answer: its name, whether it held, and what it saw."""

    condition: str
    held: bool
    evidence: str


_Answer = tuple[str, bool, Callable[[], str]]
"""A condition's name, whether it held, and how to write what it saw (only when shown)."""


def evaluate(when: When, facts: MessageFacts, groups: Mapping[str, list[str]]) -> list[Check]:
    """Every condition of ``when`` against ``facts``, in a fixed order."""
    return [Check(name, held, evidence()) for name, held, evidence in _answers(when, facts, groups)]


def holds(when: When, facts: MessageFacts, groups: Mapping[str, list[str]]) -> bool:
    """Whether every condition of ``when`` holds, answered up to the first that does not and
    without writing any evidence (a rule that does not fire gives no reason)."""
    return all(held for _, held, _ in _answers(when, facts, groups))


def _answers(when: When, facts: MessageFacts, groups: Mapping[str, list[str]]) -> Iterator[_Answer]:
    """Each condition's answer, worked out only when the caller asks for the next one."""
    if when.recipients is not None:
        yield _recipients("recipients", when.recipients, facts.recipients)
    if when.visible_recipients is not None:
        yield _recipients("visible_recipients", when.visible_recipients, facts.visible)
    if when.subjects is not None:
        yield _subjects(when.subjects, facts)
    if when.findings is not None:
        yield _findings(when.findings, facts)
    if when.uninspectable is not None:
        found = facts.uninspectable
        yield (
            "uninspectable",
            bool(found) == when.uninspectable,
            lambda: _listed(list(found)) if found else "all content was inspected",
        )
    if when.recipient_count is not None:
        n = len(facts.recipients)
        yield _count("recipient_count", when.recipient_count, n, lambda: f"{n} recipient(s)")
    if when.attachments is not None:
        attached = facts.attachments
        yield _count("attachments", when.attachments, attached, lambda: f"{attached} attachment(s)")
    if when.sender_groups is not None:
        yield _sender_groups("sender_groups", when.sender_groups, facts, groups, inside=True)
    if when.not_sender_groups is not None:
        listed = when.not_sender_groups
        yield _sender_groups("not_sender_groups", listed, facts, groups, inside=False)
    if when.subject_markers is not None:
        subject = facts.subject_line.casefold()
        marker = next((m for m in when.subject_markers if m.casefold() in subject), None)
        yield (
            "subject_markers",
            marker is not None,
            lambda: f"subject marked {marker!r}" if marker else "no marker in the subject",
        )


def _count(name: str, spec: Count, n: int, evidence: Callable[[], str]) -> _Answer:
    return name, spec.holds(n), lambda: f"{evidence()} (needs {spec.describe()})"


def _recipients(name: str, spec: RecipientSelector, people: tuple[RecipientInfo, ...]) -> _Answer:
    matched = [r for r in people if _selects(spec, r)]

    def evidence() -> str:
        shown = [_show(r) for r in matched]
        return f"{len(matched)} matching: {_listed(shown)}" if matched else "none matching"

    return _count(name, spec, len(matched), evidence)


def _findings(spec: Findings, facts: MessageFacts) -> _Answer:
    n = sum(facts.findings.get(d, 0) for d in spec.detector)

    def evidence() -> str:
        places = sorted({p for d in spec.detector for p in facts.finding_places.get(d, ())})
        where = f" in {_listed(places)}" if places else ""
        return f"{n} {'/'.join(spec.detector)} finding(s){where}"

    return _count("findings", spec, n, evidence)


def _selects(spec: RecipientSelector, r: RecipientInfo) -> bool:
    if spec.classes is not None and r.cls not in spec.classes:
        return False
    if spec.flags is not None and not any(f in r.flags for f in spec.flags):
        return False
    if spec.not_flags is not None and any(f in r.flags for f in spec.not_flags):
        return False
    return spec.exempt is None or (_EXEMPT in r.flags) == spec.exempt


def _show(r: RecipientInfo) -> str:
    flags = f", {', '.join(r.flags)}" if r.flags else ""
    return f"{r.address} ({r.cls.value}{flags})"


def _subjects(spec: Subjects, facts: MessageFacts) -> _Answer:
    total = 0
    parts = []
    for register, count in sorted(facts.subjects.items()):
        if spec.register_name is not None and register != spec.register_name:
            continue
        if spec.with_email:
            n = count.known_not_recipients
        elif spec.except_recipients:
            n = count.not_recipients
        else:
            n = count.present
        total += n
        if n:
            parts.append(f"{register}: {n}")
    what = (
        "registered people who are not the recipient"
        if (spec.with_email or spec.except_recipients)
        else "registered people"
    )
    return _count(
        "subjects",
        spec,
        total,
        lambda: f"{total} {what}" + (f" ({', '.join(parts)})" if parts else ""),
    )


def _sender_groups(
    name: str,
    listed: list[str],
    facts: MessageFacts,
    groups: Mapping[str, list[str]],
    *,
    inside: bool,
) -> _Answer:
    """Holds when the sender is in one of the ``listed`` groups (``inside``) or in none."""
    sender = facts.sender
    hit = sorted(_groups_of(sender, groups) & set(listed))
    return (
        name,
        bool(hit) == inside,
        lambda: f"sender {sender} in {', '.join(hit) or 'none of them'}",
    )


def _groups_of(sender: str, groups: Mapping[str, list[str]]) -> set[str]:
    address = sender.lower()
    return {
        name
        for name, patterns in groups.items()
        if any(fnmatchcase(address, p.lower()) for p in patterns)
    }


def _listed(items: list[str]) -> str:
    if len(items) <= _MAX_LISTED:
        return "; ".join(items)
    return "; ".join(items[:_MAX_LISTED]) + f"; and {len(items) - _MAX_LISTED} more"
