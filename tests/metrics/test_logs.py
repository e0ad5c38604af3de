"""Structured logs: one line per connection event, JSON off a terminal, readable text on one."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator

import orjson
import pytest
from trio_websocket import ConnectionClosed, open_websocket_url

from wearstream.adapters.logging_json import JsonFormatter, TextFormatter, choose_format, configure_logging
from wearstream.testing.fixtures import LiveBroker
from wearstream.testing.wire import identify, mint, send


def record(message: str, **fields: object) -> logging.LogRecord:
    rec = logging.LogRecord("wearstream.broker", logging.INFO, __file__, 1, message, None, None)
    rec.fields = fields
    return rec


def test_json_lines_carry_the_fields_at_the_top_level() -> None:
    line = JsonFormatter().format(record("closed by the broker", event="close", code=4001, user=None))
    parsed = orjson.loads(line)
    assert parsed["msg"] == "closed by the broker" and parsed["level"] == "info"
    assert (parsed["event"], parsed["code"], parsed["user"]) == ("close", 4001, None)
    assert parsed["ts"].endswith("Z") and len(parsed["ts"]) == 27 and "\n" not in line


def test_text_lines_append_fields_readably() -> None:
    line = TextFormatter().format(record("closed", event="close", reason="no heartbeat within 60 s", user=None))
    assert line.endswith("wearstream.broker: closed event=close reason='no heartbeat within 60 s'")


def test_auto_is_json_off_a_terminal_and_text_on_one() -> None:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as tty:
        assert choose_format("auto", tty) == "text"
    os.close(leader)
    assert choose_format("auto", io.StringIO()) == "json"
    assert choose_format("text", io.StringIO()) == "text"
    with pytest.raises(ValueError, match="json"):
        choose_format("xml", io.StringIO())


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger in JSON to a buffer, as `wearstream broker --log-format json` sets it up."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure_logging("info", "json", out)
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_each_connection_event_is_one_json_line(
    wearstream_broker: LiveBroker, json_log: io.StringIO
) -> None:
    token = await mint(wearstream_broker, "/auth/user?id=alice")
    async with open_websocket_url(wearstream_broker.ws_url) as ws:
        await identify(ws, token, 0)
        await send(ws, {"op": 7, "d": {"after": 0, "before": 1}})  # not for a producer: 4004
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
    lines = [orjson.loads(line) for line in json_log.getvalue().splitlines()]
    events = [line for line in lines if "event" in line]
    assert [e["event"] for e in events] == ["connect", "identify", "close"]
    connect, ident, close = events
    assert connect["peer"].startswith("127.0.0.1:") and connect["developer"] is None
    assert (ident["role"], ident["developer"], ident["user"]) == ("producer", wearstream_broker.dev_id, "alice")
    assert (close["code"], close["by"], close["user"]) == (4004, "server", "alice")
    assert "not valid for a producer" in close["reason"]
    assert len({e["conn"] for e in events}) == 1
