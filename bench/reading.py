"""The benchmark's reading: one heart-rate SUBMIT whose bytes say who sent it, which one, and when.

``ts`` is the producer's wall-clock send time (microseconds), so a consumer on the same machine
gets the end-to-end latency from the reading alone. ``n`` packs the producer's index and its
counter, so losses, duplicates and reordering are counted from content, the same way for
wearstream (DISPATCH) and Mosquitto (the SUBMIT frame's bytes are the MQTT payload).
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson

COUNTER_BITS = 32
COUNTER_MASK = (1 << COUNTER_BITS) - 1
DATA_OPS = (5, 6)  # DISPATCH through wearstream, the SUBMIT frame itself through MQTT


def submit_frame(producer: int, counter: int, now: float) -> str:
    """The SUBMIT frame (also the MQTT payload) of one reading sent at wall time ``now``."""
    ts = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="microseconds")
    n = (producer << COUNTER_BITS) | counter
    return f'{{"op":6,"t":"HEART_RATE","d":{{"ts":"{ts}","val":{60 + counter % 120},"n":{n}}}}}'


def read_frame(message: bytes | str) -> tuple[int, int, float] | None:
    """(producer, counter, send time) of a DISPATCH frame or an MQTT payload; None for other ops."""
    obj = orjson.loads(message)
    if obj["op"] not in DATA_OPS:
        return None
    d = obj["d"]
    n = d["n"]
    return n >> COUNTER_BITS, n & COUNTER_MASK, datetime.fromisoformat(d["ts"]).timestamp()
