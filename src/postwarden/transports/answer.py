"""The check API's answer as a token's scope lets its caller see it.

With ``check:detail`` it is the whole ``check --json`` object. With ``check`` it must not tell
whether a person is in a register (the API would be a register oracle): the answer keeps the
action, the sender-facing messages, the recipients' classes and flags and the attachments, and
has ``subjects`` ``{}`` and ``findings`` ``[]`` (the keys stay, so clients keep one shape).
Reasons of rules that look at register subjects are left out and their evidence too (it holds
counts); when such a rule alone decided the action, one generic reason stands for it.
"""

from __future__ import annotations

from typing import Any

from postwarden.engine.policy import Policy
from postwarden.engine.policy.schema import RuleSpec
from postwarden.model import Action, Verdict
from postwarden.store.tokens import TokenScope

__all__ = ["GENERIC_RULE", "register_rules", "scoped_answer"]

GENERIC_RULE = "personal-data"
"""The rule id of the reason that stands in for register rules under the ``check`` scope."""

_GENERIC_MESSAGE = {
    Action.WARN: (
        "This message carries personal data and is going outside the organisation. "
        "Confirm that it may go."
    ),
    Action.HOLD: (
        "This message carries personal data and is going outside the organisation. "
        "A second person must approve it."
    ),
    Action.REJECT: (
        "This message carries personal data and is going outside the organisation. "
        "It has been refused."
    ),
}


def register_rules(policy: Policy) -> frozenset[str]:
    """Ids of the rules whose conditions (or escalation steps) count register subjects."""
    return frozenset(r.id for r in policy.spec.rules if _uses_subjects(r))


def _uses_subjects(rule: RuleSpec) -> bool:
    return rule.when.subjects is not None or any(s.when.subjects is not None for s in rule.escalate)


def scoped_answer(
    verdict: Verdict, scope: TokenScope, hidden_rules: frozenset[str]
) -> dict[str, Any]:
    """``verdict.to_json()`` cut down to what ``scope`` may see, with ``scope`` added."""
    full = verdict.to_json()
    if scope is TokenScope.CHECK_DETAIL:
        return {**full, "scope": scope.value}
    shown = [r for r in verdict.reasons if r.rule not in hidden_rules]
    reasons: list[dict[str, Any]] = [
        {"rule": r.rule, "message": r.message, "action": r.action.label} for r in shown
    ]
    strongest = max((r.action for r in shown), default=Action.DELIVER)
    if verdict.action > strongest and verdict.action in _GENERIC_MESSAGE:
        reasons.append(
            {
                "rule": GENERIC_RULE,
                "message": _GENERIC_MESSAGE[verdict.action],
                "action": verdict.action.label,
            }
        )
    recipients = [
        {"address": r.address, "class": r.cls.value, "flags": list(r.flags)}
        for r in verdict.recipients
    ]
    return {
        **full,
        "reasons": reasons,
        "subjects": {},
        "findings": [],
        "recipients": recipients,
        "scope": scope.value,
    }
