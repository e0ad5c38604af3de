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

import pytest
import trio

from wearstream.testing.broker_process import BrokerProcess, DeveloperCredentials
from wearstream.testing.numbered_producer import identified_producer

from .conftest import jsonl_consumer, jsonl_values

pytestmark = pytest.mark.e2e

TS = "2022-05-04T10:26:11.268507+01:00"


async def test_out_of_range_integers_are_dropped_and_the_broker_carries_on(
    own_broker: tuple[BrokerProcess, DeveloperCredentials], tmp_path: Path
) -> None:
    process, dev = own_broker
    async with jsonl_consumer(process, dev, tmp_path) as (consumer, out):
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
            await consumer.until(lambda: 62 in jsonl_values(out), "the reading after the bad ones")
        assert process.running, process.output()
        assert jsonl_values(out) == [62]
