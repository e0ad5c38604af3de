"""Records -> Samples: units of domain.datatypes, one RR sample per interval, revolution rates
with rollover, nothing produced for values that are not readings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.ble.decoders import (
    RevolutionCounter,
    RevolutionEvent,
    decode_csc_measurement,
    decode_cycling_power,
    decode_heart_rate,
    decode_indoor_bike_data,
    decode_plx_continuous,
    decode_rsc_measurement,
    revolutions_per_second,
)
from wearstream.adapters.ble.mapping import DEFAULT_WHEEL_CIRCUMFERENCE_M, SampleMapper
from wearstream.domain.datatypes import DataType, resolve
from wearstream.testing.bluez_payloads import encode_csc, encode_heart_rate, encode_rsc

TS = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def values(samples):
    return [(s.t, s.value) for s in samples]


def test_heart_rate_rr_and_energy():
    mapper = SampleMapper("u1", "dev")
    record = decode_heart_rate(encode_heart_rate(72, energy_kj=4184, rr_1024=[1024, 512]))
    samples = mapper.samples(record, TS)
    assert values(samples) == [
        ("HEART_RATE", 72),
        ("RR_INTERVAL", 1000.0),
        ("RR_INTERVAL", 500.0),
        ("CALORIES", 1000.0),
    ]
    assert {(s.user_id, s.device_id) for s in samples} == {("u1", "dev")}
    # the last interval ends at arrival, the one before it ended an interval earlier
    assert [s.ts for s in samples[1:3]] == [TS - timedelta(seconds=0.5), TS]


def test_zero_bpm_is_no_reading():
    record = decode_heart_rate(encode_heart_rate(0, contact=False))
    assert SampleMapper("u", "d").samples(record, TS) == []


def test_rsc_units():
    record = decode_rsc_measurement(encode_rsc(768, 180, distance_dm=1234))
    assert values(SampleMapper("u", "d").samples(record, TS)) == [
        ("SPEED", 3.0),
        ("STEPS_CADENCE", 3.0),  # steps/s in the domain, steps/min on the wire
        ("DISTANCE", pytest.approx(123.4)),
    ]
    assert DataType.STEPS_CADENCE.unit == "steps/s"


def test_csc_needs_two_measurements_and_survives_rollover():
    mapper = SampleMapper("u", "d", wheel_circumference_m=2.0)
    first = decode_csc_measurement(encode_csc((2**32 - 2, 65000), (65535, 65000)))
    assert values(mapper.samples(first, TS)) == [("DISTANCE", 0.0)]
    # both counters and both event times roll over: 4 wheel revs and 3 crank revs in 1 s
    second = decode_csc_measurement(encode_csc((2, (65000 + 1024) % 65536), (2, (65000 + 2048) % 65536)))
    assert values(mapper.samples(second, TS)) == [
        ("SPEED", 8.0),
        ("DISTANCE", 8.0),
        ("BIKE_CADENCE", 90.0),
    ]


def test_repeated_event_time_gives_no_rate():
    mapper = SampleMapper("u", "d")
    same = decode_csc_measurement(encode_csc(crank=(10, 1000)))
    mapper.samples(same, TS)
    assert mapper.samples(same, TS) == []


def test_cycling_power_power_and_cadence():
    mapper = SampleMapper("u", "d")
    mapper.samples(decode_cycling_power(bytes([0x20, 0, 100, 0, 1, 0, 0, 0])), TS)
    second = decode_cycling_power(bytes([0x20, 0, 110, 0, 2, 0, 0x00, 0x04]))
    assert values(mapper.samples(second, TS)) == [("POWER", 110), ("BIKE_CADENCE", 60.0)]


def test_indoor_bike_data():
    record = decode_indoor_bike_data(bytes([0x44, 0x02, 0xC4, 0x09, 0xB4, 0x00, 0xC8, 0x00, 140]))
    assert values(SampleMapper("u", "d").samples(record, TS)) == [
        ("SPEED", pytest.approx(25 / 3.6)),
        ("POWER", 200),
        ("HEART_RATE", 140),
        ("BIKE_CADENCE", 90),
    ]


def test_plx_drops_special_values():
    good = decode_plx_continuous(bytes([0x00, 0xCF, 0xF3, 0x48, 0x00]))
    assert values(SampleMapper("u", "d").samples(good, TS)) == [
        ("OXYGEN_SATURATION", 97.5),
        ("HEART_RATE", 72),
    ]
    nan_spo2 = decode_plx_continuous(bytes([0x00, 0xFF, 0x07, 0x48, 0x00]))
    assert values(SampleMapper("u", "d").samples(nan_spo2, TS)) == [("HEART_RATE", 72)]


def test_battery_level():
    assert values(SampleMapper("u", "d").samples(87, TS)) == [("BATTERY", 87)]


@given(
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 100),
    st.integers(1, 60000),
)
def test_rate_is_invariant_under_rollover(revs, time, delta_revs, delta_ticks):
    before = RevolutionEvent(revs, time, 16)
    after = RevolutionEvent((revs + delta_revs) % 2**16, (time + delta_ticks) % 2**16, 16)
    assert revolutions_per_second(before, after) == pytest.approx(delta_revs * 1024 / delta_ticks)


def test_counter_total_accumulates_over_rollover():
    counter = RevolutionCounter()
    for revs in (65534, 65535, 1, 3):
        counter.update(RevolutionEvent(revs, revs * 10 % 65536, 16))
    assert counter.total == 5


def test_every_mapped_type_is_known():
    from wearstream.adapters.ble.gatt import CHARACTERISTICS

    for characteristic in CHARACTERISTICS.values():
        for dt in characteristic.data_types:
            assert resolve(dt.value) is dt
    assert DEFAULT_WHEEL_CIRCUMFERENCE_M > 2
