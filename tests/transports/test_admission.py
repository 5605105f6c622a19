from __future__ import annotations

import asyncio
import smtplib
import threading
import time

import Milter
import pytest
from tests.transports.doubles import LiveRelay, ScriptedInspector, Sink, make_gateway, message
from tests.transports.test_milter import ORIGINAL, FakeCtx, feed

from postwarden.outbound import MemoryOutbound
from postwarden.settings import Access, Settings
from postwarden.transports.admission import (
    ByteGate,
    ConnectionCounter,
    inspection_cost,
    memory_ceiling,
)
from postwarden.transports.milter import MilterService, PostwardenMilter
from postwarden.transports.relay import RelayHandler


def test_gate_admits_up_to_its_capacity_then_in_arrival_order() -> None:
    async def scenario() -> list[str]:
        gate = ByteGate(100)
        order: list[str] = []
        first = await gate.acquire(60)

        async def job(name: str, amount: int) -> None:
            async with gate.admit(amount):
                order.append(name)
                await asyncio.sleep(0.01)

        big = asyncio.create_task(job("big", 90))
        await asyncio.sleep(0.01)
        small = asyncio.create_task(job("small", 10))  # fits now, but must not overtake
        await asyncio.sleep(0.01)
        assert order == []
        assert gate.waiting == 2
        gate.release(first)
        await asyncio.gather(big, small)
        assert gate.in_use == 0
        return order

    assert asyncio.run(scenario()) == ["big", "small"]


def test_gate_clamps_a_request_larger_than_the_capacity() -> None:
    gate = ByteGate(100)
    with gate.admit_blocking(10_000) as taken:
        assert taken == 100
        assert gate.acquire_blocking(1, timeout=0.05) is None
    assert gate.in_use == 0


def test_gate_is_shared_by_threads_and_event_loops() -> None:
    gate = ByteGate(100)
    held = gate.acquire_blocking(100)
    assert held == 100
    got: list[str] = []

    def in_a_loop() -> None:
        async def wait() -> None:
            async with gate.admit(50):
                got.append("loop")

        asyncio.run(wait())

    def in_a_thread() -> None:
        with gate.admit_blocking(50):
            got.append("thread")

    workers = [threading.Thread(target=in_a_loop), threading.Thread(target=in_a_thread)]
    for w in workers:
        w.start()
    time.sleep(0.1)
    assert got == []
    gate.release(100)
    for w in workers:
        w.join(5)
    assert sorted(got) == ["loop", "thread"]
    assert gate.in_use == 0


def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    async def scenario() -> int:
        gate = ByteGate(10)
        await gate.acquire(10)
        waiter = asyncio.create_task(gate.acquire(5))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.release(10)
        return gate.in_use + gate.waiting

    assert asyncio.run(scenario()) == 0


def test_inspection_cost_is_the_measured_multiple_of_the_message() -> None:
    assert inspection_cost(60 * 1024 * 1024) == 8 * 60 * 1024 * 1024
    assert inspection_cost(0) > 0


def test_connection_counter_caps_per_client_and_in_total() -> None:
    counter = ConnectionCounter(max_total=3, max_per_client=2, exempt=("10.0.0.0/8",))
    assert counter.open("192.0.2.1")
    assert counter.open("192.0.2.1")
    assert not counter.open("192.0.2.1")
    assert counter.open("10.1.2.3")
    assert not counter.open("192.0.2.9")  # the total is reached
    counter.close("192.0.2.1")
    assert counter.open("10.1.2.3")  # a proxy address has no per-client cap
    assert counter.total == 3
    assert counter.of("10.1.2.3") == 2


def test_connection_counter_says_which_cap_refused() -> None:
    counter = ConnectionCounter(max_total=2, max_per_client=1)
    assert counter.take("192.0.2.1") is None
    assert counter.take("192.0.2.1") == "too many connections from your address"
    assert counter.take("192.0.2.2") is None
    assert counter.take("192.0.2.3") == "too many connections"
    assert counter.total == 2


def test_the_memory_ceiling_is_the_inspection_budget_plus_a_fixed_overhead() -> None:
    assert memory_ceiling(Access().inspection_memory_bytes) == 1024 * 1024 * 1024


def test_relay_message_waits_for_the_gate_then_tempfails_unseen(
    settings: Settings, inspector: ScriptedInspector, sink: Sink
) -> None:
    gate = ByteGate(inspection_cost(1024 * 1024))
    handler = RelayHandler(
        make_gateway(settings, sink.outbound, inspector),
        sink.outbound,
        timeout=0.5,
        admit=gate.admit_message,
    )
    relay = LiveRelay(handler)

    def send(marker: str) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=10) as smtp:
            return smtp.sendmail(
                "alice@demo.gov.hk", ["bob@partner.example"], message(marker=marker)
            )

    try:
        held = gate.acquire_blocking(gate.capacity)  # another inspection has the whole budget
        assert held is not None
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send("waited")
        assert refused.value.smtp_code == 451
        assert inspector.seen == []
        assert sink.messages(b"waited") == []
        gate.release(held)
        assert send("admitted") == {}
        assert len(sink.messages(b"admitted")) == 1
        assert gate.in_use == 0
    finally:
        relay.stop()


def test_milter_message_waits_for_the_gate_then_tempfails_unseen(
    settings: Settings, inspector: ScriptedInspector
) -> None:
    gate = ByteGate(inspection_cost(1024 * 1024))
    service = MilterService(
        make_gateway(settings, MemoryOutbound(), inspector), timeout=0.3, gate=gate
    )
    milter = PostwardenMilter(service)
    ctx = FakeCtx()
    milter._setctx(ctx)
    raw = ORIGINAL.replace(b"ACTION", b"deliver")
    try:
        held = gate.acquire_blocking(gate.capacity)
        assert held is not None
        started = time.monotonic()
        assert feed(milter, raw, leadspc=True) == Milter.TEMPFAIL
        assert time.monotonic() - started < 2
        assert inspector.seen == []  # never accepted unseen, never read back from its spool
        assert ctx.replies == [("451", "4.3.0", ctx.replies[0][2])]
        gate.release(held)
        assert feed(milter, raw, leadspc=True) == Milter.ACCEPT
        assert [seen for seen, _ in inspector.seen] == [raw]
        assert gate.in_use == 0
    finally:
        service.shutdown()


def test_milter_holds_the_gate_until_an_overdue_inspection_ends(
    settings: Settings, inspector: ScriptedInspector
) -> None:
    gate = ByteGate(inspection_cost(1024 * 1024))
    service = MilterService(
        make_gateway(settings, MemoryOutbound(), inspector), timeout=0.3, gate=gate
    )
    milter = PostwardenMilter(service)
    milter._setctx(FakeCtx())
    slow = ORIGINAL.replace(b"ACTION", b"deliver\r\nX-Test-Sleep: 1")
    try:
        assert feed(milter, slow, leadspc=True) == Milter.TEMPFAIL
        # The inspection runs on past our deadline: its memory is still in use.
        assert gate.in_use == inspection_cost(len(slow))
        deadline = time.monotonic() + 5
        while gate.in_use and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gate.in_use == 0
    finally:
        service.shutdown()
