"""The spec of a receiver: ``PORT[?baud=N]``, e.g. ``/dev/ttyUSB0?baud=9600``."""

from __future__ import annotations

from pathlib import PurePath

import attrs

from wearstream.domain.errors import SpecError

DEFAULT_BAUD = 4800  # the NMEA 0183 rate; many USB receivers talk at 9600
BAUDS = (4800, 9600, 19200, 38400, 57600, 115200)
USAGE = f"expected nmea:PORT[?baud=N] with N one of {', '.join(map(str, BAUDS))}"


@attrs.frozen
class NmeaSpec:
    port: str
    baud: int = DEFAULT_BAUD

    @property
    def device_id(self) -> str:
        """Named after the port: use a stable name (``/dev/serial/by-id/…``) for a stable id."""
        return f"nmea-{PurePath(self.port).name}"


def parse_spec(spec: str) -> NmeaSpec:
    """Parse the part of an ``nmea:`` spec after the prefix; SpecError says what is wrong."""
    port, _, query = spec.partition("?")
    if not port:
        raise SpecError(f"nmea needs a serial port: {USAGE}")
    if not query:
        return NmeaSpec(port)
    key, equals, value = query.partition("=")
    if key != "baud" or not equals or not value.isdigit() or int(value) not in BAUDS:
        raise SpecError(f"bad nmea parameter {query!r} in {spec!r}: {USAGE}")
    return NmeaSpec(port, int(value))
