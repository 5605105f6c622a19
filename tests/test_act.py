"""The gateway: verdict → audit, quarantine, notice, release — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import postwarden.act
from postwarden.act import STUCK_AFTER, DecisionError, Gateway, ReleaseError, reject_reply
from postwarden.model import Action, Envelope, Reason, Verdict
from postwarden.outbound import MemoryOutbound, OutboundError, SentMessage
from postwarden.settings import DATABASE_URL_ENV, Settings, init_data_dir
from postwarden.store import audit
from postwarden.store.history import HistoryContact
from postwarden.store.keys import SealError
from postwarden.store.quarantine import Quarantine, QuarantineItem, State
from postwarden.store.users import Role, add_user


class FakeInspector:
    """Verdicts chosen by an ``X-Test-Action`` header; ``X-Test-Register`` adds subjects."""

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict:
        msg = message_from_bytes(raw, policy=policy.compat32)
        action = Action.parse(msg.get("X-Test-Action", "deliver"))
        reasons = (
            []
            if action == Action.DELIVER
            else [Reason("test-rule", f"Stopped by test rule ({action.label}) 規則", action)]
        )
        subjects = {"voters": 12} if msg.get("X-Test-Register") else {}
        return Verdict(action=action, reasons=reasons, subjects=subjects)


SENDER = "Alice@Example.org"
ENV = Envelope(SENDER, ("bob@partner.example", "carol@partner.example"))


def _raw(action: str, *, register: bool = False, body: str = "hello") -> bytes:
    extra = "X-Test-Register: yes\r\n" if register else ""
    return (
        f"From: {SENDER}\r\nTo: bob@partner.example\r\nBcc: hidden@elsewhere.example\r\n"
        f"Subject: Quarterly list\r\nX-Test-Action: {action}\r\n{extra}\r\n{body}\r\n"
    ).encode()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    return init_data_dir(
        tmp_path / "data", ["example.org"], database_url=db_url, next_hop="127.0.0.1:10026"
    )


@pytest.fixture
def outbound() -> MemoryOutbound:
    return MemoryOutbound()


@pytest.fixture
def gateway(settings: Settings, outbound: MemoryOutbound) -> Iterator[Gateway]:
    gw = Gateway.from_settings(settings, outbound=outbound, inspector=FakeInspector())
    secret = settings.secret()
    with gw.session() as s:
        for name, role, email in [
            ("alice", Role.REVIEWER, "alice@example.org"),
            ("bob", Role.REVIEWER, "bob@example.org"),
            ("pat", Role.PRIVACY_OFFICER, "pat@example.org"),
            ("adam", Role.ADMIN, "adam@example.org"),
            ("nomail", Role.REVIEWER, None),
        ]:
            add_user(s, name, role, email, actor="test", secret=secret)
        s.commit()
    yield gw
    gw.close()


def _kinds(gw: Gateway) -> list[str]:
    with gw.session() as s:
        return list(
            s.execute(select(audit.AuditEntry.kind).order_by(audit.AuditEntry.seq)).scalars()
        )


def _state(gw: Gateway, item_id: str) -> str:
    with gw.session() as s:
        return Quarantine.get(s, item_id).state


def _hold(gw: Gateway, outbound: MemoryOutbound, **kw: bool) -> str:
    outcome = gw.process(_raw("hold", **kw), ENV, queue_id="4F2A1")
    assert outcome.quarantine_id is not None
    outbound.sent.clear()  # the notice
    return outcome.quarantine_id


def test_process_deliver_audits_and_counts_history(
    gateway: Gateway, outbound: MemoryOutbound
) -> None:
    outcome = gateway.process(_raw("deliver"), ENV, queue_id="Q1")
    assert (outcome.disposition, outcome.quarantine_id) == ("deliver", None)
    assert str(outcome.smtp_reply).startswith("250 2.0.0 Ok: ")
    assert outbound.sent == []  # the transport delivers, not process()
    assert _kinds(gateway)[-1] == "verdict"
    with gateway.session() as s:
        pairs = s.execute(select(HistoryContact.sender, HistoryContact.recipient)).all()
        entry = s.execute(select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc())).first()
    assert sorted(pairs) == [
        ("alice@example.org", "bob@partner.example"),
        ("alice@example.org", "carol@partner.example"),
    ]
    assert entry is not None
    assert '"queue_id":"Q1"' in entry[0].data
    assert "alice" not in entry[0].data.lower()  # no addresses in the audit log


def test_process_reject_replies_550(gateway: Gateway, outbound: MemoryOutbound) -> None:
    outcome = gateway.process(_raw("reject"), ENV)
    assert outcome.disposition == "reject"
    assert str(outcome.smtp_reply) == "550 5.7.1 Stopped by test rule (reject)"
    assert outbound.sent == []
    with gateway.session() as s:
        assert Quarantine.items(s) == []


def test_reject_reply_one_printable_line() -> None:
    verdict = Verdict(
        Action.REJECT,
        reasons=[
            Reason("a", "first\r\nBcc: x", Action.REJECT),
            Reason("b", "warned", Action.WARN),
            Reason("c", "x" * 900, Action.REJECT),
        ],
    )
    reply = str(reject_reply(verdict))
    assert reply.startswith("550 5.7.1 first Bcc: x; xxx")
    assert reply.endswith("x...")
    assert len(reply) == len("550 5.7.1 ") + 400  # the text's cap (model.MAX_REPLY_TEXT)
    assert reply.isprintable()
    assert str(reject_reply(Verdict(Action.REJECT))).startswith("550 5.7.1 Message refused")
    # Each message keeps its ASCII words: one in Chinese only leaves nothing behind.
    chinese = Verdict(Action.REJECT, reasons=[Reason("z", "不准（HKID）", Action.REJECT)])
    assert str(reject_reply(chinese)) == "550 5.7.1 HKID"


def test_process_hold_is_durable_then_notifies(
    gateway: Gateway, outbound: MemoryOutbound, settings: Settings
) -> None:
    outcome = gateway.process(_raw("hold", body="CANARY-Z9"), ENV, queue_id="4F2A1")
    assert outcome.disposition == "quarantined"
    assert str(outcome.smtp_reply).startswith("250 2.0.0 Ok: ")
    item_id = outcome.quarantine_id
    assert item_id is not None
    blob = (settings.quarantine_dir / f"{item_id}.pwq").read_bytes()
    assert b"CANARY-Z9" not in blob
    other = Gateway.from_settings(settings, outbound=MemoryOutbound())  # a fresh process
    with other.session() as s:
        item = Quarantine.get(s, item_id)
        assert (item.state, item.action, item.queue_id) == ("held", "hold", "4F2A1")
        assert b"CANARY-Z9" in other.quarantine.read(item)
    other.close()
    [notice] = outbound.sent
    assert (notice.sender, notice.recipients) == ("", (SENDER,))
    text = message_from_bytes(notice.raw, policy=policy.default).get_content()
    assert item_id in text
    assert "Quarterly list" in text
    assert "/confirm/" not in text


def test_process_hold_survives_notice_failure(gateway: Gateway, outbound: MemoryOutbound) -> None:
    outbound.error = OutboundError("down", temporary=True)
    outcome = gateway.process(_raw("hold"), ENV)
    assert outcome.disposition == "quarantined"


def test_process_failure_leaves_nothing(
    gateway: Gateway, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(RuntimeError):
        gateway.process(_raw("hold"), ENV)
    assert list(settings.quarantine_dir.iterdir()) == []
    with gateway.session() as s:
        assert s.execute(select(func.count()).select_from(QuarantineItem)).scalar() == 0


def test_release_sends_original_envelope_once(gateway: Gateway, outbound: MemoryOutbound) -> None:
    item_id = _hold(gateway, outbound)
    gateway.release(item_id, by="bob", reason="checked with the client")
    [sent] = outbound.sent
    assert sent.recipients == ENV.recipients  # not the Bcc header, not the notice address
    assert sent.sender == SENDER
    assert sent.raw == _raw("hold")
    with gateway.session() as s:
        item = Quarantine.get(s, item_id)
        assert (item.state, item.decided_by) == ("released", "bob")
        assert item.decision_reason == "checked with the client"
        assert audit.verify(s, secret=gateway.settings.secret()).ok
    assert _kinds(gateway)[-1] == "quarantine.release"
    with pytest.raises(DecisionError, match="released, not held"):
        gateway.release(item_id, by="pat", reason="again")
    assert len(outbound.sent) == 1


@pytest.mark.parametrize(
    ("user", "register", "message"),
    [
        ("alice", False, "four eyes"),  # the sender, e-mail differs only in case
        ("nomail", False, "no e-mail address"),
        ("nobody", False, "no such user"),
        ("bob", True, "privacy officer"),
        ("adam", True, "privacy officer"),
    ],
)
def test_release_refused(
    gateway: Gateway, outbound: MemoryOutbound, user: str, register: bool, message: str
) -> None:
    item_id = _hold(gateway, outbound, register=register)
    with pytest.raises(DecisionError, match=message):
        gateway.release(item_id, by=user, reason="please")
    assert outbound.sent == []
    assert _state(gateway, item_id) == "held"


@pytest.mark.parametrize(("user", "register"), [("pat", True), ("adam", False), ("pat", False)])
def test_release_allowed_roles(
    gateway: Gateway, outbound: MemoryOutbound, user: str, register: bool
) -> None:
    item_id = _hold(gateway, outbound, register=register)
    gateway.release(item_id, by=user, reason="ok")
    assert len(outbound.sent) == 1


def test_release_concurrent_sends_once(
    settings: Settings, gateway: Gateway, outbound: MemoryOutbound
) -> None:
    item_id = _hold(gateway, outbound)
    shared = MemoryOutbound()
    gateways = [Gateway.from_settings(settings, outbound=shared) for _ in range(4)]
    barrier = threading.Barrier(len(gateways))
    errors: list[Exception] = []

    def go(gw: Gateway) -> None:
        barrier.wait()
        try:
            gw.release(item_id, by="bob", reason="race")
        except DecisionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(gw,)) for gw in gateways]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for gw in gateways:
        gw.close()
    assert len(shared.sent) == 1
    assert len(errors) == 3
    assert _state(gateway, item_id) == "released"


def test_release_failure_returns_to_held(gateway: Gateway, outbound: MemoryOutbound) -> None:
    item_id = _hold(gateway, outbound)
    outbound.error = OutboundError("next hop down", temporary=True)
    with pytest.raises(ReleaseError) as info:
        gateway.release(item_id, by="bob", reason="ok")
    assert info.value.temporary
    with gateway.session() as s:
        item = Quarantine.get(s, item_id)
        assert (item.state, item.decided_by) == ("held", None)
    assert _kinds(gateway)[-1] == "quarantine.release-failed"
    outbound.error = None
    gateway.release(item_id, by="bob", reason="ok")
    assert len(outbound.sent) == 1


def test_release_partial_is_final(gateway: Gateway, outbound: MemoryOutbound) -> None:
    item_id = _hold(gateway, outbound)
    outbound.error = OutboundError(
        "one refused", temporary=False, partial=True, refused={"carol@partner.example": (550, "no")}
    )
    with pytest.raises(ReleaseError) as info:
        gateway.release(item_id, by="bob", reason="ok")
    assert info.value.partial
    assert _state(gateway, item_id) == "released"  # never sent again to the others


def test_release_tampered_blob_never_served(
    gateway: Gateway, outbound: MemoryOutbound, settings: Settings
) -> None:
    item_id = _hold(gateway, outbound)
    path = settings.quarantine_dir / f"{item_id}.pwq"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(DecisionError, match="authentication"):
        gateway.release(item_id, by="bob", reason="ok")
    assert outbound.sent == []
    assert _state(gateway, item_id) == "held"


def test_reject_item(gateway: Gateway, outbound: MemoryOutbound) -> None:
    item_id = _hold(gateway, outbound, register=True)
    gateway.reject_item(item_id, by="alice", reason="wrong file")  # even the sender may stop it
    assert _state(gateway, item_id) == "rejected"
    assert _kinds(gateway)[-1] == "quarantine.reject"
    with pytest.raises(DecisionError, match="rejected, not held"):
        gateway.release(item_id, by="pat", reason="ok")
    assert outbound.sent == []


def _warn(gw: Gateway, outbound: MemoryOutbound) -> tuple[str, str]:
    outcome = gw.process(_raw("warn"), ENV)
    assert outcome.quarantine_id is not None
    [notice] = outbound.sent
    outbound.sent.clear()
    text = message_from_bytes(notice.raw, policy=policy.default).get_content()
    link = next(w for w in text.split() if "/confirm/" in w)
    assert link.startswith("http://127.0.0.1:8025/confirm/")
    return outcome.quarantine_id, link.rsplit("/", 1)[1]


def test_confirm_warn_releases_once(gateway: Gateway, outbound: MemoryOutbound) -> None:
    item_id, token = _warn(gateway, outbound)
    assert gateway.confirm_warn(token) == item_id
    [sent] = outbound.sent
    assert sent.recipients == ENV.recipients
    with pytest.raises(DecisionError, match="already used"):
        gateway.confirm_warn(token)
    assert len(outbound.sent) == 1
    assert _kinds(gateway)[-1] == "quarantine.release"


def test_confirm_warn_refuses_forgery_and_holds(gateway: Gateway, outbound: MemoryOutbound) -> None:
    item_id, token = _warn(gateway, outbound)
    with pytest.raises(DecisionError, match="not valid"):
        gateway.confirm_warn(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    hold_id = _hold(gateway, outbound)
    forged = token.replace(item_id, hold_id)
    with pytest.raises(DecisionError):
        gateway.confirm_warn(forged)
    hold_token = gateway.confirm_link(_item(gateway, hold_id)).rsplit("/", 1)[1]
    with pytest.raises(DecisionError, match="held for review"):
        gateway.confirm_warn(hold_token)
    assert outbound.sent == []


def _item(gw: Gateway, item_id: str) -> QuarantineItem:
    with gw.session() as s:
        return Quarantine.get(s, item_id)


def test_expire_only_old_held(gateway: Gateway, outbound: MemoryOutbound) -> None:
    old, new = _hold(gateway, outbound), _hold(gateway, outbound)
    with gateway.session() as s:
        Quarantine.get(s, old).created = datetime.now(UTC) - timedelta(days=31)
        s.commit()
    assert gateway.expire(timedelta(days=30), by="cli:root") == [old]
    assert (_state(gateway, old), _state(gateway, new)) == ("expired", "held")
    assert _kinds(gateway)[-1] == "quarantine.expire"


def test_rotate_key_keeps_items_releasable(gateway: Gateway, outbound: MemoryOutbound) -> None:
    item_id = _hold(gateway, outbound)
    count, _ = gateway.rotate_key(actor="cli:root")
    assert count == 1
    gateway.release(item_id, by="bob", reason="ok")
    assert outbound.sent[0].raw == _raw("hold")
    with gateway.session() as s:
        assert audit.verify(s, secret=gateway.settings.secret()).ok
        assert (
            s.execute(
                select(func.count())
                .select_from(QuarantineItem)
                .where(QuarantineItem.state == State.RELEASED.value)
            ).scalar()
            == 1
        )


def test_gateway_never_uses_rows_after_their_session(
    settings: Settings, outbound: MemoryOutbound, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With SQLAlchemy's default expire_on_commit every committed row is expired, so a row used
    after its session closed raises DetachedInstanceError (seen on release under load)."""

    def expiring(engine: Engine) -> sessionmaker[Session]:
        return sessionmaker(engine)

    monkeypatch.setattr(postwarden.act, "session_factory", expiring)
    gw = Gateway.from_settings(settings, outbound=outbound, inspector=FakeInspector())
    with gw.session() as s:
        add_user(s, "bob", Role.REVIEWER, "bob@example.org", actor="t", secret=settings.secret())
        s.commit()
    released = []
    try:
        held = _hold(gw, outbound)  # process: store, commit, then the notice
        gw.release(held, by="bob", reason="ok")
        released += outbound.sent
        outbound.sent.clear()
        item_id, token = _warn(gw, outbound)
        assert gw.confirm_warn(token) == item_id
        released += outbound.sent
        failing = _hold(gw, outbound)
        outbound.error = OutboundError("down", temporary=True)
        with pytest.raises(ReleaseError):
            gw.release(failing, by="bob", reason="ok")
        outbound.error = None
        assert gw.expire(timedelta(0), by="cli:root") == [failing]
        assert sorted(gw.purge(timedelta(0), by="cli:root")) == sorted([held, item_id, failing])
    finally:
        gw.close()
    assert [m.recipients for m in released] == [ENV.recipients, ENV.recipients]


