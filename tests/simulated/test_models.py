"""The pure models of simulated devices: deterministic, physiological, valid, monotonic totals."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from wearstream.adapters.simulated.models import IMU_RATE_HZ, KINDS, Body, Reading
from wearstream.domain.datatypes import DataType
from wearstream.domain.samples import Sample

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
SECONDS = 120.0
kinds = st.sampled_from(sorted(KINDS))
seeds = st.integers(min_value=-(2**63), max_value=2**63)
rates = st.sampled_from([0.5, 1.0, 4.0, 10.0])

RANGES = {
    DataType.HEART_RATE: (40, 210),
    DataType.RR_INTERVAL: (300, 2000),
    DataType.BATTERY: (1, 100),
    DataType.SPEED: (0, 20),
    DataType.STEPS_CADENCE: (1, 4),
    DataType.POWER: (0, 600),
    DataType.BIKE_CADENCE: (40, 130),
}


def first(kind: str, seed: int, rate: float, seconds: float = SECONDS) -> list[Reading]:
    """The readings of the first ``seconds`` of a device's timeline."""
    timeline = KINDS[kind].timeline(seed, rate)
    return list(itertools.takewhile(lambda r: r.at < seconds, timeline))


@settings(max_examples=20)
@given(kinds, seeds, rates)
def test_a_seed_and_rate_give_the_same_timeline(kind: str, seed: int, rate: float) -> None:
    assert first(kind, seed, rate, 20) == first(kind, seed, rate, 20)


@settings(max_examples=10)
@given(kinds, seeds)
def test_different_seeds_give_different_values(kind: str, seed: int) -> None:
    assert first(kind, seed, 1.0, 20) != first(kind, seed + 1, 1.0, 20)


@settings(max_examples=12)
@given(kinds, seeds, rates)
def test_every_reading_is_a_valid_sample_of_its_kind_in_time_order(
    kind: str, seed: int, rate: float
) -> None:
    readings = first(kind, seed, rate)
    assert {r.data_type for r in readings} == set(KINDS[kind].data_types)
    assert [r.at for r in readings] == sorted(r.at for r in readings)
    for r in readings:
        Sample(r.data_type.value, T0, r.value, "u", "d")  # raises when the shape is wrong


@settings(max_examples=12)
@given(kinds, seeds)
def test_values_stay_in_physiological_ranges(kind: str, seed: int) -> None:
    for r in first(kind, seed, 1.0, 300):
        if r.data_type in RANGES:
            low, high = RANGES[r.data_type]
            assert low <= r.value <= high, r


@settings(max_examples=12)
@given(kinds, seeds, rates)
def test_accumulated_values_never_decrease(kind: str, seed: int, rate: float) -> None:
    last: dict[DataType, float] = {}
    for r in first(kind, seed, rate, 60):
        if r.data_type.info.accumulated:
            assert r.value >= last.get(r.data_type, 0), r
            last[r.data_type] = r.value
    assert all(v > 0 for v in last.values())  # they do grow


@settings(max_examples=10)
@given(seeds)
def test_the_strap_sends_one_rr_interval_per_beat(seed: int) -> None:
    beats = [r for r in first("hr-strap", seed, 1.0) if r.data_type is DataType.RR_INTERVAL]
    for beat, following in itertools.pairwise(beats):
        assert abs(following.at - beat.at - following.value / 1000) < 1e-9
    assert 40 <= len(beats) / (SECONDS / 60) <= 210  # beats per minute


@settings(max_examples=10)
@given(seeds)
def test_rr_intervals_vary_around_the_heart_rate(seed: int) -> None:
    readings = first("hr-strap", seed, 1.0)
    rr = [r.value for r in readings if r.data_type is DataType.RR_INTERVAL]
    assert len(set(rr)) > len(rr) // 2  # not a metronome
    hr = [r.value for r in readings if r.data_type is DataType.HEART_RATE]
    mean_rr = sum(rr) / len(rr)
    mean_hr = sum(hr) / len(hr)
    assert 0.8 < mean_rr / (60_000 / mean_hr) < 1.2


@settings(max_examples=50)
@given(seeds, st.floats(min_value=0, max_value=24 * 3600))
def test_effort_and_heart_rate_stay_in_range_all_day(seed: int, t: float) -> None:
    body = Body.from_seed(random.Random(seed))
    assert 0 <= body.effort(t) <= 1
    assert 45 <= body.rest_hr <= body.heart_rate(t) <= body.max_hr <= 200
    assert 1 <= body.running_speed(t) <= 5


def test_the_watch_imu_runs_at_50_hz_whatever_the_rate() -> None:
    readings = first("watch", 7, 1.0, 10)
    per_type = {dt: sum(r.data_type is dt for r in readings) for dt in KINDS["watch"].data_types}
    assert per_type[DataType.ACCELERATION] == per_type[DataType.GYROSCOPE] == 10 * IMU_RATE_HZ
    assert per_type[DataType.HEART_RATE] == per_type[DataType.LOCATION] == 10
    assert all(len(r.value) == 3 for r in readings if r.data_type is DataType.ACCELERATION)


def test_the_watch_moves_at_running_speed() -> None:
    track = [r.value for r in first("watch", 3, 1.0, 60) if r.data_type is DataType.LOCATION]
    (lat0, lon0), (lat1, lon1) = track[0], track[-1]
    assert track[0] != track[-1]
    assert abs(lat1 - lat0) < 0.01 and abs(lon1 - lon0) < 0.01  # under a kilometre a minute
