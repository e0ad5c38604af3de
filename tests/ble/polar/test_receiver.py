"""PMD frames -> Samples: units, shapes and per-sample timestamps (pure, no BLE)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from wearstream.adapters.ble.errors import DecodeError
from wearstream.adapters.ble.polar.receiver import PmdReceiver, StreamStarted
from wearstream.adapters.ble.polar.service import Measurement
from wearstream.testing.bluez_polar import encode_acc, encode_delta, encode_ecg, encode_header

S = 1_000_000_000
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
DEVICE0 = 599_616_000 * S


def receiver(*started: StreamStarted) -> PmdReceiver:
    r = PmdReceiver()
    for event in started:
        r.started(event)
    return r


def test_an_ecg_frame_is_one_chunk_in_millivolts_stamped_with_its_first_sample():
    r = receiver(StreamStarted(Measurement.ECG, 130, 14))
    [sample] = r.samples(encode_ecg(DEVICE0, [1000, -250, 3]), T0, "u", "dev")
    assert (sample.t, sample.user_id, sample.device_id) == ("ECG", "u", "dev")
    assert sample.value == (1.0, -0.25, 0.003)
    assert sample.ts == pytest.approx(T0 - timedelta(seconds=2 / 130), abs=timedelta(microseconds=1))
    # the next frame, 73 samples later on the device clock, arrived a little late
    later = DEVICE0 + round(73 * S / 130)
    [second] = r.samples(encode_ecg(later, [0] * 73), T0 + timedelta(seconds=73 / 130, milliseconds=30), "u", "dev")
    gap = second.ts - sample.ts
    assert gap == pytest.approx(timedelta(seconds=3 / 130), abs=timedelta(microseconds=2))


def test_acceleration_is_one_sample_per_sample_in_metres_per_second_squared():
    r = receiver(StreamStarted(Measurement.ACC, 50, 16))
    samples = r.samples(encode_acc(DEVICE0, [(0, 0, 1000), (-500, 250, 0)]), T0, "u", "dev")
    assert [s.t for s in samples] == ["ACCELERATION", "ACCELERATION"]
    assert samples[0].value == pytest.approx((0, 0, 9.80665))
    assert samples[1].value == pytest.approx((-4.903325, 2.4516625, 0))
    assert samples[1].ts == T0 and samples[0].ts == T0 - timedelta(milliseconds=20)


def test_compressed_acceleration_uses_the_factor_of_the_start_response():
    r = receiver(StreamStarted(Measurement.ACC, 52, 16, factor=2.0))
    data = encode_header(Measurement.ACC, DEVICE0, 0x81) + encode_delta([(10, 0, 500), (12, 0, 500)])
    samples = r.samples(data, T0, "u", "dev")
    assert samples[1].value == pytest.approx((24 * 9.80665e-3, 0, 1000 * 9.80665e-3))


def test_a_frame_of_a_stream_not_started_is_refused():
    with pytest.raises(DecodeError, match="PMD data \\(ACC frame type 0x01\\): a frame of a stream that was not started"):
        receiver(StreamStarted(Measurement.ECG, 130)).samples(encode_acc(DEVICE0, [(1, 2, 3)]), T0, "u", "d")


def test_a_malformed_frame_does_not_touch_the_clock():
    r = receiver(StreamStarted(Measurement.ECG, 130))
    with pytest.raises(DecodeError):
        r.samples(encode_ecg(DEVICE0, [1])[:-1], T0, "u", "d")
    assert not r.clock.synced


def test_a_restart_forgets_the_previous_frame():
    r = receiver(StreamStarted(Measurement.ACC, 25))
    r.samples(encode_acc(DEVICE0, [(0, 0, 0)] * 5), T0, "u", "d")
    r.started(StreamStarted(Measurement.ACC, 25))  # a reconnect: spacing from the rate again
    later = DEVICE0 + 10 * S
    samples = r.samples(encode_acc(later, [(0, 0, 0)] * 5), T0 + timedelta(seconds=10), "u", "d")
    assert samples[1].ts - samples[0].ts == timedelta(milliseconds=40)
