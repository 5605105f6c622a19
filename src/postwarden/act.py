"""The one place a Verdict becomes side effects: audit, quarantine, notices, release.

Transports call :meth:`Gateway.process` and turn its :class:`Outcome` into a milter or SMTP
reply; the console and the CLI call :meth:`Gateway.release`, :meth:`Gateway.reject_item`,
:meth:`Gateway.confirm_warn`, :meth:`Gateway.cancel_warn`, :meth:`Gateway.resolve`,
:meth:`Gateway.purge` and :meth:`Gateway.view`.  Anything
that goes wrong inside ``process`` raises, and the transport answers 4xx so the MTA keeps the
message (design.md "Failure semantics").
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from postwarden.errors import Conflict, PostwardenError, Unavailable
from postwarden.headers import header_of
from postwarden.i18n import _
from postwarden.model import Action, Envelope, SmtpReply, Verdict, reply_words
from postwarden.notices import (
    DEFAULT_PUBLIC_URL,
    NoticeError,
    StoppedMessage,
    TokenError,
    build_notice,
    check_confirm_token,
    confirm_token,
    confirm_url,
    read_confirm_token,
)
from postwarden.outbound import Outbound, OutboundError, outbound_from
from postwarden.settings import Settings, public_url
from postwarden.store import audit
from postwarden.store.anchor import anchor_engine, anchor_file
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import open_database, session_factory
from postwarden.store.group_commit import GroupCommit, Write
from postwarden.store.history import Delivery
from postwarden.store.mailboxes import AliasError, Mailboxes, message_senders
from postwarden.store.quarantine import (
    ItemSnapshot,
    Quarantine,
    QuarantineError,
    QuarantineItem,
    SealError,
    State,
)
from postwarden.store.users import Role, User, UserError, get_user

__all__ = [
    "STUCK_AFTER",
    "DecisionError",
    "Events",
    "Gateway",
    "GatewayError",
    "InspectorLike",
    "Outcome",
    "ReleaseError",
    "ViewKind",
    "reject_reply",
]

log = logging.getLogger(__name__)

GATEWAY_ACTOR = "gateway"
SENDER_ACTOR = "sender"

_RELEASERS = {Role.REVIEWER, Role.PRIVACY_OFFICER, Role.ADMIN}
_RESOLVERS = {Role.PRIVACY_OFFICER, Role.ADMIN}
STUCK_AFTER = timedelta(minutes=15)
"""How long an item must have been ``releasing`` before a person may resolve it: far longer
than a send takes (SMTP timeouts are 60 s per step), so a release still in flight is never
resolved under its sender's feet."""
ViewKind = Literal[AuditKind.QUARANTINE_VIEW, AuditKind.CONSOLE_VIEW, AuditKind.CONSOLE_REVEAL]
"""How someone looked at a held message (:meth:`Gateway.view`)."""


class InspectorLike(Protocol):
    """What the gateway needs from the engine (``postwarden.engine.Inspector`` has it)."""

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict: ...


class Events:
    """What the gateway and its front ends report as it happens (the metrics subclass it;
    this base ignores everything, so a CLI run pays nothing)."""

    def processed(self, outcome: Outcome, size: int) -> None:
        """A message went through :meth:`Gateway.process` (``size``: its bytes)."""

    def decided(self, decision: str) -> None:
        """A held message was ``released``, ``release-failed``, ``rejected``, ``expired`` or
        ``cancelled`` (by its sender, from a *warn* notice's link)."""

    def notice(self, *, sent: bool) -> None:
        """A sender notice was sent, or failed to go."""

    def checked(self, verdict: Verdict, size: int) -> None:
        """The HTTP API inspected a message of ``size`` bytes (nothing was sent or held)."""

    def tempfail(self, front: str, cause: str) -> None:
        """A front end (``milter``, ``relay``) answered 4xx: ``timeout``, ``error`` (an
        internal failure, also counted by :meth:`error`) or ``next-hop``."""

    def error(self, front: str, kind: str) -> None:
        """An internal failure at a front end's outer edge; ``kind`` is the exception type."""


