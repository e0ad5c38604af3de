"""``lsl:``: every reading pushed to a Lab Streaming Layer outlet, one outlet per (user, data type).

Spec: ``lsl:`` or ``lsl:?name=wearstream&max_outlets=64&ecg_rate=130&wait=0``. LabRecorder (or
any LSL inlet on the network) finds the outlets as ``<name> <user> <type>`` streams (see
``streams.py`` for the names, types, channels and metadata) and records them into XDF. Each
sample is stamped with the reading's own time mapped to the LSL clock, so it lines up with the
lab's other LSL streams (EEG, eye tracking, markers) to within the reading's own accuracy.

Beside them, one ``<name> records`` stream (LSL type ``Markers``, one string channel) carries
each reading's JSON record (``{"seq", "uid", "t", "d"}``, as the jsonl sink writes it) at the
reading's time: an XDF file then says which seqs it holds, so a recording can be checked for gaps
against the consumer's own store, and the original readings recovered exactly.

``wait=S``: when the sink opens, wait up to S seconds for a first inlet (LabRecorder) on the
records stream before pushing anything, so that a recording started with the consumer misses
nothing of it; 0 (the default) never holds the consumer up.

Delivery: LSL is a live medium. An outlet sends what is pushed to inlets connected at that moment
(each inlet buffers up to its ``max_buflen``); readings pushed before LabRecorder started are not
recorded. The cursor (a file under the consumer's cursor dir) moves after each batch is pushed, so
a restarted consumer resumes where it stopped, pushing the replayed readings with their original
times.

Bound: at most ``max_outlets`` outlets (each holds threads and sockets in liblsl); readings of a
further (user, type) are skipped, with one warning per pair.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import trio

from ...domain.datatypes import Shape, resolve
from ...domain.errors import InvalidReading, SpecError
from ...domain.readings import parse_timestamp
from ...domain.spec_query import number, query_options
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions, UnwritablePayload
from ..sinks.cursor import CursorFile, cursor_file_name, new_payloads
from ..sinks.records import json_record
from .library import clock_offset, lsl_time, pylsl
from .streams import NOMINAL_RATE, outlet_info, quote_free, records_info

log = logging.getLogger("wearstream.sinks.lsl")

DEFAULT_MAX_OUTLETS = 64
USAGE = "expected lsl:[?name=PREFIX&max_outlets=N&ecg_rate=HZ&wait=SECONDS]"


class LslSink:
    """The ``lsl`` SinkFactory."""

    def __init__(self, target: str, options: SinkOptions) -> None:
        query = target[1:] if target.startswith("?") else target
        parsers = {"name": _name, "max_outlets": _count, "ecg_rate": _rate, "wait": _wait}
        parsed = query_options(f"lsl:{target}", query, parsers, what="lsl sink", usage=USAGE)
        self.prefix = str(parsed.get("name", "wearstream"))
        self.max_outlets = int(parsed.get("max_outlets", DEFAULT_MAX_OUTLETS))
        self.ecg_rate = parsed.get("ecg_rate")
        self.wait = float(parsed.get("wait", 0.0))
        self.records: Any = None
        self.cursor_file = CursorFile(options.cursor_dir, cursor_file_name("lsl", target))
        self.outlets: dict[tuple[str, str], tuple[Any, int]] = {}  # (outlet, its channel count)
        self._refused: set[tuple[str, str]] = set()
        self._cursor = 0

    async def open(self) -> int:
        library = pylsl()  # fail at start, with the install hint, rather than at the first reading
        self._cursor = await self.cursor_file.load()
        self.records = library.StreamOutlet(records_info(library, self.prefix))
        if self.wait > 0:
            await trio.to_thread.run_sync(self.records.wait_for_consumers, self.wait)
        return self._cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        fresh = new_payloads(payloads, self._cursor, cursor)
        cursor = max(cursor, self._cursor)
        if cursor == self._cursor:
            return
        pushes = [(_values(payload), json_record(payload).decode()) for payload in fresh]  # all checks first
        for payload, ((values, _), _) in zip(fresh, pushes):
            self._open_outlet(payload, len(values[0]))
        offset = clock_offset()
        for payload, ((values, series), record) in zip(fresh, pushes):
            start = lsl_time(parse_timestamp(payload.d["ts"]), offset)
            outlet = self.outlets.get((payload.uid, payload.t))
            if outlet is not None:
                step = 1.0 / self._rate(payload.t) if series else 0.0
                for i, sample in enumerate(values):
                    outlet[0].push_sample(sample, start + i * step)
            self.records.push_sample([record], start)
        await self.cursor_file.save(cursor)
        self._cursor = cursor

    async def aclose(self) -> None:
        self.outlets.clear()  # liblsl closes an outlet when its last reference goes
        self.records = None

    def _open_outlet(self, payload: Payload, channels: int) -> None:
        """The outlet of the payload's (user, type), made on its first reading (within the bound)."""
        key = (payload.uid, payload.t)
        if key in self.outlets:
            count = self.outlets[key][1]
            if count != channels:
                raise UnwritablePayload(
                    payload.seq, f"{channels} channels, but the LSL stream of {payload.t} has {count}"
                )
            return
        if len(self.outlets) >= self.max_outlets:
            if key not in self._refused:
                self._refused.add(key)
                log.warning(
                    "lsl sink: no outlet for user %s type %s: %d outlets open (max_outlets)",
                    payload.uid, payload.t, self.max_outlets,
                )
            return
        library = pylsl()
        rate = self._rate(payload.t)
        info = outlet_info(library, self.prefix, payload.developer_id, payload.uid, payload.t, channels, rate)
        self.outlets[key] = (library.StreamOutlet(info), channels)

    def _rate(self, t: str) -> float:
        """The nominal rate of a type's stream (0: irregular); ``ecg_rate`` overrides ECG's."""
        known = resolve(t)
        if known in NOMINAL_RATE and self.ecg_rate is not None:
            return self.ecg_rate
        return NOMINAL_RATE.get(known, 0.0) if known is not None else 0.0


def _values(payload: Payload) -> tuple[list[list[float]], bool]:
    """The LSL samples of one reading, and whether they are a series (spaced at the type's rate)."""
    d = payload.d
    try:
        parse_timestamp(d.get("ts"))
    except (InvalidReading, OverflowError) as error:
        raise UnwritablePayload(payload.seq, f"ts cannot be mapped to LSL time: {error}") from None
    if "val" in d:
        return [[_float(payload, d["val"])]], False
    array = d.get("d")
    if not isinstance(array, list) or not array:
        raise UnwritablePayload(payload.seq, "neither val nor a non-empty d")
    known = resolve(payload.t)
    if known is not None and known.shape is Shape.SERIES:
        return [[_float(payload, x)] for x in array], True
    return [[_float(payload, x) for x in array]], False


def _float(payload: Payload, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise UnwritablePayload(payload.seq, f"{value!r} is not a number LSL can carry") from None


def _count(text: str) -> float:
    value = number(text)
    if not (value >= 1 and value == int(value)):
        raise SpecError(f"lsl sink max_outlets {text!r} is not a whole number >= 1")
    return value


def _name(text: str) -> str:
    return quote_free("lsl sink name", text, limit=100)


def _wait(text: str) -> float:
    value = number(text)
    if not 0 <= value <= 3600:
        raise SpecError(f"lsl sink wait {text!r} is not a number of seconds in [0, 3600]")
    return value


def _rate(text: str) -> float:
    value = number(text)
    if not 0 < value <= 100_000:
        raise SpecError(f"lsl sink ecg_rate {text!r} is not a rate in (0, 100000] Hz")
    return value
