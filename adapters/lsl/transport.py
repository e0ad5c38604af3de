"""The ``lsl`` transport: an existing Lab Streaming Layer stream, streamed through wearstream.

Spec: ``lsl:type=ECG``, ``lsl:name=OpenBCI_EEG``, ``lsl:source_id=…`` (any of them, combined with
``&``), plus ``wait=S``, how long one search for the stream lasts (default 5 s; the session keeps
searching, reporting the device as not connected, until the stream appears). Whatever makes the
stream (BrainFlow, OpenBCI's GUI, a lab's own program) keeps making it; wearstream is one more
inlet. The stream's data type comes from its LSL type and channels (``streams.mapping_for``);
sample times are the outlet's LSL timestamps, corrected for the outlet machine's clock
(``time_correction``) and mapped to UTC.

A series type (ECG) becomes one reading per pull (``d`` the chunk of values, ``ts`` its first
sample's time; at most 4,096 values); every other stream one reading per sample.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import trio

from ...domain.datatypes import Shape
from ...domain.devices import Device, DeviceStatus
from ...domain.errors import DeviceUnavailable, InvalidReading, SpecError
from ...domain.samples import Sample
from ...domain.spec_query import number, query_options
from ...ports.devices import DeviceEvents
from .library import clock_offset, pylsl, stream_errors, utc_time
from .streams import InletMapping, mapping_for, quote_free

log = logging.getLogger("wearstream.lsl")

NAME = "lsl"
USAGE = "expected lsl:type=T or lsl:name=N or lsl:source_id=S [&wait=SECONDS]"
PULL_TIMEOUT = 0.2  # seconds a pull waits in its worker thread: how late a cancel is seen
MAX_CHUNK = 4096  # values per series reading (the protocol's bound for ECG)
CORRECTION_EVERY = 5.0  # seconds between time_correction() calls
OPEN_TIMEOUT = 5.0


@attrs.frozen
class LslSpec:
    props: tuple[tuple[str, str], ...]
    wait: float = 5.0

    @property
    def predicate(self) -> str:
        return " and ".join(f"{key}='{value}'" for key, value in self.props)

    @property
    def device_id(self) -> str:
        return "lsl-" + "-".join(value for _, value in self.props)


def parse_spec(spec: str) -> LslSpec:
    parsers = {"type": _text("type"), "name": _text("name"), "source_id": _text("source_id"), "wait": _wait}
    options = query_options(spec, spec, parsers, what="lsl", usage=USAGE)
    props = tuple((key, str(options[key])) for key in ("type", "name", "source_id") if key in options)
    if not props:
        raise SpecError(f"lsl: {spec!r} names no stream: {USAGE}")
    return LslSpec(props, float(options.get("wait", 5.0)))


class LslSource:
    """A session reading one LSL stream (a SampleSource)."""

    def __init__(self, spec: LslSpec) -> None:
        self.spec = spec
        self._device = Device(id=spec.device_id, name=f"LSL stream {spec.predicate}", transport=NAME)

    @property
    def device(self) -> Device:
        return self._device

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        try:
            library = pylsl()
        except ImportError as error:
            raise DeviceUnavailable(str(error)) from None
        while True:
            inlet = await self._find(library, events)
            try:
                await self._read(library, inlet, user_id, events)
            except stream_errors() as error:  # the outlet went away, or stopped answering
                reason = f"LSL stream lost: {error}"
                events.status(DeviceStatus(self._device.id, connected=False, source=NAME, reason=reason))
            finally:
                await trio.to_thread.run_sync(inlet.close_stream)

    async def _find(self, library: Any, events: DeviceEvents) -> Any:
        """An open inlet on the stream, searching until it appears."""
        while True:
            found = await trio.to_thread.run_sync(
                lambda: library.resolve_bypred(self.spec.predicate, 1, self.spec.wait)
            )
            if found:
                inlet = library.StreamInlet(found[0], max_buflen=30, recover=False)
                try:
                    await trio.to_thread.run_sync(lambda: inlet.open_stream(timeout=OPEN_TIMEOUT))
                except stream_errors():  # it went away between the search and the opening
                    continue
                return inlet
            reason = f"no LSL stream with {self.spec.predicate} found"
            events.status(DeviceStatus(self._device.id, connected=False, source=NAME, reason=reason))
            await trio.sleep(0)

    async def _read(self, library: Any, inlet: Any, user_id: str, events: DeviceEvents) -> None:
        info = await trio.to_thread.run_sync(lambda: inlet.info(timeout=OPEN_TIMEOUT))
        mapping = mapping_for(info.type(), info.channel_count(), _channel_types(info))
        log.info("LSL stream %r (%s) streams as %s", info.name(), info.type(), mapping.t)
        events.status(DeviceStatus(self._device.id, connected=True, source=NAME))
        correction, corrected_at = 0.0, -CORRECTION_EVERY
        while True:
            if trio.current_time() - corrected_at >= CORRECTION_EVERY:
                correction = await trio.to_thread.run_sync(lambda: inlet.time_correction(timeout=OPEN_TIMEOUT))
                corrected_at = trio.current_time()
            chunk, stamps = await trio.to_thread.run_sync(
                lambda: inlet.pull_chunk(timeout=PULL_TIMEOUT, max_samples=MAX_CHUNK)
            )
            if not stamps:
                continue
            offset = clock_offset()
            times = [utc_time(stamp + correction, offset) for stamp in stamps]
            for sample in self._samples(mapping, chunk, times, user_id):
                await events.sample(sample)

    def _samples(self, mapping: InletMapping, chunk: list[list[float]], times: list[Any], user_id: str) -> list[Sample]:
        device = self._device.id
        try:
            if mapping.shape is Shape.SERIES:
                return [Sample(mapping.t, times[0], [row[0] for row in chunk], user_id, device)]
            if mapping.shape is Shape.SCALAR:
                return [Sample(mapping.t, ts, row[0], user_id, device) for row, ts in zip(chunk, times)]
            return [Sample(mapping.t, ts, list(row), user_id, device) for row, ts in zip(chunk, times)]
        except InvalidReading as error:  # NaN from a dropped sample, a value out of range…
            log.warning("LSL samples dropped: %s", error)
            return []


class LslScanner:
    async def scan(self, timeout: float) -> list[Device]:
        """Every LSL stream seen on the network within ``timeout`` seconds."""
        library = pylsl()
        infos = await trio.to_thread.run_sync(lambda: library.resolve_streams(wait_time=timeout))
        return [
            Device(id=f"lsl-{info.name()}", name=f"{info.name()} ({info.type()}, {info.channel_count()} ch)", transport=NAME)
            for info in infos
        ]


class LslTransport:
    """What the ``lsl`` entry point of ``wearstream.transports`` names."""

    name = NAME

    def scanner(self) -> LslScanner:
        return LslScanner()

    def open(self, spec: str) -> LslSource:
        return LslSource(parse_spec(spec))


def _channel_types(info: Any) -> list[str]:
    types = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty():
        types.append(channel.child_value("type"))
        channel = channel.next_sibling()
    return types


def _text(key: str) -> Any:
    return lambda text: quote_free(f"lsl {key}", text)


def _wait(text: str) -> float:
    value = number(text)
    if not 0 < value <= 3600:
        raise SpecError(f"lsl wait {text!r} is not a number of seconds in (0, 3600]")
    return value
