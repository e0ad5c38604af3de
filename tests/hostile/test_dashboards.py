"""Issue 12.7: dashboards per developer are bounded (--max-dashboards, then 4002), and a dashboard
that never reads holds at most --dashboard-queue-bytes, dropping the rest.

Before: any number of dashboards per developer, each queueing up to 256 frames of up to 256 KiB
(measured here: the ninth admitted; 256 frames of 200 KB held, the broker 87 MiB larger).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx
import trio
from trio_websocket import ConnectionClosed

from .conftest import RoundTrips, broker_pid, dashboard, rss_bytes, send

MAX_DASHBOARDS = 8  # the default of --max-dashboards
BIG = "x" * 200_000
MIB = 1024 * 1024


async def deepest_dashboard_queue(http_url: str) -> int:
    """The broker's own gauge of the deepest dashboard queue, in frames (GET /metrics)."""
    async with httpx.AsyncClient(base_url=http_url) as client:
        text = (await client.get("/metrics")).text
    depths = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("wearstream_queue_depth{") and 'role="dashboard"' in line
    ]
    assert depths, text
    return int(max(depths))


async def test_dashboards_per_developer_are_capped_and_a_stalled_one_holds_little(start_broker: Any) -> None:
    broker, attacker, witness = start_broker()
    pid = broker_pid(broker)
    trips = RoundTrips()
    async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
        await nursery.start(trips.run, witness)
        # Never read: the client buffers one message and then takes nothing from its socket.
        for _ in range(MAX_DASHBOARDS):
            await stack.enter_async_context(dashboard(attacker))
        try:
            async with dashboard(attacker) as ninth:
                raise AssertionError(f"a ninth dashboard was admitted: {ninth}")
        except ConnectionClosed as closed:
            refused = closed.reason.code, closed.reason.reason
        assert refused == (4002, f"dashboard cap reached ({MAX_DASHBOARDS} per developer)")
        async with dashboard(witness):  # another developer's cap is its own
            pass
        rss_before = rss_bytes(pid)
        async with attacker.producer("alice") as producer:
            for n in range(300):
                await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n, "blob": BIG}})
        await trips.wait_for_more()
        held = rss_bytes(pid) - rss_before
        depth = await deepest_dashboard_queue(broker.http_url)
        nursery.cancel_scope.cancel()
    print(f"MEASURE held={held / MIB:.0f}MiB depth={depth} worst={trips.worst:.3f}")
    # 1 MiB (--dashboard-queue-bytes) holds 5 readings of 200 KB; the rest were dropped.
    assert depth <= 5, f"a stalled dashboard holds {depth} frames of 200 KB"
    assert held < 80 * MIB, f"{MAX_DASHBOARDS} stalled dashboards made the broker grow {held / MIB:.0f} MiB"
    assert trips.worst < 3.0, f"the witness's worst round trip took {trips.worst:.2f} s"