class GatewayError(PostwardenError):
    """A decision on a held message could not be carried out."""


class DecisionError(GatewayError, Conflict):
    """Refused: unknown user or item, wrong state, four eyes, role, bad link, tampered blob."""


class ReleaseError(GatewayError, Unavailable):
    """The next hop did not take a released message; ``temporary`` if a retry may work.
    Unless ``partial``, the item is back in ``held``."""

    http_status = 502

    def __init__(self, message: str, *, temporary: bool, partial: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.partial = partial


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message, and the SMTP reply that says so."""

    disposition: Literal["deliver", "reject", "quarantined"]
    verdict: Verdict
    quarantine_id: str | None
    smtp_reply: SmtpReply
    """``250 2.0.0`` for deliver and quarantined, ``550 5.7.1 <policy message>`` for reject."""


def reject_reply(verdict: Verdict) -> SmtpReply:
    """``550 5.7.1`` and the rejecting rules' messages, ``; `` apart; each message keeps its
    printable-ASCII words (a message in Chinese only leaves nothing, not mojibake)."""
    reasons = [r for r in verdict.reasons if r.action == Action.REJECT] or verdict.reasons
    text = "; ".join(reply_words(r.message) for r in reasons)
    return SmtpReply(
        550, "5.7.1", text or "Message refused by the organisation's data protection policy"
    )


class Gateway:
    """Inspection plus everything that follows it, over one database and quarantine."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        quarantine: Quarantine,
        outbound: Outbound,
        inspector: InspectorLike | None = None,
        public_url: str = DEFAULT_PUBLIC_URL,
        record_history: bool = False,
        events: Events | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions: sessionmaker[Session] = session_factory(engine)
        anchor = anchor_file(settings)
        self.verdicts = GroupCommit(self.sessions, settings.secret(), anchor=anchor)
        """Verdicts that deliver or reject, committed together with those decided meanwhile."""
        self.quarantine = quarantine
        self.outbound = outbound
        self.public_url = public_url
        self._inspector = inspector
        self._inspector_lock = threading.Lock()
        self._record_history = record_history
        """Whether delivered messages count in the contact history (the recipients' analysis)."""
        self._secret = settings.secret()
        self.events = events or Events()
        """Replaced by the metrics when a server exposes them."""
        anchor_engine(engine, anchor)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        outbound: Outbound | None = None,
        inspector: InspectorLike | None = None,
    ) -> Gateway:
        """Open the database (:func:`postwarden.store.db.open_database`: its schema
        checked), open the quarantine, and send via ``outbound`` (default:
        :func:`postwarden.outbound.outbound_from`)."""
        engine = open_database(settings.db_url).engine
        return cls(
            settings,
            engine=engine,
            quarantine=Quarantine.from_settings(settings, engine),
            outbound=outbound if outbound is not None else outbound_from(settings),
            inspector=inspector,
            public_url=public_url() or DEFAULT_PUBLIC_URL,
            record_history=True,
        )

    def close(self) -> None:
        self.verdicts.close()
        self.engine.dispose()

    @property
    def inspector(self) -> InspectorLike:
        """Built on first use, so CLI decisions never load detectors and registers."""
        with self._inspector_lock:
            if self._inspector is None:
                self._inspector = _build_inspector(self.settings)
            return self._inspector

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    # -- the message path ---------------------------------------------------------------

    def process(self, raw: bytes, envelope: Envelope, *, queue_id: str | None = None) -> Outcome:
        """Inspect, audit, and act; a held message is committed (blob and row fsynced) before
        this returns.  Raises on any internal error: the transport answers 4xx."""
        outcome = self._process(raw, envelope, queue_id)
        self.events.processed(outcome, len(raw))
        return outcome

    def _process(self, raw: bytes, envelope: Envelope, queue_id: str | None) -> Outcome:
        verdict = self.inspector.check(raw, envelope)
        action = verdict.action
        if action in (Action.DELIVER, Action.REJECT):
            deliver = action == Action.DELIVER
            delivery = None
            if deliver and self._record_history:
                delivery = Delivery(envelope.sender, envelope.recipients, datetime.now(UTC))
            data = _verdict_data(verdict, raw, queue_id)
            # Durable before we answer, in one commit with the verdicts decided meanwhile
            # (store/group_commit.py); a held message is committed on its own below.
            self.verdicts.run(Write(AuditKind.VERDICT, GATEWAY_ACTOR, data, delivery))
            if deliver:
                return Outcome(
                    "deliver", verdict, None, SmtpReply(250, "2.0.0", "Ok: passed inspection")
                )
            return Outcome("reject", verdict, None, reject_reply(verdict))
        with self.session() as session:
            item = self.quarantine.store(
                session, raw, envelope, verdict, queue_id=queue_id, node=self._node
            )
            held = item.snapshot()
            try:
                self._audit(
                    session,
                    AuditKind.VERDICT,
                    GATEWAY_ACTOR,
                    _verdict_data(verdict, raw, queue_id, held.id),
                )
                session.commit()
            except BaseException:
                session.rollback()
                self.quarantine.discard(held.id)
                raise
        self._notify(held, raw)
        return Outcome(
            "quarantined",
            verdict,
            held.id,
            SmtpReply(250, "2.0.0", f"Ok: held for review as {held.id}"),
        )

    # -- decisions ----------------------------------------------------------------------

    def release(self, item_id: str, *, by: str, reason: str) -> None:
        """Re-inject a held message to its original envelope recipients, exactly once.

        ``by`` must be a user who is not the message's sender (four eyes); holds for register
        data need a privacy officer.
        """
        with self.session() as session:
            user = self._user(session, by)
            item = self._held(session, item_id)
            raw = self._read(item)
            _check_may_release(user, item, self.mailboxes(), message_senders(item.sender, raw))
            actor = user.name
            if not self._claim_release(session, item.id, actor, reason):
                raise DecisionError(
                    _("quarantine item {id} is already being decided").format(id=item.id)
                )
            session.commit()
        self._send_release(item, raw, actor=actor, reason=reason)

    def reject_item(self, item_id: str, *, by: str, reason: str) -> None:
        """Never send a held message; any user may (stopping mail is always safe)."""
        with self.session() as session:
            user = self._user(session, by)
            item = self._held(session, item_id)
            if not Quarantine.transition(
                session, item.id, State.HELD, State.REJECTED, by=user.name, reason=reason
            ):
                raise DecisionError(
                    _("quarantine item {id} is already being decided").format(id=item.id)
                )
            self._audit(
                session, AuditKind.QUARANTINE_REJECT, user.name, _decision_data(item, reason)
            )
            session.commit()
        self.events.decided("rejected")

    def confirm_warn(self, token: str) -> str:
        """The sender confirms a *warn* from the notice's one-time link; returns the item id.

        The token is bound to the item, its content hash and an expiry; it works once because
        the item leaves ``held`` on the first use.
        """
        item = self._warned_item(
            token, _("this message is held for review and cannot be confirmed")
        )
        if item.state != State.HELD.value:
            raise DecisionError(
                _("this confirm link was already used (message {state})").format(state=item.state)
            )
        raw = self._read(item)
        reason = "sender confirmed the warning"
        with self.session() as session:
            if not self._claim_release(session, item.id, SENDER_ACTOR, reason):
                raise DecisionError(_("this confirm link was already used"))
            session.commit()
        self._send_release(item, raw, actor=SENDER_ACTOR, reason=reason)
        return item.id

    def cancel_warn(self, token: str) -> str:
        """The sender cancels a *warn* from the notice's one-time link: the message is never
        sent (``rejected``). Returns the item id; the same checks as :meth:`confirm_warn`."""
        item = self._warned_item(
            token, _("this message is held for review and cannot be cancelled")
        )
        reason = "sender cancelled from the confirm link"
        with self.session() as session:
            if not Quarantine.transition(
                session, item.id, State.HELD, State.REJECTED, by=SENDER_ACTOR, reason=reason
            ):
                raise DecisionError(_("this confirm link was already used"))
            data = {"item": item.id, "action": item.action, "sha256": item.content_sha256}
            self._audit(session, AuditKind.QUARANTINE_CANCEL, SENDER_ACTOR, data)
            session.commit()
        self.events.decided("cancelled")
        return item.id

    def _warned_item(self, token: str, refusal: str) -> ItemSnapshot:
        """The *warn* item a sender's one-time link names, the link checked against the item,
        its content hash and its expiry; ``refusal`` when the item is held for review."""
        try:
            item_id = read_confirm_token(token)[0]
            with self.session() as session:
                item = Quarantine.get(session, item_id).snapshot()
                check_confirm_token(self._secret, token, item.content_sha256)
        except (TokenError, QuarantineError) as exc:
            raise DecisionError(str(exc)) from None
        if item.action != Action.WARN.label:
            raise DecisionError(refusal)
        return item

    def mailboxes(self) -> Mailboxes:
        """How addresses compare for four eyes, with the aliases file as it is now."""
        try:
            return Mailboxes.from_settings(self.settings)
        except AliasError as exc:
            # Refuse rather than compare without the aliases: four eyes must not fail open.
            raise DecisionError(
                _("{exc}: no release until it can be read").format(exc=exc)
            ) from None

    def confirm_link(self, item: QuarantineItem | ItemSnapshot) -> str:
        return confirm_url(
            self.public_url, confirm_token(self._secret, item.id, item.content_sha256)
        )

    def expire(self, older_than: timedelta, *, by: str) -> list[str]:
        """Move held items older than ``older_than`` to ``expired``; returns their ids."""
        done = []
        reason = f"held for more than {older_than.days} days"
        with self.session() as session:
            for item_id in Quarantine.expirable(session, older_than):
                if Quarantine.transition(
                    session, item_id, State.HELD, State.EXPIRED, by=by, reason=reason
                ):
                    item = Quarantine.get(session, item_id).snapshot()
                    self._audit(
                        session, AuditKind.QUARANTINE_EXPIRE, by, _decision_data(item, reason)
                    )
                    session.commit()
                    done.append(item_id)
                    self.events.decided("expired")
        return done

    def resolve(
        self,
        item_id: str,
        *,
        by: str,
        outcome: Literal["released", "held"],
        reason: str,
        now: datetime | None = None,
    ) -> None:
        """Settle an item a crash left ``releasing`` (sent or not: the next hop's log says).

        ``released`` records that it went; ``held`` puts it back for a new decision (choose it
        only when the next hop never took the message, or the release sends it twice).  Only
        a privacy officer or an admin may, never the message's sender; audited.
        """
        new = State.RELEASED if outcome == "released" else State.HELD
        with self.session() as session:
            user = self._user(session, by)
            if user.role_enum not in _RESOLVERS:
                raise DecisionError(
                    _("role {role} may not resolve releases").format(role=user.role)
                )
            try:
                row = Quarantine.get(session, item_id)
            except QuarantineError as exc:
                raise DecisionError(str(exc)) from None
            item = row.snapshot()
            if item.state != State.RELEASING.value:
                raise DecisionError(
                    _("quarantine item {id} is {state}, not releasing").format(
                        id=item.id, state=item.state
                    )
                )
            try:
                senders = message_senders(item.sender, self.quarantine.read(item))
            except SealError:
                senders = [item.sender]  # purged or damaged: the envelope is all there is
            as_sender = self.mailboxes().shared(user.email, senders) if user.email else None
            if as_sender is not None:
                raise DecisionError(
                    _(
                        "{user_name} sent this message (as {as_sender}) and cannot resolve it"
                    ).format(user_name=user.name, as_sender=as_sender)
                )
            since = _aware(row.decided_at or row.created)
            if (now or datetime.now(UTC)) - since < STUCK_AFTER:
                raise DecisionError(
                    _(
                        "quarantine item {item_id} started releasing at {since:%H:%M:%S} UTC and "
                        "may still be in flight: resolve it after {until:%H:%M:%S} UTC"
                    ).format(item_id=item.id, since=since, until=since + STUCK_AFTER)
                )
            if new == State.RELEASED:
                moved = Quarantine.transition(
                    session, item.id, State.RELEASING, new, by=user.name, reason=reason
                )
            else:
                # Back to held means undecided, as after a refused release; who resolved it
                # and the reason's hash stay in the audit entry.
                moved = Quarantine.transition(
                    session, item.id, State.RELEASING, new, clear_decision=True
                )
            if not moved:
                raise DecisionError(
                    _("quarantine item {id} was decided meanwhile").format(id=item.id)
                )
            data = {**_decision_data(item, reason), "as": new.value}
            self._audit(session, AuditKind.QUARANTINE_RESOLVE, user.name, data)
            session.commit()

    def purge(self, older_than: timedelta, *, by: str) -> list[str]:
        """Retention: destroy the content of items decided more than ``older_than`` ago; their
        rows and audit entries stay.  Returns the ids purged."""
        done = []
        with self.session() as session:
            for item_id in Quarantine.purgeable(session, older_than):
                item = Quarantine.get(session, item_id).snapshot()
                if not Quarantine.shred(session, item_id):
                    continue
                data = {
                    "item": item.id,
                    "state": item.state,
                    "sha256": item.content_sha256,
                    "older_than_days": older_than.days,
                }
                self._audit(session, AuditKind.QUARANTINE_PURGE, by, data)
                session.commit()
                # After the commit: a crash here leaves a blob no key opens any more.
                self.quarantine.remove_blob(item_id)
                done.append(item_id)
        return done

    def view(
        self,
        session: Session,
        item: QuarantineItem,
        *,
        actor: str,
        kind: ViewKind = AuditKind.QUARANTINE_VIEW,
        raw: bool = False,
    ) -> bytes:
        """Decrypt a held message for someone to look at, and audit the look first, in the
        caller's transaction (the caller commits): ``quarantine.view`` at the command line
        (``raw``: the whole message), ``console.view`` or ``console.reveal`` in the console.

        Raises :class:`SealError` when the content was purged or fails authentication; a
        caller that commits anyway keeps the look on the record.
        """
        data: dict[str, Any] = {"item": item.id}
        if kind == AuditKind.QUARANTINE_VIEW:
            data["raw"] = raw
        self._audit(session, kind, actor, data)
        return self.quarantine.read(item)

    def rotate_key(self, *, actor: str) -> tuple[int, str]:
        """New quarantine master key; returns (items re-wrapped, new key id)."""
        with self.session() as session:
            count, kid = self.quarantine.rotate_key(session)
            self._audit(
                session, AuditKind.QUARANTINE_ROTATE_KEY, actor, {"items": count, "key": kid}
            )
            session.commit()
        return count, kid

    def finish_releases(self) -> list[str]:
        """Finish releases whose node died mid-send (its lease expired): claim each (one
        node wins), send it and record it, as its node would have.  Returns the ids sent.

        A node that died after the next hop took the message but before recording it makes
        this a second delivery of an approved message; never a message nobody approved."""
        with self.session() as session:
            lease = self._lease()
            if lease is None:
                return []
            claimed = Quarantine.claim_expired(session, *lease)
            session.commit()
            rows = [Quarantine.get(session, i) for i in claimed]
            items = [
                (r.snapshot(), r.decided_by or GATEWAY_ACTOR, r.decision_reason or "") for r in rows
            ]
        done = []
        for item, actor, reason in items:
            try:
                raw = self.quarantine.read(item)
            except SealError:
                log.error("quarantine item %s failed authentication; not released", item.id)
                continue
            try:
                self._send_release(item, raw, actor=actor, reason=reason)
            except ReleaseError as exc:
                log.warning("finishing the release of %s: %s", item.id, exc)
                continue
            done.append(item.id)
        return done

    # -- internals ----------------------------------------------------------------------

    @property
    def _node(self) -> str | None:
        """This node's name on a shared store; None for one node (it records no claims)."""
        return self.settings.node_id if self.settings.cluster.shared else None

    def _claim_release(self, session: Session, item_id: str, actor: str, reason: str) -> bool:
        """Move a held item to ``releasing`` under this node's lease; False if it was not
        held any more (someone else decided it first)."""
        return Quarantine.transition(
            session,
            item_id,
            State.HELD,
            State.RELEASING,
            by=actor,
            reason=reason,
            lease=self._lease(),
        )

    def _lease(self) -> tuple[str, timedelta] | None:
        if self._node is None:
            return None
        return self._node, timedelta(seconds=self.settings.cluster.release_lease_seconds)

    def _send_release(self, item: ItemSnapshot, raw: bytes, *, actor: str, reason: str) -> None:
        """Send an item this process moved to ``releasing``; only this process can get here
        for it.  A crash between the send and the commit leaves it ``releasing`` (never sent
        twice; an operator checks the next hop's log)."""
        try:
            self.outbound.send(raw, item.sender, list(item.recipients))
        except OutboundError as exc:
            with self.session() as session:
                data = {
                    **_decision_data(item, reason),
                    "error": "temporary" if exc.temporary else "permanent",
                    "refused": len(exc.refused),
                }
                if exc.partial:
                    Quarantine.transition(session, item.id, State.RELEASING, State.RELEASED)
                    self._audit(session, AuditKind.QUARANTINE_RELEASE, actor, data)
                else:
                    Quarantine.transition(
                        session, item.id, State.RELEASING, State.HELD, clear_decision=True
                    )
                    self._audit(session, AuditKind.QUARANTINE_RELEASE_FAILED, actor, data)
                session.commit()
            self.events.decided("released" if exc.partial else "release-failed")
            raise ReleaseError(
                _("release of {item_id}: {exc}").format(item_id=item.id, exc=exc),
                temporary=exc.temporary,
                partial=exc.partial,
            ) from None
        with self.session() as session:
            Quarantine.transition(session, item.id, State.RELEASING, State.RELEASED)
            self._audit(session, AuditKind.QUARANTINE_RELEASE, actor, _decision_data(item, reason))
            session.commit()
        self.events.decided("released")

    def _notify(self, item: ItemSnapshot, raw: bytes) -> None:
        """Tell the sender; the message is already safe, so a failure is logged, not raised."""
        if "@" not in item.sender:
            return  # null sender (a bounce): nobody to tell
        stopped = StoppedMessage(
            item_id=item.id,
            action=item.action,
            sender=item.sender,
            recipients=tuple(item.recipients),
            subject=_subject(raw),
            reasons=[str(r["message"]) for r in item.reasons],
            created=item.created,
        )
        link = self.confirm_link(item) if item.action == Action.WARN.label else None
        try:
            notice = build_notice(stopped, from_addr=self._notice_from(), confirm_link=link)
            # Null envelope sender: a notice must never cause a bounce (RFC 5321 §4.5.5).
            self.outbound.send(notice, "", [item.sender])
        except (NoticeError, OutboundError) as exc:
            log.warning(
                "quarantine item %s: sender notice not sent: %s", item.id, type(exc).__name__
            )
            self.events.notice(sent=False)
        else:
            self.events.notice(sent=True)

    def _notice_from(self) -> str:
        domain = self.settings.org_domains[0] if self.settings.org_domains else "localhost"
        return f"postmaster@{domain}"

    def _audit(self, session: Session, kind: AuditKind, actor: str, data: dict[str, Any]) -> None:
        audit.record(session, kind, actor, data, secret=self._secret)

    @staticmethod
    def _user(session: Session, name: str) -> User:
        try:
            return get_user(session, name)
        except UserError as exc:
            raise DecisionError(str(exc)) from None

    @staticmethod
    def _held(session: Session, item_id: str) -> ItemSnapshot:
        try:
            item = Quarantine.get(session, item_id).snapshot()
        except QuarantineError as exc:
            raise DecisionError(str(exc)) from None
        if item.state != State.HELD.value:
            raise DecisionError(
                _("quarantine item {id} is {state}, not held").format(id=item.id, state=item.state)
            )
        return item

    def _read(self, item: ItemSnapshot) -> bytes:
        try:
            return self.quarantine.read(item)
        except SealError as exc:
            log.error("quarantine item %s failed authentication; not served", item.id)
            raise DecisionError(str(exc)) from None


