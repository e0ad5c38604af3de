"""`wearstream developers revoke`, run as its own process beside running brokers, ends every open
session of that developer (producers, consumers) within a second with 4009, on every broker: a
broker process on the same SQLite file, and two broker nodes on one Redis. Nothing of another
developer is touched, and the revoked developer gets back in by no door."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Iterator

import attrs
import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from wearstream.adapters.http.tokens_client import mint_developer_token, mint_user_token
from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    create_developer,
    create_developers,
    wearstream_command,
)
from wearstream.testing.raw_consumer import RawConsumer, close_reason
from wearstream.testing.redis_server import RedisServer, redis_server_binary

pytestmark = pytest.mark.e2e

WITHIN_S = 1.0  # the promise
SLACK_S = 0.5  # a loaded CI box: the close frame still has to travel and be read
REVOKED = 4009


@attrs.define
class RawProducer:
    """Submits a reading every 20 ms until the broker closes it; remembers how."""

    broker: BrokerProcess
    dev: DeveloperCredentials
    user: str
    closed: tuple[int | None, str] | None = None
    closed_at: float | None = None
    sent: int = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        token = await mint_user_token(self.broker.http_url, self.dev.dev_id, self.dev.api_key, self.user)
        async with open_websocket_url(self.broker.ws_url, disconnect_timeout=1) as ws:
            try:
                await ws.get_message()  # HELLO
                await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": 0}}))
                assert json.loads(await ws.get_message())["op"] == 4
                task_status.started()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._drain, ws)
                    while True:
                        self.sent += 1
                        frame = {"op": 6, "t": "STEPS", "d": {"ts": "2024-05-04T10:26:11Z", "val": self.sent}}
                        await ws.send_message(json.dumps(frame))
                        await trio.sleep(0.02)
            except* ConnectionClosed as group:
                self.closed = close_reason(group)
                self.closed_at = time.monotonic()

    async def _drain(self, ws: object) -> None:
        while True:
            await ws.get_message()  # type: ignore[attr-defined]


def revoke(dev: DeveloperCredentials, where: list[str]) -> float:
    """Run `wearstream developers revoke` to its end; returns when it exited (monotonic)."""
    command = [*wearstream_command(), "developers", "revoke", dev.dev_id, *where]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, env=clean_environment())
    assert done.returncode == 0, done.stderr
    return time.monotonic()


class ClosedAt:
    """Watches a RawConsumer and notes when it was closed."""

    def __init__(self, consumer: RawConsumer) -> None:
        self.consumer = consumer
        self.at: float | None = None

    async def run(self) -> None:
        while self.consumer.closed is None:
            await trio.sleep(0.005)
        self.at = time.monotonic()


async def wait_until(condition: object, timeout: float) -> None:
    with trio.fail_after(timeout):
        while not condition():  # type: ignore[operator]
            await trio.sleep(0.005)


async def revocation_round(
    revoked_side: list[BrokerProcess],
    other_side: BrokerProcess,
    victim: DeveloperCredentials,
    bystander: DeveloperCredentials,
    where: list[str],
) -> None:
    """A producer and a consumer of ``victim`` (on the brokers of ``revoked_side``: producer on
    the first, consumer on the last) and a consumer of ``bystander``; revoke the victim."""
    producer_node, consumer_node = revoked_side[0], revoked_side[-1]
    producer = RawProducer(producer_node, victim, "alice")
    consumer = RawConsumer(consumer_node.ws_url, consumer_node.http_url, victim)
    bystanders = RawConsumer(other_side.ws_url, other_side.http_url, bystander)
    unspent = await mint_developer_token(consumer_node.http_url, victim.dev_id, victim.api_key)
    watch = ClosedAt(consumer)
    async with trio.open_nursery() as nursery:
        await nursery.start(consumer.run)
        await nursery.start(bystanders.run)
        await nursery.start(producer.run)
        nursery.start_soon(watch.run)
        await consumer.wait_for(5)  # live data flows to the victim's consumer

        revoked_at = revoke(victim, where)
        await wait_until(lambda: producer.closed is not None and watch.at is not None, 10)
        assert producer.closed == (REVOKED, "developer revoked")
        assert consumer.closed == (REVOKED, "developer revoked")
        assert producer.closed_at is not None and watch.at is not None
        assert producer.closed_at - revoked_at < WITHIN_S + SLACK_S
        assert watch.at - revoked_at < WITHIN_S + SLACK_S

        # No door back in: no mint, no unspent token; the bystander's session never noticed.
        async with httpx.AsyncClient(timeout=10) as http:
            minted = await http.post(consumer_node.http_url + "/auth/developer", headers=victim.headers())
        assert minted.status_code == 403
        async with open_websocket_url(consumer_node.ws_url, disconnect_timeout=1) as ws:
            await ws.get_message()
            await ws.send_message(json.dumps({"op": 3, "d": {"token": unspent, "type": 1}}))
            with pytest.raises(ConnectionClosed) as refused:
                await ws.get_message()
            assert refused.value.reason.code == 4001
        assert bystanders.closed is None
        nursery.cancel_scope.cancel()


async def test_revoking_in_another_process_ends_sessions_on_the_same_sqlite_file(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    victim, bystander = create_developers(data_dir, ["victim", "bystander"])
    with BrokerProcess.create(data_dir, log_dir=tmp_path / "logs") as broker:
        await revocation_round([broker], broker, victim, bystander, ["--data-dir", str(data_dir)])
        assert broker.running


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (apt package redis-server)")
    with RedisServer(tmp_path / "redis") as server:
        yield server



async def test_revoking_ends_sessions_on_every_node_of_one_redis(
    redis: RedisServer, tmp_path: Path
) -> None:
    victim = create_developer(redis.url, "victim")
    bystander = create_developer(redis.url, "bystander")
    extra = ["--backend", redis.url]
    nodes = [
        BrokerProcess.create(None, log_dir=tmp_path / f"node-{name}", extra=extra) for name in "ab"
    ]
    try:
        for node in nodes:
            node.start()
        await revocation_round(nodes, nodes[0], victim, bystander, ["--backend", redis.url])
        assert all(node.running for node in nodes)
    finally:
        for node in nodes:
            node.kill()
