"""What a short wait costs the code that runs after it: the broker's per-reading decode and
session step, timed in thread CPU time, back to back and with a sleep before each call.

    python -m bench.cold_wake [--calls 2000]

Why (docs/benchmarks.md, "Why a reading at 1 Hz costs more"): at 1,000 producers × 1 Hz the
broker waits between most readings, and on a virtual machine the caches, TLB and branch
predictors it finds after a wait are someone else's. The same Python costs several times what it
costs in a loop; this measures that factor on the machine at hand, apart from the broker.
"""

from __future__ import annotations

import argparse
import time

from wearstream.adapters.websocket import codec
from wearstream.domain.identity import Role
from wearstream.domain.session import Principal, ServerSession

from .reading import submit_frame

GAPS = (0.0, 0.0001, 0.001, 0.0)  # s slept before each call; the loop again last, as a check


def ready_session() -> ServerSession:
    """A producer's session after IDENTIFY and its token check, as the broker holds it."""
    session = ServerSession()
    session.connected(0.0)
    session.received(codec.decode(b'{"op":3,"d":{"token":"t","type":1}}'), 0.0)
    session.identified(Principal(Role.PRODUCER, "dev", "user"))
    return session


def cost_us(session: ServerSession, message: bytes, gap: float, calls: int) -> float:
    """Mean thread CPU time of one decode + session step, in µs, sleeping ``gap`` s before each."""
    total = 0
    for _ in range(calls):
        if gap:
            time.sleep(gap)
        started = time.thread_time_ns()
        session.received(codec.decode(message), 1.0)
        total += time.thread_time_ns() - started
    return total / calls / 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    session = ready_session()
    message = submit_frame(1, 1, time.time()).encode()
    for gap in GAPS:
        print(f"sleep {gap * 1000:g} ms before each: {cost_us(session, message, gap, args.calls):.1f} µs")


if __name__ == "__main__":
    main()
