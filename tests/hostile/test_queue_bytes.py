"""Issue 12.7: a consumer that never reads must not make the broker hold the stream in memory,
and what it held is given back when it is gone.

Before: queues were bounded by frame count only (10,000 frames of up to 256 KiB), so a consumer
that never read, plus 12,000 SUBMITs of 200 KB, took the broker to 2.8 GB, and 2.1 GB stayed
after the consumer was dropped.
"""

from __future__ import annotations

from typing import Any

import trio

from wearstream.testing.tenants import (
    CONSUMER,
    PRODUCER,
    RoundTrips,
    broker_with_tenants,
    receive,
    rss_bytes,
    send,
)

SUBMITS = 1500
BIG = "x" * 200_000
MIB = 1024 * 1024


async def sample_peak(pid: int, peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], rss_bytes(pid))
        await trio.sleep(0.05)


async def test_a_consumer_that_never_reads_costs_a_bounded_queue_and_frees_it(tmp_path: Any) -> None:
    with broker_with_tenants(["stalled", "neighbour"], data_dir=tmp_path) as (broker, tenants):
        stalled, neighbour = tenants
        assert broker.process is not None
        pid = broker.process.pid
        trips = RoundTrips()
        async with trio.open_nursery() as nursery:
            await nursery.start(trips.run, neighbour)
            rss_before = rss_bytes(pid)
            peak = [rss_before]
            nursery.start_soon(sample_peak, pid, peak)
            # message_queue_size=1: the client's reader stops once one message waits, so this
            # consumer takes nothing from its socket after the first few frames.
            async with stalled.session(CONSUMER, message_queue_size=1) as consumer:
                async with stalled.session(PRODUCER, "alice") as producer:
                    for n in range(SUBMITS):
                        await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n, "blob": BIG}})
                    await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": -1}})
                    # The neighbour's producer and this one share the hub's writer: once the
                    # neighbour's next round trip is done, the flood is stored and dispatched.
                    done = len(trips.times)
                    with trio.fail_after(120):
                        while len(trips.times) < done + 2:
                            await trio.sleep(0.05)
                    await trio.sleep(0.5)
                    held = peak[0] - rss_before
                del consumer
            await trio.sleep(2.5)  # the hub gives memory back within about a second
            after = rss_bytes(pid) - rss_before
            nursery.cancel_scope.cancel()
        print(f"MEASURE held={held / MIB:.0f}MiB after={after / MIB:.0f}MiB worst={trips.worst:.3f}")
        assert held < 120 * MIB, f"the broker grew {held / MIB:.0f} MiB for a consumer that never reads"
        assert after < 40 * MIB, f"{after / MIB:.0f} MiB still held after the consumer left"
        assert trips.worst < 2.0, f"the neighbour's worst round trip took {trips.worst:.2f} s"
