"""A full disk under a running `wearstream broker` (a real one: a small tmpfs filled to the last
byte) and a Redis that refuses writes (out of memory): the broker stays up, refuses producers with
1013 and reports itself degraded on /healthz, serves its consumers (live and REPLAY) from what is
stored, and recovers by itself once there is room again. Nothing acknowledged is lost, nothing
is stored twice."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    create_developer,
)
from wearstream.adapters.http.tokens_client import mint_developer_token, mint_user_token
from wearstream.testing.numbered_producer import AckedProducer
from wearstream.testing.raw_consumer import RawConsumer
from wearstream.testing.redis_server import RedisServer, redis_server_binary

pytestmark = pytest.mark.e2e

DISK = "4m"
CHUNK = 64 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of our own (root with CAP_SYS_ADMIN; skipped where mounting is refused)."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs", str(where)],
        capture_output=True, text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here to fill it ({mounted.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the file system has no byte left; returns it (delete it to free)."""
    filler = disk / "filler"
    block = b"\0" * CHUNK
    with open(filler, "wb", buffering=0) as f:
        size = CHUNK
        while size:
            try:
                f.write(block[:size])
            except OSError as error:
                assert error.errno == errno.ENOSPC
                size //= 2
    return filler


async def health(broker: BrokerProcess) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=broker.http_url, timeout=10) as http:
        response = await http.get("/healthz")
    return response.status_code, response.json()


async def wait_for_health(broker: BrokerProcess, status: int, timeout: float = 20.0) -> dict[str, Any]:
    with trio.fail_after(timeout):
        while True:
            code, body = await health(broker)
            if code == status:
                return body
            await trio.sleep(0.05)


async def wait_until(condition: Any, timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.01)


async def identify_producer(
    broker: BrokerProcess, token: str, role: int = 0
) -> tuple[int | None, str] | None:
    """IDENTIFY (as a producer) with ``token``: None when READY came, else how it was closed."""
    async with open_websocket_url(broker.ws_url, disconnect_timeout=1) as ws:
        try:
            await ws.get_message()  # HELLO
            await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": role}}))
            assert json.loads(await ws.get_message())["op"] == 4
            return None
        except ConnectionClosed as closed:
            return closed.reason.code, closed.reason.reason or ""


async def storage_trouble_round(
    broker: BrokerProcess,
    dev: DeveloperCredentials,
    make_trouble: Any,
    end_trouble: Any,
    error_text: str,
) -> None:
    """The scenario both backends go through; ``make_trouble``/``end_trouble`` are sync calls."""
    producer = AckedProducer(broker, dev, user="runner", interval=0.002)
    consumer = RawConsumer(broker.ws_url, broker.http_url, dev)
    async with trio.open_nursery() as nursery:
        await nursery.start(consumer.run)
        nursery.start_soon(producer.run)
        await wait_until(lambda: producer.acked >= 100)
        token = await mint_user_token(broker.http_url, dev.dev_id, dev.api_key, "late")
        consumer_token = await mint_developer_token(broker.http_url, dev.dev_id, dev.api_key)
        make_trouble()
        body = await wait_for_health(broker, 503)
        assert body["status"] == "degraded"
        assert error_text in body["storage"]["error"]
        assert broker.running
        stored = producer.acked

        # Producers are refused with 1013 (before their token is spent); consumers keep being
        # served from what is stored.
        refused = await identify_producer(broker, token)
        assert refused is not None and refused[0] == 1013, refused
        assert "storage unavailable" in refused[1]
        # A second consumer (the broker runs with --max-consumers 2) gets in, or is refused
        # with 1013 when admitting it needs a write (spending its token, a Redis lease).
        second = await identify_producer(broker, consumer_token, role=1)
        assert second is None or second[0] == 1013, second
        live = len(consumer.dispatches)
        await consumer.replay(0, stored + 1)
        await consumer.wait_for(live + stored)
        assert consumer.seqs[live:] == list(range(1, stored + 1))
        assert consumer.closed is None

        end_trouble()
        await wait_for_health(broker, 200)
        assert await identify_producer(broker, token) is None  # the same token works now
        await wait_until(lambda: producer.acked >= stored + 100)
        producer.stopping = True
        await wait_until(lambda: producer.done)

        # Everything the producer sent is stored once, in order, and was dispatched live.
        sent = producer.sent
        start = len(consumer.dispatches)
        await consumer.replay(0, sent + 1)
        await consumer.wait_for(start + sent)
        replayed = consumer.dispatches[start:]
        assert [frame["d"]["val"] for frame in replayed] == list(range(1, sent + 1))
        assert [frame["seq"] for frame in replayed] == list(range(1, sent + 1))
        live_seqs = consumer.seqs[:live] + consumer.seqs[live + stored : start]
        assert sorted(set(live_seqs)) == list(range(1, sent + 1))
        nursery.cancel_scope.cancel()
    assert broker.running
    assert "Traceback" not in broker.stderr_path.read_text()


