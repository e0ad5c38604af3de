"""Issue 13 on a real in-process broker, frame by frame: tokens spent only by a successful IDENTIFY,
extension data types only for consumers that opt in (live and in REPLAY), READY's latest seq,
lenient IDENTIFY and REPLAY, dropped SUBMITs that keep the producer, and the broker's own stamp."""

from __future__ import annotations

from datetime import datetime

import trio
from trio_websocket import open_websocket_url

from wearstream.testing.fixtures import LiveBroker, start_broker
from wearstream.testing.wire import identify, mint, receive, send

TS = "2022-05-04T10:26:11.268507+01:00"
QUIET = 0.3


async def quiet(ws) -> list[dict]:
    """Whatever arrives within QUIET seconds."""
    frames = []
    with trio.move_on_after(QUIET):
        while True:
            frames.append(await receive(ws))
    return frames


async def submit_all(broker: LiveBroker, user: str, readings: list[tuple[str, dict]]) -> None:
    async with open_websocket_url(broker.ws_url) as p:
        assert (await identify(p, await mint(broker, f"/auth/user?id={user}"), 0))["op"] == 4
        for t, d in readings:
            await send(p, {"op": 6, "t": t, "d": d})
        await send(p, {"op": 0})  # the ACK comes after every SUBMIT before it was handled
        while (await receive(p))["op"] != 1:
            pass


async def test_a_token_refused_for_the_consumer_cap_works_next_time(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery)
    first, second = await mint(broker, "/auth/developer"), await mint(broker, "/auth/developer")
    async with open_websocket_url(broker.ws_url) as c1:
        assert (await identify(c1, first, 1))["op"] == 4
        async with open_websocket_url(broker.ws_url) as c2:
            assert (await identify(c2, second, 1))["close"] == 4002
    async with open_websocket_url(broker.ws_url) as c3:  # the first consumer has gone
        assert (await identify(c3, second, 1))["op"] == 4
    async with open_websocket_url(broker.ws_url) as c4:  # and now it is spent
        assert (await identify(c4, second, 1))["close"] == 4001


async def test_a_token_of_the_wrong_role_is_not_spent(wearstream_broker: LiveBroker) -> None:
    token = await mint(wearstream_broker, "/auth/developer")
    async with open_websocket_url(wearstream_broker.ws_url) as ws:
        assert (await identify(ws, token, 0))["close"] == 4001
    async with open_websocket_url(wearstream_broker.ws_url) as ws:
        assert (await identify(ws, token, 1))["op"] == 4


async def test_extension_types_reach_only_consumers_that_opt_in(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, max_consumers=2)
    async with open_websocket_url(broker.ws_url) as plain, open_websocket_url(broker.ws_url) as ours:
        assert (await identify(plain, await mint(broker, "/auth/developer"), 1))["op"] == 4
        assert (await receive(ours))["op"] == 2
        await send(ours, {"op": 3, "d": {"token": await mint(broker, "/auth/developer"),
                                         "type": 1, "extensions": True}})
        assert (await receive(ours))["op"] == 4
        await submit_all(broker, "alice", [
            ("HEART_RATE", {"ts": TS, "val": 61}),
            ("BATTERY", {"ts": TS, "val": 80}),
            ("RUNNING_OXYGEN_SATURATION", {"ts": TS, "val": 97}),
            ("MY_OWN_SENSOR", {"ts": TS, "val": 1}),  # a producer's label, not ours: passes
        ])
        assert [f["t"] for f in await quiet(plain)] == ["HEART_RATE", "MY_OWN_SENSOR"]
        assert [f["t"] for f in await quiet(ours)] == [
            "HEART_RATE", "BATTERY", "RUNNING_OXYGEN_SATURATION", "MY_OWN_SENSOR"
        ]
        await send(plain, {"op": 7, "d": {"after": 0, "before": 10}})
        await send(ours, {"op": 7, "d": {"after": 0, "before": 10}})
        assert [f["seq"] for f in await quiet(plain)] == [1, 4]
        assert [f["seq"] for f in await quiet(ours)] == [1, 2, 3, 4]


async def test_ready_carries_the_latest_seq(wearstream_broker: LiveBroker) -> None:
    broker = wearstream_broker
    await submit_all(broker, "alice", [("HEART_RATE", {"ts": TS, "val": v}) for v in (60, 61, 62)])
    async with open_websocket_url(broker.ws_url) as ws:
        assert await identify(ws, await mint(broker, "/auth/developer"), 1) == {"op": 4, "d": {"seq": 3}}
    async with open_websocket_url(broker.ws_url) as ws:
        assert await identify(ws, await mint(broker, "/auth/user?id=bob"), 0) == {"op": 4}