@dataclass
class CrashAfterSend:
    """The next hop takes the message, then the gateway dies before recording it."""

    sent: list[SentMessage] = field(default_factory=list)

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        self.sent.append(SentMessage(raw, sender, tuple(recipients)))
        raise KeyboardInterrupt  # stands for the process dying: nothing after it runs


def _stuck(gateway: Gateway, outbound: MemoryOutbound, settings: Settings) -> str:
    """An item left ``releasing``, long enough ago to be resolved."""
    item_id = _hold(gateway, outbound)
    crashing = Gateway.from_settings(settings, outbound=CrashAfterSend())
    with pytest.raises(KeyboardInterrupt):
        crashing.release(item_id, by="bob", reason="send it")
    crashing.close()
    assert _state(gateway, item_id) == "releasing"
    with pytest.raises(DecisionError, match="not held"):
        gateway.release(item_id, by="pat", reason="again")  # never re-sent by itself
    with gateway.session() as s:
        Quarantine.get(s, item_id).decided_at = datetime.now(UTC) - STUCK_AFTER
        s.commit()
    return item_id


def test_resolve_stuck_as_released(
    gateway: Gateway, outbound: MemoryOutbound, settings: Settings
) -> None:
    item_id = _stuck(gateway, outbound, settings)
    gateway.resolve(item_id, by="pat", outcome="released", reason="next hop log: 250 queued")
    with gateway.session() as s:
        item = Quarantine.get(s, item_id)
        assert (item.state, item.decided_by) == ("released", "pat")
        assert item.decision_reason == "next hop log: 250 queued"
        entry = s.execute(select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc())).first()
        assert audit.verify(s, secret=settings.secret()).ok
    assert entry is not None
    assert (entry[0].kind, entry[0].actor) == ("quarantine.resolve", "pat")
    assert '"as":"released"' in entry[0].data
    assert "next hop log" not in entry[0].data  # the reason's hash only
    assert outbound.sent == []
    with pytest.raises(DecisionError, match="released, not releasing"):
        gateway.resolve(item_id, by="adam", outcome="held", reason="again")


