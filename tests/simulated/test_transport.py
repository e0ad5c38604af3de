"""The sim transport under trio: status first, paced samples, scanner, SpecError for bad specs.

Pacing is checked on trio's virtual clock (``autojump_clock``), stamped by a clock that reads it,
so counts and spacing are exact and nothing depends on how fast this machine is.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
import trio

from wearstream.adapters.simulated.models import KINDS
from wearstream.adapters.simulated.spec import parse_spec
from wearstream.adapters.simulated.transport import SimulatedSource, SimulatedTransport
from wearstream.domain.devices import DeviceStatus
from wearstream.domain.errors import SpecError
from wearstream.domain.samples import Sample

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


class Recorder:
    """DeviceEvents that keeps everything, optionally slow to take a sample (backpressure)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.samples: list[Sample] = []
        self.statuses: list[DeviceStatus] = []
        self.delay = delay

    async def sample(self, sample: Sample) -> None:
        assert self.statuses, "status comes before the first sample"
        await trio.sleep(self.delay)
        self.samples.append(sample)

    def status(self, status: DeviceStatus) -> None:
        self.statuses.append(status)

    def of(self, label: str) -> list[Sample]:
        return [s for s in self.samples if s.t == label]


class TrioClock:
    """Wall time that follows trio's (virtual) clock."""

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=trio.current_time())


async def run_for(spec: str, seconds: float, events: Recorder) -> Recorder:
    with trio.move_on_after(seconds):
        await SimulatedSource(parse_spec(spec), TrioClock()).run("user-1", events)
    return events


async def test_real_time_session_reports_status_then_samples() -> None:
    events = await run_for("hr-strap?rate=50&seed=2", 0.3, Recorder())
    source = SimulatedTransport().open("hr-strap?rate=50&seed=2")
    assert events.statuses == [
        DeviceStatus("sim-hr-strap-2", connected=True, source="sim", battery=source.device.battery)
    ]
    assert 1 <= len(events.of("HEART_RATE")) <= 50
    assert {(s.user_id, s.device_id) for s in events.samples} == {("user-1", "sim-hr-strap-2")}


async def test_samples_are_stamped_with_the_aware_utc_wall_clock() -> None:
    events = Recorder()
    before = datetime.now(timezone.utc)
    with trio.move_on_after(0.2):
        await SimulatedTransport().open("footpod?rate=50").run("u", events)
    after = datetime.now(timezone.utc)
    assert events.samples
    assert all(s.ts.tzinfo is timezone.utc and before <= s.ts <= after for s in events.samples)


async def test_scalars_are_paced_at_the_rate(autojump_clock: trio.testing.MockClock) -> None:
    events = await run_for("bike?rate=2", 10.5, Recorder())
    power = events.of("POWER")
    assert len(power) == 21
    gaps = {round((b.ts - a.ts).total_seconds(), 6) for a, b in zip(power, power[1:])}
    assert gaps == {0.5}


async def test_the_watch_imu_runs_at_50_hz(autojump_clock: trio.testing.MockClock) -> None:
    events = await run_for("watch?rate=1", 2.01, Recorder())
    assert len(events.of("ACCELERATION")) == len(events.of("GYROSCOPE")) == 101
    assert len(events.of("HEART_RATE")) == 3


async def test_the_same_seed_gives_the_same_values(autojump_clock: trio.testing.MockClock) -> None:
    first = await run_for("hr-strap?seed=9", 30, Recorder())
    second = await run_for("hr-strap?seed=9", 30, Recorder())
    assert [(s.t, s.value) for s in first.samples] == [(s.t, s.value) for s in second.samples]
    assert first.of("RR_INTERVAL") and first.of("BATTERY")


async def test_a_slow_consumer_gets_every_value_without_a_burst(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Backpressure delays samples; after a long stall the session resumes at its rate."""
    events = await run_for("footpod?rate=1", 40, Recorder(delay=2.0))
    speeds = events.of("SPEED")
    gaps = [(b.ts - a.ts).total_seconds() for a, b in zip(speeds, speeds[1:])]
    assert min(gaps) >= 1.0  # never faster than the rate, though it fell behind
    timeline = KINDS["footpod"].timeline(0, 1.0)
    expected = [r.value for r in itertools.islice(timeline, 100) if r.data_type.value == "SPEED"]
    assert [s.value for s in speeds] == expected[: len(speeds)]  # nothing skipped


async def test_the_scanner_finds_one_device_per_kind() -> None:
    devices = await SimulatedTransport().scanner().scan(timeout=5)
    assert [d.id for d in devices] == [f"sim-{kind}-0" for kind in KINDS]
    assert all(d.transport == "sim" and d.data_types for d in devices)
    by_id = {d.id: d for d in devices}
    assert by_id["sim-hr-strap-0"].battery is not None
    assert by_id["sim-watch-0"].battery is None


def test_the_transport_names_itself_and_its_data_types() -> None:
    transport = SimulatedTransport()
    assert transport.name == "sim"
    assert {"HEART_RATE", "RR_INTERVAL", "POWER", "LOCATION"} <= set(transport.data_types)


def test_a_bad_spec_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="hr-strap, footpod, bike, watch"):
        SimulatedTransport().open("treadmill?rate=3")