def _check_may_release(
    user: User, item: ItemSnapshot, mailboxes: Mailboxes, senders: list[str]
) -> None:
    """Four eyes (the approver is none of the message's senders, as a mailbox: envelope,
    header From and Sender, sub-addresses, case, aliases) and the role the hold needs."""
    if not user.email:
        raise DecisionError(
            _(
                "user {user_name} has no e-mail address, so the four-eyes check cannot tell them "
                "from the sender: 'postwarden user add {user_name} --email ADDR'"
            ).format(user_name=user.name)
        )
    as_sender = mailboxes.shared(user.email, senders)
    if as_sender is not None:
        raise DecisionError(
            _(
                "{user_name} sent this message (as {as_sender}) and cannot release it (four eyes)"
            ).format(user_name=user.name, as_sender=as_sender)
        )
    if item.register_data and user.role_enum != Role.PRIVACY_OFFICER:
        raise DecisionError(_("this hold is for register data: a privacy officer must release it"))
    if user.role_enum not in _RELEASERS:
        raise DecisionError(_("role {role} may not release messages").format(role=user.role))


def _verdict_data(
    verdict: Verdict, raw: bytes, queue_id: str | None, item_id: str | None = None
) -> dict[str, Any]:
    """A verdict for the audit log: rule ids, counts and a content hash, no values."""
    findings: dict[str, int] = {}
    for f in verdict.findings:
        findings[f.detector] = findings.get(f.detector, 0) + 1
    return {
        "action": verdict.action.label,
        "rules": sorted({r.rule for r in verdict.reasons}),
        "subjects": dict(verdict.subjects),
        "findings": findings,
        "recipients": len(verdict.recipients),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "queue_id": queue_id,
        "item": item_id,
    }


def _decision_data(item: ItemSnapshot, reason: str) -> dict[str, Any]:
    """A decision for the audit log; the reviewer's free text is kept in the row and only its
    hash here (it may name people)."""
    return {
        "item": item.id,
        "action": item.action,
        "rules": sorted({str(r["rule"]) for r in item.reasons}),
        "register_data": item.register_data,
        "recipients": len(item.recipients),
        "sha256": item.content_sha256,
        "reason_sha256": hashlib.sha256(reason.encode()).hexdigest(),
    }


def _aware(when: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one we store is UTC."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _subject(raw: bytes) -> str:
    """The original subject for the notice body, decoded; "" when the message has none."""
    return header_of(raw, "Subject").text


def _build_inspector(settings: Settings) -> InspectorLike:
    """The recipients/policy-aware inspector when that module exists, else the engine's."""
    try:
        from postwarden.inspector import build_inspector  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from postwarden.engine import Inspector

        return Inspector(limits=settings.limits, org_domains=settings.org_domains)
    inspector: InspectorLike = build_inspector(settings)
    return inspector
