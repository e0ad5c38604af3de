"""Issue 12.7: REPLAY requests are bounded per consumer.

Before: REPLAYs waited in an unbounded deque and each was served in full, so 300 REPLAY frames
of a 10,000-payload range made the broker re-send 3 million frames. Now a REPLAY identical to one
still waiting adds nothing (its frames all leave after it anyway), and past --max-pending-replays
distinct ranges waiting the consumer is closed with 4007.
"""

from __future__ import annotations

from typing import Any

import trio
from trio_websocket import ConnectionClosed

from .conftest import RoundTrips, Tenant, broker_pid, cpu_seconds, receive, send

PAYLOADS = 5000
REPLAYS = 300


async def stream(tenant: Tenant, consumer: Any, count: int) -> None:
    """Produce ``count`` readings and wait until the consumer has them live."""
    async with tenant.producer("alice") as producer:
        for n in range(count):
            await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n}})
        seen = 0
        while seen < count:
            seen += (await receive(consumer, 30))["op"] == 5


async def test_identical_replays_are_served_once_and_too_many_distinct_ones_close_with_4007(start_broker: Any) -> None:
    broker, attacker, witness = start_broker()
    pid = broker_pid(broker)
    trips = RoundTrips()
    async with trio.open_nursery() as nursery:
        await nursery.start(trips.run, witness)
        async with attacker.consumer() as consumer:
            await stream(attacker, consumer, PAYLOADS)
            cpu_before = cpu_seconds(pid)
            for _ in range(REPLAYS):
                await send(consumer, {"op": 7, "d": {"after": 0, "before": PAYLOADS + 1}})
            replayed = 0
            with trio.move_on_after(30):
                while replayed <= 3 * PAYLOADS:  # more would be a REPLAY served twice over
                    with trio.move_on_after(1.5):
                        replayed += (await receive(consumer))["op"] == 5
                        continue
                    break  # quiet: everything owed has been sent
            cpu = cpu_seconds(pid) - cpu_before
        async with attacker.consumer() as consumer:
            with trio.fail_after(20):
                try:  # the close may come while the last REPLAYs are still being sent
                    await send(consumer, {"op": 7, "d": {"after": 0, "before": PAYLOADS + 1}})
                    for n in range(20):  # distinct ranges pile up behind the first, unread one
                        await send(consumer, {"op": 7, "d": {"after": 2 * n, "before": 2 * n + 2}})
                    while True:
                        await consumer.get_message()
                except ConnectionClosed as closed:
                    code, reason = closed.reason.code, closed.reason.reason
        nursery.cancel_scope.cancel()
    print(f"MEASURE replayed={replayed} cpu={cpu:.2f} worst={trips.worst:.3f}")
    # One REPLAY in progress when the rest arrived, and one identical to it waiting behind it.
    assert PAYLOADS <= replayed <= 2 * PAYLOADS, f"{REPLAYS} REPLAYs re-sent {replayed} frames"
    assert cpu < 5.0, f"{REPLAYS} REPLAYs cost {cpu:.1f} s of broker CPU"
    assert (code, reason) == (4007, "more than 16 REPLAY requests waiting")
    assert trips.worst < 3.0, f"the witness's worst round trip took {trips.worst:.2f} s"
