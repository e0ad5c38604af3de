"""A client that never reads must not block anyone else: not its own developer's producer, not
another developer's producer and consumer (another tenant). Its TCP receive window is shrunk so
that the broker's writes to it stall after kilobytes, and its developer's producer then sends
~10 MB of readings for it; a second stalled client floods pings whose pongs it never reads."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import CONSUMER, PRODUCER, Interop
from .rawws import PING, TEXT, RawClient, encode_frame

pytestmark = pytest.mark.e2e

NOTE = "x" * 200_000  # a reading's extra field, forwarded untouched and cheap to check
FLOOD_READINGS = 50  # x 200 KB = 10 MB, more than the kernel buffers on loopback
PING_FLOOD = 50_000  # x 127-byte pongs = ~6 MB the pinger never reads
LATENCY_BOUND_S = 2.0  # generous for a loaded 2-core machine; a blocked broker never answers
TS = "2026-12-06T03:00:00.123456+00:00"


def identified(broker: Interop, token: str, role: int, **options: object) -> RawClient:
    client = RawClient(broker.ws_url, **options)  # type: ignore[arg-type]
    assert client.read_json()["op"] == 2
    client.send_json({"op": 3, "d": {"token": token, "type": role}})
    assert client.read_json()["op"] == 4
    return client


def submit(val: float) -> bytes:
    return encode_frame(TEXT, json.dumps({"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": val}}).encode())


def test_a_client_that_never_reads_blocks_no_other_connection(broker: Interop) -> None:
    stalled_dev, other_dev = broker.tenants
    stalled = identified(broker, broker.mint(stalled_dev), CONSUMER, receive_buffer=4096)
    pinger = RawClient(broker.ws_url, receive_buffer=4096, timeout=1.0)
    with stalled, pinger:
        flooder = identified(broker, broker.mint(stalled_dev, "flooder"), PRODUCER)
        with flooder:
            big = {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": 60, "note": NOTE}}
            frame = encode_frame(TEXT, json.dumps(big).encode())
            started = time.monotonic()
            for _ in range(FLOOD_READINGS):
                flooder.send_raw(frame)
            pings = encode_frame(PING, b"p" * 125)
            try:
                for _ in range(PING_FLOOD):
                    pinger.send_raw(pings)
            except TimeoutError:
                pass  # the broker stopped reading this one client: allowed, it is that one's fault
            flooder.send_json({"op": 0})
            assert flooder.read_json() == {"op": 1}, "the producer was held up by its stalled consumer"
            assert time.monotonic() - started < 30

            consumer = identified(broker, broker.mint(other_dev), CONSUMER)
            producer = identified(broker, broker.mint(other_dev, "other-tenant"), PRODUCER)
            with consumer, producer:
                for i in range(5):
                    sent = time.monotonic()
                    producer.send_raw(submit(60 + i))
                    dispatch = consumer.read_json()
                    assert (dispatch["op"], dispatch["uid"], dispatch["d"]["val"]) == (5, "other-tenant", 60 + i)
                    assert time.monotonic() - sent < LATENCY_BOUND_S
                producer.send_json({"op": 0})
                assert producer.read_json() == {"op": 1}

        # The stalled consumer, once it reads, gets everything, in order (docs/protocol.md).
        seqs = [stalled.read_json()["seq"] for _ in range(FLOOD_READINGS)]
        assert seqs == sorted(seqs) and len(set(seqs)) == FLOOD_READINGS
