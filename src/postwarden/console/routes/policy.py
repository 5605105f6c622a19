"""The policy in force, rule by rule, with how often each rule fired."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from postwarden.console.deps import console_state, require
from postwarden.console.roles import Permission
from postwarden.console.state import ConsoleState, Member
from postwarden.console.stats import verdict_stats
from postwarden.engine.policy import Policy
from postwarden.i18n import _
from postwarden.inspector import load_policy_for

router = APIRouter()


def policy_in_force(ctx: ConsoleState) -> tuple[Policy, tuple[str, ...]]:
    """The policy this process decides with, and the problems of the policy file on disk
    (a file that does not validate leaves the last good policy in force)."""
    loaded = load_policy_for(ctx.settings)
    running = getattr(ctx.gateway.inspector, "policy", None)
    return (running if isinstance(running, Policy) else loaded.policy), loaded.errors


@router.get("/policy", name="policy")
def policy_page(
    request: Request, member: Annotated[Member, Depends(require(Permission.VIEW))]
) -> Response:
    state = console_state(request)
    policy, errors = policy_in_force(state)
    with state.db() as db:
        month = verdict_stats(db, days=30)
    rules: list[dict[str, Any]] = [
        {
            "id": rule.id,
            "description": rule.description,
            "action": rule.action,
            "message": rule.message.strip(),
            "enabled": rule.enabled,
            "when": rule.when.model_dump(mode="json", exclude_none=True),
            "escalate": [
                {"action": e.action, "when": e.when.model_dump(mode="json", exclude_none=True)}
                for e in rule.escalate
            ],
            "fired": month.by_rule.get(rule.id, 0),
            "fired_actions": dict(month.rule_actions.get(rule.id, {})),
        }
        for rule in policy.spec.rules
    ]
    return state.render(
        request,
        "policy.html",
        title=_("Policy"),
        nav="policy",
        policy=policy,
        rules=rules,
        errors=errors,
        total=month.total,
    )
