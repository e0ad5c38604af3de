"""Pure decoders of the GATT characteristics wearstream reads: bytes in, attrs records out.

One function per characteristic; a truncated or malformed value raises DecodeError naming the
characteristic and the byte offset. Nothing here does I/O, so the same decoders serve the live
transport, tests and any offline replay of captured notifications.
"""

from ..errors import DecodeError
from .battery import decode_battery_level
from .csc import CscMeasurement, decode_csc_measurement
from .cycling_power import CyclingPowerMeasurement, decode_cycling_power
from .ftms import (
    ExpendedEnergy,
    IndoorBikeData,
    TreadmillData,
    decode_indoor_bike_data,
    decode_treadmill_data,
)
from .heart_rate import HeartRateMeasurement, decode_heart_rate
from .plx import PlxContinuousMeasurement, SpO2PulseRate, decode_plx_continuous
from .revolutions import RevolutionCounter, RevolutionEvent, revolutions_per_second
from .rsc import RscMeasurement, decode_rsc_measurement
from .sfloat import SFloatSpecial, decode_sfloat, sfloat_special

__all__ = [
    "CscMeasurement",
    "CyclingPowerMeasurement",
    "DecodeError",
    "ExpendedEnergy",
    "HeartRateMeasurement",
    "IndoorBikeData",
    "PlxContinuousMeasurement",
    "RevolutionCounter",
    "RevolutionEvent",
    "RscMeasurement",
    "SFloatSpecial",
    "SpO2PulseRate",
    "TreadmillData",
    "decode_battery_level",
    "decode_csc_measurement",
    "decode_cycling_power",
    "decode_heart_rate",
    "decode_indoor_bike_data",
    "decode_plx_continuous",
    "decode_rsc_measurement",
    "decode_sfloat",
    "decode_treadmill_data",
    "revolutions_per_second",
    "sfloat_special",
]
