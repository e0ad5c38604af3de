"""The ``lsl:`` transport reading real LSL outlets: it passes the device-session contract, maps
streams to data types by their type and channels, and stamps samples with the outlet's times."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import trio

from wearstream.adapters.lsl.streams import InletMapping, mapping_for
from wearstream.adapters.lsl.transport import LslSource, LslTransport, parse_spec
from wearstream.domain.datatypes import Shape
from wearstream.domain.errors import SpecError
from wearstream.ports.devices import SampleSource
from wearstream.testing.contracts.devices import DeviceSessionContract
from wearstream.testing.fake_device import EventRecorder

pylsl = pytest.importorskip("pylsl", reason="the LSL tests need pylsl (the test extra has it)")


async def feed(outlet: Any, values: Any, every: float = 0.02) -> None:
    """Push one sample every ``every`` seconds until cancelled, stamped with the LSL clock."""
    i = 0
    while True:
        outlet.push_sample(values(i), pylsl.local_clock())
        i += 1
        await trio.sleep(every)


def outlet(name: str, lsl_type: str, channels: int, rate: float = 0.0, channel_type: str = "") -> Any:
    info = pylsl.StreamInfo(name, lsl_type, channels, rate, "float32", name)
    if channel_type:
        info.desc().append_child("channels").append_child("channel").append_child_value("type", channel_type)
    return pylsl.StreamOutlet(info)


class TestLslHeartRateSession(DeviceSessionContract):
    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        name = f"hr-{abs(hash(str(path))):x}"  # one name per test: a session's id is stable
        nursery.start_soon(feed, outlet(name, "HR", 1), lambda i: [60.0 + i % 40])
        return LslTransport().open(f"name={name}&wait=2")


async def test_an_ecg_stream_arrives_as_chunks_with_the_outlets_times(nursery: trio.Nursery) -> None:
    name = f"ecg-{uuid.uuid4().hex[:8]}"
    ecg = outlet(name, "EEG", 1, 130.0, channel_type="ECG")  # typed by its one channel
    source = LslTransport().open(f"name={name}")
    events = EventRecorder()
    nursery.start_soon(source.run, "alice", events)
    pushed: list[tuple[float, float]] = []
    with trio.fail_after(20):
        while not events.samples:
            stamp = pylsl.local_clock()
            value = 0.001 * len(pushed)
            ecg.push_sample([value], stamp)
            pushed.append((value, time.time() - (pylsl.local_clock() - stamp)))
            await trio.sleep(1 / 130)
    first = events.samples[0]
    assert first.t == "ECG"
    index = next(i for i, (value, _) in enumerate(pushed) if abs(value - first.value[0]) < 1e-6)
    expected = datetime.fromtimestamp(pushed[index][1], tz=timezone.utc)
    assert abs((first.ts - expected).total_seconds()) < 0.001


@pytest.mark.parametrize(
    "lsl_type, channels, channel_types, mapping",
    [
        ("HEART_RATE", 1, [], InletMapping("HEART_RATE", Shape.SCALAR)),
        ("Accelerometer", 3, [], InletMapping("ACCELERATION", Shape.VECTOR)),
        ("ACC", 3, [], InletMapping("ACCELERATION", Shape.VECTOR)),
        ("ECG", 1, [], InletMapping("ECG", Shape.SERIES)),
        ("ExG", 1, ["ECG"], InletMapping("ECG", Shape.SERIES)),
        ("ECG", 3, [], InletMapping("LSL_ECG", Shape.VECTOR)),
        ("EEG", 8, [], InletMapping("LSL_EEG", Shape.VECTOR)),
        ("Eye tracker!", 2, [], InletMapping("LSL_EYE_TRACKER", Shape.VECTOR)),
    ],
)
def test_streams_map_to_data_types(lsl_type: str, channels: int, channel_types: list[str], mapping: InletMapping) -> None:
    assert mapping_for(lsl_type, channels, channel_types) == mapping


@pytest.mark.parametrize("spec", ["", "wait=2", "type=", "name=a'b", "type=ECG&wait=0", "colour=red"])
def test_a_bad_spec_is_one_clear_error(spec: str) -> None:
    with pytest.raises(SpecError, match="lsl"):
        parse_spec(spec)


def test_a_spec_names_a_stable_device() -> None:
    source = LslTransport().open("type=ECG&name=polar")
    assert isinstance(source, LslSource)
    assert source.device.id == "lsl-ECG-polar"


async def test_a_stream_that_goes_away_is_reported_and_found_again(nursery: trio.Nursery) -> None:
    name = f"gone-{uuid.uuid4().hex[:8]}"
    source = LslTransport().open(f"name={name}&wait=1")
    events = EventRecorder()
    nursery.start_soon(source.run, "alice", events)
    async with trio.open_nursery() as feeding:
        feeding.start_soon(feed, outlet(name, "HR", 1), lambda i: [70.0])
        with trio.fail_after(20):
            while not events.samples:
                await trio.sleep(0.05)
        feeding.cancel_scope.cancel()  # the feeder ends, and its outlet goes with it
    with trio.fail_after(30):
        while not any(not s.connected for s in events.statuses):
            await trio.sleep(0.05)
    seen = len(events.samples)
    nursery.start_soon(feed, outlet(name, "HR", 1), lambda i: [80.0])
    with trio.fail_after(30):
        while len(events.samples) == seen:
            await trio.sleep(0.05)
    assert events.samples[-1].value == 80.0
    assert events.statuses[-1].connected
