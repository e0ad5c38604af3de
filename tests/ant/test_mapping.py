"""From pages to Samples: the readers keep the page before and the session totals."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.ant.errors import DecodeError
from wearstream.adapters.ant.mapping import (
    STOPPED_AFTER_PAGES,
    BikeSpeedCadenceReader,
    HeartRateReader,
    PowerReader,
    StrideReader,
    to_samples,
)
from wearstream.domain.datatypes import DataType

TS = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_heart_rate_samples():
    reader = HeartRateReader()
    assert reader.read(bytes([0, 0, 0, 0, 0x00, 0x04, 1, 60])) == [(DataType.HEART_RATE, 60)]
    readings = reader.read(bytes([0, 0, 0, 0, 0x00, 0x08, 2, 60]))
    assert readings == [(DataType.HEART_RATE, 60), (DataType.RR_INTERVAL, 1000.0)]
    samples = to_samples(readings, TS, "user-1", "hr:1")
    assert [(s.t, s.value, s.user_id, s.device_id) for s in samples] == [
        ("HEART_RATE", 60, "user-1", "hr:1"),
        ("RR_INTERVAL", 1000.0, "user-1", "hr:1"),
    ]


def test_battery_page():
    readings = HeartRateReader().read(bytes([7, 55, 0, 0, 0, 0, 0, 0]))
    assert readings == [(DataType.BATTERY, 55)]


def test_stride_totals_start_at_zero_and_survive_rollover():
    reader = StrideReader()
    first = reader.read(bytes([1, 0, 10, 250, 0x03, 0, 200, 0]))
    assert (DataType.DISTANCE, 0.0) in first and (DataType.STEPS, 0) in first
    second = reader.read(bytes([1, 0, 12, 4, 0x03, 0, 203, 0]))  # 10 m and 3 strides in 2 s
    assert (DataType.DISTANCE, 10.0) in second
    assert (DataType.STEPS, 6) in second
    assert (DataType.STEPS_CADENCE, 3.0) in second
    assert (DataType.SPEED, 3.0) in second
    same_stride = reader.read(bytes([1, 0, 13, 5, 0x03, 0, 203, 0]))
    assert not any(t is DataType.STEPS_CADENCE for t, _ in same_stride)
    third = reader.read(bytes([1, 0, 14, 6, 0x03, 0, 204, 0]))  # 1 stride since t=12 s
    assert (DataType.STEPS_CADENCE, 1.0) in third


def test_bike_reader_reports_standing_still():
    reader = BikeSpeedCadenceReader(2.0)
    page = bytes([0, 4, 1, 0, 0, 4, 1, 0])
    reader.read(page)
    moved = reader.read(bytes([0, 8, 2, 0, 0, 8, 2, 0]))  # one of each in 1 s
    assert (DataType.BIKE_CADENCE, 60.0) in moved
    assert (DataType.SPEED, 2.0) in moved and (DataType.DISTANCE, 2.0) in moved
    still = [reader.read(bytes([0, 8, 2, 0, 0, 8, 2, 0])) for _ in range(STOPPED_AFTER_PAGES)]
    assert still[:-1] == [[]] * (STOPPED_AFTER_PAGES - 1)
    assert still[-1] == [(DataType.BIKE_CADENCE, 0.0), (DataType.SPEED, 0.0)]


def test_power_reader_first_page_instantaneous_then_average():
    reader = PowerReader()
    assert reader.read(bytes([0x10, 1, 0xFF, 90, 100, 0, 100, 0])) == [
        (DataType.POWER, 100), (DataType.BIKE_CADENCE, 90)
    ]
    assert reader.read(bytes([0x10, 3, 0xFF, 0xFF, 0x2C, 1, 110, 0])) == [(DataType.POWER, 100.0)]
    assert reader.read(bytes([0x10, 3, 0xFF, 0xFF, 0x2C, 1, 110, 0])) == []


@given(st.lists(st.binary(min_size=8, max_size=8), max_size=40))
def test_any_pages_make_valid_samples_and_totals_never_shrink(pages):
    for reader in (HeartRateReader(), StrideReader(), BikeSpeedCadenceReader(), PowerReader()):
        totals: dict[DataType, float] = {}
        for page in pages:
            try:
                readings = reader.read(page)
            except DecodeError:
                continue
            to_samples(readings, TS, "u", "d")  # raises InvalidReading on a bad value
            for data_type, value in readings:
                if data_type.info.accumulated:
                    assert value >= totals.get(data_type, 0)
                    totals[data_type] = value
