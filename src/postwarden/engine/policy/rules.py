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


Condition = Callable[[MessageFacts, Mapping[str, list[str]]], bool]
"""Whether one condition holds for the facts, the sender groups given."""


def conditions(when: When) -> tuple[Condition, ...]:
    """A test of each condition of ``when``, each answering as its :func:`evaluate` check does
    but without writing any evidence (a rule that does not fire gives no reason);
    cheapest and likeliest to fail first (finding counts before recipient selectors), so a
    rule that cannot fire on a message is known to after one look at a dictionary.  A
    loaded policy makes these once per rule (``Policy``), not once per message."""
    found: list[tuple[int, Condition]] = []
    if when.findings is not None:
        found.append((0, _findings_test(when.findings)))
    if when.uninspectable is not None:
        wanted = when.uninspectable
        found.append((0, lambda f, g: bool(f.uninspectable) == wanted))
    if when.subjects is not None:
        subjects = when.subjects
        found.append((1, lambda f, g: subjects.holds(_subject_sum(subjects, f))))
    if when.attachments is not None:
        attachments = when.attachments
        found.append((1, lambda f, g: attachments.holds(f.attachments)))
    if when.recipient_count is not None:
        count = when.recipient_count
        found.append((1, lambda f, g: count.holds(len(f.recipients))))
    if when.subject_markers is not None:
        markers = when.subject_markers
        found.append((2, lambda f, g: _marker(markers, f.subject_line) is not None))
    if when.sender_groups is not None:
        inside = when.sender_groups
        found.append((2, lambda f, g: bool(_groups_in(f.sender, g, inside))))
    if when.not_sender_groups is not None:
        outside = when.not_sender_groups
        found.append((2, lambda f, g: not _groups_in(f.sender, g, outside)))
    if when.recipients is not None:
        chosen = _selection(when.recipients)
        found.append((3, lambda f, g: chosen(f.recipients)))
    if when.visible_recipients is not None:
        shown = _selection(when.visible_recipients)
        found.append((3, lambda f, g: shown(f.visible)))
    found.sort(key=lambda cost_condition: cost_condition[0])
    return tuple(test for _, test in found)


def all_of(tests: tuple[Condition, ...]) -> Condition:
    """One test that holds when every one of ``tests`` does, asking them in order up to the
    first that does not (a chain of ``and``: no generator per rule and message)."""
    if not tests:  # ``when: {findings: null}``: no condition, as ``all(())`` holds
        return lambda f, g: True
    if len(tests) == 1:
        return tests[0]
    first, rest = tests[0], all_of(tests[1:])
    return lambda f, g: first(f, g) and rest(f, g)


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
        marker = _marker(when.subject_markers, facts.subject_line)
        yield (
            "subject_markers",
            marker is not None,
            lambda: f"subject marked {marker!r}" if marker else "no marker in the subject",
        )


def _count(name: str, spec: Count, n: int, evidence: Callable[[], str]) -> _Answer:
    return name, spec.holds(n), lambda: f"{evidence()} (needs {spec.describe()})"


def _marker(markers: list[str], subject_line: str) -> str | None:
    """The first of ``markers`` in the subject line (case-insensitive)."""
    subject = subject_line.casefold()
    return next((m for m in markers if m.casefold() in subject), None)


def _matching(spec: RecipientSelector, people: tuple[RecipientInfo, ...]) -> list[RecipientInfo]:
    return [r for r in people if _selects(spec, r)]


def _selection(spec: RecipientSelector) -> Callable[[tuple[RecipientInfo, ...]], bool]:
    """``spec.holds(len(_matching(spec, people)))`` as a test of ``people``, the selector's
    fields read once per policy rather than once per recipient and rule."""
    classes, flags, not_flags, exempt = spec.classes, spec.flags, spec.not_flags, spec.exempt
    low, high = spec.min, spec.max

    def holds(people: tuple[RecipientInfo, ...]) -> bool:
        n = 0
        for r in people:
            if classes is not None and r.cls not in classes:
                continue
            if flags is not None and not any(f in r.flags for f in flags):
                continue
            if not_flags is not None and any(f in r.flags for f in not_flags):
                continue
            if exempt is None or (_EXEMPT in r.flags) == exempt:
                n += 1
        return n >= low and (high is None or n <= high)

    return holds


def _recipients(name: str, spec: RecipientSelector, people: tuple[RecipientInfo, ...]) -> _Answer:
    matched = _matching(spec, people)

    def evidence() -> str:
        shown = [_show(r) for r in matched]
        return f"{len(matched)} matching: {_listed(shown)}" if matched else "none matching"

    return _count(name, spec, len(matched), evidence)


def _finding_count(spec: Findings, facts: MessageFacts) -> int:
    return sum(facts.findings.get(d, 0) for d in spec.detector)


def _findings_test(spec: Findings) -> Condition:
    """``spec.holds(_finding_count(spec, facts))`` as a test of the facts; one detector's
    count (most rules name one) read without summing over a generator."""
    if len(spec.detector) != 1:
        return lambda f, g: spec.holds(_finding_count(spec, f))
    detector = spec.detector[0]
    return lambda f, g: spec.holds(f.findings.get(detector, 0))


def _findings(spec: Findings, facts: MessageFacts) -> _Answer:
    n = _finding_count(spec, facts)

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
    total, parts = _subject_total(spec, facts)
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


def _subject_total(spec: Subjects, facts: MessageFacts) -> tuple[int, list[str]]:
    """The people ``spec`` counts, summed over its registers, and ``register: n`` of each."""
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
    return total, parts


def _subject_sum(spec: Subjects, facts: MessageFacts) -> int:
    """``_subject_total(spec, facts)[0]``, without sorting the registers and writing the
    parts only the evidence shows (a rule's condition is tested on every message)."""
    name = spec.register_name
    total = 0
    for register, count in facts.subjects.items():
        if name is None or register == name:
            if spec.with_email:
                total += count.known_not_recipients
            elif spec.except_recipients:
                total += count.not_recipients
            else:
                total += count.present
    return total


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
    hit = _groups_in(sender, groups, listed)
    return (
        name,
        bool(hit) == inside,
        lambda: f"sender {sender} in {', '.join(hit) or 'none of them'}",
    )


def _groups_in(sender: str, groups: Mapping[str, list[str]], listed: list[str]) -> list[str]:
    """The ``listed`` groups the sender belongs to, sorted."""
    return sorted(_groups_of(sender, groups) & set(listed))


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
