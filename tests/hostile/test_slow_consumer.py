"""Issue 12.11: a slow consumer that heartbeats is not closed with 4005 "no heartbeat"; one whose
socket takes nothing for --send-timeout is closed with its own code, 4006.

Before: the broker answered each HEARTBEAT on the consumer's socket behind the DISPATCH write in
progress, so its reader stopped reading (heartbeats included) until that write was done, and a
consumer reading slowly was closed with 4005 although it heartbeat on time.
"""

from __future__ import annotations

from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from .conftest import Tenant, send

BLOB = "x" * 100_000
HEARTBEAT = ["--heartbeat-interval", "1000"]  # a window of 1.5 s


async def flood(tenant: Tenant, count: int) -> None:
    async with tenant.producer("alice") as producer:
        for n in range(count):
            if n % 10 == 0:  # the 1 s interval holds for the producer too, on a loaded machine
                await send(producer, {"op": 0})
            await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n, "blob": BLOB}})


async def heartbeat(ws: WebSocketConnection) -> None:
    try:
        while True:
            await send(ws, {"op": 0})
            await trio.sleep(0.5)
    except ConnectionClosed:
        pass


async def read_until_closed(ws: WebSocketConnection, pause: float = 0.0) -> tuple[int, str]:
    try:
        while True:
            await ws.get_message()
            await trio.sleep(pause)
    except ConnectionClosed as closed:
        return closed.reason.code, closed.reason.reason or ""


async def test_a_consumer_that_reads_slowly_but_heartbeats_stays_connected(start_broker: Any) -> None:
    _, attacker, _ = start_broker(*HEARTBEAT)
    # The client buffers one message: it takes from its socket only as fast as it reads.
    async with attacker.consumer() as consumer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat, consumer)
            await flood(attacker, 300)  # 30 MB at about 2 MB/s: 15 s of writing
            with trio.move_on_after(8) as still_open:
                code = await read_until_closed(consumer, pause=0.05)
            nursery.cancel_scope.cancel()
    assert still_open.cancelled_caught, f"closed with {code} while heartbeating"


async def test_a_consumer_whose_socket_takes_nothing_is_closed_with_4006(start_broker: Any) -> None:
    _, attacker, _ = start_broker(*HEARTBEAT, "--send-timeout", "3")
    async with attacker.consumer() as consumer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat, consumer)
            await flood(attacker, 100)
            await trio.sleep(3.5)  # reads nothing, heartbeats on: the write waits over 3 s
            with trio.fail_after(10):
                code, reason = await read_until_closed(consumer)
            nursery.cancel_scope.cancel()
    assert code == 4006 and reason.startswith("consumer too slow: a write of"), (code, reason)


async def test_the_4006_close_frame_waits_a_whole_send_timeout(start_broker: Any) -> None:
    """docs/limits.md: a consumer that reads again within another --send-timeout still gets every
    frame written and then the close frame. The socket's own close bound (2 s) used to cut it:
    here the read begins 2.5 s or more after the close began, and within 6 s of it."""
    _, attacker, _ = start_broker(*HEARTBEAT, "--send-timeout", "6")
    async with attacker.consumer() as consumer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(heartbeat, consumer)
            await flood(attacker, 100)
            await trio.sleep(8.5)  # the write stalled during the flood: 4006 came 6 s after
            with trio.fail_after(15):
                code, reason = await read_until_closed(consumer)
            nursery.cancel_scope.cancel()
    assert code == 4006 and reason.startswith("consumer too slow: a write of"), (code, reason)
