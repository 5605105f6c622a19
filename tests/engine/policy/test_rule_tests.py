"""A rule's tests (``rules.conditions``: cheapest condition first, no evidence written) answer as
its full evaluation does, on many generated messages' facts."""

from __future__ import annotations

import random

from postwarden.engine.policy import MessageFacts, SubjectCount, default_policy, load_policy
from postwarden.engine.policy.rules import all_of, conditions, evaluate
from postwarden.model import RecipientClass, RecipientFlag, RecipientInfo

CONDITIONS = """\
version: 1
groups:
  hr: ["*@hr.reo.gov.hk", "boss@reo.gov.hk"]
  it: ["it*@reo.gov.hk"]
rules:
  - {id: r1, action: hold, message: m, when: {subjects: {min: 1, max: 3, register: voters}}}
  - {id: r2, action: hold, message: m, when: {subjects: {min: 2, with_email: true}}}
  - {id: r3, action: warn, message: m, when: {findings: {detector: [hkid, phone], min: 2}}}
  - {id: r4, action: warn, message: m, when: {uninspectable: false, attachments: {max: 1}}}
  - {id: r5, action: warn, message: m, when: {recipient_count: {min: 2, max: 3}}}
  - {id: r6, action: warn, message: m, when: {sender_groups: [hr], not_sender_groups: [it]}}
  - {id: r7, action: warn, message: m, when: {not_sender_groups: [hr, it]}}
  - {id: r8, action: warn, message: m, when: {subject_markers: ["[test]", "測試"]}}
  - id: r9
    action: reject
    message: m
    when:
      recipients: {class: [external, webmail], flags: [first-time, lookalike], min: 2}
      visible_recipients: {class: [partner], not_flags: [exempt], max: 1}
  - {id: r11, action: warn, message: m, when: {findings: null}}
  - id: r10
    action: hold
    message: m
    when:
      recipients: {exempt: true}
      findings: {detector: mime-defect}
      uninspectable: true
"""
_SENDERS = ("clerk@reo.gov.hk", "a@hr.reo.gov.hk", "boss@reo.gov.hk", "it1@reo.gov.hk")
_FLAGS = tuple(RecipientFlag)
_SUBJECTS = ("Venue", "[TEST] venue", "測試 list", "")


def _people(rng: random.Random) -> tuple[RecipientInfo, ...]:
    return tuple(
        RecipientInfo(
            address=f"p{i}@x{rng.randrange(3)}.example",
            cls=rng.choice(tuple(RecipientClass)),
            flags=tuple(rng.sample(_FLAGS, rng.randrange(3))),
        )
        for i in range(rng.randrange(5))
    )


def _facts(rng: random.Random) -> MessageFacts:
    registers = rng.sample(["voters", "staff", "members"], rng.randrange(4))
    detectors = rng.sample(["hkid", "phone", "mime-defect", "uninspectable"], rng.randrange(5))
    return MessageFacts(
        sender=rng.choice(_SENDERS),
        recipients=_people(rng),
        visible=_people(rng),
        subjects={
            r: SubjectCount(rng.randrange(4), rng.randrange(3), rng.randrange(2)) for r in registers
        },
        findings={d: rng.randrange(4) for d in detectors},
        uninspectable=("body: damaged",) if rng.random() < 0.3 else (),
        attachments=rng.randrange(3),
        subject_line=rng.choice(_SUBJECTS),
    )


def test_rule_tests_answer_as_the_full_evaluation() -> None:
    rng = random.Random(14)
    policies = [default_policy(), load_policy(CONDITIONS)]
    fired = held = 0
    for _ in range(3000):
        facts = _facts(rng)
        for policy in policies:
            groups = policy.spec.groups
            for rule in policy.rules:
                whens = [rule.when, *(step.when for step in rule.escalate)]
                for when in whens:
                    expected = all(c.held for c in evaluate(when, facts, groups))
                    answer = all(t(facts, groups) for t in conditions(when))
                    assert answer == expected, (rule.id, facts)
                    assert all_of(conditions(when))(facts, groups) == expected, (rule.id, facts)
                    held += expected
            decision = policy.decide(facts)
            outcomes = [o for o in policy.outcomes(facts) if o.fired]
            assert decision.reasons == tuple(o.reason() for o in outcomes)
            fired += len(outcomes)
    assert fired > 1000
    assert held > 1000
