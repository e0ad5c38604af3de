"""`wearstream consumer` as a real process against a real `wearstream broker` process: killed with
SIGKILL and restarted, the broker restarted, a second consumer refused with 4002, a webhook that
fails its first requests. After each, every payload is stored exactly once, in order.

The producer (the kit's AckedProducer) is a plain WebSocket client using acknowledged submits,
so the test knows exactly what the broker stored: readings 1…N, each once, with ``val`` = its number.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest
import trio

from wearstream.testing.broker_process import BrokerProcess, DeveloperCredentials, create_developers
from wearstream.testing.consumer_process import ConsumerProcess, consumer_arguments
from wearstream.testing.numbered_producer import AckedProducer

pytestmark = pytest.mark.e2e

WAIT = 15.0


# Reading what the sinks stored --------------------------------------------------------------------


def sqlite_rows(path: Path) -> list[tuple[int, int]]:
    """(seq, val) of every stored sample, in seq order."""
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=5) as db:
        try:
            rows = db.execute("SELECT seq, d FROM samples ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []
    return [(seq, json.loads(d)["val"]) for seq, d in rows]


def jsonl_rows(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")[:-1]  # a torn last line is not stored yet
    records = [json.loads(line) for line in lines if line.startswith(b"{")]
    return [(r["seq"], r["d"]["val"]) for r in records]


async def until(
    condition: Any, what: str, *consumers: ConsumerProcess, timeout: float = WAIT
) -> None:
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(0.05)
        return
    logs = "".join(f"\n--- consumer stderr ---\n{c.stderr()}" for c in consumers)
    raise AssertionError(f"timed out waiting for {what}{logs}")


def assert_exactly_once_in_order(rows: list[tuple[int, int]], producer: AckedProducer) -> None:
    """The broker numbered the readings 1…N in the order it stored them (val = their number)."""
    assert producer.acked == producer.sent > 0
    seqs = [seq for seq, _ in rows]
    values = [val for _, val in rows]
    assert seqs == sorted(set(seqs)), "stored out of order or twice"
    assert values == list(range(1, producer.sent + 1))


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("consumer-e2e-data")


@pytest.fixture(scope="module")
def developers(data_dir: Path) -> list[DeveloperCredentials]:
    return create_developers(data_dir, [f"consumer-e2e-{i}" for i in range(5)])


@pytest.fixture(scope="module")
def broker(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = BrokerProcess.create(data_dir, log_dir=tmp_path_factory.mktemp("broker-logs"))
    with process:
        yield process


@pytest.fixture
def consumers(tmp_path: Path) -> Iterator[list[ConsumerProcess]]:
    started: list[ConsumerProcess] = []
    yield started
    for consumer in started:
        consumer.kill()
        if consumer.process is not None:
            consumer.process.wait(5)


def new_consumer(started: list[ConsumerProcess], args: list[str], log_dir: Path) -> ConsumerProcess:
    consumer = ConsumerProcess(args, log_dir)
    started.append(consumer)
    return consumer


# Scenarios ----------------------------------------------------------------------------------------


async def test_consumer_killed_with_sigkill_and_restarted(
    broker: BrokerProcess, developers: list[DeveloperCredentials], consumers: list, tmp_path: Path
) -> None:
    dev, store = developers[0], tmp_path / "samples.db"
    producer = AckedProducer(broker, dev)
    consumer = new_consumer(consumers, consumer_arguments(broker, dev, "--sink", f"sqlite:{store}"), tmp_path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer.run)
        consumer.start()
        await until(lambda: len(sqlite_rows(store)) > 100, "the first rows", consumer)
        consumer.kill()
        assert await consumer.wait() == -signal.SIGKILL
        at_kill = len(sqlite_rows(store))
        await trio.sleep(0.3)  # readings keep coming while no consumer runs
        consumer.start()
        await until(lambda: len(sqlite_rows(store)) > at_kill + 100, "the restart to resume", consumer)
        assert f"resuming after seq {at_kill}" in consumer.stderr()
        producer.stopping = True
    await until(lambda: len(sqlite_rows(store)) >= producer.sent, "every reading", consumer)
    consumer.kill(signal.SIGTERM)
    assert await consumer.wait() == 0, consumer.stderr()
    assert_exactly_once_in_order(sqlite_rows(store), producer)


async def test_broker_restarted_mid_stream(
    data_dir: Path, developers: list[DeveloperCredentials], consumers: list, tmp_path: Path
) -> None:
    dev, store = developers[1], tmp_path / "samples.jsonl"
    first = BrokerProcess.create(data_dir, log_dir=tmp_path / "broker1")
    await first.start_async()
    ws_port, http_port = first.ws_url.rsplit(":", 1)[1].split("/")[0], first.http_url.rsplit(":", 1)[1]
    second = BrokerProcess.create(
        data_dir, log_dir=tmp_path / "broker2", extra=["--port", ws_port, "--http-port", http_port]
    )
    producer = AckedProducer(first, dev)
    consumer = new_consumer(consumers, consumer_arguments(first, dev, "--sink", f"jsonl:{store}"), tmp_path)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer.run)
            consumer.start()
            await until(lambda: len(jsonl_rows(store)) > 100, "the first rows", consumer)
            assert await first.stop_async() == 0
            at_stop = len(jsonl_rows(store))
            await trio.sleep(0.3)
            await second.start_async()
            producer.broker = second
            await until(lambda: len(jsonl_rows(store)) > at_stop + 100, "the consumer to resume", consumer)
            producer.stopping = True
        await until(lambda: len(jsonl_rows(store)) >= producer.sent, "every reading", consumer)
    finally:
        first.kill()
        second.kill()
    assert consumer.process is not None and consumer.process.poll() is None, consumer.stderr()
    assert consumer.stderr().count("ready; resuming") == 2
    assert_exactly_once_in_order(jsonl_rows(store), producer)


async def test_a_second_consumer_exits_with_4002_and_a_clear_message(
    broker: BrokerProcess, developers: list[DeveloperCredentials], consumers: list, tmp_path: Path
) -> None:
    dev = developers[2]
    args = consumer_arguments(broker, dev, "--sink", f"jsonl:{tmp_path / 'first.jsonl'}")
    first = new_consumer(consumers, args, tmp_path / "first")
    (tmp_path / "first").mkdir()
    first.start()
    await until(lambda: "ready" in first.stderr(), "the first consumer to be ready", first)
    (tmp_path / "second").mkdir()
    args = consumer_arguments(broker, dev, "--sink", f"jsonl:{tmp_path / 'second.jsonl'}")
    second = new_consumer(consumers, args, tmp_path / "second")
    second.start()
    assert await second.wait() == 2  # reconnecting cannot help: one line, exit 2
    assert "another consumer is connected" in second.stderr()
    assert first.process is not None and first.process.poll() is None


async def test_webhook_receiver_that_fails_the_first_requests(
    broker: BrokerProcess, developers: list[DeveloperCredentials], consumers: list, tmp_path: Path
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from wearstream.adapters.http.server import serve_http
    from wearstream.adapters.sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

    secret, failures_left, received = "e2e-secret", [3], {}
    refused: list[int] = []

    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        verify_signature(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        if failures_left[0] > 0:
            failures_left[0] -= 1
            refused.append(503)
            return Response("not yet", status_code=503)
        for record in json.loads(body)["payloads"]:
            received.setdefault(record["seq"], record["d"]["val"])  # receivers dedupe by seq
        return Response("ok")

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    dev = developers[3]
    producer = AckedProducer(broker, dev)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_http, app, "127.0.0.1", 0)
        sink = f"webhook:http://127.0.0.1:{port}/hook"
        args = consumer_arguments(
            broker, dev, "--sink", sink, "--webhook-secret", secret, "--cursor-dir", str(tmp_path)
        )
        consumer = new_consumer(consumers, args, tmp_path).start()
        nursery.start_soon(producer.run)
        await until(lambda: len(received) > 50, "the first deliveries", consumer)
        producer.stopping = True
        await until(lambda: producer.done and len(received) >= producer.sent, "all", consumer)
        consumer.kill(signal.SIGTERM)
        assert await consumer.wait() == 0, consumer.stderr()
        nursery.cancel_scope.cancel()
    assert refused == [503, 503, 503]
    assert_exactly_once_in_order(sorted(received.items()), producer)


async def test_a_consumer_started_while_nobody_sends_stores_what_the_log_holds(
    broker: BrokerProcess, developers: list[DeveloperCredentials], consumers: list, tmp_path: Path
) -> None:
    """Issue 13.8: READY carries the stream's latest seq, and the consumer replays up to it at
    once; before, it stored nothing until some producer sent again."""
    dev, store = developers[4], tmp_path / "samples.jsonl"
    producer = AckedProducer(broker, dev)
    async with trio.open_nursery() as nursery:  # a short burst, all acknowledged, then silence
        nursery.start_soon(producer.run)
        with trio.fail_after(WAIT):
            while producer.sent < 50:
                await trio.sleep(0.01)
            producer.stopping = True
    assert producer.done and producer.sent >= 50
    consumer = new_consumer(consumers, consumer_arguments(broker, dev, "--sink", f"jsonl:{store}"), tmp_path)
    consumer.start()
    await until(lambda: len(jsonl_rows(store)) >= producer.sent, "the log's payloads", consumer)
    consumer.kill(signal.SIGTERM)
    assert await consumer.wait() == 0, consumer.stderr()
    assert_exactly_once_in_order(jsonl_rows(store), producer)
