"""The policy in force, rule by rule, with how often each rule fired."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from postwarden.console.deps import console_state, require
from postwarden.console.roles import Permission
from postwarden.console.state import Member
from postwarden.console.stats import verdict_stats
from postwarden.engine.policy.decide import Policy, default_policy, load_policy
from postwarden.engine.policy.schema import PolicyError
from postwarden.settings import Settings

router = APIRouter()


def policy_in_force(settings: Settings) -> Policy:
    """The data dir's ``policy.yaml`` when there is one, else the shipped default."""
    path = settings.policy_file
    if path.is_file():
        return load_policy(path.read_text(encoding="utf-8"), str(path))
    return default_policy()


@router.get("/policy", name="policy")
async def policy_page(
    request: Request, member: Annotated[Member, Depends(require(Permission.VIEW))]
) -> Response:
    state = console_state(request)
    error = ""
    try:
        policy: Policy | None = policy_in_force(state.settings)
    except (PolicyError, OSError) as exc:
        policy, error = None, str(exc)
    with state.db() as db:
        month = verdict_stats(db, days=30)
    rules: list[dict[str, Any]] = []
    if policy is not None:
        for rule in policy.spec.rules:
            rules.append(
                {
                    "id": rule.id,
                    "description": rule.description,
                    "action": rule.action,
                    "message": rule.message.strip(),
                    "enabled": rule.enabled,
                    "when": rule.when.model_dump(exclude_none=True),
                    "escalate": [
                        {"action": e.action, "when": e.when.model_dump(exclude_none=True)}
                        for e in rule.escalate
                    ],
                    "fired": month.by_rule.get(rule.id, 0),
                    "fired_actions": dict(month.rule_actions.get(rule.id, {})),
                }
            )
    return state.render(
        request,
        "policy.html",
        title="Policy",
        nav="policy",
        policy=policy,
        rules=rules,
        error=error,
        total=month.total,
    )
