"""Issue 12.3: integers beyond what storage holds. A SUBMIT with the resend key ``"id":
9223372036854775808`` (2**63) overflowed the SQLite column and the broker process exited; an
integer beyond 64 bits in a reading silently became a float (orjson reads it so).

Now the broker checks ranges at the boundary: such a SUBMIT is dropped (answered with a WARNING
frame to a producer that opted in to extensions), the producer stays connected, and the next
reading is stored and reaches the real `wearstream consumer`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import trio

from wearstream.testing.broker_process import BrokerProcess, DeveloperCredentials, create_developer
from wearstream.testing.consumer_process import ConsumerProcess
from wearstream.testing.numbered_producer import identified_producer

pytestmark = pytest.mark.e2e

TS = "2022-05-04T10:26:11.268507+01:00"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[BrokerProcess, DeveloperCredentials]]:
    dev = create_developer(tmp_path / "data", "ints")
    with BrokerProcess.create(tmp_path / "data", log_dir=tmp_path / "logs") as process:
        yield process, dev


def stored(path: Path) -> list[object]:
    if not path.exists():
        return []
    return [json.loads(line)["d"]["val"] for line in path.read_bytes().split(b"\n")[:-1]]


async def test_out_of_range_integers_are_dropped_and_the_broker_carries_on(
    broker: tuple[BrokerProcess, DeveloperCredentials], tmp_path: Path
) -> None:
    process, dev = broker
    out = tmp_path / "out.jsonl"
    consumer = ConsumerProcess.create(process, dev, tmp_path / "consumer", "--sink", f"jsonl:{out}")
    consumer.start()
    try:
        await consumer.until(lambda: "ready" in consumer.stderr(), "the consumer's READY")
        async with identified_producer(
            process.http_url, process.ws_url, dev.dev_id, dev.api_key, "alice",
            source="outbox-1", ack=True, extensions=True,
        ) as ws:
            reading = '{"ts":"%s","val":%s}'
            await ws.send_message('{"op":6,"t":"HEART_RATE","id":9223372036854775808,"d":%s}'
                                  % (reading % (TS, 60)))
            await ws.send_message('{"op":6,"t":"STEPS","id":1,"d":%s}'
                                  % (reading % (TS, 18446744073709551616)))
            await ws.send_message('{"op":6,"t":"STEPS","id":2,"d":%s}' % (reading % (TS, 62)))
            answers = []
            with trio.fail_after(10):
                while not any(a["op"] == 9 and a["d"]["upto"] == 2 for a in answers):
                    answers.append(json.loads(await ws.get_message()))
            warnings = [a["d"] for a in answers if a["op"] == 11]
            assert [(w["op"], w.get("id")) for w in warnings] == [(6, None), (6, 1)]
            assert all("2**63" in w["reason"] or "64-bit" in w["reason"] for w in warnings)
            await consumer.until(lambda: 62 in stored(out), "the reading after the bad ones")
        assert process.running, process.output()
        assert stored(out) == [62]
    finally:
        consumer.stop()
