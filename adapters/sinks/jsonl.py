"""``jsonl:PATH[?max_bytes=N&keep=K]``: one JSON object per line, ``{"seq","uid","t","d"}``.

The cursor is the seq of the last complete line (see ``linefile`` for recovery and rotation).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from ...domain.stream import Payload
from .linefile import LineFileSink
from .records import json_line


class JsonlSink(LineFileSink):
    """The ``jsonl`` SinkFactory: ``JsonlSink("/data/hr.jsonl", options)``."""

    usage = "jsonl:PATH[?max_bytes=N&keep=N]"  # what `wearstream sinks` shows

    def encode(self, payload: Payload) -> bytes:
        return json_line(payload)

    def seq_of_line(self, line: bytes, path: Path) -> int:
        try:
            seq = orjson.loads(line)["seq"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            seq = None
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError(
                f"{path}: the last line is not a wearstream record with a seq: {line[:80]!r}; "
                "a jsonl sink appends only to a file of its own: name a new one"
            )
        return seq
