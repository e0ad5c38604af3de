"""pylsl, loaded on first use, and the one mapping between UTC time and the LSL clock.

pylsl ships liblsl inside its wheel. It is an optional extra (``wearstream[lsl]``), so the
sink and the transport import it only when used, and say how to install it when it is missing.

LSL time is ``local_clock()``, a monotonic clock of this machine in seconds. A reading carries a
UTC wall-clock time; the two are related by the offset ``local_clock() - time.time()``, read as a
pair (microseconds apart). Reading it anew for every batch follows wall-clock corrections (NTP)
as they happen, which is what a recording lined up with other LSL streams needs.

liblsl writes INFO lines to stderr ("Loaded default config") when it finds no configuration of
the user's; those would break our one-line output (`wearstream scan`). Only then do we point it
at a configuration that is its defaults with warnings-only logging: a lab's own lsl_api.cfg wins.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Any

INSTALL_HINT = "LSL needs pylsl: pip install 'wearstream[lsl]'"


# Where liblsl looks for a configuration when LSLAPICFG is not set (its documented search order).
USER_CONFIGS = ("lsl_api.cfg", "~/lsl_api/lsl_api.cfg", "/etc/lsl_api/lsl_api.cfg")
QUIET_CONFIG = os.path.join(os.path.dirname(__file__), "quiet_lsl_api.cfg")


def pylsl() -> Any:
    if "LSLAPICFG" not in os.environ and not any(os.path.exists(os.path.expanduser(p)) for p in USER_CONFIGS):
        os.environ["LSLAPICFG"] = QUIET_CONFIG
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
