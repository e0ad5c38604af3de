"""The PMD control point: requests (get settings, start, stop), responses, and settings TLVs.

A request is ``[op code, measurement type, settings…]``, written with response. The answer comes
as an indication on the control point: ``0xF0, op code, measurement type, error code, more,
parameters…``; ``more`` set means the parameters go on in further indications, each starting with
its own ``more`` byte. Settings are TLVs: ``setting type, count, count values`` where a value's
size depends on the type (sample rate, resolution and range 2 bytes, range in milli-units 4,
channels 1, factor 4 as an IEEE-754 float32, security 16). Reading the control point gives the
measurement types the device supports: ``0x0F`` then a bit mask (bit n = measurement type n).
"""

from __future__ import annotations

import enum
import struct
from typing import Mapping

import attrs

from ..decoders.reader import Reader
from ..errors import DecodeError
from .service import Measurement

RESPONSE_CODE = 0xF0
FEATURE_CODE = 0x0F


class OpCode(enum.IntEnum):
    GET_SETTINGS = 1
    START = 2
    STOP = 3


class Setting(enum.IntEnum):
    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5
    SECURITY = 6


_SIZES = {
    Setting.SAMPLE_RATE: 2,
    Setting.RESOLUTION: 2,
    Setting.RANGE: 2,
    Setting.RANGE_MILLIUNIT: 4,
    Setting.CHANNELS: 1,
    Setting.FACTOR: 4,
    Setting.SECURITY: 16,
}

ERRORS = (
    "SUCCESS",
    "INVALID_OP_CODE",
    "INVALID_MEASUREMENT_TYPE",
    "NOT_SUPPORTED",
    "INVALID_LENGTH",
    "INVALID_PARAMETER",
    "ALREADY_IN_STATE",
    "INVALID_RESOLUTION",
    "INVALID_SAMPLE_RATE",
    "INVALID_RANGE",
    "INVALID_MTU",
    "INVALID_NUMBER_OF_CHANNELS",
    "INVALID_STATE",
    "DEVICE_IN_CHARGER",
    "DISK_FULL",
)
ALREADY_IN_STATE = ERRORS.index("ALREADY_IN_STATE")

CONTROL_POINT = "PMD control point"

# A setting's values: several when the device lists what it offers, one when it is chosen.
Settings = Mapping[Setting, tuple[float, ...]]


def error_name(code: int) -> str:
    return ERRORS[code] if 0 <= code < len(ERRORS) else f"ERROR_{code}"


# --- requests ------------------------------------------------------------------------------


def get_settings_request(measurement: Measurement) -> bytes:
    return bytes([OpCode.GET_SETTINGS, measurement])


def stop_request(measurement: Measurement) -> bytes:
    return bytes([OpCode.STOP, measurement])


def start_request(measurement: Measurement, chosen: Mapping[Setting, int]) -> bytes:
    """A start request with one value per setting; the factor is the device's, never sent."""
    out = bytearray([OpCode.START, measurement])
    for setting, value in sorted(chosen.items()):
        if setting is Setting.FACTOR:
            continue
        out += bytes([setting, 1]) + int(value).to_bytes(_SIZES[setting], "little")
    return bytes(out)


# --- responses -----------------------------------------------------------------------------


@attrs.frozen
class Response:
    op_code: int
    measurement: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def error(self) -> str:
        return error_name(self.status)


def decode_response(data: bytes) -> Response:
    """A control-point indication; DecodeError when it is not a response at all."""
    r = Reader(CONTROL_POINT, data)
    code = r.uint(1, "response code")
    if code != RESPONSE_CODE:
        raise DecodeError(CONTROL_POINT, 0, f"response code 0x{code:02X} is not 0xF0")
    op_code = r.uint(1, "op code")
    measurement = r.uint(1, "measurement type")
    status = r.uint(1, "error code")
    more = bool(r.uint(1, "more")) if r.remaining() else False
    return Response(op_code, measurement, status, more, bytes(data[r.offset :]))


def decode_continuation(data: bytes) -> tuple[bool, bytes]:
    """A further indication of a response with ``more`` set: (more again, its parameters)."""
    if not data:
        raise DecodeError(CONTROL_POINT, 0, "empty continuation of a response")
    return bool(data[0]), bytes(data[1:])


def decode_settings(data: bytes) -> dict[Setting, tuple[float, ...]]:
    """The settings TLVs of a get-settings or start response."""
    r = Reader(CONTROL_POINT + " settings", data)
    out: dict[Setting, tuple[float, ...]] = {}
    while r.remaining():
        code = r.uint(1, "setting type")
        try:
            setting = Setting(code)
        except ValueError:
            raise DecodeError(r.characteristic, r.offset - 1, f"unknown setting type {code}") from None
        count = r.uint(1, f"{setting.name} count")
        out[setting] = tuple(_value(r, setting) for _ in range(count))
    return out


def _value(r: Reader, setting: Setting) -> float:
    size = _SIZES[setting]
    if setting is Setting.FACTOR:
        return struct.unpack("<f", r.uint(size, "FACTOR").to_bytes(4, "little"))[0]
    if setting is Setting.RANGE_MILLIUNIT:
        return r.sint(size, setting.name)
    return r.uint(size, setting.name)


def decode_features(data: bytes) -> frozenset[int]:
    """The measurement types a device supports, from a read of the control point."""
    r = Reader(CONTROL_POINT + " features", data)
    code = r.uint(1, "feature code")
    if code != FEATURE_CODE:
        raise DecodeError(r.characteristic, 0, f"feature code 0x{code:02X} is not 0x0F")
    mask = int.from_bytes(data[1:], "little")
    return frozenset(bit for bit in range(mask.bit_length()) if mask >> bit & 1)
