"""Decoders against byte vectors built by hand from the Bluetooth SIG specifications (section
numbers in each decoder's docstring), and hypothesis properties: any bytes either decode or raise
DecodeError, and encoded values round-trip."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.ble.decoders import (
    DecodeError,
    ExpendedEnergy,
    SFloatSpecial,
    decode_battery_level,
    decode_csc_measurement,
    decode_cycling_power,
    decode_heart_rate,
    decode_indoor_bike_data,
    decode_plx_continuous,
    decode_rsc_measurement,
    decode_sfloat,
    decode_treadmill_data,
    sfloat_special,
)
from wearstream.domain.errors import DomainError
from wearstream.testing.bluez_payloads import encode_csc, encode_heart_rate, encode_rsc

ALL_DECODERS = [
    decode_heart_rate,
    decode_battery_level,
    decode_rsc_measurement,
    decode_csc_measurement,
    decode_cycling_power,
    decode_indoor_bike_data,
    decode_treadmill_data,
    decode_plx_continuous,
]


# --- Heart Rate Measurement (HRS 1.0 §3.1) ---


def test_heart_rate_uint8_without_options():
    m = decode_heart_rate(bytes([0x00, 72]))
    assert (m.bpm, m.sensor_contact, m.energy_expended_kj, m.rr_intervals_s) == (72, None, None, [])


def test_heart_rate_uint16_with_contact_energy_and_rr():
    # flags 0x1F: uint16 format, contact supported+detected, energy, RR; 300 bpm, 1234 kJ
    data = bytes([0x1F, 0x2C, 0x01, 0xD2, 0x04, 0x00, 0x04, 0x00, 0x02])
    m = decode_heart_rate(data)
    assert m.bpm == 300
    assert m.sensor_contact is True
    assert m.energy_expended_kj == 1234
    assert m.rr_intervals_s == [1.0, 0.5]  # 1024/1024 s and 512/1024 s


def test_heart_rate_contact_supported_but_not_detected():
    assert decode_heart_rate(bytes([0x04, 50])).sensor_contact is False


def test_heart_rate_truncated_value_names_characteristic_and_offset():
    with pytest.raises(DecodeError) as info:
        decode_heart_rate(bytes([0x01, 0x48]))  # uint16 format, one byte
    assert info.value.offset == 1
    assert "0x2A37" in str(info.value) and "offset 1" in str(info.value)
    assert isinstance(info.value, DomainError)


def test_heart_rate_flags_announcing_rr_intervals_that_are_not_there_are_malformed():
    # flags 0x10 (RR present), 60 bpm, then nothing: once decoded as "no RR intervals"
    with pytest.raises(DecodeError, match="announce RR intervals but none follow") as info:
        decode_heart_rate(bytes([0x10, 60]))
    assert info.value.offset == 2
    with pytest.raises(DecodeError, match="announce RR intervals"):
        decode_heart_rate(bytes([0x18, 60, 0x10, 0x00]))  # after the energy expended field


def test_cycling_power_keeps_the_flag_bits_that_qualify_a_value():
    # flags 0x000F: balance (bit 0) of the left pedal (bit 1), torque (bit 2) crank based (bit 3)
    m = decode_cycling_power(bytes([0x0F, 0x00, 0xFA, 0x00, 100, 0x40, 0x00]))
    assert (m.pedal_power_balance_pct, m.pedal_power_balance_is_left) == (50, True)
    assert (m.accumulated_torque_nm, m.accumulated_torque_from_crank) == (2, True)
    m = decode_cycling_power(bytes([0x05, 0x00, 0xFA, 0x00, 100, 0x40, 0x00]))
    assert (m.pedal_power_balance_is_left, m.accumulated_torque_from_crank) == (False, False)
    m = decode_cycling_power(bytes([0x0A, 0x00, 0xFA, 0x00]))  # qualifiers without their fields
    assert (m.pedal_power_balance_is_left, m.accumulated_torque_from_crank) == (None, None)


def test_heart_rate_odd_rr_bytes_are_malformed():
    with pytest.raises(DecodeError, match="odd number"):
        decode_heart_rate(bytes([0x10, 60, 0x00, 0x04, 0x01]))


def test_empty_values_raise():
    for decode in ALL_DECODERS:
        with pytest.raises(DecodeError) as info:
            decode(b"")
        assert info.value.offset == 0


# --- Battery Level (BAS 1.0 §3.1) ---


def test_battery_level():
    assert decode_battery_level(bytes([87])) == 87
    with pytest.raises(DecodeError, match="above 100"):
        decode_battery_level(bytes([101]))


# --- RSC Measurement (RSCS 1.0 §3.1) ---


def test_rsc_with_stride_and_distance():
    # flags 0x07: stride, distance, running; 3 m/s (768/256), 180 spm, 1.20 m, 123.4 m
    data = bytes([0x07, 0x00, 0x03, 180, 120, 0x00, 0xD2, 0x04, 0x00, 0x00])
    m = decode_rsc_measurement(data)
    assert (m.speed_m_s, m.cadence_spm, m.running) == (3.0, 180, True)
    assert m.stride_length_m == 1.2
    assert m.total_distance_m == pytest.approx(123.4)


def test_rsc_walking_minimal():
    m = decode_rsc_measurement(bytes([0x00, 0x80, 0x01, 110]))
    assert (m.speed_m_s, m.cadence_spm, m.running, m.stride_length_m) == (1.5, 110, False, None)


# --- CSC Measurement (CSCS 1.0 §3.1) ---


def test_csc_wheel_and_crank():
    m = decode_csc_measurement(bytes([0x03, 0x10, 0x27, 0, 0, 0x00, 0x04, 0xFF, 0xFF, 0x00, 0x08]))
    assert (m.wheel.revolutions, m.wheel.event_time, m.wheel.counter_bits) == (10000, 1024, 32)
    assert (m.crank.revolutions, m.crank.event_time, m.crank.counter_bits) == (65535, 2048, 16)


def test_csc_crank_only_truncated():
    with pytest.raises(DecodeError, match="last crank event time") as info:
        decode_csc_measurement(bytes([0x02, 0x05, 0x00, 0x00]))
    assert info.value.offset == 3


# --- Cycling Power Measurement (CPS 1.1 §3.2) ---


def test_cycling_power_every_field():
    data = bytes(
        [0xFF, 0x1F]  # every flag, offset compensation included
        + [0xFA, 0x00]  # 250 W
        + [100]  # balance 50 %
        + [0x40, 0x00]  # torque 64/32 = 2 N·m
        + [0x0A, 0, 0, 0, 0x00, 0x08]  # wheel: 10 revs at 2048/2048 s
        + [0x05, 0x00, 0x00, 0x04]  # crank: 5 revs at 1024/1024 s
        + [0x2C, 0x01, 0xF6, 0xFF]  # force max 300 N, min -10 N
        + [0x40, 0x00, 0xE0, 0xFF]  # torque max 2 N·m, min -1 N·m
        + [0x5A, 0x40, 0x0B]  # angles: max 90°, min 180° (0x0B4)
        + [0x0A, 0x00, 0xB4, 0x00]  # dead spots 10°, 180°
        + [0x64, 0x00]  # 100 kJ
    )
    m = decode_cycling_power(data)
    assert m.power_w == 250
    assert m.pedal_power_balance_pct == 50
    assert m.accumulated_torque_nm == 2
    assert (m.wheel.revolutions, m.wheel.event_time, m.wheel.ticks_per_s) == (10, 2048, 2048)
    assert (m.crank.revolutions, m.crank.event_time) == (5, 1024)
    assert m.extreme_force_n == (300, -10)
    assert m.extreme_torque_nm == (2, -1)
    assert m.extreme_angles_deg == (90, 180)
    assert (m.top_dead_spot_deg, m.bottom_dead_spot_deg) == (10, 180)
    assert m.accumulated_energy_kj == 100
    assert m.offset_compensation is True


def test_cycling_power_negative_power_and_missing_crank():
    assert decode_cycling_power(bytes([0, 0, 0xFE, 0xFF])).power_w == -2
    with pytest.raises(DecodeError, match="cumulative crank revolutions"):
        decode_cycling_power(bytes([0x20, 0x00, 0x10, 0x00]))


# --- FTMS Indoor Bike Data (FTMS 1.0 §4.9) and Treadmill Data (§4.8) ---


def test_indoor_bike_data_common_fields():
    # flags 0x0344: speed present (bit 0 clear), cadence, power, energy, heart rate
    data = bytes(
        [0x44, 0x03, 0xC4, 0x09, 0xB4, 0x00, 0xC8, 0x00, 0x10, 0x00, 0xF4, 0x01, 0x08, 140]
    )
    m = decode_indoor_bike_data(data)
    assert m.speed_m_s == pytest.approx(25 / 3.6)  # 2500 × 0.01 km/h
    assert m.cadence_rpm == 90  # 180 × 0.5
    assert m.power_w == 200
    assert m.energy == ExpendedEnergy(16, 500, 8)
    assert m.heart_rate_bpm == 140
    assert m.total_distance_m is None


def test_indoor_bike_more_data_means_no_speed():
    m = decode_indoor_bike_data(bytes([0x11, 0x00, 0x10, 0x27, 0x00]))  # distance 10000 m
    assert (m.speed_m_s, m.total_distance_m) == (None, 10000)


def test_treadmill_data():
    # flags 0x100C: speed, distance, inclination+ramp, force+power
    data = bytes(
        [0x0C, 0x10, 0x58, 0x02, 0xE8, 0x03, 0x00, 0x1E, 0x00, 0xF6, 0xFF, 0x32, 0x00, 0xC8, 0x00]
    )
    m = decode_treadmill_data(data)
    assert m.speed_m_s == pytest.approx(6 / 3.6)
    assert m.total_distance_m == 1000
    assert (m.inclination_pct, m.ramp_angle_deg) == (3.0, -1.0)
    assert (m.force_on_belt_n, m.power_w) == (50, 200)


def test_treadmill_truncated_elevation():
    with pytest.raises(DecodeError, match="negative elevation gain"):
        decode_treadmill_data(bytes([0x11, 0x00, 0x01, 0x00]))


# --- PLX Continuous Measurement (PLXS 1.0 §3.2) and SFLOAT (IEEE 11073-20601) ---


def test_sfloat_values():
    assert decode_sfloat(0xF3CF) == 97.5  # exponent -1, mantissa 975
    assert decode_sfloat(0x0048) == 72
    assert decode_sfloat(0x2001) == 100  # 1 × 10^2
    assert decode_sfloat(0x0FFF) == -1  # mantissa -1
    assert decode_sfloat(0xE7FD) == 20.45  # exponent -2, mantissa 2045


@pytest.mark.parametrize(
    ("raw", "special", "is_nan", "sign"),
    [
        (0x07FF, SFloatSpecial.NAN, True, 0),
        (0x0800, SFloatSpecial.NRES, True, 0),
        (0x0801, SFloatSpecial.RESERVED, True, 0),
        (0x07FE, SFloatSpecial.PLUS_INFINITY, False, 1),
        (0x0802, SFloatSpecial.MINUS_INFINITY, False, -1),
    ],
)
def test_sfloat_special_values(raw, special, is_nan, sign):
    assert sfloat_special(raw) is special
    value = decode_sfloat(raw)
    assert math.isnan(value) if is_nan else value == sign * math.inf


def test_sfloat_ordinary_value_is_not_special():
    assert sfloat_special(0xF3CF) is None


def test_plx_continuous_with_options():
    data = bytes(
        [0x1F]
        + [0xCF, 0xF3, 0x48, 0x00]  # normal: 97.5 %, 72 bpm
        + [0xFF, 0x07, 0x48, 0x00]  # fast: NaN SpO2, 72 bpm
        + [0x61, 0x00, 0x46, 0x00]  # slow: 97 %, 70 bpm
        + [0x20, 0x00]  # measurement status
        + [0x01, 0x00, 0x00]  # device and sensor status
        + [0x2D, 0xF0]  # pulse amplitude index 4.5 %
    )
    m = decode_plx_continuous(data)
    assert (m.normal.spo2_pct, m.normal.pulse_rate_bpm) == (97.5, 72)
    assert math.isnan(m.fast.spo2_pct)
    assert (m.slow.spo2_pct, m.slow.pulse_rate_bpm) == (97, 70)
    assert (m.measurement_status, m.device_and_sensor_status) == (0x20, 1)
    assert m.pulse_amplitude_index_pct == 4.5


def test_plx_truncated_normal_pair():
    with pytest.raises(DecodeError, match="SpO2PR-Normal pulse rate") as info:
        decode_plx_continuous(bytes([0x00, 0xCF, 0xF3, 0x48]))
    assert info.value.offset == 3


# --- properties ---


@given(st.sampled_from(ALL_DECODERS), st.binary(max_size=40))
def test_any_bytes_decode_or_raise_decode_error(decode, data):
    try:
        decode(data)
    except DecodeError as exc:
        assert 0 <= exc.offset <= len(data)


@given(
    st.integers(0, 0xFFFF),
    st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.integers(0, 0xFFFF)),
    st.lists(st.integers(0, 0xFFFF), max_size=8),
    st.booleans(),
)
def test_heart_rate_round_trip(bpm, contact, energy, rr, wide):
    m = decode_heart_rate(encode_heart_rate(bpm, contact=contact, energy_kj=energy, rr_1024=rr, wide=wide))
    assert (m.bpm, m.sensor_contact, m.energy_expended_kj) == (bpm, contact, energy)
    assert m.rr_intervals_s == [x / 1024 for x in rr]


@given(
    st.one_of(st.none(), st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF))),
    st.one_of(st.none(), st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))),
)
def test_csc_round_trip(wheel, crank):
    m = decode_csc_measurement(encode_csc(wheel, crank))
    assert (m.wheel.revolutions, m.wheel.event_time) == wheel if wheel else m.wheel is None
    assert (m.crank.revolutions, m.crank.event_time) == crank if crank else m.crank is None


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFF),
    st.one_of(st.none(), st.integers(0, 0xFFFF)),
    st.one_of(st.none(), st.integers(0, 2**32 - 1)),
    st.booleans(),
)
def test_rsc_round_trip(speed, cadence, stride, distance, running):
    m = decode_rsc_measurement(
        encode_rsc(speed, cadence, stride_cm=stride, distance_dm=distance, running=running)
    )
    assert (m.speed_m_s, m.cadence_spm, m.running) == (speed / 256, cadence, running)
    assert m.stride_length_m == (None if stride is None else stride / 100)
    assert m.total_distance_m == (None if distance is None else distance / 10)


@given(st.integers(0, 0xFFFF))
def test_sfloat_is_total(raw):
    value = decode_sfloat(raw)
    assert isinstance(value, float)
    assert (sfloat_special(raw) is None) == math.isfinite(value)
