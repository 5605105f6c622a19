"""The dashboard: verdicts over time by action and rule, and what waits for a decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from postwarden.console.chart import stacked_bars
from postwarden.console.deps import console_state, require
from postwarden.console.roles import Permission
from postwarden.console.state import Member
from postwarden.console.stats import top_rules, verdict_stats, waiting
from postwarden.i18n import _

router = APIRouter()


@router.get("/", name="dashboard")
def dashboard(
    request: Request, member: Annotated[Member, Depends(require(Permission.VIEW))]
) -> Response:
    state = console_state(request)
    with state.db() as db:
        stats = verdict_stats(db, days=14)
        queue = waiting(db)
    chart = stacked_bars(stats.days, stats.by_day)
    rule_series, rule_days = top_rules(stats)
    rule_chart = stacked_bars(stats.days, rule_days, series=rule_series)
    return state.render(
        request,
        "dashboard.html",
        title=_("Dashboard"),
        nav="dashboard",
        stats=stats,
        chart=chart,
        rule_chart=rule_chart,
        queue=queue,
        rules=stats.by_rule.most_common(),
    )
