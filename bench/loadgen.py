"""One load-generator process: some producers and/or consumers of one system, driven by the parent.

The parent (bench.relay) talks to each worker over a multiprocessing pipe, in lock step:

1. the worker connects its clients and sends ``{"connected", "failed", "errors"}``;
2. the parent sends the plan ``{"start", "window", "stop"}`` (wall-clock seconds); producers send
   from start to stop, consumers record; the worker sends ``{"sent", "alive"}``;
3. the parent sends ``{"expect": {developer: n}, "drain": s}``; consumers wait until they hold
   that many distinct readings (or the drain time is up); the worker sends ``{"consumers"}``;
4. the parent sends ``"exit"``; the worker closes everything and ends.

Wall-clock times are shared by every process on the machine; each worker maps them to trio's
clock once, so producers are paced by trio.sleep_until (open loop: a late send does not delay the
schedule of the next one).
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any, Awaitable, Callable, Iterator

import attrs
import httpx
import trio

from . import abuse, mqtt_clients, ws_clients
from .mqtt import MqttConnection
from .reading import submit_frame
from .recorder import Recorder, Window

GOLDEN = 0.6180339887498949  # spreads producers' first sends evenly over one interval
Send = Callable[[list[str]], Awaitable[None]]  # readings, written at once


@attrs.frozen
class WorkerConfig:
    system: str  # "wearstream" or "mqtt"
    qos: int = 0
    ws_url: str = ""
    http_url: str = ""
    mqtt_port: int = 0
    developers: tuple[tuple[str, str], ...] = ()
    producers: tuple[tuple[int, int], ...] = ()  # (producer index, developer index)
    consumers: tuple[int, ...] = ()  # developer indices
    rate: float = 0.0  # readings/s per producer; 0 = as fast as the broker takes them
    batch: int = 1  # readings per write at maximum rate
    idle: bool = False  # producers only heartbeat
    keepalive: int = 40  # MQTT keepalive, s (wearstream clients use HELLO's interval)
    concurrency: int = 64  # connections being set up at once
    abusers: tuple[abuse.Abuser, ...] = ()  # hostile clients (the abuse scenario), run in the window


class Link:
    """The worker's end of the pipe, read without blocking trio."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def receive(self) -> Any:
        while not self.conn.poll():
            await trio.lowlevel.wait_readable(self.conn.fileno())
        return self.conn.recv()

    def send(self, message: Any) -> None:
        self.conn.send(message)


