"""Speed and cadence from cumulative revolution counters, as a pure calculator.

CSC and Cycling Power report cumulative revolutions and the time of the last revolution event
(a 16-bit counter in 1/1024 s, or 1/2048 s for Cycling Power wheel data), not a rate. A rate needs
two measurements; both counters roll over (uint32/uint16 revolutions, uint16 event time), so the
differences are taken modulo the counter range. A measurement whose event time did not move
carries no new revolution: the rate is then unknown until the next event (the sensor repeats
the last event while the wheel is still, so a long run of them means a stop).
"""

from __future__ import annotations

import attrs

EVENT_TIME_RANGE = 1 << 16


@attrs.frozen
class RevolutionEvent:
    revolutions: int  # cumulative, as on the wire
    event_time: int  # last event time, in ticks of 1/ticks_per_s
    counter_bits: int  # width of the revolution counter: 32 for wheels, 16 for cranks
    ticks_per_s: int = 1024


def revolutions_per_second(previous: RevolutionEvent, current: RevolutionEvent) -> float | None:
    """The rate between two events; None when no time passed (no new revolution event)."""
    revs = (current.revolutions - previous.revolutions) % (1 << current.counter_bits)
    ticks = (current.event_time - previous.event_time) % EVENT_TIME_RANGE
    if ticks == 0:
        return None
    return revs * current.ticks_per_s / ticks


@attrs.define
class RevolutionCounter:
    """Remembers the previous event, turns each new one into a rate and a running total.

    ``total`` counts revolutions since the first event seen, across rollovers.
    """

    previous: RevolutionEvent | None = None
    total: int = 0

    def update(self, event: RevolutionEvent) -> float | None:
        previous, self.previous = self.previous, event
        if previous is None:
            return None
        self.total += (event.revolutions - previous.revolutions) % (1 << event.counter_bits)
        return revolutions_per_second(previous, event)
