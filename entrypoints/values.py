"""argparse ``type=`` functions for numbers with a range, so a value out of range is a usage error.

A number an option cannot use (``--rate 0``, ``--port 70000``, ``--token-ttl nan``) must stop at the
command line with one line naming the option and the range, not deep inside the running system as
a traceback. Because the environment and the config file go through the same ``type`` (see
config.py), ``WEARSTREAM_PORT=70000`` is refused the same way.
"""

from __future__ import annotations

import argparse
import math
from typing import Callable
from urllib.parse import urlsplit

DAY_S = 86_400.0


def _describe(low: float, high: float, low_open: bool, unit: str) -> str:
    span = f"above {low:g} and at most {high:g}" if low_open else f"from {low:g} to {high:g}"
    return f"a number{unit} {span}"


def number(
    low: float, high: float, *, low_open: bool = False, unit: str = ""
) -> Callable[[str], float]:
    """A float in [low, high] (or (low, high] with low_open); never nan or infinite."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > low if low_open else value >= low) and value <= high):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {_describe(low, high, low_open, unit)}"
            )
        return value

    return parse


def integer(low: int, high: int, *, unit: str = "") -> Callable[[str], int]:
    """A whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{unit} from {low} to {high}")
        return value

    return parse


def seconds(high: float = DAY_S, *, zero: bool = False) -> Callable[[str], float]:
    """A duration in seconds: positive (or zero if ``zero``) and at most ``high``."""
    return number(0.0, high, low_open=not zero, unit=" of seconds")


_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
          "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}


def byte_size(low: int, high: int) -> Callable[[str], int]:
    """A number of bytes in [low, high]: ``1048576``, ``512KiB``, ``16MiB``, ``1.5GiB`` (K, M, G
    are powers of 1024 too; KB, MB, GB powers of 1000)."""

    def parse(text: str) -> int:
        clean = str(text).strip().lower().replace(" ", "")
        digits = clean.rstrip("kmgib")
        try:
            value = int(float(digits) * _UNITS[clean[len(digits):]])
        except (ValueError, KeyError, OverflowError):
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a size from {low} bytes to {high // 1024**2} MiB "
                "(bytes, or a number with KiB, MiB, GiB)"
            )
        return value

    return parse


PORT = integer(0, 65_535)


def duration(high: float) -> Callable[[str], float]:
    """A duration from 0 to ``high`` seconds, in seconds (``0.002``) or with a unit (``2ms``,
    ``500us``, ``0.5s``)."""
    scale = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}

    def parse(text: str) -> float:
        clean = str(text).strip().lower()
        unit = next((u for u in scale if clean.endswith(u)), "")
        try:
            value = float(clean[: len(clean) - len(unit)]) * scale.get(unit, 1.0)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 <= value <= high):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a duration from 0 to {high:g} s (seconds, or a number with ms or us)"
            )
        return value

    return parse


def websocket_url(text: str) -> str:
    """A broker's WebSocket URL, ``ws://`` or ``wss://`` with a host: an ``http://`` one (the API
    URL given twice, a common slip) is a usage error, not a ValueError at the first connect."""
    url = str(text).strip()
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("ws", "wss") and bool(parts.hostname)
    except ValueError:  # an unparsable host or port
        usable = False
    if not usable:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a WebSocket URL: give ws://HOST:PORT/connect (wss:// with TLS)"
        )
    return url