class Worker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.recorders = {dev: Recorder() for dev in config.consumers}
        self.senders: dict[int, Send] = {}
        self.sent = {index: 0 for index, _ in config.producers}
        self.alive = 0
        self.failures: list[str] = []
        self.abuse: dict[str, dict[str, int]] = {}
        self._offset = time.time() - trio.current_time()

    def trio_time(self, wall: float) -> float:
        return wall - self._offset

    def _closed(self) -> None:
        self.alive -= 1

    # Setup -------------------------------------------------------------------------------------

    async def connect_all(self, nursery: trio.Nursery) -> None:
        if self.config.abusers:
            await abuse.seed_all(self.config.abusers, self.config.ws_url, self.config.http_url, self.config.developers)
        limiter = trio.CapacityLimiter(self.config.concurrency)
        limits = httpx.Limits(max_connections=self.config.concurrency)
        async with httpx.AsyncClient(base_url=self.config.http_url, timeout=60, limits=limits) as http:
            async with trio.open_nursery() as setup:
                for dev in self.config.consumers:
                    setup.start_soon(self._guarded, limiter, self._consumer, nursery, http, dev)
                for index, dev in self.config.producers:
                    setup.start_soon(self._guarded, limiter, self._producer, nursery, http, index, dev)

    async def _guarded(self, limiter: trio.CapacityLimiter, connect: Any, *args: Any) -> None:
        async with limiter:
            try:
                await connect(*args)
            except Exception as error:  # every failure is counted and reported, whatever it is
                self.failures.append(f"{type(error).__name__}: {error}")

    async def _producer(self, nursery: trio.Nursery, http: httpx.AsyncClient, index: int, dev: int) -> None:
        if self.config.system == "wearstream":
            developer = ws_clients.Developer(*self.config.developers[dev])
            token = await ws_clients.mint(http, developer, f"user{index}")
            ws, schedule = await ws_clients.open_session(self.config.ws_url, token, ws_clients.PRODUCER)
            nursery.start_soon(ws_clients.heartbeat, ws, schedule)
            nursery.start_soon(ws_clients.drain, ws, self._closed)
            self.senders[index] = ws.send_messages
        else:
            connection = await self._mqtt_connect(nursery, f"p{index}")
            nursery.start_soon(mqtt_clients.drain, connection, self._closed)
            self.senders[index] = self._mqtt_sender(connection, dev)
        self.alive += 1

    async def _consumer(self, nursery: trio.Nursery, http: httpx.AsyncClient, dev: int) -> None:
        recorder = self.recorders[dev]
        if self.config.system == "wearstream":
            developer = ws_clients.Developer(*self.config.developers[dev])
            token = await ws_clients.mint(http, developer, None)
            ws, schedule = await ws_clients.open_session(self.config.ws_url, token, ws_clients.CONSUMER)
            nursery.start_soon(ws_clients.heartbeat, ws, schedule)
            nursery.start_soon(ws_clients.consume, ws, recorder, time.time)
        else:
            connection = await self._mqtt_connect(nursery, f"c{dev}")
            await connection.subscribe(mqtt_clients.topic(dev), self.config.qos)
            nursery.start_soon(mqtt_clients.consume, connection, recorder, time.time)

    async def _mqtt_connect(self, nursery: trio.Nursery, client_id: str) -> MqttConnection:
        connection = await MqttConnection.connect(
            "127.0.0.1", self.config.mqtt_port, client_id, self.config.keepalive
        )
        nursery.start_soon(mqtt_clients.keepalive, connection, self.config.keepalive)
        return connection

    def _mqtt_sender(self, connection: MqttConnection, dev: int) -> Send:
        topic_bytes = mqtt_clients.encoded_topic(dev)
        qos = self.config.qos

        async def send(frames: list[str]) -> None:
            await connection.send(
                b"".join(mqtt_clients.publish_packet(connection, topic_bytes, qos, f.encode()) for f in frames)
            )

        return send

    # Running -----------------------------------------------------------------------------------

    async def run_producers(self, plan: dict[str, Any]) -> None:
        if self.config.idle:
            await trio.sleep_until(self.trio_time(plan["stop"]))
            return
        async with trio.open_nursery() as nursery:
            for index, send in self.senders.items():
                nursery.start_soon(self._send_loop, index, send, plan)

    async def _send_loop(self, index: int, send: Send, plan: dict[str, Any]) -> None:
        clock, stop, rate, batch = time.time, plan["stop"], self.config.rate, self.config.batch
        counter = 0
        try:
            if rate <= 0:
                await trio.sleep_until(self.trio_time(plan["start"]))
                while (now := clock()) < stop:
                    await send([submit_frame(index, counter + i, now) for i in range(batch)])
                    counter += batch
                    self.sent[index] = counter
                return
            interval = 1.0 / rate
            due = plan["start"] + interval * ((index * GOLDEN) % 1.0)
            while due < stop:
                await trio.sleep_until(self.trio_time(due))
                await send([submit_frame(index, counter, clock())])
                counter += 1
                self.sent[index] = counter
                due += interval
        except (ws_clients.ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError) as error:
            self.failures.append(f"producer {index} stopped: {type(error).__name__}")

    async def run_abusers(self, plan: dict[str, Any]) -> None:
        if self.config.abusers:
            self.abuse = await abuse.run_all(
                self.config.abusers, self.config.ws_url, self.config.http_url, self.config.developers,
                plan["start"], plan["stop"], lambda wall: trio.sleep_until(self.trio_time(wall)),
            )

    async def wait_drained(self, expect: dict[int, int], drain: float) -> None:
        with trio.move_on_after(drain):
            while any(self.recorders[dev].distinct < n for dev, n in expect.items() if dev in self.recorders):
                await trio.sleep(0.05)


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """The process target."""
    trio.run(_run, Link(conn), config)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in this process while the window runs (one is made before).

    Why: a load generator holds the state of a thousand or more connections, and the recorder
    every reading; with Python's default thresholds its own collections paused it for 50-250 ms
    within a window, which the latency figures then showed as the broker's (docs/benchmarks.md,
    "On an AMD EPYC (2 vCPUs): the collector and the memory log"). Every system is measured with
    the same load generators.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _run(link: Link, config: WorkerConfig) -> None:
    worker = Worker(config)
    async with trio.open_nursery() as nursery:
        await worker.connect_all(nursery)
        link.send({"connected": worker.alive, "failed": len(worker.failures), "errors": worker.failures[:5]})
        plan = await link.receive()
        for recorder in worker.recorders.values():
            recorder.window = Window(*plan["window"])
        with collector_paused():
            async with trio.open_nursery() as window:
                window.start_soon(worker.run_producers, plan)
                window.start_soon(worker.run_abusers, plan)
        link.send({"sent": worker.sent, "alive": worker.alive, "errors": worker.failures[:5], "abuse": worker.abuse})
        request = await link.receive()
        await worker.wait_drained(request["expect"], request["drain"])
        link.send({"consumers": {dev: r.result() for dev, r in worker.recorders.items()}})
        await link.receive()
        nursery.cancel_scope.cancel()
