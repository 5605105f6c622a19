from __future__ import annotations

import asyncio
import threading
import time

import pytest

from postwarden.transports.admission import ByteGate, ConnectionCounter, inspection_cost


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