def test_resolve_stuck_as_held_can_be_released_again(
    gateway: Gateway, outbound: MemoryOutbound, settings: Settings
) -> None:
    item_id = _stuck(gateway, outbound, settings)
    gateway.resolve(item_id, by="adam", outcome="held", reason="next hop never saw it")
    with gateway.session() as s:
        item = Quarantine.get(s, item_id)
        assert (item.state, item.decided_by) == ("held", None)
    assert _kinds(gateway)[-1] == "quarantine.resolve"
    gateway.release(item_id, by="bob", reason="second try")
    [sent] = outbound.sent
    assert sent.raw == _raw("hold")


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("bob", "may not resolve"),  # a reviewer
        ("nobody", "no such user"),
        ("sender-po", "sent this message"),
    ],
)
def test_resolve_refused(
    gateway: Gateway,
    outbound: MemoryOutbound,
    settings: Settings,
    user: str,
    message: str,
) -> None:
    with gateway.session() as s:
        add_user(s, "sender-po", Role.PRIVACY_OFFICER, SENDER, actor="t", secret=settings.secret())
        s.commit()
    item_id = _stuck(gateway, outbound, settings)
    with pytest.raises(DecisionError, match=message):
        gateway.resolve(item_id, by=user, outcome="released", reason="x")
    assert _state(gateway, item_id) == "releasing"


