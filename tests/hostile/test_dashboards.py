"""Issue 12.7: dashboards per developer are bounded (--max-dashboards, then 4002), and a dashboard
that never reads holds at most --dashboard-queue-bytes, dropping the rest.

Before: any number of dashboards per developer, each queueing up to 256 frames of up to 256 KiB.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import httpx
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from wearstream.testing.tenants import (
    DASHBOARD,
    PRODUCER,
    RoundTrips,
    broker_with_tenants,
    receive,
    rss_bytes,
    send,
)

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


async def refused(tenant: Any) -> tuple[int, str]:
    """Open one more dashboard: the close code and reason it gets instead of READY."""
    token = await tenant.token(DASHBOARD)
    async with open_websocket_url(tenant.broker.ws_url) as ws:
        await receive(ws)  # HELLO
        await send(ws, {"op": 3, "d": {"token": token, "type": DASHBOARD}})
        try:
            frame = await receive(ws)
        except ConnectionClosed as closed:
            return closed.reason.code, closed.reason.reason or ""
    raise AssertionError(f"admitted: {frame}")


async def test_dashboards_per_developer_are_capped_and_a_stalled_one_holds_little(tmp_path: Any) -> None:
    with broker_with_tenants(["watched", "neighbour"], data_dir=tmp_path) as (broker, tenants):
        watched, neighbour = tenants
        assert broker.process is not None
        pid = broker.process.pid
        trips = RoundTrips()
        async with trio.open_nursery() as nursery, AsyncExitStack() as stack:
            await nursery.start(trips.run, neighbour)
            # Never read (message_queue_size=1: the client stops taking from its socket).
            for _ in range(MAX_DASHBOARDS):
                await stack.enter_async_context(watched.session(DASHBOARD, message_queue_size=1))
            assert await refused(watched) == (4002, f"dashboard cap reached ({MAX_DASHBOARDS} per developer)")
            async with neighbour.session(DASHBOARD):  # another developer's cap is its own
                pass
            rss_before = rss_bytes(pid)
            async with watched.session(PRODUCER, "alice") as producer:
                for n in range(300):
                    await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n, "blob": BIG}})
            done = len(trips.times)
            with trio.fail_after(60):  # the writer has stored and dispatched the flood
                while len(trips.times) < done + 2:
                    await trio.sleep(0.05)
            held = rss_bytes(pid) - rss_before
            depth = await deepest_dashboard_queue(broker.http_url)
            nursery.cancel_scope.cancel()
        print(f"MEASURE held={held / MIB:.0f}MiB depth={depth} worst={trips.worst:.3f}")
        # 1 MiB (--dashboard-queue-bytes) holds 5 readings of 200 KB; the rest were dropped.
        assert depth <= 5, f"a stalled dashboard holds {depth} frames of 200 KB"
        assert held < 80 * MIB, f"{MAX_DASHBOARDS} stalled dashboards made the broker grow {held / MIB:.0f} MiB"
        assert trips.worst < 2.0, f"the neighbour's worst round trip took {trips.worst:.2f} s"
