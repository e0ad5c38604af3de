"""Pure decoders for ANT+ broadcast data pages (8 bytes each).

Each profile document of the ANT+ Device Profiles (thisisant.com) describes its pages; the
section is named at each decoder. Decoders turn one page into a frozen value; what needs two
pages (an RR interval from two beat times, a speed from two revolution counters) lives in the
small calculators at the end, which take the previous and the current page and return values
without any clock or I/O, so that rollover of the 8- and 16-bit counters is tested exhaustively.
"""

from __future__ import annotations

import attrs

from .errors import DecodeError

PAGE_LENGTH = 8
_U8 = 1 << 8
_U16 = 1 << 16


def _check_length(profile: str, page: bytes) -> None:
    if len(page) != PAGE_LENGTH:
        raise DecodeError(profile, None, f"a data page has {PAGE_LENGTH} bytes, got {len(page)}")


def _u16(page: bytes, at: int) -> int:
    return page[at] | page[at + 1] << 8


def _delta(current: int, previous: int, modulo: int) -> int:
    """How far a rolling counter advanced, assuming it rolled over at most once."""
    return (current - previous) % modulo


# ---------------------------------------------------------------- heart rate (device type 120)


HR = "heart rate"


@attrs.frozen
class HeartRatePage:
    """ANT+ Heart Rate Monitor profile, section 5.3 (common to all data pages): bytes 4-5 the
    last heart beat event time (1/1024 s, 16-bit rolling), byte 6 the heart beat count (8-bit
    rolling), byte 7 the computed heart rate (bpm, 0 invalid). Page 4 adds the previous beat
    event time in bytes 2-3; page 7 the battery level in byte 1 (0xFF: not used)."""

    page: int
    toggle: bool
    beat_time: int
    beat_count: int
    heart_rate: int | None
    previous_beat_time: int | None = None
    battery_percent: int | None = None


def decode_heart_rate(page: bytes) -> HeartRatePage:
    _check_length(HR, page)
    number = page[0] & 0x7F
    previous = _u16(page, 2) if number == 4 else None
    battery = None
    if number == 7 and page[1] != 0xFF:
        if page[1] > 100:
            raise DecodeError(HR, 1, f"battery level {page[1]} % is over 100")
        battery = page[1]
    return HeartRatePage(
        page=number,
        toggle=bool(page[0] & 0x80),
        beat_time=_u16(page, 4),
        beat_count=page[6],
        heart_rate=page[7] or None,
        previous_beat_time=previous,
        battery_percent=battery,
    )


def rr_intervals_ms(previous: HeartRatePage | None, current: HeartRatePage) -> list[float]:
    """The RR intervals (ms) that ``current`` reveals, given the page received before it.

    No new beat (same count): none. One new beat: the time between the two beat events, or
    page 4's own previous beat time, which survives a lost page. More than one new beat with no
    page 4: the beats in between are unknown, so none rather than a made-up average.
    """
    if previous is None:
        if current.previous_beat_time is None:
            return []
        return [_ticks_to_ms(_delta(current.beat_time, current.previous_beat_time, _U16))]
    beats = _delta(current.beat_count, previous.beat_count, _U8)
    if beats == 0:
        return []
    if current.previous_beat_time is not None:
        return [_ticks_to_ms(_delta(current.beat_time, current.previous_beat_time, _U16))]
    if beats == 1:
        return [_ticks_to_ms(_delta(current.beat_time, previous.beat_time, _U16))]
    return []


def _ticks_to_ms(ticks: int) -> float:
    return ticks * 1000 / 1024


# ---------------------------------------------------- stride-based speed & distance (type 124)


SDM = "stride speed and distance"


@attrs.frozen
class SdmPage1:
    """ANT+ Stride Based Speed and Distance Monitor profile, section 6.2 (data page 1): byte 1
    time fraction (1/200 s), byte 2 time integer (s, rolls at 256), byte 3 distance integer
    (m, rolls at 256), byte 4 high nibble distance fraction (1/16 m) and low nibble speed
    integer (m/s), byte 5 speed fraction (1/256 m/s), byte 6 stride count (rolls at 256),
    byte 7 update latency (1/32 s)."""

    time_s: float
    distance_m: float
    speed_m_s: float
    strides: int
    latency_s: float


def decode_sdm(page: bytes) -> SdmPage1 | None:
    """Page 1 decoded; None for the other SDM pages (2, 3, 80, …), which carry nothing we map."""
    _check_length(SDM, page)
    if page[0] & 0x7F != 1:
        return None
    if page[1] >= 200:
        raise DecodeError(SDM, 1, f"time fraction {page[1]} is not below 200 (1/200 s units)")
    return SdmPage1(
        time_s=page[2] + page[1] / 200,
        distance_m=page[3] + (page[4] >> 4) / 16,
        speed_m_s=(page[4] & 0x0F) + page[5] / 256,
        strides=page[6],
        latency_s=page[7] / 32,
    )


def sdm_progress(previous: SdmPage1, current: SdmPage1) -> tuple[float, int]:
    """Distance (m) and strides since ``previous``; the SDM's distance rolls over at 256 m and
    its stride count at 256."""
    distance = (current.distance_m - previous.distance_m) % 256
    return distance, _delta(current.strides, previous.strides, _U8)


