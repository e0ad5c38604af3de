"""What only the SQLite and stdout sinks promise: a queryable table, readable lines."""

from __future__ import annotations

import io
import sqlite3
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from wearstream.adapters.sinks.sqlite import SCHEMA_VERSION, SqliteSink
from wearstream.adapters.sinks.stdout import StdoutSink, text_line
from wearstream.domain.errors import SpecError
from wearstream.domain.stream import Payload
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.contracts.sinks import reading, readings


async def test_sqlite_samples_are_ready_to_query_by_user_type_and_time(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    sink = SqliteSink(str(path), SinkOptions())
    await sink.open()
    try:
        await sink.write(
            [
                Payload("dev_1", 1, "u1", "HEART_RATE", {"ts": "2025-01-01T11:00:00.5+01:00", "val": 61}),
                Payload("dev_1", 2, "u1", "ACCELERATION", {"ts": "2025-01-01T10:00:01Z", "d": [0.1, 9.8, 0]}),
                Payload("dev_1", 3, "u2", "HEART_RATE", {"ts": "2025-01-01T10:00:02Z", "val": 2**64 - 1}),
                Payload("dev_1", 4, "u1", "HEART_RATE", {"ts": "2025-01-01T10:00:03Z", "val": 63.5}),
            ],
            4,
        )
    finally:
        await sink.aclose()
    with sqlite3.connect(path) as connection:
        hr = connection.execute(
            "SELECT ts, value FROM samples WHERE uid = 'u1' AND t = 'HEART_RATE'"
            " AND ts >= '2025-01-01T10:00:00' ORDER BY ts"
        ).fetchall()
        assert hr == [("2025-01-01T10:00:00.500000Z", 61.0), ("2025-01-01T10:00:03.000000Z", 63.5)]
        assert connection.execute("SELECT value, value_json FROM samples WHERE seq = 2").fetchone() == (
            None,
            "[0.1,9.8,0]",
        )
        big = connection.execute("SELECT value, d FROM samples WHERE seq = 3").fetchone()
        assert big[0] == float(2**64) and str(2**64 - 1) in big[1]  # d keeps the exact integer
        plan = connection.execute(
            "EXPLAIN QUERY PLAN SELECT value FROM samples WHERE uid = 'u1' AND t = 'HEART_RATE'"
            " AND ts > '2025'"
        ).fetchall()
        assert "samples_by_user_type_time" in str(plan)
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("SELECT seq FROM sink_cursor").fetchone() == (4,)


async def test_a_sqlite_file_from_a_newer_wearstream_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(sqlite3.DatabaseError, match="newer"):
        await SqliteSink(str(path), SinkOptions()).open()


def test_sqlite_needs_a_path() -> None:
    with pytest.raises(SpecError, match="sqlite:PATH"):
        SqliteSink("", SinkOptions())


# stdout -------------------------------------------------------------------------------------


def test_text_lines_show_time_user_type_and_value_with_unit() -> None:
    assert text_line(reading(1)) == "2025-01-01 10:00:01.250Z  user-1  HEART_RATE  61 bpm"
    offset = Payload("dev_1", 2, "u2", "SPEED", {"ts": "2025-01-01T12:00:00+02:00", "val": 3.25})
    assert text_line(offset) == "2025-01-01 10:00:00.000Z  u2  SPEED  3.25 m/s"
    assert text_line(reading(3, t="ACCELERATION", d=[0.1, 9.81, -0.3])).endswith(
        "ACCELERATION  [0.1, 9.81, -0.3] m/s²"
    )
    ecg = text_line(reading(4, t="ECG", d=[0.5] * 130))
    assert ecg.endswith("ECG  [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, … (130 values)] mV")
    assert text_line(reading(5, t="MY_SENSOR", val=7)).endswith("MY_SENSOR  7")
    synthetic = Payload("dev_1", 6, "u", "POWER", {"ts": "x", "val": 200}, True)
    assert text_line(synthetic) == "x  u  POWER  200 W  (synthetic)"


async def test_stdout_prints_text_or_json_lines(tmp_path: Path) -> None:
    for fmt, want in [
        ("text", "2025-01-01 10:00:01.250Z  user-1  HEART_RATE  61 bpm\n"),
        ("jsonl", '{"seq":1,"uid":"user-1","t":"HEART_RATE","d":{"ts":"2025-01-01T10:00:01.250000+00:00","val":61}}\n'),
    ]:
        out = io.StringIO()
        sink = StdoutSink("", SinkOptions(format=fmt), out=out)
        assert await sink.open() == 0
        await sink.write(readings([1]), 1)
        await sink.write(readings([1]), 1)
        await sink.aclose()
        assert out.getvalue() == want


@pytest.mark.parametrize("target, options", [("x", SinkOptions()), ("", SinkOptions(format="xml"))])
def test_stdout_refuses_a_target_or_an_unknown_format(target: str, options: SinkOptions) -> None:
    with pytest.raises(ValueError, match="target|format"):
        StdoutSink(target, options)


# Entry points -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, target",
    [("stdout", ""), ("jsonl", "x.jsonl"), ("csv", "x.csv"), ("sqlite", "x.db"), ("webhook", "http://h/")],
)
def test_every_builtin_sink_is_an_entry_point(name: str, target: str, tmp_path: Path) -> None:
    (found,) = [ep for ep in entry_points(group="wearstream.sinks") if ep.name == name]
    sink = found.load()(str(tmp_path / target) if name not in ("stdout", "webhook") else target, SinkOptions())
    assert callable(sink.open) and callable(sink.write) and callable(sink.aclose)
