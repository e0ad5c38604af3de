"""Scale-out end to end: several real `wearstream broker` processes on one real redis-server.

Producers on node A and a consumer on node B are plain Terra-style clients (trio-websocket and
httpx, no wearstream client code). Node B is killed; the consumer reconnects to node C and REPLAY
fills the gap; Redis is restarted mid-stream; every payload arrives exactly once and in order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    create_developer,
)
from wearstream.testing.redis_server import RedisServer, redis_server_binary

pytestmark = pytest.mark.e2e

PRODUCER, CONSUMER = 0, 1
TS = "2022-05-04T10:26:11.268507+01:00"
PACE = 0.002  # between submits, so that faults land in the middle of the stream
LEASE = 1.0  # --consumer-lease: how long a killed node's consumer slot stays taken


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (apt package redis-server)")
    with RedisServer(tmp_path / "redis", appendonly=True) as server:
        yield server



@pytest.fixture
def nodes(redis: RedisServer, tmp_path: Path) -> Iterator[list[BrokerProcess]]:
    extra = ["--backend", redis.url, "--consumer-lease", f"{LEASE:g}"]
    brokers = [
        BrokerProcess.create(None, log_dir=tmp_path / f"node-{name}", max_consumers=1, extra=extra)
        for name in "abc"
    ]
    try:
        for broker in brokers:
            broker.start()
        yield brokers
    finally:
        for broker in brokers:
            broker.kill()


async def mint(node: BrokerProcess, dev: DeveloperCredentials, user: str | None = None) -> str:
    path = "/auth/developer" if user is None else f"/auth/user?id={user}"
    async with httpx.AsyncClient(base_url=node.http_url, timeout=10) as http:
        response = await http.post(path, headers=dev.headers())
    assert response.status_code == 200, response.text
    return response.json()["token"]


async def identify(ws: WebSocketConnection, token: str, role: int) -> None:
    assert json.loads(await ws.get_message())["op"] == 2  # HELLO
    await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": role}}))
    assert json.loads(await ws.get_message())["op"] == 4  # READY


async def close_code(ws: WebSocketConnection) -> int | None:
    with trio.fail_after(5):
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as closed:
            return closed.reason.code


# The consumer cap and tokens across nodes --------------------------------------------------


async def test_the_consumer_cap_and_single_use_tokens_hold_across_nodes(
    nodes: list[BrokerProcess], redis: RedisServer
) -> None:
    a, b, c = nodes
    dev = create_developer(redis.url, "acme")
    token = await mint(a, dev)
    async with open_websocket_url(b.ws_url) as first:
        await identify(first, token, CONSUMER)
        async with open_websocket_url(c.ws_url) as again:  # the same token, another node
            await again.get_message()
            await again.send_message(json.dumps({"op": 3, "d": {"token": token, "type": CONSUMER}}))
            assert await close_code(again) == 4001
        async with open_websocket_url(c.ws_url) as second:
            await second.get_message()
            await second.send_message(
                json.dumps({"op": 3, "d": {"token": await mint(c, dev), "type": CONSUMER}})
            )
            assert await close_code(second) == 4002
    # The first consumer has gone: its slot is free again, on any node.
    with trio.fail_after(10):
        while True:
            async with open_websocket_url(c.ws_url) as third:
                await third.get_message()
                await third.send_message(
                    json.dumps({"op": 3, "d": {"token": await mint(a, dev), "type": CONSUMER}})
                )
                if json.loads(await third.get_message())["op"] == 4:
                    break
            await trio.sleep(0.1)


# Producers on A, a consumer moving from B to C, Redis restarted --------------------------------


class Consumer:
    """A plain consumer: keeps the last seq it stored, REPLAYs from it after every reconnect and
    drops what it already has (a replayed page may overlap live frames)."""

    def __init__(self, dev: DeveloperCredentials) -> None:
        self.dev = dev
        self.last = 0
        self.values: list[int] = []
        self.changed = trio.Event()

    async def run(self, node: BrokerProcess, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Consume from ``node`` until it goes away; waits out a slot held by a dead node (4002)."""
        while True:
            async with open_websocket_url(node.ws_url) as ws:
                await ws.get_message()  # HELLO
                token = await mint(node, self.dev)
                await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": CONSUMER}}))
                try:
                    first = json.loads(await ws.get_message())
                except ConnectionClosed as closed:
                    assert closed.reason.code == 4002, closed.reason
                    await trio.sleep(LEASE / 4)
                    continue
                assert first["op"] == 4
                replay = {"op": 7, "d": {"after": self.last, "before": 2**53}}
                await ws.send_message(json.dumps(replay))
                task_status.started()
                try:
                    while True:
                        self._receive(json.loads(await ws.get_message()))
                except ConnectionClosed:
                    return

    def _receive(self, frame: dict[str, Any]) -> None:
        if frame["op"] != 5 or frame["seq"] <= self.last:
            return
        self.last = frame["seq"]
        self.values.append(frame["d"]["val"])
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.values) < count:
            await self.changed.wait()


