"""Policy: YAML rules over the facts of a message → the verdict and its reasons."""

from __future__ import annotations

from postwarden.engine.policy.decide import (
    Decision,
    Policy,
    RuleOutcome,
    default_policy,
    default_policy_text,
    load_policy,
)
from postwarden.engine.policy.facts import MessageFacts, SubjectCount
from postwarden.engine.policy.rules import Check
from postwarden.engine.policy.schema import ACTIONS, CLASSES, FLAGS, PolicyError, Vocabulary

__all__ = [
    "ACTIONS",
    "CLASSES",
    "FLAGS",
    "Check",
    "Decision",
    "MessageFacts",
    "Policy",
    "PolicyError",
    "RuleOutcome",
    "SubjectCount",
    "Vocabulary",
    "default_policy",
    "default_policy_text",
    "load_policy",
]
