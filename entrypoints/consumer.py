"""`wearstream consumer`: a Terra consumer (IDENTIFY type 1) that stores the stream in sinks.

Wiring: the sinks are opened first and the link resumes after the lowest of their cursors. The
link feeds a bounded channel; one writer takes what has queued up (up to ``--batch``) and hands
every sink its share at once: the payloads above its own cursor that the filters let through, and
the batch's last seq as its new cursor (filtered-out payloads still move the cursor). A payload is
"done" only when every sink has committed it, so SIGKILL at any moment loses nothing, and each
sink skips what it already has, so nothing is stored twice.

A payload one sink cannot write (UnwritablePayload: a ``d`` its medium cannot encode) never stops
that sink: it is skipped for that sink alone, with one warning line naming the sink, the seq and
the reason, counted in ``Fanout.skipped``; the cursor moves past it with the rest of the batch.

SIGINT/SIGTERM stop the link, let the batch being written finish and commit (for at most
``--stop-timeout`` seconds: after that it is left uncommitted, to be sent again), then exit 0. A failure
that reconnecting cannot help (a wrong URL, refused credentials, 4002, a client bug) exits 2 with
one line saying what to fix; a sink that cannot go on exits 1.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import attrs

from ..adapters.logging_json import add_logging_options, configure_logging
from .config import Commands
from .values import integer, seconds, websocket_url

if TYPE_CHECKING:  # pragma: no cover
    import trio

    from ..domain.stream import Payload
    from ..domain.subscriptions import Subscription
    from ..ports.sinks import SampleSink, SinkOptions

log = logging.getLogger("wearstream.consumer")

DEFAULT_BATCH = 500
# After SIGINT/SIGTERM, the batch being written gets this long to commit (a webhook that is down
# would otherwise be retried for ever); then it is left uncommitted, sent again on the next start.
DEFAULT_STOP_TIMEOUT = 10.0


@attrs.frozen
class ConsumerSettings:
    api_url: str
    broker_url: str
    dev_id: str
    api_key: str
    sink: tuple[str, ...] = ("stdout",)
    user: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    format: str = "text"
    webhook_secret: str | None = None
    cursor_dir: str | None = None
    batch: int = DEFAULT_BATCH
    stop_timeout: float = DEFAULT_STOP_TIMEOUT

    def subscription(self) -> "Subscription":
        from ..domain.subscriptions import Subscription

        return Subscription(users=self.user, types=self.type)

    def sink_options(self) -> "SinkOptions":
        from ..ports.sinks import SinkOptions

        return SinkOptions(self.format, self.webhook_secret, self.cursor_dir or default_cursor_dir(self.dev_id))


def default_cursor_dir(dev_id: str) -> str:
    """Per developer under the user's data dir: without a cursor on disk, a restarted consumer
    would resend everything the broker replays to the sinks that cannot hold one (webhook)."""
    import platformdirs
    from urllib.parse import quote

    return str(Path(platformdirs.user_data_dir("wearstream")) / f"consumer-{quote(dev_id, safe='')}")


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "consumer",
        help="store a developer's stream in sinks (stdout, jsonl, csv, sqlite, webhook)",
        description=(
            "Connect as the developer's consumer and store every payload in each --sink exactly "
            "once, resuming after restarts. Every option also reads WEARSTREAM_<OPTION> "
            "(WEARSTREAM_API_KEY, WEARSTREAM_SINK='jsonl:a.jsonl sqlite:b.db', …) and the "
            "[consumer] table of the config file."
        ),
    )
    required = {"required": True}
    parser.add_argument("--api-url", **required, help="the broker's HTTP API, e.g. http://host:8765 (the broker's port)")
    parser.add_argument("--broker-url", **required, type=websocket_url, help="the WebSocket, e.g. ws://host:8765/connect")
    parser.add_argument("--dev-id", **required, help="developer id")
    parser.add_argument("--api-key", **required, help="the developer's API key")
    parser.add_argument(
        "--sink",
        action="append",
        metavar="SPEC",
        help="where to store: stdout, jsonl:PATH, csv:PATH, sqlite:PATH, webhook:URL "
        "(repeat to fan out; default stdout)",
    )
    parser.add_argument("--user", action="append", metavar="U", help="only this user (repeatable)")
    parser.add_argument("--type", action="append", metavar="T", help="only this data type (repeatable)")
    parser.add_argument("--format", default="text", choices=["text", "jsonl"], help="stdout format")
    parser.add_argument("--webhook-secret", default=None, metavar="S", help="HMAC key for webhook:")
    parser.add_argument(
        "--cursor-dir", default=None, metavar="DIR", help="cursor files of sinks without a place of their own (default: under the user's data dir)"
    )
    parser.add_argument("--batch", type=integer(1, 100_000), default=DEFAULT_BATCH, metavar="N", help="max payloads per write")
    parser.add_argument(
        "--stop-timeout", type=seconds(3600), default=DEFAULT_STOP_TIMEOUT, metavar="S",
        help="after SIGINT/SIGTERM the batch being written gets this long to commit; then it is "
        "left uncommitted (the cursor stays) and sent again on the next start (%(default)s s)",
    )
    # Text by default: a consumer's stderr is mostly read by the person who started it.
    add_logging_options(parser, level="warning", log_format="text")
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ConsumerSettings:
    values = {name: getattr(args, name) for name in attrs.fields_dict(ConsumerSettings)}
    for name in ("sink", "user", "type"):
        values[name] = tuple(values[name] or ())
    values["sink"] = values["sink"] or ("stdout",)
    return ConsumerSettings(**values)


def run(args: argparse.Namespace) -> int:
    import trio

    from ..adapters.websocket.consumer_link import ConsumerStopped
    from ..domain.errors import SpecError

    configure_logging(args.log_level, args.log_format)
    settings = settings_from_args(args)
    for label in settings.type:
        _warn_if_unknown(label)
    try:
        sinks = build_sinks(settings)
    except (SpecError, ValueError) as error:
        return _fail(f"bad --sink: {error}", 2)
    failure: str | None = None
    code = 1
    try:
        trio.run(_main, settings, sinks)
    except* ConsumerStopped as group:  # the link's one line says what to fix: exit 2
        failure, code = _first(group).reason, 2  # type: ignore[attr-defined]
    except* Exception as group:  # a sink that cannot go on (full disk, webhook refusing, …)
        error = _first(group)
        log.debug("consumer failed", exc_info=error)
        failure = f"stopped: {_described(error)}"
    return 0 if failure is None else _fail(failure, code)


def _warn_if_unknown(label: str) -> None:
    """A --type no data type answers to passes only readings labelled exactly so: most likely a
    typo (HEARTRATE) that would store nothing without a word."""
    import difflib

    from ..domain.datatypes import DataType, resolve

    if resolve(label) is not None:
        return
    close = difflib.get_close_matches(label.upper(), [t.value for t in DataType], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    log.warning(
        "--type %s is no data type wearstream knows%s: only readings labelled exactly %s pass",
        label, hint, label,
    )


def _described(error: BaseException) -> str:
    """A file the user named (a sink, --cursor-dir) by its path; other errors with their kind."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"cannot use {error.filename}: {error.strerror}"
    if isinstance(error, OSError) and error.errno is None:
        return str(error)  # our own (SinkOpenError): the message names the thing
    if isinstance(error, ValueError):  # a sink refusing what it found (a foreign file): its words
        return str(error)
    return f"{type(error).__name__}: {error}"


