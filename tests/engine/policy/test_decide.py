from __future__ import annotations

from postwarden.engine.policy import MessageFacts, SubjectCount, load_policy
from postwarden.model import Action, RecipientClass, RecipientInfo

POLICY = """\
version: 1
groups:
  hr: ["*@hr.reo.gov.hk", "boss@reo.gov.hk"]
rules:
  - id: register-out
    action: hold
    message: register data out
    when:
      subjects: {min: 1, except_recipients: true}
      recipients: {class: [external, webmail]}
    escalate:
      - when: {subjects: {min: 101, except_recipients: true}}
        action: reject
        message: bulk register data out
  - id: hr-attachments
    action: warn
    message: hr sends attachments
    when:
      sender_groups: [hr]
      attachments: {min: 2, max: 5}
  - id: many-rcpts
    action: warn
    message: many
    when:
      recipient_count: {min: 3}
      not_sender_groups: [hr]
"""


def _facts(**kw: object) -> MessageFacts:
    base: dict[str, object] = {
        "sender": "clerk@reo.gov.hk",
        "recipients": (RecipientInfo("x@lawfirm.com", RecipientClass.EXTERNAL),),
    }
    base.update(kw)
    return MessageFacts(**base)  # type: ignore[arg-type]


def test_decide_strongest_action_wins_and_every_fired_rule_is_a_reason() -> None:
    policy = load_policy(POLICY)
    facts = _facts(
        sender="boss@reo.gov.hk", attachments=3, subjects={"members": SubjectCount(5, 5, 5)}
    )
    decision = policy.decide(facts)
    assert decision.action is Action.HOLD
    assert [r.rule for r in decision.reasons] == ["register-out", "hr-attachments"]
    assert (
        decision.reasons[0].evidence[1] == "5 registered people who are not the recipient "
        "(members: 5) (needs >= 1)"
    )


def test_decide_escalates_above_the_count() -> None:
    policy = load_policy(POLICY)
    at_limit = policy.decide(_facts(subjects={"voters": SubjectCount(100, 100, 0)}))
    above = policy.decide(_facts(subjects={"voters": SubjectCount(15070, 15070, 0)}))
    assert at_limit.action is Action.HOLD
    assert above.action is Action.REJECT
    assert above.reasons[0].message == "bulk register data out"


def test_decide_own_data_to_its_subject_is_not_counted() -> None:
    policy = load_policy(POLICY)
    decision = policy.decide(_facts(subjects={"members": SubjectCount(1, 0, 0)}))
    assert decision.action is Action.DELIVER


def test_decide_sender_groups_match_patterns() -> None:
    policy = load_policy(POLICY)
    assert policy.decide(_facts(sender="amy@hr.reo.gov.hk", attachments=2)).action is Action.WARN
    assert policy.decide(_facts(sender="amy@it.reo.gov.hk", attachments=2)).action is Action.DELIVER
    assert policy.decide(_facts(sender="amy@hr.reo.gov.hk", attachments=6)).action is Action.DELIVER


def test_decide_reports_near_misses() -> None:
    policy = load_policy(POLICY)
    three = tuple(RecipientInfo(f"r{i}@x.com", RecipientClass.EXTERNAL) for i in range(3))
    decision = policy.decide(_facts(sender="boss@reo.gov.hk", recipients=three))
    near = {o.rule: o for o in decision.outcomes if o.near_miss}
    assert set(near) == {"register-out", "hr-attachments", "many-rcpts"}
    assert near["many-rcpts"].missing[0].condition == "not_sender_groups"


def test_decide_fires_the_rules_a_full_evaluation_fires_with_the_same_evidence() -> None:
    """A verdict's rules are found without writing the evidence of those that do not fire;
    ``outcomes`` answers every condition, and agrees on every rule."""
    policy = load_policy(POLICY)
    three = tuple(RecipientInfo(f"r{i}@x.com", RecipientClass.EXTERNAL) for i in range(3))
    cases = [
        _facts(),
        _facts(sender="boss@reo.gov.hk", attachments=3, subjects={"m": SubjectCount(5, 5, 5)}),
        _facts(recipients=three, subjects={"voters": SubjectCount(15070, 15070, 0)}),
        _facts(sender="amy@hr.reo.gov.hk", attachments=2, recipients=three),
    ]
    for facts in cases:
        decision = policy.decide(facts)
        fired = [o for o in decision.outcomes if o.fired]
        assert [o.reason() for o in fired] == list(decision.reasons)
        assert max((o.action for o in fired), default=Action.DELIVER) is decision.action
        assert all(c.evidence for o in decision.outcomes for c in o.checks)
