"""Device specs of the ANT+ transport: ``PROFILE[:DEVICE_NUMBER][?option=value&…]``.

``hr``, ``sdm``, ``bike-sc`` and ``power`` name the profiles; without a device number the
channel pairs with the first sensor of that kind it hears (the ANT wildcard). Options:
``device=/dev/ttyUSB0`` picks a stick behind a serial port instead of the first USB stick, and
``wheel=2.105`` is the wheel circumference in metres for ``bike-sc``.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from ...domain.errors import SpecError
from ...domain.spec_query import number, query_options
from .profiles import BIKE_SPEED_CADENCE, PROFILES, Profile

MAX_DEVICE_NUMBER = 0xFFFF
WHEEL_RANGE_M = (0.5, 4.0)  # from a folding bike to a fat-bike wheel, with room to spare
OPTIONS = "options are device=PATH (a serial port) and wheel=METRES (bike-sc only)"


@attrs.frozen
class AntSpec:
    profile: Profile
    device_number: int | None = None  # None: the first sensor of the profile's type heard
    stick: str | None = None  # a serial port path; None: the first ANT USB stick
    wheel_m: float | None = None

    @property
    def device_id(self) -> str:
        """Stable across reconnects, and itself a spec: ``ant:`` + this opens the same sensor."""
        if self.device_number is None:
            return self.profile.name
        return f"{self.profile.name}:{self.device_number}"


def parse_spec(spec: str) -> AntSpec:
    head, _, query = spec.partition("?")
    name, colon, number_text = head.partition(":")
    profile = PROFILES.get(name)
    if profile is None:
        known = ", ".join(PROFILES)
        raise SpecError(f"ant:{spec}: unknown ANT+ profile {name!r} (one of {known})")
    device_number = _device_number(spec, number_text) if colon else None
    parsers: dict[str, Callable[[str], Any]] = {
        "device": lambda text: _stick(spec, text),
        "wheel": lambda text: _wheel(spec, text),
    }
    options = query_options(f"ant:{spec}", query, parsers, what="ant", usage=OPTIONS)
    if "wheel" in options and profile is not BIKE_SPEED_CADENCE:
        raise SpecError(f"ant:{spec}: wheel= applies to bike-sc only")
    return AntSpec(profile, device_number, options.get("device"), options.get("wheel"))


def _device_number(spec: str, text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_DEVICE_NUMBER:
        raise SpecError(
            f"ant:{spec}: the device number is 1 to {MAX_DEVICE_NUMBER} (omit it for any sensor)"
        )
    return int(text)


def _stick(spec: str, text: str) -> str:
    if not text.startswith("/"):
        raise SpecError(f"ant:{spec}: device= takes the absolute path of a serial port")
    return text


def _wheel(spec: str, text: str) -> float:
    wheel = number(text)
    low, high = WHEEL_RANGE_M
    if not low <= wheel <= high:
        raise SpecError(f"ant:{spec}: wheel= is a circumference in metres, {low} to {high}")
    return wheel