def _first(group: BaseExceptionGroup) -> BaseException:
    while isinstance(group, BaseExceptionGroup):
        group = group.exceptions[0]
    return group


def _fail(message: str, code: int) -> int:
    print(f"wearstream consumer: {message}", file=sys.stderr, flush=True)
    return code


def build_sinks(settings: ConsumerSettings) -> list["SampleSink"]:
    from .plugins import sink_for

    options = settings.sink_options()
    return [sink_for(spec, options) for spec in settings.sink]


async def _main(settings: ConsumerSettings, sinks: Sequence["SampleSink"]) -> None:
    import trio

    stop = trio.Event()
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("%s: stopping after the current batch", signal.Signals(signum).name)
                    stop.set()
                    return

        nursery.start_soon(on_signal)
        await serve_consumer(settings, sinks, stop)
        nursery.cancel_scope.cancel()


async def serve_consumer(
    settings: ConsumerSettings, sinks: Sequence["SampleSink"], stop: "trio.Event | None" = None
) -> None:
    """Stream into ``sinks`` until ``stop`` is set (then return once the batch being written is
    committed) or the link stops (then raise ConsumerStopped, after committing what arrived)."""
    import trio

    from ..domain.errors import ConsumerStopped
    from .bootstrap import consumer_feed

    stop = trio.Event() if stop is None else stop
    fanout = Fanout(list(sinks), settings.subscription())
    try:
        cursor = await fanout.open()
        link = consumer_feed(settings.api_url, settings.broker_url, settings.dev_id, settings.api_key)(cursor)
        send, receive = trio.open_memory_channel["Payload"](settings.batch * 2)
        stopped: list[ConsumerStopped] = []

        async def feed(task_status: trio.TaskStatus[trio.CancelScope]) -> None:
            async with send:
                with trio.CancelScope() as scope:
                    task_status.started(scope)
                    try:
                        await link.run(send)
                    except ConsumerStopped as error:
                        stopped.append(error)

        async with trio.open_nursery() as nursery:
            link_scope = await nursery.start(feed)
            nursery.start_soon(_cancel_when_set, stop, link_scope)
            await write_batches(receive, fanout, settings.batch, stop, settings.stop_timeout)
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await fanout.aclose()
    if stopped:
        raise stopped[0]


