"""The shared test vectors of the GATT decoders: Python (adapters/ble) and the /produce page's
gatt.js must agree on every one of them.

The inputs are the byte values of the Python decoder and mapping tests (tests/ble/test_decoders.py,
tests/ble/test_mapping.py; each case names its test), sequences through one mapper where the
mapping keeps state (revolution counters), and seeded random bytes per characteristic (the error,
its offset and its text must agree too). The expected outputs are what the Python decoders and
``SampleMapper`` make of them: the decoded record (``attrs.asdict``) or the DecodeError, and the
SUBMIT ``{t, d}`` of each reading, with the timestamp as the Python producer writes it.

Regenerate after changing a Python decoder (and change gatt.js to match):

    python tests/web_producer/gatt_vectors.py

tests/web_producer/test_gatt_vectors.py fails while the committed file differs from what this
makes, and runs the vectors through both languages.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import attrs

from wearstream.adapters.ble.decoders import (
    DecodeError,
    decode_battery_level,
    decode_csc_measurement,
    decode_cycling_power,
    decode_heart_rate,
    decode_rsc_measurement,
)
from wearstream.adapters.ble.mapping import SampleMapper
from wearstream.testing.bluez_payloads import encode_csc, encode_heart_rate, encode_rsc

PATH = Path(__file__).with_name("gatt_vectors.json")
# The arrival time of every value: readings are stamped with it (RR intervals earlier).
ARRIVAL = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
RANDOM_SEED = 18
RANDOM_PER_CHARACTERISTIC = 40

DECODERS: dict[str, Callable[[bytes], object]] = {
    "heart_rate_measurement": decode_heart_rate,
    "battery_level": decode_battery_level,
    "rsc_measurement": decode_rsc_measurement,
    "csc_measurement": decode_csc_measurement,
    "cycling_power_measurement": decode_cycling_power,
}

# (name, characteristic, values in order through one mapper)
CASES: list[tuple[str, str, list[bytes]]] = [
    # test_decoders.py
    ("heart_rate_uint8_without_options", "heart_rate_measurement", [bytes([0x00, 72])]),
    ("heart_rate_uint16_with_contact_energy_and_rr", "heart_rate_measurement",
     [bytes([0x1F, 0x2C, 0x01, 0xD2, 0x04, 0x00, 0x04, 0x00, 0x02])]),
    ("heart_rate_contact_supported_but_not_detected", "heart_rate_measurement", [bytes([0x04, 50])]),
    ("heart_rate_truncated_value", "heart_rate_measurement", [bytes([0x01, 0x48])]),
    ("heart_rate_flags_announcing_missing_rr", "heart_rate_measurement",
     [bytes([0x10, 60]), bytes([0x18, 60, 0x10, 0x00])]),
    ("heart_rate_odd_rr_bytes", "heart_rate_measurement", [bytes([0x10, 60, 0x00, 0x04, 0x01])]),
    ("battery_level", "battery_level", [bytes([87]), bytes([101])]),
    ("rsc_with_stride_and_distance", "rsc_measurement",
     [bytes([0x07, 0x00, 0x03, 180, 120, 0x00, 0xD2, 0x04, 0x00, 0x00])]),
    ("rsc_walking_minimal", "rsc_measurement", [bytes([0x00, 0x80, 0x01, 110])]),
    ("csc_wheel_and_crank", "csc_measurement",
     [bytes([0x03, 0x10, 0x27, 0, 0, 0x00, 0x04, 0xFF, 0xFF, 0x00, 0x08])]),
    ("csc_crank_only_truncated", "csc_measurement", [bytes([0x02, 0x05, 0x00, 0x00])]),
    ("cycling_power_keeps_the_flag_bits", "cycling_power_measurement", [
        bytes([0x0F, 0x00, 0xFA, 0x00, 100, 0x40, 0x00]),
        bytes([0x05, 0x00, 0xFA, 0x00, 100, 0x40, 0x00]),
        bytes([0x0A, 0x00, 0xFA, 0x00]),
    ]),
    ("cycling_power_every_field", "cycling_power_measurement", [bytes(
        [0xFF, 0x1F, 0xFA, 0x00, 100, 0x40, 0x00, 0x0A, 0, 0, 0, 0x00, 0x08, 0x05, 0x00, 0x00, 0x04,
         0x2C, 0x01, 0xF6, 0xFF, 0x40, 0x00, 0xE0, 0xFF, 0x5A, 0x40, 0x0B, 0x0A, 0x00, 0xB4, 0x00,
         0x64, 0x00]
    )]),
    ("cycling_power_negative_power_and_missing_crank", "cycling_power_measurement",
     [bytes([0, 0, 0xFE, 0xFF]), bytes([0x20, 0x00, 0x10, 0x00])]),
    ("empty_values", "heart_rate_measurement", [b""]),
    ("empty_battery", "battery_level", [b""]),
    ("empty_rsc", "rsc_measurement", [b""]),
    ("empty_csc", "csc_measurement", [b""]),
    ("empty_cycling_power", "cycling_power_measurement", [b""]),
    # test_mapping.py
    ("heart_rate_rr_and_energy", "heart_rate_measurement",
     [encode_heart_rate(72, energy_kj=4184, rr_1024=[1024, 512])]),
    # RR intervals of 8/1024 s and 24/1024 s end on half microseconds: rounded half to even
    ("heart_rate_rr_rounding", "heart_rate_measurement",
     [encode_heart_rate(180, rr_1024=[8, 24, 333, 1000], wide=True)]),
    ("zero_bpm_is_no_reading", "heart_rate_measurement", [encode_heart_rate(0, contact=False)]),
    ("rsc_units", "rsc_measurement", [encode_rsc(768, 180, distance_dm=1234)]),
    ("csc_needs_two_measurements_and_survives_rollover", "csc_measurement", [
        encode_csc((2**32 - 2, 65000), (65535, 65000)),
        encode_csc((2, (65000 + 1024) % 65536), (2, (65000 + 2048) % 65536)),
    ]),
    ("repeated_event_time_gives_no_rate", "csc_measurement",
     [encode_csc(crank=(10, 1000)), encode_csc(crank=(10, 1000)), encode_csc(crank=(13, 2024))]),
    ("cycling_power_power_and_cadence", "cycling_power_measurement",
     [bytes([0x20, 0, 100, 0, 1, 0, 0, 0]), bytes([0x20, 0, 110, 0, 2, 0, 0x00, 0x04])]),
    ("cycling_power_wheel_speed", "cycling_power_measurement",
     [bytes([0x10, 0, 200, 0, 10, 0, 0, 0, 0, 0]), bytes([0x10, 0, 210, 0, 14, 0, 0, 0, 0, 0x08])]),
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def outcome(characteristic: str, data: bytes, mapper: SampleMapper) -> dict[str, Any]:
    """What the Python side makes of one value: its record and SUBMITs, or its DecodeError."""
    try:
        record = DECODERS[characteristic](data)
    except DecodeError as error:
        return {"error": {"offset": error.offset, "message": str(error)}}
    as_data = attrs.asdict(record) if attrs.has(type(record)) else record
    samples = mapper.samples(record, ARRIVAL)
    return {
        "record": _jsonable(as_data),
        "submits": [{"t": s.t, "d": s.to_wire()} for s in samples],
    }


def _case(name: str, characteristic: str, values: list[bytes]) -> dict[str, Any]:
    mapper = SampleMapper("user", "device")
    return {
        "name": name,
        "characteristic": characteristic,
        "steps": [{"hex": v.hex(), **outcome(characteristic, v, mapper)} for v in values],
    }


def _random_cases() -> list[dict[str, Any]]:
    rng = random.Random(RANDOM_SEED)
    cases = []
    for characteristic in DECODERS:
        values = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24)))
                  for _ in range(RANDOM_PER_CHARACTERISTIC)]
        cases.append(_case(f"random_{characteristic}", characteristic, values))
    return cases


def build() -> dict[str, Any]:
    """The vectors, as the committed JSON file must hold them."""
    return {
        "about": "generated by tests/web_producer/gatt_vectors.py from the Python decoders: do not edit",
        "arrival": ARRIVAL.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "arrival_us": int(ARRIVAL.timestamp()) * 1_000_000 + ARRIVAL.microsecond,
        "cases": [*(_case(*case) for case in CASES), *_random_cases()],
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())
    sys.stdout.write(f"wrote {PATH}\n")
