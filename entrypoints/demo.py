"""`wearstream demo`: the whole system in one process, with no hardware and no external service.

It wires the real parts, not a shortcut through them: an in-memory broker (WebSocket + HTTP API on
free ports), a developer created in its store, four simulated users whose producers mint tokens
over HTTP and stream through their own outboxes and WebSocket links, and one consumer that reads
the developer's stream with ``connect_consumer`` and feeds the live terminal view. Latency in the
summary is therefore the real end-to-end figure: sample time stamp to consumer receipt.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import TYPE_CHECKING, TextIO

from ..adapters.logging_json import add_logging_options, configure_logging
from .config import Commands
from .values import DAY_S, number, seconds

if TYPE_CHECKING:  # pragma: no cover
    import trio

    from ..adapters.terminal.live_view import LiveView
    from .broker import RunningBroker
    from .state import NewDeveloper

# Four users with different devices: a sitter with a strap, a runner, a cyclist, a watch wearer.
USERS: dict[str, tuple[str, ...]] = {
    "alice": ("sim:hr-strap?seed=1",),
    "bob": ("sim:hr-strap?seed=2", "sim:footpod?seed=2"),
    "carol": ("sim:hr-strap?seed=3", "sim:bike?seed=3"),
    "dave": ("sim:watch?seed=4",),
}
REDRAW_EVERY = 0.5
# Latency is measured after the start-up, when every client has connected: samples taken while
# the consumer was still connecting reach it by REPLAY, which says nothing about live delay.
WARM_UP_S = 2.0


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "demo",
        help="a broker, four simulated users and a live consumer in one process",
        description=(
            "Run an in-memory broker, four simulated users (heart-rate strap, runner, cyclist, "
            "watch) streaming through real producers, and a consumer drawing a live view. "
            "No hardware, no external service. Ctrl-C stops it."
        ),
    )
    parser.add_argument(
        "--duration", type=seconds(365 * DAY_S), default=None, metavar="S",
        help="stop by itself after S seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--rate", type=_rate, default=1.0, metavar="HZ",
        help="samples/s per simulated sensor, as sim:KIND?rate=HZ: above 0, at most 1000",
    )
    # Warnings only by default: the live view owns the terminal; a broker or link problem still shows.
    add_logging_options(parser, level="warning", log_format="text")
    parser.set_defaults(func=run)


def _rate(text: str) -> float:
    """The simulated devices' own bound (one fact, in adapters/simulated/spec.py)."""
    from ..adapters.simulated.spec import MAX_RATE_HZ

    return number(0.0, MAX_RATE_HZ, low_open=True, unit=" of Hz")(text)


def run(args: argparse.Namespace) -> int:
    import trio

    configure_logging(args.log_level, args.log_format)
    trio.run(_main, args.duration, args.rate, sys.stdout)
    return 0


async def _main(duration: float | None, rate: float, out: TextIO) -> None:
    import trio

    from ..adapters.terminal.live_view import LiveView
    from .broker import BrokerSettings, serve_broker
    from .state import create_developer

    view = LiveView()
    started = time.time()
    settings = BrokerSettings(port=0, token_ttl=60.0)
    with trio.move_on_after(math.inf if duration is None else duration):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signal, nursery.cancel_scope)
            running: RunningBroker = await nursery.start(serve_broker, settings)
            developer = await create_developer(running.stores.developers, "demo")
            print(f"wearstream demo: broker {running.ws_url}, API {running.api_url}", file=out)
            for user, specs in USERS.items():
                nursery.start_soon(_produce, running, developer, user, _with_rate(specs, rate))
            nursery.start_soon(_consume, running, developer, view, started + WARM_UP_S)
            nursery.start_soon(_draw, view, started, out)
    if not out.isatty():  # a pipe or a log gets the final table too, not only the 5 s ones
        out.write("\n".join(_frame(view, started)) + "\n")
    print(view.summary(time.time() - started) + f" (after a {WARM_UP_S:g} s warm-up)", file=out, flush=True)


async def _stop_on_signal(scope: "trio.CancelScope") -> None:
    """Ctrl-C (SIGINT) or SIGTERM ends the demo like --duration does: with the summary, exit 0.

    A handler of our own rather than KeyboardInterrupt: that one would reach us wrapped in the
    nursery's exception group, mid-teardown, and a shell starts a background job (``&``) with
    SIGINT ignored, which KeyboardInterrupt never overrides; a signal receiver does."""
    import signal

    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


def _with_rate(specs: tuple[str, ...], rate: float) -> tuple[str, ...]:
    return tuple(f"{spec}{'&' if '?' in spec else '?'}rate={rate:g}" for spec in specs)


async def _produce(
    running: "RunningBroker", developer: "NewDeveloper", user: str, specs: tuple[str, ...]
) -> None:
    """One user's producer, exactly as `wearstream producer` runs it, with a memory outbox."""
    from ..adapters.http.token_providers import ApiTokenProvider
    from ..adapters.storage.outbox import MemoryOutbox
    from .bootstrap import build_producer
    from .plugins import open_device

    tokens = ApiTokenProvider(running.api_url, developer.dev_id, developer.api_key, user)
    sources = [open_device(spec) for spec in specs]
    await build_producer(user, sources, MemoryOutbox(), broker_url=running.ws_url, tokens=tokens).run()


async def _consume(
    running: "RunningBroker", developer: "NewDeveloper", view: "LiveView", measure_from: float
) -> None:
    """The developer's consumer, exactly as an application embedding wearstream would write it."""
    from .connect import connect_consumer

    async with connect_consumer(
        api_url=running.api_url,
        broker_url=running.ws_url,
        dev_id=developer.dev_id,
        api_key=developer.api_key,
    ) as stream:
        async for payload in stream:
            now = time.time()
            view.add(payload, now, measure=now >= measure_from)


def _frame(view: "LiveView", started: float) -> list[str]:
    lines = view.render(time.time())
    lines.append(f"{view.payloads} payloads, last seq {view.last_seq}, {time.time() - started:.0f} s")
    return lines


async def _draw(view: "LiveView", started: float, out: TextIO) -> None:
    """Redraw in place on a terminal; elsewhere (a pipe, CI) print a frame every few seconds."""
    import trio

    live = out.isatty()
    drawn = 0
    while True:
        await trio.sleep(REDRAW_EVERY if live else 5.0)
        lines = _frame(view, started)
        if live and drawn:
            out.write(f"\x1b[{drawn}F\x1b[J")  # back to the first line of the last frame, clear
        out.write("\n".join(lines) + "\n")
        out.flush()
        drawn = len(lines)