async def _cancel_when_set(event: "trio.Event", scope: "trio.CancelScope") -> None:
    await event.wait()
    scope.cancel()


async def write_batches(
    receive: "trio.MemoryReceiveChannel[Payload]",
    fanout: "Fanout",
    batch_max: int,
    stop: "trio.Event",
    stop_timeout: float = DEFAULT_STOP_TIMEOUT,
) -> None:
    """Write whatever has queued up (up to ``batch_max``) as one batch, until the channel ends
    or ``stop`` is set (checked between batches). The batch being written when ``stop`` is set
    gets ``stop_timeout`` seconds to commit; a sink still retrying then (a webhook that is down)
    is cancelled: its cursor stays where it was, so that batch is sent again on the next start."""
    import trio

    writing = trio.CancelScope()
    async with trio.open_nursery() as nursery:

        async def limit_on_stop() -> None:
            await stop.wait()
            writing.deadline = trio.current_time() + stop_timeout

        nursery.start_soon(limit_on_stop)
        while not stop.is_set():
            try:
                batch = [await receive.receive()]
            except trio.EndOfChannel:
                break
            while len(batch) < batch_max:
                try:
                    batch.append(receive.receive_nowait())
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
            if stop.is_set():  # arrived with the stop: left for the next start
                break
            with trio.CancelScope() as writing:
                await fanout.write(batch)
            if writing.cancelled_caught:
                log.warning(
                    "stopping: the batch of seqs %d-%d was not committed within %g s; it is sent "
                    "again on the next start",
                    batch[0].seq, batch[-1].seq, stop_timeout,
                )
        nursery.cancel_scope.cancel()


@attrs.define
class Fanout:
    """Several sinks behind one write: each gets its own share of a batch (domain.consumer)."""

    sinks: list["SampleSink"]
    subscription: "Subscription"
    cursors: list[int] = attrs.field(factory=list)
    skipped: int = 0  # payloads a sink could not write, skipped for that sink

    async def open(self) -> int:
        """Open every sink; the cursor to resume after (the sink furthest behind)."""
        from ..domain.consumer import resume_cursor

        self.cursors = [await sink.open() for sink in self.sinks]
        return resume_cursor(self.cursors)

    async def write(self, batch: Sequence["Payload"]) -> None:
        import trio

        async with trio.open_nursery() as nursery:
            for index in range(len(self.sinks)):
                nursery.start_soon(self._write_one, index, batch)

    async def _write_one(self, index: int, batch: Sequence["Payload"]) -> None:
        from ..domain.consumer import share_for_sink
        from ..ports.sinks import UnwritablePayload

        share, cursor = share_for_sink(batch, self.cursors[index], self.subscription)
        if cursor <= self.cursors[index]:
            return
        sink = self.sinks[index]
        while True:
            try:
                await sink.write(share, cursor)
                break
            except UnwritablePayload as error:
                rest = [p for p in share if p.seq != error.seq]
                if len(rest) == len(share):  # not a payload of this batch: a sink bug
                    raise
                share = rest
                self.skipped += 1
                log.warning(
                    "sink %s skipped payload seq %d (it cannot write it): %s",
                    type(sink).__name__, error.seq, error.reason,
                )
        self.cursors[index] = cursor

    async def aclose(self) -> None:
        for sink in self.sinks:
            await sink.aclose()
