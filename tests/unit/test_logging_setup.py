"""The one logging setup: JSON or text lines, through a command's own handler when it has one."""

from __future__ import annotations

import io
import json
import logging

from wearstream.adapters.logging_json import configure_logging


def test_json_lines_through_a_commands_own_handler() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    before = root.handlers[:], root.level
    try:
        configure_logging("info", "json", stream, handler=logging.StreamHandler(stream))
        logging.getLogger("wearstream.producer").info("link up", extra={"fields": {"conn": 3}})
        logging.getLogger("httpx").info("HTTP Request: POST /auth/user")  # quiet below debug
    finally:
        root.handlers[:], _ = before
        root.setLevel(before[1])
    [line] = stream.getvalue().splitlines()
    assert json.loads(line) | {"ts": None} == {
        "ts": None, "level": "info", "logger": "wearstream.producer", "msg": "link up", "conn": 3
    }
