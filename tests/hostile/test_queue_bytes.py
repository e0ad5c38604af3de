"""Issue 12.7: a consumer that never reads must not make the broker hold the stream in memory,
and what it held is given back when it is gone.

Before: queues were bounded by frame count only (10,000 frames of up to 256 KiB), so a consumer
that never read, plus 12,000 SUBMITs of 200 KB, took the broker to 2.8 GB, and 2.1 GB stayed
after the consumer was dropped. Measured here before the fix: 495 MiB held, 397 MiB still held
2.5 s after the consumer left, the witness's worst round trip 1.9 s.
"""

from __future__ import annotations

from typing import Any

import trio

from .conftest import RoundTrips, broker_pid, rss_bytes, send

SUBMITS = 1500
BIG = "x" * 200_000
MIB = 1024 * 1024


async def sample_peak(pid: int, peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], rss_bytes(pid))
        await trio.sleep(0.05)


async def test_a_consumer_that_never_reads_costs_a_bounded_queue_and_frees_it(start_broker: Any) -> None:
    broker, attacker, witness = start_broker()
    pid = broker_pid(broker)
    trips = RoundTrips()
    async with trio.open_nursery() as nursery:
        await nursery.start(trips.run, witness)
        rss_before = rss_bytes(pid)
        peak = [rss_before]
        nursery.start_soon(sample_peak, pid, peak)
        # The client buffers one message: never reading, it takes nothing more from its socket.
        async with attacker.consumer():
            async with attacker.producer("alice") as producer:
                for n in range(SUBMITS):
                    await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n, "blob": BIG}})
            await trips.wait_for_more()
            await trio.sleep(0.5)
            held = peak[0] - rss_before
        await trio.sleep(2.5)  # the hub gives memory back within about a second
        after = rss_bytes(pid) - rss_before
        nursery.cancel_scope.cancel()
    print(f"MEASURE held={held / MIB:.0f}MiB after={after / MIB:.0f}MiB worst={trips.worst:.3f}")
    assert held < 120 * MIB, f"the broker grew {held / MIB:.0f} MiB for a consumer that never reads"
    assert after < 40 * MIB, f"{after / MIB:.0f} MiB still held after the consumer left"
    assert trips.worst < 3.0, f"the witness's worst round trip took {trips.worst:.2f} s"
