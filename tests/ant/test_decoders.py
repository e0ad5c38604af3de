"""ANT+ page decoders, checked against page layouts from the ANT+ Device Profiles documents:
Heart Rate Monitor (section 5.3, data pages 0-7), Stride Based Speed and Distance Monitor
(section 6.2, data page 1), Bicycle Speed and Cadence (section 5.3, combined speed and cadence
data) and Bicycle Power (section 7.1, data page 0x10 standard power-only)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.adapters.ant import decoders as d
from wearstream.adapters.ant.errors import DecodeError

pages = st.binary(min_size=8, max_size=8)
u16 = st.integers(0, 0xFFFF)


def u16le(value: int) -> list[int]:
    return [value & 0xFF, value >> 8]


# ------------------------------------------------------------------------------ heart rate


def hr_page(number: int, beat_time: int, count: int, bpm: int, b1=0xFF, b23=(0xFF, 0xFF)):
    return bytes([number, b1, *b23, *u16le(beat_time), count, bpm])


def test_heart_rate_page_4_fields():
    page = d.decode_heart_rate(bytes([0x84, 0xFF, 0x00, 0x04, 0x00, 0x08, 0x05, 0x3C]))
    assert page == d.HeartRatePage(
        page=4, toggle=True, beat_time=2048, beat_count=5, heart_rate=60, previous_beat_time=1024
    )
    assert d.rr_intervals_ms(None, page) == [1000.0]


def test_heart_rate_zero_is_invalid():
    assert d.decode_heart_rate(hr_page(0, 100, 1, 0)).heart_rate is None


def test_rr_from_consecutive_beats_across_rollover():
    before = d.decode_heart_rate(hr_page(0, 0xFF00, 255, 120))
    after = d.decode_heart_rate(hr_page(0, 0x0100, 0, 120))
    assert d.rr_intervals_ms(before, after) == [500.0]


def test_no_new_beat_no_rr():
    page = d.decode_heart_rate(hr_page(0, 0x1234, 9, 70))
    assert d.rr_intervals_ms(page, page) == []


def test_missed_beats_without_page_4_give_no_rr():
    before = d.decode_heart_rate(hr_page(0, 1000, 10, 70))
    after = d.decode_heart_rate(hr_page(0, 3000, 12, 70))
    assert d.rr_intervals_ms(before, after) == []


def test_missed_beats_with_page_4_use_its_previous_beat_time():
    before = d.decode_heart_rate(hr_page(4, 1000, 10, 70))
    after = d.decode_heart_rate(hr_page(4, 3048, 12, 70, b23=(0xE8, 0x07)))  # previous: 2024
    assert d.rr_intervals_ms(before, after) == [1000.0]


def test_page_7_battery_level():
    assert d.decode_heart_rate(hr_page(0x87, 1, 1, 60, b1=85)).battery_percent == 85
    assert d.decode_heart_rate(hr_page(7, 1, 1, 60, b1=0xFF)).battery_percent is None


def test_page_7_battery_over_100_names_profile_and_byte():
    with pytest.raises(DecodeError, match=r"heart rate: byte 1: battery level 101"):
        d.decode_heart_rate(hr_page(7, 1, 1, 60, b1=101))


@pytest.mark.parametrize(
    "decode", [d.decode_heart_rate, d.decode_sdm, d.decode_bike_speed_cadence, d.decode_power]
)
@pytest.mark.parametrize("length", [0, 7, 9])
def test_short_or_long_pages_are_refused(decode, length):
    with pytest.raises(DecodeError, match="8 bytes"):
        decode(bytes(length))


# ------------------------------------------------------------------------------ SDM


def test_sdm_page_1_fields():
    # 12.5 s, 100.5 m, 3.25 m/s, 40 strides, latency 2/32 s
    page = d.decode_sdm(bytes([0x01, 100, 12, 100, 0x83, 64, 40, 2]))
    assert page == d.SdmPage1(
        time_s=12.5, distance_m=100.5, speed_m_s=3.25, strides=40, latency_s=1 / 16
    )


def test_sdm_other_pages_are_ignored():
    assert d.decode_sdm(bytes([0x02, 0xFF, 0xFF, 84, 3, 64, 0xFF, 0x10])) is None


def test_sdm_time_fraction_out_of_range():
    with pytest.raises(DecodeError, match=r"stride speed and distance: byte 1"):
        d.decode_sdm(bytes([0x01, 200, 0, 0, 0, 0, 0, 0]))


def test_sdm_progress_across_rollover():
    before = d.decode_sdm(bytes([0x01, 0, 255, 255, 0x00, 0, 250, 0]))
    after = d.decode_sdm(bytes([0x01, 0, 1, 1, 0x00, 0, 4, 0]))
    assert d.sdm_progress(before, after) == (2.0, 10)
    assert d.step_cadence(before, after) == 10.0


def test_sdm_cadence_needs_a_stride_and_time():
    page = d.decode_sdm(bytes([0x01, 0, 5, 5, 0, 0, 5, 0]))
    assert d.sdm_progress(page, page) == (0.0, 0)
    assert d.step_cadence(page, page) is None


# ------------------------------------------------------------------------------ bike S&C


def sc_page(cadence_time: int, crank: int, speed_time: int, wheel: int) -> bytes:
    return bytes([*u16le(cadence_time), *u16le(crank), *u16le(speed_time), *u16le(wheel)])


def test_bike_speed_cadence_across_rollover():
    before = d.decode_bike_speed_cadence(sc_page(0xFC00, 0xFFFF, 0xFE00, 0xFFFE))
    after = d.decode_bike_speed_cadence(sc_page(0x0000, 0x0001, 0x0000, 0x0001))
    assert d.cadence_rpm(before, after) == 120.0
    distance, speed = d.wheel_progress(before, after, 2.105)
    assert distance == pytest.approx(3 * 2.105)
    assert speed == pytest.approx(3 * 2.105 / 0.5)


def test_bike_no_new_event_no_value():
    page = d.decode_bike_speed_cadence(sc_page(10, 1, 20, 2))
    assert d.cadence_rpm(page, page) is None
    assert d.wheel_progress(page, page, 2.105) == (0.0, None)


# ------------------------------------------------------------------------------ power


def power_page(
    events: int, accumulated: int, instant: int, cadence: int = 90, pedal: int = 0xFF
) -> bytes:
    return bytes([0x10, events, pedal, cadence, *u16le(accumulated), *u16le(instant)])


def test_power_page_fields():
    page = d.decode_power(power_page(7, 0x1234, 250, cadence=0xFF))
    assert page == d.PowerOnlyPage(7, None, None, None, 0x1234, 250)


@pytest.mark.parametrize("byte, percent, is_right", [
    (0xFF, None, None),  # pedal power not used
    (0x80 | 52, 52, True),  # bit 7: 52 % is the right pedal's share (once read as 180 %)
    (48, 48, False),  # bit 7 clear: 48 % of one pedal, which one is unknown
    (0x7F, None, False),  # percent unknown (with bit 7 set it is 0xFF: not used)
    (101, None, False),  # beyond 100: not a percent
])
def test_power_page_pedal_power_keeps_bit_7_apart(byte, percent, is_right):
    page = d.decode_power(power_page(7, 0, 250, pedal=byte))
    assert (page.pedal_power_percent, page.pedal_power_is_right) == (percent, is_right)


def test_average_power_across_rollover():
    before = d.decode_power(power_page(255, 65500, 200))
    after = d.decode_power(power_page(1, 400, 230))
    assert d.average_power(before, after) == 218.0


def test_power_other_pages_are_ignored():
    assert d.decode_power(bytes([0x50, 0xFF, 0xFF, 1, 0xFF, 0, 1, 0])) is None


# ------------------------------------------------------------------------------ properties


@given(pages)
def test_any_page_decodes_or_raises_decode_error(page):
    for decode in (d.decode_heart_rate, d.decode_sdm, d.decode_bike_speed_cadence, d.decode_power):
        try:
            decode(page)
        except DecodeError:
            pass


@given(u16, st.integers(1, 0xFFFF), st.integers(0, 255))
def test_rr_is_the_beat_gap_whatever_the_rollover(start, ticks, count):
    before = d.decode_heart_rate(hr_page(0, start, count, 60))
    after = d.decode_heart_rate(hr_page(0, (start + ticks) % 65536, (count + 1) % 256, 60))
    assert d.rr_intervals_ms(before, after) == [pytest.approx(ticks * 1000 / 1024)]


@given(u16, u16, st.integers(1, 0xFFFF), st.integers(0, 0xFFFF))
def test_cadence_is_revolutions_over_time_whatever_the_rollover(time0, revs0, ticks, revs):
    before = d.decode_bike_speed_cadence(sc_page(time0, revs0, 0, 0))
    after = d.decode_bike_speed_cadence(
        sc_page((time0 + ticks) % 65536, (revs0 + revs) % 65536, 0, 0)
    )
    assert d.cadence_rpm(before, after) == pytest.approx(60 * 1024 * revs / ticks)


@given(st.integers(0, 255), u16, st.integers(1, 255), st.integers(0, 255))
def test_average_power_whatever_the_rollover(events0, acc0, events, watts):
    before = d.decode_power(power_page(events0, acc0, 0))
    after = d.decode_power(
        power_page((events0 + events) % 256, (acc0 + events * watts) % 65536, watts)
    )
    assert d.average_power(before, after) == pytest.approx(watts)
