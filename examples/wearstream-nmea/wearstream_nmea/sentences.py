"""NMEA 0183 sentences to fixes, with no I/O: checksums, RMC and GGA.

A sentence is ``$TTSSS,field,...*HH``: a talker (GP, GN, GL, ...), a type, comma-separated
fields, and the XOR of every character between ``$`` and ``*`` as two hex digits. A sentence
whose checksum is missing or wrong, or whose fields make no sense, raises BadSentence: the
caller skips and counts it. Sentences of other types, and fixes the receiver marks invalid, are
not errors: they carry nothing to send (``None``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import reduce

import attrs

KNOT_M_S = 1852.0 / 3600.0


class BadSentence(ValueError):
    """A sentence that cannot be trusted; the message says why."""


@attrs.frozen
class Fix:
    """A position at a UTC instant, with the speed over ground when the sentence has one."""

    ts: datetime
    latitude: float
    longitude: float
    speed_m_s: float | None = None


def checksum(body: str) -> str:
    """The checksum of the characters between ``$`` and ``*``, as NMEA writes it."""
    return format(reduce(lambda total, char: total ^ ord(char), body, 0), "02X")


def _fields(sentence: str) -> list[str]:
    """The checked fields of a sentence (type first); BadSentence when it is not one."""
    if not sentence.startswith("$"):
        raise BadSentence("does not start with $")
    body, star, given = sentence[1:].partition("*")
    if not star:
        raise BadSentence("has no checksum")
    expected = checksum(body)
    if given.upper() != expected:
        raise BadSentence(f"checksum {given!r}, computed {expected}")
    return body.split(",")


def _clock(text: str) -> time:
    try:
        hours, minutes, seconds = int(text[0:2]), int(text[2:4]), float(text[4:])
        whole = int(seconds)
        return time(hours, minutes, whole, round((seconds - whole) * 1e6), timezone.utc)
    except ValueError:
        raise BadSentence(f"time {text!r} is not hhmmss.ss") from None


def _day(text: str) -> date:
    try:
        day, month, year = int(text[0:2]), int(text[2:4]), int(text[4:6])
        return date(2000 + year if year < 80 else 1900 + year, month, day)
    except ValueError:
        raise BadSentence(f"date {text!r} is not ddmmyy") from None


def _angle(value: str, hemisphere: str, degree_digits: int, limit: float, signs: str) -> float:
    """``ddmm.mmmm`` (``dddmm.mmmm`` for longitude) and N/S or E/W, as signed degrees."""
    if hemisphere not in signs:
        raise BadSentence(f"hemisphere {hemisphere!r} is not one of {signs}")
    try:
        degrees, minutes = int(value[:degree_digits]), float(value[degree_digits:])
    except ValueError:
        raise BadSentence(f"coordinate {value!r} is not {'d' * degree_digits}mm.mmmm") from None
    angle = degrees + minutes / 60.0
    if len(value) < degree_digits + 2 or minutes >= 60 or angle > limit:
        raise BadSentence(f"coordinate {value!r} is out of range")
    return -angle if hemisphere == signs[1] else angle


def _position(fields: list[str]) -> tuple[float, float]:
    """Latitude and longitude from the four fields ``lat, N|S, lon, E|W``."""
    lat, ns, lon, ew = fields
    return _angle(lat, ns, 2, 90.0, "NS"), _angle(lon, ew, 3, 180.0, "EW")


def _nearest(at: time, reference: datetime) -> datetime:
    """The instant with time of day ``at`` nearest to ``reference``: GGA carries no date."""
    day = datetime.combine(reference.astimezone(timezone.utc).date(), at)
    return min((day + timedelta(days=d) for d in (-1, 0, 1)), key=lambda ts: abs(ts - reference))


def _rmc(fields: list[str]) -> Fix | None:
    if len(fields) < 10:
        raise BadSentence(f"RMC has {len(fields) - 1} fields, needs at least 9")
    if fields[2] != "A":  # V: the receiver has no valid fix
        return None
    ts = datetime.combine(_day(fields[9]), _clock(fields[1]))
    latitude, longitude = _position(fields[3:7])
    try:
        speed = float(fields[7]) * KNOT_M_S if fields[7] else None
    except ValueError:
        raise BadSentence(f"speed {fields[7]!r} is not a number of knots") from None
    return Fix(ts, latitude, longitude, speed)


def _gga(fields: list[str], reference: datetime | None) -> Fix | None:
    if len(fields) < 7:
        raise BadSentence(f"GGA has {len(fields) - 1} fields, needs at least 6")
    if fields[6] in ("", "0"):  # fix quality 0: no fix
        return None
    latitude, longitude = _position(fields[2:6])
    at = _clock(fields[1])
    return None if reference is None else Fix(_nearest(at, reference), latitude, longitude)


def parse(sentence: str, reference: datetime | None) -> Fix | None:
    """The fix in one sentence (without its line ending), or None when it carries none.

    A GGA sentence has only the time of day: it is dated to be nearest to ``reference`` (the
    receiver's last RMC), and carries nothing without one (its fields are checked all the same)."""
    fields = _fields(sentence)
    kind = fields[0][2:] if len(fields[0]) == 5 else ""
    if kind == "RMC":
        return _rmc(fields)
    if kind == "GGA":
        return _gga(fields, reference)
    return None


Reading = tuple[str, datetime, float | tuple[float, float]]


@attrs.define
class Receiver:
    """What one receiver's sentences amount to, as readings: one LOCATION per fix (a receiver
    sends RMC and GGA for each) and the SPEED of each RMC, all stamped with the receiver's
    time. A GGA has no date, so it counts only once an RMC has given one: the system clock
    cannot date it, since a Raspberry Pi without network has no idea what day it is."""

    last_rmc: datetime | None = None
    last_location: datetime | None = None

    def readings(self, sentence: str) -> list[Reading]:
        """The readings in one sentence; BadSentence (from ``parse``) when it is bad."""
        fix = parse(sentence, self.last_rmc)
        if fix is None:
            return []
        found: list[Reading] = []
        if fix.speed_m_s is not None:
            self.last_rmc = fix.ts
        if fix.ts != self.last_location:
            self.last_location = fix.ts
            found.append(("LOCATION", fix.ts, (fix.latitude, fix.longitude)))
        if fix.speed_m_s is not None:
            found.append(("SPEED", fix.ts, fix.speed_m_s))
        return found