def test_resolve_refuses_a_release_that_may_be_in_flight(
    gateway: Gateway, outbound: MemoryOutbound, settings: Settings
) -> None:
    item_id = _stuck(gateway, outbound, settings)
    with gateway.session() as s:
        Quarantine.get(s, item_id).decided_at = datetime.now(UTC)
        s.commit()
    with pytest.raises(DecisionError, match="may still be in flight"):
        gateway.resolve(item_id, by="pat", outcome="held", reason="too soon")
    later = datetime.now(UTC) + STUCK_AFTER
    gateway.resolve(item_id, by="pat", outcome="held", reason="later", now=later)
    assert _state(gateway, item_id) == "held"
    with pytest.raises(DecisionError, match="held, not releasing"):
        gateway.resolve(item_id, by="pat", outcome="held", reason="x")


def _decided_days_ago(gw: Gateway, item_id: str, days: int) -> None:
    with gw.session() as s:
        Quarantine.get(s, item_id).decided_at = datetime.now(UTC) - timedelta(days=days)
        s.commit()


def test_purge_destroys_old_decided_content_keeps_rows_and_audit(
    gateway: Gateway, outbound: MemoryOutbound, settings: Settings
) -> None:
    released, rejected, expired, recent, held = (_hold(gateway, outbound) for _ in range(5))
    gateway.release(released, by="bob", reason="ok")
    gateway.reject_item(rejected, by="bob", reason="no")
    with gateway.session() as s:
        Quarantine.get(s, expired).created = datetime.now(UTC) - timedelta(days=60)
        s.commit()
    gateway.expire(timedelta(days=30), by="cli:root")
    gateway.reject_item(recent, by="bob", reason="no")
    for item_id in (released, rejected, expired):
        _decided_days_ago(gateway, item_id, 100)
    _decided_days_ago(gateway, recent, 10)
    with gateway.session() as s:
        Quarantine.get(s, held).created = datetime.now(UTC) - timedelta(days=100)
        s.commit()
    stuck = _stuck(gateway, outbound, settings)
    _decided_days_ago(gateway, stuck, 100)
    blob = settings.quarantine_dir / f"{released}.pwq"
    copy = blob.read_bytes()  # a backup taken before the purge

    assert gateway.purge(timedelta(days=90), by="cli:root") == [released, rejected, expired]

    for item_id in (released, rejected, expired):
        assert not (settings.quarantine_dir / f"{item_id}.pwq").exists()
    for item_id in (recent, held, stuck):
        assert (settings.quarantine_dir / f"{item_id}.pwq").exists()
    with gateway.session() as s:
        rows = {i.id: i for i in Quarantine.items(s)}
        assert len(rows) == 6
        assert rows[released].state == "released"
        assert rows[released].purged
        assert not rows[recent].purged
        with pytest.raises(SealError, match="purged"):
            gateway.quarantine.read(rows[rejected])
        blob.write_bytes(copy)  # the backup comes back: its data key is gone
        with pytest.raises(SealError):
            gateway.quarantine.read(rows[released])
        assert audit.verify(s, secret=settings.secret()).ok
    assert _kinds(gateway)[-3:] == ["quarantine.purge"] * 3
    assert gateway.purge(timedelta(days=90), by="cli:root") == []  # once
    count, _ = gateway.rotate_key(actor="cli:root")
    assert count == 3  # the kept ones; purged rows have no key to re-wrap
    gateway.release(held, by="bob", reason="still readable after rotation")


