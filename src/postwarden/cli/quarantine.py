"""``postwarden quarantine``: list, show, release, reject, resolve, expire and purge held
messages; rotate the key."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from postwarden.act import Gateway
from postwarden.cli.audit import cli_actor
from postwarden.cli.common import OperationalError, UsageError, state
from postwarden.headers import header_of
from postwarden.i18n import _
from postwarden.outbound import Outbound, outbound_from
from postwarden.store.keys import SealError
from postwarden.store.quarantine import Quarantine, QuarantineItem, State

quarantine_app = typer.Typer(
    help=_("Held messages: review, release, reject."), no_args_is_help=True
)


@contextmanager
def open_gateway(ctx: typer.Context, outbound: Outbound | None = None) -> Iterator[Gateway]:
    """The gateway over the data dir's database and quarantine (schema checked on open)."""
    settings = state(ctx).settings()
    try:
        gateway = Gateway.from_settings(settings, outbound=outbound)
    except ValueError as exc:
        raise OperationalError(str(exc)) from None
    try:
        yield gateway
    finally:
        gateway.close()


def item_json(item: QuarantineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "created": item.created.isoformat(),
        "sender": item.sender,
        "recipients": list(item.recipients),
        "action": item.action,
        "reasons": [{"rule": r["rule"], "message": r["message"]} for r in item.reasons],
        "subjects": dict(item.subjects),
        "state": item.state,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "size": item.size,
        "sha256": item.content_sha256,
        "purged": item.purged,
    }


@quarantine_app.command("list", help=_("Held and decided messages, oldest first."))
def list_items(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help=_("One JSON array."))] = False,
    only: Annotated[
        list[State] | None, typer.Option("--state", help=_("Only items in this state (repeat)."))
    ] = None,
) -> None:
    with open_gateway(ctx) as gw, gw.session() as session:
        items = Quarantine.items(session, only)
        if as_json:
            typer.echo(json.dumps([item_json(i) for i in items], ensure_ascii=False))
            return
        for i in items:
            rules = ",".join(sorted({str(r["rule"]) for r in i.reasons})) or "-"
            typer.echo(
                f"{i.id}  {i.created:%Y-%m-%d %H:%M}  {i.state:<9}  {i.action:<4}  "
                f"{i.sender} -> {', '.join(i.recipients)}  [{rules}]"
            )
        if not items:
            typer.echo(_("no quarantined messages"))
        stuck = sum(i.state == State.RELEASING.value for i in items)
        if stuck:
            typer.echo(
                _(
                    "{n} item(s) releasing: if one stays so, a crash came between sending and "
                    "recording. Check the next hop's log, then 'postwarden quarantine resolve ID "
                    "--by USER --as released|held --reason TEXT'."
                ).format(n=stuck),
                err=True,
            )


@quarantine_app.command(
    "show",
    help=_("One item: its row, and the subject read from the encrypted message (an audited view)."),
)
def show(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument(help=_("Quarantine id."))],
    as_json: Annotated[bool, typer.Option("--json", help=_("One JSON object."))] = False,
    raw: Annotated[
        bool, typer.Option("--raw", help=_("Print the whole decrypted message instead."))
    ] = False,
) -> None:
    with open_gateway(ctx) as gw, gw.session() as session:
        item = Quarantine.get(session, item_id)
        message: bytes | None
        try:
            message = gw.view(session, item, actor=cli_actor(), raw=raw)
        except SealError:
            if raw or not item.purged:
                raise  # not committed: nothing was seen
            message = None  # a purged item still has its row to show; only its content is gone
        session.commit()
        out = item_json(item)
        out["queue_id"] = item.queue_id
        out["decision_reason"] = item.decision_reason
    if message is None:
        out["subject"] = out["from"] = "(purged after retention)"
    elif raw:
        typer.echo(message.decode("utf-8", "replace"), nl=False)
        return
    else:
        out["subject"] = header_of(message, "Subject").text
        out["from"] = header_of(message, "From").text
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    for key in (
        "id",
        "state",
        "action",
        "created",
        "queue_id",
        "sender",
        "from",
        "subject",
        "size",
        "sha256",
        "decided_by",
        "decided_at",
        "decision_reason",
    ):
        typer.echo(f"{key + ':':<17}{out[key] if out[key] is not None else '-'}")
    typer.echo(f"{'recipients:':<17}{', '.join(out['recipients'])}")
    for name, count in out["subjects"].items():
        typer.echo(
            f"{'register:':<17}" + _("{name}: {count} people").format(name=name, count=count)
        )
    for r in out["reasons"]:
        typer.echo(f"{'reason:':<17}{r['rule']}: {r['message']}")