async def test_lenient_identify_and_replay(wearstream_broker: LiveBroker) -> None:
    broker = wearstream_broker
    await submit_all(broker, "alice", [("HEART_RATE", {"ts": TS, "val": v}) for v in (60, 61, 62)])
    async with open_websocket_url(broker.ws_url) as ws:
        assert (await identify(ws, await mint(broker, "/auth/developer"), "1"))["op"] == 4  # type: ignore[arg-type]
        await send(ws, {"op": 7, "d": {"after": 0}})  # Terra: nothing without before
        await send(ws, {"op": 7, "d": {"after": "zero", "before": 5}})
        await send(ws, {"op": 7, "d": None})
        assert await quiet(ws) == []
        await send(ws, {"op": 7, "d": {"after": 0.0, "before": "3"}})
        assert [f["seq"] for f in await quiet(ws)] == [1, 2]
        await send(ws, {"op": 0})
        assert (await receive(ws))["op"] == 1  # still open


async def test_a_malformed_submit_is_dropped_and_the_producer_stays(wearstream_broker: LiveBroker) -> None:
    broker = wearstream_broker
    async with open_websocket_url(broker.ws_url) as c:
        assert (await identify(c, await mint(broker, "/auth/developer"), 1))["op"] == 4
        async with open_websocket_url(broker.ws_url) as p:
            assert (await receive(p))["op"] == 2
            await send(p, {"op": 3, "d": {"token": await mint(broker, "/auth/user?id=al"), "type": 0,
                                          "extensions": True}})
            assert (await receive(p))["op"] == 4
            bad = [
                {"op": 6, "t": "HEART_RATE", "d": {"ts": "2022-05-04T10:26:11", "val": 60}},
                {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": None}},
                {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": "60"}},
                {"op": 6, "t": "ACCELERATION", "d": {"ts": TS, "d": [1, 2]}},
                {"op": 6, "t": "HEART RATE", "d": {"ts": TS, "val": 60}},
                {"op": 6, "t": "HEART_RATE", "d": [60]},
            ]
            for frame in bad:
                await send(p, frame)
            warnings = [await receive(p) for _ in bad]
            assert {w["op"] for w in warnings} == {11} and all(w["d"]["op"] == 6 for w in warnings)
            await send(p, {"op": 6, "t": "HEART_RATE", "d": {"val": 61}})
            [frame] = await quiet(c)
        stamp = frame["d"]["ts"]
        assert list(frame["d"]) == ["ts", "val"]
        assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")  # the broker's own stamp: Z
    assert broker.running.broker.dropped == {"SUBMIT": len(bad)}


async def test_not_json_still_closes_1003(wearstream_broker: LiveBroker) -> None:
    async with open_websocket_url(wearstream_broker.ws_url) as p:
        assert (await identify(p, await mint(wearstream_broker, "/auth/user?id=al"), 0))["op"] == 4
        await p.send_message("{not json")
        with trio.fail_after(5):
            while True:
                try:
                    await p.get_message()
                except Exception:
                    break
        assert p.closed is not None and p.closed.code == 1003


async def test_a_dropped_submit_is_acknowledged_in_turn(wearstream_broker: LiveBroker) -> None:
    """With acknowledged submits, a SUBMIT the broker drops is acknowledged like a stored one
    (it will never be stored): otherwise the producer's outbox would resend it forever."""
    broker = wearstream_broker
    async with open_websocket_url(broker.ws_url) as p:
        assert (await receive(p))["op"] == 2
        await send(p, {"op": 3, "d": {"token": await mint(broker, "/auth/user?id=al"), "type": 0,
                                      "source": "outbox-1", "ack": True}})
        assert (await receive(p))["op"] == 4
        await send(p, {"op": 6, "t": "HEART_RATE", "id": 1, "d": {"ts": TS, "val": 60}})
        await send(p, {"op": 6, "t": "HEART_RATE", "id": 2, "d": {"ts": TS, "val": "60"}})
        acks = []
        with trio.fail_after(5):
            while not acks or acks[-1] < 2:
                frame = await receive(p)
                assert frame["op"] == 9, frame  # no WARNING: this producer did not opt in
                acks.append(frame["d"]["upto"])
    assert broker.running.broker.dropped == {"SUBMIT": 1}
