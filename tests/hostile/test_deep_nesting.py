"""Issue 12.2: a SUBMIT whose reading nests deeply. orjson reads 1,024 levels but writes only
254, so a 254-deep extra key was parsed, then the log append raised in the hub writer and the
broker process exited; 253 levels were stored and then stopped the jsonl sink of every consumer.

Now the broker bounds a reading's structure when it validates it: the deep SUBMIT is dropped (the
producer stays connected), and what follows is stored and reaches the real `wearstream consumer`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wearstream.testing.broker_process import BrokerProcess, DeveloperCredentials
from wearstream.testing.numbered_producer import identified_producer

from .conftest import jsonl_consumer, jsonl_values

pytestmark = pytest.mark.e2e

TS = "2022-05-04T10:26:11.268507+01:00"


def deep_submit(levels: int) -> str:
    """A SUBMIT whose reading has an extra key nested ``levels`` deep (the reading itself is 1)."""
    inner = "1"
    for _ in range(levels - 1):
        inner = '{"x":' + inner + "}"
    return '{"op":6,"t":"HEART_RATE","d":{"ts":"%s","val":60,"extra":%s}}' % (TS, inner)


async def test_deep_readings_neither_stop_the_broker_nor_a_consumer(
    own_broker: tuple[BrokerProcess, DeveloperCredentials], tmp_path: Path
) -> None:
    process, dev = own_broker
    async with jsonl_consumer(process, dev, tmp_path) as (consumer, out):
        async with identified_producer(
            process.http_url, process.ws_url, dev.dev_id, dev.api_key, "alice"
        ) as ws:
            await ws.send_message(deep_submit(254))  # unwritable: the append raised
            await ws.send_message(deep_submit(253))  # writable once, then not by a sink
            await ws.send_message(json.dumps({"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": 61}}))
            await consumer.until(lambda: 61 in jsonl_values(out), "the reading after the deep ones")
        assert process.running, process.output()
        assert consumer.running
        assert jsonl_values(out) == [61]
