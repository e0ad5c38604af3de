"""The GATT services and characteristics wearstream knows: UUIDs, decoders, data types.

This table is the one place that says what the BLE transport subscribes to: a device is of
interest when it offers one of ``SERVICES``; on connection every characteristic of
``CHARACTERISTICS`` that it has is subscribed to (or read, when it cannot notify).
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from ...domain.datatypes import DataType
from . import decoders

_BASE = "-0000-1000-8000-00805f9b34fb"


def uuid16(short: int) -> str:
    """The full 128-bit UUID of a SIG-assigned 16-bit UUID, lower case as bleak reports it."""
    return f"{short:08x}{_BASE}"


@attrs.frozen
class Service:
    uuid: str
    name: str


@attrs.frozen
class Characteristic:
    uuid: str
    name: str
    service: Service
    decode: Callable[[bytes], Any]
    data_types: tuple[DataType, ...]


HEART_RATE = Service(uuid16(0x180D), "Heart Rate")
BATTERY = Service(uuid16(0x180F), "Battery")
RSC = Service(uuid16(0x1814), "Running Speed and Cadence")
CSC = Service(uuid16(0x1816), "Cycling Speed and Cadence")
CYCLING_POWER = Service(uuid16(0x1818), "Cycling Power")
PULSE_OXIMETER = Service(uuid16(0x1822), "Pulse Oximeter")
FITNESS_MACHINE = Service(uuid16(0x1826), "Fitness Machine")

SERVICES = (HEART_RATE, BATTERY, RSC, CSC, CYCLING_POWER, PULSE_OXIMETER, FITNESS_MACHINE)
# Battery alone does not make a device worth streaming: scans look for the sensor services.
SENSOR_SERVICE_UUIDS = tuple(s.uuid for s in SERVICES if s is not BATTERY)

_DT = DataType
BATTERY_LEVEL = Characteristic(
    uuid16(0x2A19), "Battery Level", BATTERY, decoders.decode_battery_level, (_DT.BATTERY,)
)
CHARACTERISTICS = {
    c.uuid: c
    for c in (
        Characteristic(
            uuid16(0x2A37),
            "Heart Rate Measurement",
            HEART_RATE,
            decoders.decode_heart_rate,
            (_DT.HEART_RATE, _DT.RR_INTERVAL, _DT.CALORIES),
        ),
        BATTERY_LEVEL,
        Characteristic(
            uuid16(0x2A53),
            "RSC Measurement",
            RSC,
            decoders.decode_rsc_measurement,
            (_DT.SPEED, _DT.STEPS_CADENCE, _DT.DISTANCE),
        ),
        Characteristic(
            uuid16(0x2A5B),
            "CSC Measurement",
            CSC,
            decoders.decode_csc_measurement,
            (_DT.SPEED, _DT.DISTANCE, _DT.BIKE_CADENCE),
        ),
        Characteristic(
            uuid16(0x2A63),
            "Cycling Power Measurement",
            CYCLING_POWER,
            decoders.decode_cycling_power,
            (_DT.POWER, _DT.BIKE_CADENCE, _DT.SPEED, _DT.DISTANCE),
        ),
        Characteristic(
            uuid16(0x2A5F),
            "PLX Continuous Measurement",
            PULSE_OXIMETER,
            decoders.decode_plx_continuous,
            (_DT.OXYGEN_SATURATION, _DT.HEART_RATE),
        ),
        Characteristic(
            uuid16(0x2AD2),
            "Indoor Bike Data",
            FITNESS_MACHINE,
            decoders.decode_indoor_bike_data,
            (_DT.SPEED, _DT.BIKE_CADENCE, _DT.POWER, _DT.DISTANCE, _DT.HEART_RATE, _DT.CALORIES,
             _DT.MET),
        ),
        Characteristic(
            uuid16(0x2ACD),
            "Treadmill Data",
            FITNESS_MACHINE,
            decoders.decode_treadmill_data,
            (_DT.SPEED, _DT.DISTANCE, _DT.HEART_RATE, _DT.CALORIES, _DT.MET, _DT.POWER),
        ),
    )
}


def data_types_of(service_uuids: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The wire labels a device offering these services can produce, in table order."""
    offered = {u.lower() for u in service_uuids}
    labels = (
        dt.value
        for c in CHARACTERISTICS.values()
        if c.service.uuid in offered
        for dt in c.data_types
    )
    return tuple(dict.fromkeys(labels))


def service_names(service_uuids: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    offered = {u.lower() for u in service_uuids}
    return tuple(s.name for s in SERVICES if s.uuid in offered)
