"""``csv:PATH[?max_bytes=N&keep=K]``: one row per payload, ready for a spreadsheet or pandas.

Columns: ``seq,uid,t,ts,value,synthetic,extra``. ``value`` is the number of a ``val`` reading, or
the JSON array of a ``d`` reading (``[0.1,9.8,0.3]``: one cell, whatever the array's length);
``synthetic`` is 1 for generated test data, else 0; ``extra`` is a JSON object of any other keys
the reading had (usually empty), so nothing the broker forwarded is lost.

The cursor is the seq of the last complete row (see ``linefile`` for recovery and rotation). That
needs one row per line: the broker guarantees user ids and labels without line breaks, and a
payload that has one anyway is refused with a clear error rather than written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from ...domain.stream import Payload
from ...ports.sinks import UnwritablePayload
from .linefile import LineFileSink

COLUMNS = ("seq", "uid", "t", "ts", "value", "synthetic", "extra")


class CsvSink(LineFileSink):
    """The ``csv`` SinkFactory: ``CsvSink("/data/samples.csv", options)``."""

    usage = "csv:PATH[?max_bytes=N&keep=N]"  # what `wearstream sinks` shows

    header = (",".join(COLUMNS) + "\n").encode()
    scheme = "csv"

    def encode(self, payload: Payload) -> bytes:
        d = payload.d
        ts = d.get("ts", "")
        value = d["val"] if "val" in d else d.get("d", "")
        extra = {k: v for k, v in d.items() if k not in ("ts", "val", "d")}
        cells: list[Any] = [
            payload.seq,
            payload.uid,
            payload.t,
            ts if isinstance(ts, str) else _json(payload, ts),
            "" if value == "" else _json(payload, value),
            int(payload.synthetic),
            _json(payload, extra) if extra else "",
        ]
        for cell in cells:
            if isinstance(cell, str) and ("\n" in cell or "\r" in cell):
                raise UnwritablePayload(payload.seq, "a CSV cell would hold a line break")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(cells)
        return out.getvalue().encode()

    def seq_of_line(self, line: bytes, path: Path) -> int:
        first = line.split(b",", 1)[0]
        try:
            return int(first)
        except ValueError:
            raise ValueError(
                f"{path}: the last row does not start with a seq: {line[:80]!r}"
            ) from None


def _json(payload: Payload, value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as error:  # orjson.JSONEncodeError
        raise UnwritablePayload(payload.seq, f"cannot be written as JSON: {error}") from None
