"""The producer's status lines on the terminal: one per device, one for the broker link.

Presentation only: the figures come from the domain (``producer.DeviceView``) and the link's
state; this module decides how they look.
"""

from __future__ import annotations

from ...domain.producer import DeviceView
from ...domain.samples import Sample


def format_value(sample: Sample | None) -> str:
    if sample is None:
        return "-"
    value = sample.value
    if isinstance(value, tuple):
        shown = ",".join(f"{v:.3g}" for v in value[:3]) + (",…" if len(value) > 3 else "")
        return f"{sample.t}=[{shown}]"
    return f"{sample.t}={value:.4g}"


def status_line(view: DeviceView, now: float, depth: int) -> str:
    """One device's line: presence, last value, rate, battery, outbox depth."""
    state = "connected" if view.connected else "disconnected"
    parts = [
        f"{view.device_id:<20}",
        f"{state:<12}",
        f"{format_value(view.last):<32}",
        f"{view.rate(now):6.1f}/s",
        "batt " + ("-" if view.battery is None else f"{view.battery}%"),
        f"outbox {depth}",
    ]
    if view.problem:
        parts.append(f"({view.problem})")
    return "  ".join(parts)


def link_line(connected: bool, acked: int, problem: str | None) -> str:
    state = "broker connected" if connected else "broker disconnected"
    text = f"{state}, acked up to id {acked}" if acked >= 0 else state
    return text + (f" ({problem})" if problem else "")
