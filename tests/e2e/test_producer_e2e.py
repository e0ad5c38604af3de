"""End to end: `wearstream broker` and `wearstream producer` as real processes, a simulated 50 Hz
strap, a plain WebSocket consumer in the test; the broker is SIGKILLed mid-stream and restarted on
the same data dir and ports.

The check. The producer's outbox gives its samples consecutive ids, and each stored payload keeps
the id it was submitted with (its idempotency key) in the broker's log. So, after the run:
- the log holds exactly the ids first_id..last_id the producer reports having added, once each,
  in increasing order along the seqs: nothing lost, nothing stored twice, order kept;
- the consumer has exactly the log's payloads (same seqs, same readings): nothing it missed
  while the broker was down stays missing, since it asks for REPLAY after reconnecting;
- per data type, timestamps never go back along the seqs (the device's own order).
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import attrs
import httpx
import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from wearstream.adapters.storage.sqlite import SqliteStreamLog, database_path
from wearstream.domain.stream import ReplayRange
from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    create_developer,
    wearstream_command,
)

pytestmark = pytest.mark.e2e

USER = "runner-1"
SUMMARY = re.compile(
    r"wearstream producer stopped: added=(?P<added>\d+) first_id=(?P<first>\d+) "
    r"last_id=(?P<last>\d+) acked=(?P<acked>\d+|-) pending=(?P<pending>\d+)"
)
PORT = re.compile(r":(\d+)")


@attrs.define
class Collector:
    """A Terra consumer (opted in to extension types) that reconnects and asks for REPLAY after
    the last seq it has."""

    ws_url: str
    api_url: str
    dev: DeveloperCredentials
    payloads: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    connects: int = 0

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except (HandshakeError, ConnectionClosed, httpx.HTTPError, OSError):
                pass
            await trio.sleep(0.1)

    async def _session(self) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.post(self.api_url + "/auth/developer", headers=self.dev.headers())
            response.raise_for_status()
            token = response.json()["token"]
        async with open_websocket_url(self.ws_url) as ws:
            await ws.get_message()  # HELLO
            # opted in to extension types: the strap sends BATTERY too, and every sample is counted
            identify = {"op": 3, "d": {"token": token, "type": 1, "extensions": True}}
            await ws.send_message(orjson.dumps(identify).decode())
            assert orjson.loads(await ws.get_message())["op"] == 4
            self.connects += 1
            if self.payloads:
                replay = {"op": 7, "d": {"after": max(self.payloads), "before": 2**53}}
                await ws.send_message(orjson.dumps(replay).decode())
            while True:
                frame = orjson.loads(await ws.get_message())
                if frame["op"] == 5:
                    seen = self.payloads.setdefault(frame["seq"], frame)
                    assert seen == frame, f"seq {frame['seq']} came back different"

    async def wait_for(self, count: int, timeout: float = 15.0) -> None:
        with trio.fail_after(timeout):
            while len(self.payloads) < count:
                await trio.sleep(0.05)


def producer_command(broker: BrokerProcess, dev: DeveloperCredentials, outbox: Path) -> list[str]:
    return [
        *wearstream_command(), "producer", "--user-id", USER,
        "--device", "sim:hr-strap?rate=50&seed=7",
        "--broker-url", broker.ws_url, "--api-url", broker.http_url,
        "--dev-id", dev.dev_id, "--api-key", dev.api_key, "--outbox", str(outbox),
    ]


async def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int:
    with trio.fail_after(timeout):
        while process.poll() is None:
            await trio.sleep(0.05)
    return process.returncode


async def test_a_broker_killed_mid_stream_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dev = await trio.to_thread.run_sync(create_developer, data, "e2e")
    first = await BrokerProcess.create(data, log_dir=tmp_path / "broker-1").start_async()
    ports = ["--port", PORT.findall(first.ws_url)[-1], "--http-port", PORT.findall(first.http_url)[-1]]
    second = BrokerProcess.create(data, log_dir=tmp_path / "broker-2", extra=ports)
    out, err = tmp_path / "producer.stdout", tmp_path / "producer.stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        producer = subprocess.Popen(
            producer_command(first, dev, tmp_path / "outbox.db"),
            stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, env=clean_environment(),
        )
    collector = Collector(first.ws_url, first.http_url, dev)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(collector.run)
            await collector.wait_for(100)  # streaming: HR and RR at 50 Hz
            first.kill()  # SIGKILL: whatever was stored but not yet acknowledged gets resent
            await trio.sleep(1.0)  # the strap goes on; the samples wait in the outbox
            await second.start_async()
            at_restart = len(collector.payloads)
            await collector.wait_for(at_restart + 150)
            producer.send_signal(signal.SIGINT)
            assert await wait_exit(producer, 15) == 0, err.read_text()
            summary = SUMMARY.search(out.read_text())
            assert summary, out.read_text() + err.read_text()
            await collector.wait_for(int(summary["added"]))
            nursery.cancel_scope.cancel()
    finally:
        if producer.poll() is None:
            producer.kill()
        first.kill()
        if second.running:
            assert second.stop() == 0, second.output()

    assert int(summary["pending"]) == 0
    first_id, last_id = int(summary["first"]), int(summary["last"])
    log = await SqliteStreamLog.open(database_path(data))
    try:
        stored = await log.read_range(dev.dev_id, ReplayRange(0, 2**53), 10**6)
    finally:
        await log.aclose()

    counters = [p.key.counter for p in stored if p.key is not None]
    assert len(counters) == len(stored) == int(summary["added"])
    assert counters == list(range(first_id, last_id + 1))  # every sample once, in order
    assert len({p.key.source for p in stored if p.key is not None}) == 1
    assert sorted(collector.payloads) == [p.seq for p in stored]  # the consumer has them all
    for p in stored:
        got = collector.payloads[p.seq]
        assert (got["uid"], got["t"], got["d"]) == (USER, p.t, p.d)
    last_ts: dict[str, str] = {}
    for p in stored:
        assert p.d["ts"] >= last_ts.get(p.t, ""), f"{p.t} went back in time at seq {p.seq}"
        last_ts[p.t] = p.d["ts"]
    assert collector.connects >= 2
    assert "reconnecting" in err.read_text()