async def produce(node: BrokerProcess, dev: DeveloperCredentials, user: str, values: range,
                  gate: "Gate") -> None:
    async with open_websocket_url(node.ws_url) as ws:
        await identify(ws, await mint(node, dev, user), PRODUCER)
        for value in values:
            await gate.wait(value)
            await ws.send_message(json.dumps({"op": 6, "t": "STEPS", "d": {"ts": TS, "val": value}}))
            await trio.sleep(PACE)
        await trio.sleep(1)  # let the last frames be read before closing


class Gate:
    """Lets producers run up to a mark, so that each fault happens mid-stream."""

    def __init__(self) -> None:
        self.mark = 0
        self.moved = trio.Event()

    def open_to(self, mark: int) -> None:
        self.mark = mark
        self.moved.set()
        self.moved = trio.Event()

    async def wait(self, value: int) -> None:
        while value % 1000 >= self.mark:
            await self.moved.wait()


async def test_a_consumer_moves_to_another_node_and_redis_restarts_without_loss(
    nodes: list[BrokerProcess], redis: RedisServer
) -> None:
    a, b, c = nodes
    dev = create_developer(redis.url, "acme")
    per_producer = 300
    producers = {user: range(i * 1000, i * 1000 + per_producer) for i, user in enumerate(("u0", "u1"))}
    total = per_producer * len(producers)
    consumer, gate = Consumer(dev), Gate()
    with trio.fail_after(90):
        async with trio.open_nursery() as nursery:
            await nursery.start(consumer.run, b)
            for user, values in producers.items():
                nursery.start_soon(produce, a, dev, user, values, gate)
            gate.open_to(100)
            await consumer.wait_for(200)

            b.kill()  # node B dies with its consumer's slot held; the consumer moves to C
            gate.open_to(200)  # these arrive while no node has the consumer
            await trio.sleep(0.3)
            await nursery.start(consumer.run, c)
            await consumer.wait_for(400)

            gate.open_to(per_producer)
            # Restarted while the producers submit; AOF with fsync always loses nothing.
            await trio.to_thread.run_sync(redis.restart)
            await consumer.wait_for(total)
            assert a.running and c.running, a.output() + c.output()
            nursery.cancel_scope.cancel()

    seen = consumer.values
    assert len(seen) == len(set(seen)) == total  # exactly once
    for values in producers.values():  # each producer's readings in the order it sent them
        assert [v for v in seen if v in values] == list(values)


# Retention -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
async def test_replay_beyond_retention_answers_what_is_left_and_says_so(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    options = ["--retention", "5", "--retention-interval", "0.1"]
    if backend == "redis":
        redis: RedisServer = request.getfixturevalue("redis")
        dev = create_developer(redis.url, "acme")
        node = BrokerProcess.create(None, log_dir=tmp_path / "node", extra=["--backend", redis.url, *options])
    else:
        from wearstream.testing.broker_process import create_developer as create_in_dir

        dev = create_in_dir(tmp_path / "data", "acme")
        node = BrokerProcess.create(tmp_path / "data", log_dir=tmp_path / "node", extra=options)
    with node:
        async with open_websocket_url(node.ws_url) as producer:
            await identify(producer, await mint(node, dev, "u1"), PRODUCER)
            for value in range(1, 21):
                frame = {"op": 6, "t": "STEPS", "d": {"ts": TS, "val": value}}
                await producer.send_message(json.dumps(frame))
            async with open_websocket_url(node.ws_url) as consumer:
                await identify(consumer, await mint(node, dev), CONSUMER)
                with trio.fail_after(10):
                    while True:  # until retention has run over all 20
                        await consumer.send_message(json.dumps({"op": 7, "d": {"after": 0, "before": 100}}))
                        frames = [json.loads(await consumer.get_message()) for _ in range(5)]
                        if frames[0]["seq"] == 16:
                            break
                        while True:  # drain the rest of an older, longer answer
                            with trio.move_on_after(0.3):
                                await consumer.get_message()
                                continue
                            break
                assert [f["seq"] for f in frames] == [16, 17, 18, 19, 20]
                assert [f["d"]["val"] for f in frames] == [16, 17, 18, 19, 20]
                assert frames[0]["trimmed"] == 15 and all("trimmed" not in f for f in frames[1:])
                # A replay that starts after the trimmed part is a plain one.
                await consumer.send_message(json.dumps({"op": 7, "d": {"after": 17, "before": 100}}))
                again = [json.loads(await consumer.get_message()) for _ in range(3)]
                assert [f["seq"] for f in again] == [18, 19, 20]
                assert all("trimmed" not in f for f in again)