async def test_a_full_disk_refuses_producers_serves_consumers_and_recovers(
    small_disk: Path, tmp_path: Path
) -> None:
    data_dir = small_disk / "data"
    dev = create_developer(data_dir, "acme")
    filler: list[Path] = []
    extra = ["--max-consumers", "2"]
    with BrokerProcess.create(data_dir, log_dir=tmp_path / "logs", extra=extra) as broker:
        await storage_trouble_round(
            broker, dev,
            make_trouble=lambda: filler.append(fill(small_disk)),
            end_trouble=lambda: filler[0].unlink(),
            error_text="database or disk is full",
        )


async def test_a_restart_on_a_full_disk_stays_up(small_disk: Path, tmp_path: Path) -> None:
    """A broker that went down hard (its -wal and -shm files left behind, as after the crash this
    used to be) is restarted on a full disk: a producer is refused with 1013 (at IDENTIFY, whose
    token cannot be spent, or at its SUBMIT) instead of the broker exiting, and the broker takes
    submissions once there is room."""
    data_dir = small_disk / "data"
    dev = create_developer(data_dir, "acme")
    first = BrokerProcess.create(data_dir, log_dir=tmp_path / "logs").start()
    token = await mint_user_token(first.http_url, dev.dev_id, dev.api_key, "early")
    first.kill()
    filler = fill(small_disk)
    with BrokerProcess.create(data_dir, log_dir=tmp_path / "logs-2") as broker:
        async with open_websocket_url(broker.ws_url, disconnect_timeout=1) as ws:
            await ws.get_message()  # HELLO
            await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": 0}}))
            with pytest.raises(ConnectionClosed) as closed:
                with trio.fail_after(20):
                    assert json.loads(await ws.get_message())["op"] == 4  # READY, maybe
                    await ws.send_message(json.dumps(
                        {"op": 6, "t": "STEPS", "d": {"ts": "2024-05-04T10:26:11Z", "val": 1}}
                    ))
                    await ws.get_message()
            assert closed.value.reason.code == 1013, closed.value.reason
        assert broker.running
        filler.unlink()
        await wait_for_health(broker, 200)
        producer = AckedProducer(broker, dev, user="after-restart", interval=0.002)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer.run)
            await wait_until(lambda: producer.acked >= 50)
            nursery.cancel_scope.cancel()
        assert "Traceback" not in broker.stderr_path.read_text()


# Redis -------------------------------------------------------------------------------------


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (apt package redis-server)")
    with RedisServer(tmp_path / "redis") as server:
        yield server


def redis_cli(redis: RedisServer, *args: str) -> None:
    done = subprocess.run(
        ["redis-cli", "-p", str(redis.port), *args], capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0 and "ERR" not in done.stdout, done.stdout + done.stderr



async def test_a_redis_out_of_memory_refuses_producers_and_recovers(
    redis: RedisServer, tmp_path: Path
) -> None:
    if not os.path.exists("/usr/bin/redis-cli"):
        pytest.skip("redis-cli is not installed")
    dev = create_developer(redis.url, "acme")
    # Short consumer leases: their renewals (writes too) meet the out-of-memory Redis.
    extra = ["--backend", redis.url, "--consumer-lease", "1", "--max-consumers", "2"]
    with BrokerProcess.create(None, log_dir=tmp_path / "logs", extra=extra) as broker:
        await storage_trouble_round(
            broker, dev,
            make_trouble=lambda: redis_cli(redis, "CONFIG", "SET", "maxmemory", "1"),
            end_trouble=lambda: redis_cli(redis, "CONFIG", "SET", "maxmemory", "0"),
            error_text="OOM",
        )
