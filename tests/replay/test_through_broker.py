"""A recording made by a real consumer, replayed by a real producer: the same readings reach
the broker again, with their recorded timestamps (what reproducing a user's bug needs)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import trio

from wearstream.adapters.sinks.jsonl import JsonlSink
from wearstream.domain.stream import Payload
from wearstream.ports.devices import SampleSource
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.fake_device import FakeDevice, Reading
from wearstream.testing.fixtures import LiveBroker

from .conftest import T0

WAIT_S = 10.0  # a hang guard
COUNT = 12


async def stream_through(
    broker: LiveBroker, user: str, device: SampleSource | str, after: int
) -> list[Payload]:
    """Run a producer until its device ends; what a consumer from ``after`` receives of it."""
    received: list[Payload] = []
    with trio.fail_after(WAIT_S):
        async with broker.consumer(cursor=after) as stream:
            await broker.producer(user, [device]).run()
            async for payload in stream:
                received.append(payload)
                if len(received) == COUNT:
                    break
    return received


async def test_a_consumers_recording_replays_through_a_producer(
    wearstream_broker: LiveBroker, tmp_path: Path
) -> None:
    script = [
        Reading("HEART_RATE", 60 + n, T0 + timedelta(milliseconds=250 * n)) for n in range(COUNT)
    ]
    strap = FakeDevice("strap", script=script, ends=True)
    original = await stream_through(wearstream_broker, "alice", strap, 0)
    recording = tmp_path / "alice.jsonl"
    sink = JsonlSink(str(recording), SinkOptions())
    await sink.open()
    await sink.write(original, original[-1].seq)
    await sink.aclose()

    replay = f"replay:{recording}?speed=50"
    replayed = await stream_through(wearstream_broker, "bob", replay, original[-1].seq)
    assert [(p.uid, p.t, p.d) for p in replayed] == [("bob", p.t, p.d) for p in original]
    assert replayed[0].d["ts"] == "2024-03-09T07:30:00.000000Z"
