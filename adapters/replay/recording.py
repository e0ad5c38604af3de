"""Reading a recording: the lines the ``jsonl`` sink writes, ``{"seq","uid","t","d"}`` each.

Each line becomes a Record (who, what, when, which value) or a BadLine that says, with the
file and line number, why it was skipped; a bad line never stops the lines after it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import orjson

from ...domain.datatypes import is_label
from ...domain.errors import InvalidReading
from ...domain.readings import parse_timestamp, validate_reading
from ...domain.samples import Sample, Value


@attrs.frozen
class Record:
    """One recorded reading, checked by the same rules the broker applies."""

    uid: str
    t: str
    ts: datetime
    value: Value

    def sample(self, user_id: str, device_id: str, ts: datetime | None = None) -> Sample:
        return Sample(self.t, ts or self.ts, self.value, user_id, device_id)


class BadLine(Exception):
    """A line that is not a recorded reading; the message names the file and the line."""


def _fields(line: bytes) -> dict[str, Any]:
    try:
        fields = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(fields, dict):
        raise ValueError("not a JSON object")
    return fields


def _record(fields: dict[str, Any]) -> Record:
    uid, t, d = fields.get("uid"), fields.get("t"), fields.get("d")
    if not isinstance(uid, str) or not isinstance(t, str):
        raise ValueError('needs "uid" and "t" strings')
    if not is_label(t):
        raise ValueError(f"{t!r} is not a data type label")
    if not isinstance(d, dict):
        raise ValueError('needs a "d" object')
    if "ts" not in d:
        raise ValueError('"d" has no "ts"')
    validate_reading(t, d)
    value = d["val"] if "val" in d else d["d"]
    return Record(uid, t, parse_timestamp(d["ts"]), value)


def parse_line(line: bytes, path: Path, number: int) -> Record:
    """The Record on line ``number`` of ``path``; BadLine naming both when there is none."""
    try:
        return _record(_fields(line))
    except (ValueError, InvalidReading) as error:
        shown = line.rstrip(b"\n")[:80]
        raise BadLine(f"{path}:{number}: skipped, {error}: {shown!r}") from None