def step_cadence(since: SdmPage1, current: SdmPage1) -> float | None:
    """Steps per second between two pages whose stride counts differ (one stride is two steps,
    one of each foot); None when no stride or no time lies between them. Measured from one
    stride change to the next, because over a single 0.25 s page a runner makes 0 or 1 strides.
    """
    strides = _delta(current.strides, since.strides, _U8)
    elapsed = (current.time_s - since.time_s) % 256
    if strides == 0 or elapsed == 0:
        return None
    return 2 * strides / elapsed


# ------------------------------------------------ bike speed and cadence, combined (type 121)


BIKE_SC = "bike speed and cadence"


@attrs.frozen
class BikeSpeedCadencePage:
    """ANT+ Bicycle Speed and Cadence profile, section 5.3 (combined speed and cadence data,
    device type 121): bytes 0-1 cadence event time (1/1024 s), 2-3 cumulative crank revolutions,
    4-5 speed event time (1/1024 s), 6-7 cumulative wheel revolutions; all 16-bit rolling."""

    cadence_time: int
    crank_revs: int
    speed_time: int
    wheel_revs: int


def decode_bike_speed_cadence(page: bytes) -> BikeSpeedCadencePage:
    _check_length(BIKE_SC, page)
    return BikeSpeedCadencePage(
        cadence_time=_u16(page, 0),
        crank_revs=_u16(page, 2),
        speed_time=_u16(page, 4),
        wheel_revs=_u16(page, 6),
    )


def cadence_rpm(previous: BikeSpeedCadencePage, current: BikeSpeedCadencePage) -> float | None:
    """Crank cadence between two pages; None when no new crank event arrived."""
    ticks = _delta(current.cadence_time, previous.cadence_time, _U16)
    if ticks == 0:
        return None
    return 60 * 1024 * _delta(current.crank_revs, previous.crank_revs, _U16) / ticks


def wheel_progress(
    previous: BikeSpeedCadencePage, current: BikeSpeedCadencePage, circumference_m: float
) -> tuple[float, float | None]:
    """Distance (m) since ``previous`` and the speed (m/s) over it; speed None without an event."""
    revs = _delta(current.wheel_revs, previous.wheel_revs, _U16)
    ticks = _delta(current.speed_time, previous.speed_time, _U16)
    distance = revs * circumference_m
    if ticks == 0:
        return distance, None
    return distance, distance * 1024 / ticks


# --------------------------------------------------------------- bicycle power (device type 11)


POWER = "bicycle power"
STANDARD_POWER_PAGE = 0x10


PEDAL_POWER_NOT_USED = 0xFF
PEDAL_POWER_UNKNOWN = 0x7F
PEDAL_POWER_RIGHT = 0x80  # bit 7, pedal differentiation: the percent is the right pedal's


@attrs.frozen
class PowerOnlyPage:
    """ANT+ Bicycle Power profile, section 7.1 (data page 0x10, standard power-only): byte 1
    update event count (8-bit rolling), byte 2 pedal power (0xFF: not used; bit 7 set: the
    percent is the right pedal's share, clear: which pedal is unknown; bits 0-6: the percent,
    0x7F unknown), byte 3 instantaneous cadence (rpm, 0xFF invalid), bytes 4-5 accumulated
    power (W, 16-bit rolling), bytes 6-7 instantaneous power (W)."""

    event_count: int
    pedal_power_percent: int | None  # None: not used, unknown or out of range
    pedal_power_is_right: bool | None  # None: the sensor does not report pedal power
    cadence_rpm: int | None
    accumulated_power: int
    instantaneous_power: int


def decode_power(page: bytes) -> PowerOnlyPage | None:
    """Page 0x10 decoded; None for the other power pages (torque, calibration, common pages)."""
    _check_length(POWER, page)
    if page[0] != STANDARD_POWER_PAGE:
        return None
    percent, is_right = _pedal_power(page[2])
    return PowerOnlyPage(
        event_count=page[1],
        pedal_power_percent=percent,
        pedal_power_is_right=is_right,
        cadence_rpm=None if page[3] == 0xFF else page[3],
        accumulated_power=_u16(page, 4),
        instantaneous_power=_u16(page, 6),
    )


def _pedal_power(byte: int) -> tuple[int | None, bool | None]:
    """Byte 2 of page 0x10: (percent, whether it is the right pedal's), bit 7 apart from the
    value; a percent of 0x7F (unknown) or over 100 is None."""
    if byte == PEDAL_POWER_NOT_USED:
        return None, None
    percent = byte & ~PEDAL_POWER_RIGHT
    known = percent if percent <= 100 else None
    return known, bool(byte & PEDAL_POWER_RIGHT)


def average_power(previous: PowerOnlyPage, current: PowerOnlyPage) -> float | None:
    """The average power (W) over the events between two pages: what the profile recommends
    displaying, because it survives lost pages. None when no new event arrived."""
    events = _delta(current.event_count, previous.event_count, _U8)
    if events == 0:
        return None
    return _delta(current.accumulated_power, previous.accumulated_power, _U16) / events
