"""A loaded policy: rules over the facts → the strongest action and a reason per fired rule."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from postwarden.engine.policy.facts import MessageFacts
from postwarden.engine.policy.rules import Check, Condition, all_of, conditions, evaluate
from postwarden.engine.policy.schema import PolicySpec, RuleSpec, Vocabulary, parse_policy
from postwarden.model import Action, Reason


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """How one rule went: fired or not, with the answer of each condition."""

    rule: str
    fired: bool
    action: Action
    message: str
    checks: tuple[Check, ...]

    @property
    def missing(self) -> tuple[Check, ...]:
        """The conditions that did not hold."""
        return tuple(c for c in self.checks if not c.held)

    @property
    def near_miss(self) -> bool:
        """Not fired, but only one condition of several was missing."""
        return not self.fired and len(self.checks) > 1 and len(self.missing) == 1

    def reason(self) -> Reason:
        return Reason(
            rule=self.rule,
            message=self.message,
            action=self.action,
            evidence=tuple(c.evidence for c in self.checks),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reasons: tuple[Reason, ...]
    policy: Policy
    facts: MessageFacts

    @property
    def outcomes(self) -> tuple[RuleOutcome, ...]:
        """How every rule went, each condition answered (``policy explain``); worked out
        when asked, since a verdict needs only the rules that fired."""
        return self.policy.outcomes(self.facts)


class Policy:
    """Validated rules, ready to decide; immutable, so a reload swaps the whole object."""

    def __init__(self, spec: PolicySpec, source: str, text: str) -> None:
        self.spec = spec
        self.source = source
        self.text = text
        self._rules = tuple(r for r in spec.rules if r.enabled)
        self._fires: tuple[tuple[RuleSpec, Condition], ...] = tuple(
            (r, all_of(conditions(r.when))) for r in self._rules
        )

    @property
    def rules(self) -> tuple[RuleSpec, ...]:
        return self._rules

    def decide(self, facts: MessageFacts) -> Decision:
        """Every rule against ``facts``; the verdict is the strongest action of those fired.

        A rule's conditions are tested first without evidence (:func:`conditions`): most
        rules do not fire, and a rule that does is then evaluated in full for its reason."""
        groups = self.spec.groups
        fired = [
            self._outcome(rule, evaluate(rule.when, facts, groups), facts)
            for rule, fires in self._fires
            if fires(facts, groups)
        ]
        action = max((o.action for o in fired), default=Action.DELIVER)
        reasons = tuple(o.reason() for o in fired)
        return Decision(action=action, reasons=reasons, policy=self, facts=facts)

    def outcomes(self, facts: MessageFacts) -> tuple[RuleOutcome, ...]:
        """Every rule against ``facts``, every condition answered."""
        groups = self.spec.groups
        return tuple(
            self._outcome(rule, evaluate(rule.when, facts, groups), facts) for rule in self._rules
        )

    def _outcome(self, rule: RuleSpec, checks: list[Check], facts: MessageFacts) -> RuleOutcome:
        fired = all(c.held for c in checks)
        action = Action.parse(rule.action)
        message = rule.message
        if fired:
            for step in rule.escalate:
                extra = evaluate(step.when, facts, self.spec.groups)
                if all(c.held for c in extra) and Action.parse(step.action) > action:
                    action = Action.parse(step.action)
                    message = step.message or message
                    checks = checks + extra
        return RuleOutcome(
            rule=rule.id, fired=fired, action=action, message=message.strip(), checks=tuple(checks)
        )


def load_policy(
    text: str, source: str = "policy.yaml", vocabulary: Vocabulary | None = None
) -> Policy:
    """A policy from YAML text; raises ``PolicyError`` with line-numbered problems.

    ``vocabulary`` (from ``engine.policy_vocabulary``) makes unknown detector and register
    names errors too; without it only what the schema itself knows is checked."""
    return Policy(parse_policy(text, source, vocabulary), source, text)


def default_policy_text() -> str:
    """The shipped ``default.yaml``."""
    return resources.files(__package__).joinpath("default.yaml").read_text(encoding="utf-8")


@cache
def default_policy() -> Policy:
    """The shipped policy, parsed once per process: a `Policy` is immutable, and parsing its
    YAML cost 23 ms of the 25 ms that building an `Inspector` took, paid again by every scan
    run (3 % of scanning the bench's 750 office files on one worker) and by each worker."""
    return load_policy(default_policy_text(), "default.yaml")
