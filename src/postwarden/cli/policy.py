"""``postwarden policy``: show, validate and explain the rules that decide."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from postwarden.cli.common import (
    RcptOption,
    SenderOption,
    UsageError,
    envelope_from,
    read_input_file,
    state,
)
from postwarden.cli.inspector import load_policy_reporting, open_inspector
from postwarden.engine import policy_vocabulary
from postwarden.engine.policy import PolicyError, RuleOutcome, Vocabulary, load_policy
from postwarden.i18n import _
from postwarden.inspector import vocabulary_for
from postwarden.settings import SettingsError

policy_app = typer.Typer(
    help=_("The policy: rules over the facts of a message."), no_args_is_help=True
)


@policy_app.command(
    "show", help=_("Print the policy in force (the local file, the last good one, or the default).")
)
def show(ctx: typer.Context) -> None:
    settings = state(ctx).settings()
    loaded = load_policy_reporting(settings)
    typer.echo(_("# policy in force: {source}").format(source=loaded.policy.source))
    typer.echo(loaded.policy.text.rstrip("\n"))


@policy_app.command(
    "check",
    help=_(
        "Validate a policy file; each problem is printed as FILE:LINE: what (exit 1).\n\n"
        "Detector, class, flag and action names are checked everywhere; register names "
        "against the data dir's registers when there is one."
    ),
)
def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=_("A policy YAML file to validate."))],
) -> None:
    raw = read_input_file(file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(_("{file}: not UTF-8 text").format(file=file)) from None
    try:
        policy = load_policy(text, str(file), _vocabulary(ctx))
    except PolicyError as exc:
        # The problems are this command's result: one FILE:LINE line each, no prefix.
        for error in exc.errors:
            print(error, file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    typer.echo(_("{file}: valid, {n} rules enabled").format(file=file, n=len(policy.rules)))


def _vocabulary(ctx: typer.Context) -> Vocabulary:
    """With an initialised data dir, its registers too; without one, detectors only."""
    try:
        settings = state(ctx).settings()
    except SettingsError:
        return policy_vocabulary()
    return vocabulary_for(settings)


@policy_app.command("explain", help=_("Which rules fired on what evidence, and which nearly did."))
def explain(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help=_("The message (.eml) to explain."))],
    sender: SenderOption = None,
    rcpt: RcptOption = None,
    as_json: Annotated[bool, typer.Option("--json", help=_("Print JSON."))] = False,
) -> None:
    settings = state(ctx).settings()
    raw = read_input_file(file)
    inspector = open_inspector(settings)
    report = inspector.inspect(raw, envelope_from(sender, rcpt))
    decision = report.decision
    assert decision is not None  # noqa: S101 - inspect() always decides
    if as_json:
        out = report.verdict.to_json()
        out["rules"] = [_outcome_json(o) for o in decision.outcomes]
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    typer.echo(
        _("verdict: {label}  (policy: {source})").format(
            label=report.verdict.action.label, source=inspector.policy.source
        )
    )
    for r in report.verdict.recipients:
        flags = f" [{', '.join(r.flags)}]" if r.flags else ""
        typer.echo(f"  to {r.address}: {r.cls.value}{flags}")
        for line in r.detail:
            typer.echo(f"      {line}")
    fired = [o for o in decision.outcomes if o.fired]
    near = [o for o in decision.outcomes if o.near_miss]
    typer.echo(_("fired:") if fired else _("fired: none"))
    for o in fired:
        typer.echo(f"  {o.rule} -> {o.action.label}")
        for c in o.checks:
            typer.echo(f"      {c.condition}: {c.evidence}")
    typer.echo(_("near misses:") if near else _("near misses: none"))
    for o in near:
        typer.echo(
            _("  {rule} ({action}) did not fire: only {condition} was missing").format(
                rule=o.rule, action=o.action.label, condition=o.missing[0].condition
            )
        )
        for c in o.checks:
            mark = "yes" if c.held else "NO "
            typer.echo(f"      {mark} {c.condition}: {c.evidence}")


def _outcome_json(o: RuleOutcome) -> dict[str, Any]:
    return {
        "rule": o.rule,
        "fired": o.fired,
        "near_miss": o.near_miss,
        "action": o.action.label,
        "conditions": [
            {"condition": c.condition, "held": c.held, "evidence": c.evidence} for c in o.checks
        ],
    }
