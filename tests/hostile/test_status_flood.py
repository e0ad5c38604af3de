"""Issue 12.6: a producer's STATUS flood must cost the broker little, and its devices are bounded
per user and go when the producer's connection ends (issue 15.7: no stale devices on the tile).

Before: every STATUS was kept for ever and re-sent to each dashboard as a frame listing all of
the user's devices, so N STATUS frames cost O(N²) encoding (6,000 took 35 s of CPU and 600 MB)
and delayed every other tenant.
"""

from __future__ import annotations

from typing import Any

import trio
from trio_websocket import ConnectionClosed

from .conftest import RoundTrips, broker_pid, cpu_seconds, dashboard, receive, rss_bytes, send

FLOOD = 3000
MAX_DEVICES = 32  # the default of --max-devices-per-user
MIB = 1024 * 1024


def status(n: int) -> dict[str, Any]:
    return {
        "op": 8,
        "d": {"connected": True, "device_id": f"strap-{n:05d}-" + "x" * 200, "source": "ble", "reason": "r" * 100},
    }


async def collect(ws: Any, into: list[dict[str, Any]]) -> None:
    try:
        while True:
            into.append(await receive(ws, timeout=120))
    except ConnectionClosed:
        pass


async def wait_for(condition: Any, timeout: float = 30.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.02)


async def test_a_status_flood_costs_little_and_its_devices_go_with_the_producer(start_broker: Any) -> None:
    broker, attacker, witness = start_broker()
    pid = broker_pid(broker)
    trips = RoundTrips()
    seen: list[dict[str, Any]] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(trips.run, witness)
        async with dashboard(attacker) as watching:
            nursery.start_soon(collect, watching, seen)
            cpu_before, rss_before = cpu_seconds(pid), rss_bytes(pid)
            async with attacker.producer("alice") as producer:
                for n in range(FLOOD):
                    await send(producer, status(n))
                # Frames of one connection are handled in order: once this SUBMIT is
                # dispatched, every STATUS before it has been handled.
                await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": 1}})
                await wait_for(lambda: any(f["op"] == 5 for f in seen), timeout=120)
                cpu = cpu_seconds(pid) - cpu_before
                rss_growth = rss_bytes(pid) - rss_before
                await trio.sleep(0.6)  # the last presence round
                presence = [f["d"] for f in seen if f["op"] == 10]
                assert presence[-1]["online"] and len(presence[-1]["devices"]) == MAX_DEVICES
            await wait_for(lambda: seen[-1]["op"] == 10 and not seen[-1]["d"]["online"])
            assert seen[-1]["d"]["devices"] == []  # gone with the producer's connection
        nursery.cancel_scope.cancel()
    print(f"MEASURE cpu={cpu:.2f} rss={rss_growth/MIB:.1f}MiB presence={len(presence)} worst={trips.worst:.3f}")
    assert cpu < 2.0, f"{FLOOD} STATUS frames cost {cpu:.1f} s of broker CPU"
    assert rss_growth < 50 * MIB, f"RSS grew {rss_growth / MIB:.0f} MiB"
    # Presence is coalesced: a few frames a second, not one per STATUS.
    assert len(presence) < 40, f"{len(presence)} presence frames for {FLOOD} STATUS"
    assert trips.worst < 3.0, f"the witness's worst round trip took {trips.worst:.2f} s"