def _gateway_with(settings: Settings, outbound: MemoryOutbound, **access: object) -> Gateway:
    """Another gateway on the same data dir and database, with access settings changed."""
    changed = replace(settings, access=settings.access.with_overrides(access))
    return Gateway.from_settings(changed, outbound=outbound, inspector=FakeInspector())


def _hold_as(gw: Gateway, outbound: MemoryOutbound, envelope_sender: str, headers: str) -> str:
    raw = (
        f"{headers}To: bob@partner.example\r\nSubject: list\r\nX-Test-Action: hold\r\n\r\nhi\r\n"
    ).encode()
    outcome = gw.process(raw, Envelope(envelope_sender, ("bob@partner.example",)))
    assert outcome.quarantine_id is not None
    outbound.sent.clear()
    return outcome.quarantine_id


@pytest.mark.parametrize(
    ("envelope_sender", "headers", "access"),
    [
        # The case: sent as alice+x@org, alice@org released it herself.
        ("alice+x@example.org", "From: alice+x@example.org\r\n", {}),
        ("ALICE@EXAMPLE.ORG", "From: ALICE@EXAMPLE.ORG\r\n", {}),
        # The envelope is a list's bounce address; the header says who wrote it.
        ("lists@example.org", "From: Alice <alice@example.org>\r\n", {}),
        ("lists@example.org", "From: team@example.org\r\nSender: alice@example.org\r\n", {}),
        ("alice-x@example.org", "From: alice-x@example.org\r\n", {"subaddress_separators": "-"}),
        ("press@example.org", "From: press@example.org\r\n", {"aliases_file": "ALIASES"}),
    ],
    ids=["plus-tag", "case", "from-header", "sender-header", "dash-separator", "alias"],
)
def test_release_refused_to_the_sender_in_any_form(
    settings: Settings,
    gateway: Gateway,
    outbound: MemoryOutbound,
    envelope_sender: str,
    headers: str,
    access: dict[str, str],
) -> None:
    aliases = settings.data_dir / "aliases"
    aliases.write_text("press: comms\ncomms: alice, carol@example.org\n", encoding="utf-8")
    access = {k: str(aliases) if v == "ALIASES" else v for k, v in access.items()}
    gw = _gateway_with(settings, outbound, **access) if access else gateway
    try:
        item_id = _hold_as(gw, outbound, envelope_sender, headers)
        with pytest.raises(DecisionError, match="four eyes"):
            gw.release(item_id, by="alice", reason="mine")
        assert outbound.sent == []
        assert _state(gw, item_id) == "held"
        # A genuinely different reviewer still can.
        gw.release(item_id, by="bob", reason="checked")
        assert len(outbound.sent) == 1
    finally:
        if gw is not gateway:
            gw.close()


def test_release_refused_when_the_aliases_file_cannot_be_read(
    settings: Settings, gateway: Gateway, outbound: MemoryOutbound
) -> None:
    gw = _gateway_with(settings, outbound, aliases_file=str(settings.data_dir / "missing"))
    try:
        item_id = _hold_as(gw, outbound, "carol@example.org", "From: carol@example.org\r\n")
        with pytest.raises(DecisionError, match="aliases file"):
            gw.release(item_id, by="bob", reason="ok")
        assert outbound.sent == []
    finally:
        gw.close()


def test_resolve_refused_to_the_sender_by_header(
    gateway: Gateway, outbound: MemoryOutbound
) -> None:
    item_id = _hold_as(gateway, outbound, "lists@example.org", "From: pat+x@example.org\r\n")
    with gateway.session() as s:
        assert Quarantine.transition(s, item_id, State.HELD, State.RELEASING, by="bob")
        s.commit()
    later = datetime.now(UTC) + STUCK_AFTER + timedelta(minutes=1)
    with pytest.raises(DecisionError, match="sent this message"):
        gateway.resolve(item_id, by="pat", outcome="released", reason="went", now=later)
    gateway.resolve(item_id, by="adam", outcome="released", reason="went", now=later)
