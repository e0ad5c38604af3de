"""pylsl, loaded on first use, and the one mapping between UTC time and the LSL clock.

pylsl ships liblsl inside its wheel. It is an optional extra (``wearstream[lsl]``), so the
sink and the transport import it only when used, and say how to install it when it is missing.

LSL time is ``local_clock()``, a monotonic clock of this machine in seconds. A reading carries a
UTC wall-clock time; the two are related by the offset ``local_clock() - time.time()``, read as a
pair (microseconds apart). Reading it anew for every batch follows wall-clock corrections (NTP)
as they happen, which is what a recording lined up with other LSL streams needs.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

INSTALL_HINT = "LSL needs pylsl: pip install 'wearstream[lsl]'"


def pylsl() -> Any:
    try:
        import pylsl as library
    except (ImportError, RuntimeError) as error:  # RuntimeError: liblsl could not be loaded
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    return library


def stream_errors() -> tuple[type[Exception], ...]:
    """What liblsl raises when a stream goes away or does not answer in time."""
    from pylsl.util import LostError, TimeoutError

    return (LostError, TimeoutError)


def clock_offset() -> float:
    """``local_clock() - time.time()``: add it to a Unix time to get LSL time."""
    return pylsl().local_clock() - time.time()


def lsl_time(ts: datetime, offset: float) -> float:
    return ts.timestamp() + offset


def utc_time(lsl_seconds: float, offset: float) -> datetime:
    return datetime.fromtimestamp(lsl_seconds - offset, tz=timezone.utc)