@quarantine_app.command("release", help=_("Send a held message to its original recipients, once."))
def release(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument(help=_("Quarantine id."))],
    by: Annotated[str, typer.Option("--by", help=_("The user releasing it (not its sender)."))],
    reason: Annotated[str, typer.Option("--reason", help=_("Why it may go."))],
    next_hop: Annotated[
        str | None, typer.Option("--next-hop", help=_("HOST:PORT instead of the recorded one."))
    ] = None,
    outbox: Annotated[
        Path | None, typer.Option("--outbox", help=_("Deliver into this folder instead."))
    ] = None,
) -> None:
    _need_reason(reason)
    settings = state(ctx).settings()
    try:
        outbound = outbound_from(settings, next_hop, outbox)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with open_gateway(ctx, outbound) as gw:
        gw.release(item_id, by=by, reason=reason)
    typer.echo(_("released {item_id}").format(item_id=item_id))


@quarantine_app.command("reject", help=_("Never send a held message."))
def reject(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument(help=_("Quarantine id."))],
    by: Annotated[str, typer.Option("--by", help=_("The user rejecting it."))],
    reason: Annotated[str, typer.Option("--reason", help=_("Why it must not go."))],
) -> None:
    _need_reason(reason)
    with open_gateway(ctx) as gw:
        gw.reject_item(item_id, by=by, reason=reason)
    typer.echo(_("rejected {item_id}").format(item_id=item_id))


class Resolution(StrEnum):
    RELEASED = "released"
    HELD = "held"


@quarantine_app.command(
    "resolve", help=_("Settle an item a crash left between sending and recording (audited).")
)
def resolve(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument(help=_("Quarantine id of an item left releasing."))],
    by: Annotated[str, typer.Option("--by", help=_("A privacy officer or admin."))],
    outcome: Annotated[
        Resolution,
        typer.Option(
            "--as",
            help=_(
                "released: the next hop's log shows it went; held: it never left (decide anew)."
            ),
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help=_("What the next hop's log showed."))],
) -> None:
    _need_reason(reason)
    with open_gateway(ctx) as gw:
        gw.resolve(item_id, by=by, outcome=outcome.value, reason=reason)
    typer.echo(_("resolved {item_id} as {outcome}").format(item_id=item_id, outcome=outcome.value))


@quarantine_app.command(
    "expire", help=_("Move messages held longer than DAYS to ``expired`` (they are never sent).")
)
def expire(
    ctx: typer.Context,
    older_than: Annotated[
        int, typer.Option("--older-than", min=0, help=_("Expire items held longer than DAYS."))
    ],
) -> None:
    with open_gateway(ctx) as gw:
        done = gw.expire(timedelta(days=older_than), by=cli_actor())
    _echo_items(_("expired {n} item(s)").format(n=len(done)), done)


@quarantine_app.command(
    "purge",
    help=_(
        "Retention: destroy the stored message of released, rejected and expired items "
        "decided more than DAYS ago (their data key, then the file); rows and audit "
        "entries stay."
    ),
)
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        int,
        typer.Option("--older-than", min=0, help=_("Purge items decided more than DAYS ago.")),
    ],
) -> None:
    with open_gateway(ctx) as gw:
        done = gw.purge(timedelta(days=older_than), by=cli_actor())
    _echo_items(_("purged {n} item(s)").format(n=len(done)), done)


def _echo_items(head: str, item_ids: Iterable[str]) -> None:
    """``head``, then each item id on its own indented line."""
    typer.echo(head)
    for item_id in item_ids:
        typer.echo(f"  {item_id}")


@quarantine_app.command(
    "rotate-key",
    help=_("New master key; every item's data key is re-wrapped, then the old key is dropped."),
)
def rotate_key(ctx: typer.Context) -> None:
    with open_gateway(ctx) as gw:
        count, kid = gw.rotate_key(actor=cli_actor())
    typer.echo(
        _("master key {kid} is current; re-wrapped {count} item(s)").format(kid=kid, count=count)
    )


def _need_reason(reason: str) -> None:
    if not reason.strip():
        raise UsageError(_("--reason must not be empty"))
