"""The gateway: verdict → audit, quarantine, notice, release — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from postwarden.act import DecisionError, Gateway, ReleaseError, reject_reply
from postwarden.model import Action, Envelope, Reason, Verdict
from postwarden.outbound import MemoryOutbound, OutboundError
from postwarden.settings import DATABASE_URL_ENV, Settings, init_data_dir
from postwarden.store import audit
from postwarden.store.history import HistoryContact
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
    assert outcome.smtp_reply.startswith("250 ")
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
    assert outcome.smtp_reply == "550 5.7.1 Stopped by test rule (reject)"
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
    reply = reject_reply(verdict)
    assert reply.startswith("550 5.7.1 first Bcc: x; xxx")
    assert len(reply) == 500
    assert reply.isprintable()
    assert reject_reply(Verdict(Action.REJECT)).startswith("550 5.7.1 Message refused")


def test_process_hold_is_durable_then_notifies(
    gateway: Gateway, outbound: MemoryOutbound, settings: Settings
) -> None:
    outcome = gateway.process(_raw("hold", body="CANARY-Z9"), ENV, queue_id="4F2A1")
    assert outcome.disposition == "quarantined"
    assert outcome.smtp_reply.startswith("250 ")
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
