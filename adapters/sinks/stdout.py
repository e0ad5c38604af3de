"""``stdout``: payloads printed for a person (or, with ``--format jsonl``, for a pipe).

Text format, one line per payload: the reading's time in UTC, the user, the type, the value with
its unit (``2025-01-01 10:00:01.250Z  user-1  HEART_RATE  61 bpm``); long arrays are shortened.

stdout is not a store: what was printed cannot be read back, and a crash between printing and
saving the cursor prints a batch again. The cursor lives in a small file under
``options.cursor_dir`` when one is given (so a restart does not reprint everything), else only in
memory: ``open`` then returns 0 and the consumer starts from what the broker replays.
"""

from __future__ import annotations

import sys
from typing import Sequence, TextIO

import trio

from ...domain.datatypes import resolve
from ...domain.readings import is_number, utc_time
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions
from .cursor import CursorFile, cursor_file_name, new_payloads
from .records import json_line

FORMATS = ("text", "jsonl")
SHOWN_ARRAY_VALUES = 6


class StdoutSink:
    """The ``stdout`` SinkFactory; ``out`` lets an embedding application print elsewhere."""

    usage = "stdout"  # what `wearstream sinks` shows

    def __init__(self, target: str, options: SinkOptions, *, out: TextIO | None = None) -> None:
        if target:
            raise ValueError(f"the stdout sink takes no target, got {target!r}")
        if options.format not in FORMATS:
            known = ", ".join(FORMATS)
            raise ValueError(f"stdout format must be one of {known}, got {options.format!r}")
        self.options = options
        self._out = out if out is not None else sys.stdout
        self._cursor_file = CursorFile(options.cursor_dir, cursor_file_name("stdout", ""))
        self._limiter = trio.CapacityLimiter(1)
        self._cursor = 0

    async def open(self) -> int:
        self._cursor = await self._cursor_file.load()
        return self._cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        fresh = new_payloads(payloads, self._cursor, cursor)
        if self.options.format == "jsonl":
            text = b"".join(json_line(p) for p in fresh).decode()
        else:
            text = "".join(text_line(p) + "\n" for p in fresh)
        cursor = max(cursor, self._cursor)
        if text:  # a pipe to a slow reader blocks: print from a thread
            await trio.to_thread.run_sync(self._print, text, limiter=self._limiter)
        if cursor > self._cursor:
            await self._cursor_file.save(cursor)
            self._cursor = cursor

    async def aclose(self) -> None:
        pass

    def _print(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


def text_line(payload: Payload) -> str:
    """``2025-01-01 10:00:01.250Z  user-1  HEART_RATE  61 bpm`` (plus `` (synthetic)``)."""
    d = payload.d
    known = resolve(payload.t)
    unit = f" {known.unit}" if known is not None else ""
    if "val" in d:
        value = _number(d["val"]) + unit
    elif "d" in d:
        value = _array(d["d"]) + unit
    else:
        value = "(no value)"
    mark = "  (synthetic)" if payload.synthetic else ""
    return f"{_time(d.get('ts'))}  {payload.uid}  {payload.t}  {value}{mark}"


def _time(ts: object) -> str:
    moment = utc_time(ts)
    if moment is None:
        return str(ts)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if is_number(value) else repr(value)


def _array(values: object) -> str:
    if not isinstance(values, list):
        return repr(values)
    shown = ", ".join(_number(v) for v in values[:SHOWN_ARRAY_VALUES])
    if len(values) > SHOWN_ARRAY_VALUES:
        return f"[{shown}, … ({len(values)} values)]"
    return f"[{shown}]"
