"""The ANT+ device profiles this adapter speaks: how to find each on the air.

Channel parameters come from each profile document's "channel configuration" section: device
type, channel period (in 1/32768 s) and, for all of them, RF channel 57 (2457 MHz) on the ANT+
network. ``name`` is the spec prefix (``ant:hr:…``).
"""

from __future__ import annotations

import attrs

from ...domain.datatypes import DataType

ANTPLUS_RF_FREQUENCY = 57
ANTPLUS_NETWORK_KEY = (0xB9, 0xA5, 0x21, 0xFB, 0xBD, 0x72, 0xC3, 0x45)


@attrs.frozen
class Profile:
    name: str
    title: str
    device_type: int
    period: int
    data_types: tuple[DataType, ...]


HEART_RATE = Profile(
    "hr", "heart rate monitor", 120, 8070,
    (DataType.HEART_RATE, DataType.RR_INTERVAL, DataType.BATTERY),
)
STRIDE_SDM = Profile(
    "sdm", "stride speed and distance monitor", 124, 8134,
    (DataType.SPEED, DataType.DISTANCE, DataType.STEPS, DataType.STEPS_CADENCE),
)
BIKE_SPEED_CADENCE = Profile(
    "bike-sc", "bike speed and cadence sensor", 121, 8086,
    (DataType.SPEED, DataType.DISTANCE, DataType.BIKE_CADENCE),
)
BIKE_POWER = Profile(
    "power", "bicycle power meter", 11, 8182,
    (DataType.POWER, DataType.BIKE_CADENCE),
)

PROFILES: dict[str, Profile] = {
    p.name: p for p in (HEART_RATE, STRIDE_SDM, BIKE_SPEED_CADENCE, BIKE_POWER)
}
BY_DEVICE_TYPE: dict[int, Profile] = {p.device_type: p for p in PROFILES.values()}
