"""Releases in a cluster: two node processes racing release each item once; a release whose
node died is finished by another node after its lease."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.cluster_nodes import ENV, hold_message, make_nodes, release_all
from tests.test_act import FakeInspector
from tests.transports.doubles import running_sink

from postwarden.act import Gateway
from postwarden.outbound import SmtpOutbound
from postwarden.settings import Settings
from postwarden.store import audit
from postwarden.store.quarantine import Quarantine, QuarantineClaim, State
from postwarden.store.users import Role, add_user


def _gateway(settings: Settings, port: int) -> Gateway:
    return Gateway.from_settings(
        settings,
        outbound=SmtpOutbound("127.0.0.1", port, timeout=30),
        inspector=FakeInspector(),
    )


@pytest.mark.integration
def test_two_node_processes_release_each_item_once(tmp_path: Path, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a cluster shares PostgreSQL")
    nodes = make_nodes(tmp_path, db_url, 2)
    with running_sink() as sink:
        first = _gateway(nodes[0], sink.port)
        try:
            with first.session() as s:
                add_user(
                    s,
                    "pat",
                    Role.PRIVACY_OFFICER,
                    "pat@example.org",
                    actor="t",
                    secret=nodes[0].secret(),
                )
                s.commit()
            ids = []
            for n in range(30):
                outcome = first.process(hold_message(n), ENV)
                assert outcome.quarantine_id is not None
                ids.append(outcome.quarantine_id)
        finally:
            first.close()
        notices = len(sink.messages())
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            counts = pool.starmap(
                release_all,
                [(str(n.data_dir), sink.port, ids, "pat") for n in nodes],
            )
        released = sink.messages()[notices:]
        assert sum(counts) == len(ids)
        assert sorted(m.raw.count(b"Subject: held") for m in released) == [1] * len(ids)
        subjects = sorted(m.raw.split(b"Subject: ")[1].split(b"\r\n")[0] for m in released)
        assert subjects == sorted(f"held {n}".encode() for n in range(30))
        second = _gateway(nodes[1], sink.port)
        try:
            with second.session() as s:
                states = {Quarantine.get(s, i).state for i in ids}
                kinds = s.execute(select(audit.AuditEntry.kind)).scalars().all()
                assert audit.verify(s, secret=nodes[1].secret()).ok
        finally:
            second.close()
    assert states == {State.RELEASED.value}
    assert kinds.count("quarantine.release") == len(ids)


def test_release_of_a_dead_node_is_finished_by_another(tmp_path: Path, db_url: str) -> None:
    nodes = make_nodes(tmp_path, db_url, 2, release_lease_seconds=60)
    with running_sink() as sink:
        a, b = _gateway(nodes[0], sink.port), _gateway(nodes[1], sink.port)
        try:
            held = a.process(hold_message(1), ENV).quarantine_id
            alive = a.process(hold_message(2), ENV).quarantine_id
            assert held is not None
            assert alive is not None
            with a.session() as s:
                # node0 claimed both and died before sending: one lease ran out, one has not.
                assert Quarantine.transition(
                    s,
                    held,
                    State.HELD,
                    State.RELEASING,
                    by="pat",
                    reason="ok",
                    lease=("node0", timedelta(seconds=-1)),
                )
                assert Quarantine.transition(
                    s,
                    alive,
                    State.HELD,
                    State.RELEASING,
                    by="pat",
                    reason="ok",
                    lease=("node0", timedelta(seconds=60)),
                )
                s.commit()
            before = len(sink.messages())
            assert b.finish_releases() == [held]
            assert a.finish_releases() == []  # finished once, by one node
            to_bob = [m for m in sink.messages(b"Subject: held 1") if m.sender == ENV.sender]
            assert len(to_bob) == 1
            assert len(sink.messages()) == before + 1
            with b.session() as s:
                row = Quarantine.get(s, held)
                assert (row.state, row.decided_by) == ("released", "pat")
                assert Quarantine.held_by(s, held) == "node0"
                claim = s.get(QuarantineClaim, held)
                assert claim is not None
                assert claim.lease_node == "node1"
                assert Quarantine.get(s, alive).state == State.RELEASING.value
                assert audit.verify(s, secret=nodes[1].secret()).ok
        finally:
            a.close()
            b.close()
