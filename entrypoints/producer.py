"""`wearstream producer`: stream devices to a broker as one user, losing nothing.

Wiring only: options -> token provider, outbox, devices, link -> the producer core
(``producer_core``) in one nursery, with the status display and the signal handler beside it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote

import attrs

from ..adapters.logging_json import add_logging_options, configure_logging
from .config import Commands
from .values import integer, seconds, websocket_url

if TYPE_CHECKING:  # pragma: no cover
    import trio

    from ..adapters.websocket.producer_link import ProducerLink
    from ..ports.devices import SampleSource
    from ..ports.producer import TokenProvider
    from .producer_core import Producer

log = logging.getLogger("wearstream.producer")

REDRAW_EVERY = 0.5  # seconds between status redraws on a terminal
LOG_STATUS_EVERY = 10.0  # seconds between status log lines otherwise


class UsageError(Exception):
    """Options that cannot work together; reported as ``wearstream producer: …``, exit 2."""


@attrs.frozen
class ProducerSettings:
    user_id: str
    devices: tuple[str, ...]
    broker_url: str
    api_url: str | None = None
    dev_id: str | None = None
    api_key: str | None = None
    token: str | None = None
    token_command: str | None = None
    outbox: str | None = None
    window: int = 1000
    drain_timeout: float = 3.0


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "producer",
        help="stream devices (sim:, ble:, ant:) to a broker as one user",
        description=(
            "Stream the samples of one or more devices to a broker as user U. Every sample goes "
            "through a durable outbox and leaves it only once the broker has acknowledged it. "
            "Every option also reads WEARSTREAM_<OPTION> and the [producer] table of --config."
        ),
    )
    d = ProducerSettings("", (), "")
    parser.add_argument("--user-id", required=True, metavar="U", help="the user the samples belong to")
    parser.add_argument(
        "--device", action="append", required=True, metavar="SPEC",
        help=(
            "a device: sim:KIND[?rate=HZ&seed=N], ble:ADDRESS, ble:name=PATTERN, ant:hr[:N], "
            "replay:PATH[?speed=X&loop=1&retime=1] (repeatable)"
        ),
    )
    parser.add_argument("--broker-url", required=True, type=websocket_url, metavar="URL", help="ws://HOST:PORT/connect")
    parser.add_argument("--api-url", metavar="URL", help="the broker's HTTP API, for --dev-id/--api-key")
    parser.add_argument("--dev-id", metavar="D", help="developer id (development: mints tokens itself)")
    parser.add_argument("--api-key", metavar="K", help="developer API key (with --dev-id)")
    parser.add_argument("--token", metavar="T", help="one producer token (good for one connection)")
    parser.add_argument(
        "--token-command", metavar="CMD",
        help="a shell command that prints a fresh producer token (production: ask your backend)",
    )
    parser.add_argument(
        "--outbox", metavar="PATH",
        help="the outbox file (default: outbox-<user>.db in the user's data dir)",
    )
    parser.add_argument("--window", type=integer(1, 1_000_000), default=d.window, metavar="N",
                        help="unacknowledged SUBMITs in flight at most (%(default)s)")
    parser.add_argument("--drain-timeout", type=seconds(3600, zero=True), default=d.drain_timeout, metavar="S",
                        help="on stop, wait this long for the last acknowledgements (%(default)s)")
    # Text by default: a producer's stderr is its status board, read by a person.
    add_logging_options(parser, level="info", log_format="text")
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ProducerSettings:
    """Settings checked for what argparse cannot see (which token source, URL schemes)."""
    devices = tuple(spec.strip() for spec in args.device or () if spec.strip())
    if not args.user_id or not args.user_id.strip():
        raise UsageError("--user-id must not be empty")
    if not devices:
        raise UsageError("give at least one --device")
    sources = [name for name, given in (
        ("--dev-id/--api-key", args.dev_id or args.api_key),
        ("--token", args.token),
        ("--token-command", args.token_command),
    ) if given]
    if len(sources) != 1:
        raise UsageError(
            "give exactly one way to get tokens: --dev-id with --api-key, --token, or "
            f"--token-command (got {', '.join(sources) or 'none'})"
        )
    if sources[0] == "--dev-id/--api-key" and not (args.dev_id and args.api_key and args.api_url):
        raise UsageError("--dev-id needs --api-key and --api-url")
    fields = attrs.fields_dict(ProducerSettings)
    values = {name: getattr(args, name) for name in fields if name not in ("devices", "user_id")}
    return ProducerSettings(user_id=args.user_id.strip(), devices=devices, **values)


def default_outbox(user_id: str) -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("wearstream")) / f"outbox-{quote(user_id, safe='')}.db"


def token_provider(settings: ProducerSettings) -> "TokenProvider":
    from ..adapters.http.token_providers import (
        ApiTokenProvider,
        CommandTokenProvider,
        FixedTokenProvider,
    )

    if settings.token_command:
        return CommandTokenProvider(settings.token_command, settings.user_id)
    if settings.token:
        return FixedTokenProvider(settings.token)
    assert settings.api_url and settings.dev_id and settings.api_key
    return ApiTokenProvider(settings.api_url, settings.dev_id, settings.api_key, settings.user_id)


def open_sources(specs: tuple[str, ...]) -> list["SampleSource"]:
    from .plugins import open_device

    sources = [open_device(spec) for spec in specs]
    ids = [source.device.id for source in sources]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"the same device twice: {', '.join(duplicates)}")
    return sources


def run(args: argparse.Namespace) -> int:
    import trio

    from ..domain.errors import SpecError

    try:
        settings = settings_from_args(args)
        sources = open_sources(settings.devices)
    except (UsageError, SpecError) as error:
        print(f"wearstream producer: {error}", file=sys.stderr)
        return 2
    board = StatusBoard(sys.stderr) if sys.stderr.isatty() else None
    handler = _BoardLogHandler(board) if board is not None else None
    configure_logging(args.log_level, args.log_format, handler=handler)
    return trio.run(_main, settings, sources, board)


async def _main(
    settings: ProducerSettings, sources: list["SampleSource"], board: "StatusBoard | None"
) -> int:
    import sqlite3

    import trio

    from ..adapters.storage.outbox import SqliteOutbox
    from ..adapters.websocket.producer_link import LinkConfig
    from ..domain.producer import LinkStopped, foreign_user
    from .bootstrap import build_producer

    path = Path(settings.outbox).expanduser() if settings.outbox else default_outbox(settings.user_id)
    try:
        outbox = await SqliteOutbox.open(path)
    except (OSError, sqlite3.Error) as error:
        print(f"wearstream producer: cannot use the outbox {path}: {error}", file=sys.stderr)
        return 2
    try:
        waiting = await outbox.peek(-1, 1)
        other = foreign_user((e.sample.user_id for e in waiting), settings.user_id)
        if other is not None:
            print(
                f"wearstream producer: the outbox {path} holds unsent samples of user {other!r}; "
                "give this user another --outbox (or run that user's producer to send them)",
                file=sys.stderr,
            )
            return 2
        producer = build_producer(
            settings.user_id, sources, outbox, broker_url=settings.broker_url,
            tokens=token_provider(settings), link_config=LinkConfig(window=settings.window),
            drain_timeout=settings.drain_timeout,
        )
        link = producer.link
        log.info("outbox %s (source %s, %d waiting)", path, outbox.source, await outbox.depth())
        code = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_stop_on_signals, producer, nursery.cancel_scope)
            nursery.start_soon(_show_status, producer, link, board)
            try:
                await producer.run()
            except LinkStopped as error:  # one line saying what to fix (domain.linkfaults)
                print(f"wearstream producer: {error}", file=sys.stderr)
                code = 2
            nursery.cancel_scope.cancel()
        if code == 0 and not producer.stopped_by_user and producer.failed:
            print("wearstream producer: every device has stopped", file=sys.stderr)
            code = 1
        if board is not None:
            board.clear()
        first = producer.first_id if producer.first_id is not None else "-"
        acked = link.state.acked if link.state.acked >= 0 else "-"  # nothing acknowledged yet
        print(
            f"wearstream producer stopped: added={producer.added} first_id={first} "
            f"last_id={producer.last_id} acked={acked} "
            f"pending={await outbox.depth()} outbox={path}",
            flush=True,
        )
        return code
    finally:
        await outbox.aclose()


async def _stop_on_signals(producer: "Producer", scope: "trio.CancelScope") -> None:
    """The first SIGINT/SIGTERM stops cleanly (drain), a second one stops at once."""
    import trio

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            if producer.stopped_by_user:
                log.warning("%s again: stopping without waiting", signal.Signals(signum).name)
                scope.cancel()
                return
            log.info("%s: stopping the devices, then draining", signal.Signals(signum).name)
            producer.stop()


async def _show_status(producer: "Producer", link: "ProducerLink", board: "StatusBoard | None") -> None:
    import trio

    from ..adapters.terminal.status_lines import link_line, status_line

    while True:
        await trio.sleep(REDRAW_EVERY if board is not None else LOG_STATUS_EVERY)
        now, depth = trio.current_time(), await producer.outbox.depth()
        state = link.state
        lines = [link_line(state.connected, state.acked, state.problem)]
        lines += [status_line(view, now, depth) for view in producer.views.values()]
        if board is not None:
            board.draw(lines)
        else:
            for line in lines:
                log.info("%s", line)


class StatusBoard:
    """Status lines redrawn in place at the bottom of a terminal.

    Log records go through ``LogHandler``, which wipes the board first, so a log line is printed
    where the board was and the next redraw puts the board back below it.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._drawn = 0

    def clear(self) -> None:
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")  # up to the board's first line, wipe down
            self._drawn = 0
            self.out.flush()

    def draw(self, lines: list[str]) -> None:
        self.clear()
        self.out.write("".join(line + "\x1b[K\n" for line in lines))
        self.out.flush()
        self._drawn = len(lines)


class _BoardLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, board: StatusBoard) -> None:
        super().__init__(board.out)
        self.board = board

    def emit(self, record: logging.LogRecord) -> None:
        self.board.clear()
        super().emit(record)

