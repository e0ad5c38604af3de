"""Device specs of the ANT+ transport: ``PROFILE[:DEVICE_NUMBER][?option=value&…]``.

``hr``, ``sdm``, ``bike-sc`` and ``power`` name the profiles; without a device number the
channel pairs with the first sensor of that kind it hears (the ANT wildcard). Options:
``device=/dev/ttyUSB0`` picks a stick behind a serial port instead of the first USB stick, and
``wheel=2.105`` is the wheel circumference in metres for ``bike-sc``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import attrs

from ...domain.errors import SpecError
from .profiles import BIKE_SPEED_CADENCE, PROFILES, Profile

MAX_DEVICE_NUMBER = 0xFFFF
WHEEL_RANGE_M = (0.5, 4.0)  # from a folding bike to a fat-bike wheel, with room to spare


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
    number = _device_number(spec, number_text) if colon else None
    options = _options(spec, query)
    wheel = options.pop("wheel", None)
    stick = options.pop("device", None)
    if options:
        raise SpecError(f"ant:{spec}: unknown option(s) {', '.join(sorted(options))}")
    if wheel is not None and profile is not BIKE_SPEED_CADENCE:
        raise SpecError(f"ant:{spec}: wheel= applies to bike-sc only")
    if stick is not None and not stick.startswith("/"):
        raise SpecError(f"ant:{spec}: device= takes the absolute path of a serial port")
    return AntSpec(profile, number, stick, _wheel(spec, wheel) if wheel is not None else None)


def _device_number(spec: str, text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_DEVICE_NUMBER:
        raise SpecError(
            f"ant:{spec}: the device number is 1 to {MAX_DEVICE_NUMBER} (omit it for any sensor)"
        )
    return int(text)


def _options(spec: str, query: str) -> dict[str, str]:
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False) if query else []
    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options or not value:
            raise SpecError(f"ant:{spec}: option {key!r} needs one value")
        options[key] = value
    return options


def _wheel(spec: str, text: str) -> float:
    try:
        wheel = float(text)
    except ValueError:
        wheel = float("nan")
    low, high = WHEEL_RANGE_M
    if not low <= wheel <= high:
        raise SpecError(f"ant:{spec}: wheel= is a circumference in metres, {low} to {high}")
    return wheel
