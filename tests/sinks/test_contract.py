"""Every built-in sink passes the shared SampleSink contract on its real medium."""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from wearstream.adapters.sinks.csv import CsvSink
from wearstream.adapters.sinks.jsonl import JsonlSink
from wearstream.adapters.sinks.sqlite import SqliteSink
from wearstream.adapters.sinks.stdout import StdoutSink
from wearstream.adapters.sinks.webhook import WebhookSink
from wearstream.domain.backoff import Backoff
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.contracts.sinks import SinkContract, Stored

from .conftest import SECRET, Receiver


def jsonl_records(path: Path) -> list[Stored]:
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []
    return [(r["seq"], r["uid"], r["t"], r["d"]) for r in records]


class TestJsonlSink(SinkContract):
    def make_sink(self, path: Path) -> JsonlSink:
        return JsonlSink(str(path / "out.jsonl"), SinkOptions())

    async def stored(self, path: Path) -> list[Stored]:
        return jsonl_records(path / "out.jsonl")

    async def tear(self, path: Path) -> bool:
        with open(path / "out.jsonl", "ab") as file:
            file.write(b'{"seq":4,"uid":"user-1","t":"HEART_RA')
        return True

    def spec(self, path: Path) -> tuple[str, SinkOptions]:
        return f"jsonl:{path / 'out.jsonl'}", SinkOptions()


class TestRotatingJsonlSink(TestJsonlSink):
    """Rotation after about every second line: the cursor and the data survive it."""

    def make_sink(self, path: Path) -> JsonlSink:
        return JsonlSink(f"{path / 'out.jsonl'}?max_bytes=150&keep=100", SinkOptions())

    async def stored(self, path: Path) -> list[Stored]:
        files = sorted(path.glob("out.jsonl.*[0-9]"), key=lambda p: -int(p.suffix[1:]))
        return [r for file in [*files, path / "out.jsonl"] for r in jsonl_records(file)]

    def spec(self, path: Path) -> tuple[str, SinkOptions]:
        return f"jsonl:{path / 'out.jsonl'}?max_bytes=2000&keep=1000", SinkOptions()


class TestCsvSink(SinkContract):
    def make_sink(self, path: Path) -> CsvSink:
        return CsvSink(str(path / "out.csv"), SinkOptions())

    async def stored(self, path: Path) -> list[Stored]:
        with open(path / "out.csv", newline="") as file:
            return [_csv_record(row) for row in csv.DictReader(file)]

    async def tear(self, path: Path) -> bool:
        with open(path / "out.csv", "ab") as file:
            file.write(b"4,user-1,HEART_RATE,2025-01-01T10:00:04.2")
        return True

    def spec(self, path: Path) -> tuple[str, SinkOptions]:
        return f"csv:{path / 'out.csv'}", SinkOptions()


def _csv_record(row: dict[str, str]) -> Stored:
    value = json.loads(row["value"])
    d: dict[str, Any] = {"ts": row["ts"], "d" if isinstance(value, list) else "val": value}
    d.update(json.loads(row["extra"]) if row["extra"] else {})
    return int(row["seq"]), row["uid"], row["t"], d


class TestSqliteSink(SinkContract):
    def make_sink(self, path: Path) -> SqliteSink:
        return SqliteSink(str(path / "out.db"), SinkOptions())

    async def stored(self, path: Path) -> list[Stored]:
        if not (path / "out.db").exists():
            return []
        with sqlite3.connect(path / "out.db") as connection:
            rows = connection.execute("SELECT seq, uid, t, d FROM samples ORDER BY rowid")
            return [(seq, uid, t, orjson.loads(d)) for seq, uid, t, d in rows]

    async def tear(self, path: Path) -> bool:
        """A transaction that wrote rows but never committed (the process died)."""
        connection = sqlite3.connect(path / "out.db", isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO samples (seq, uid, t, d) VALUES (4, 'user-1', 'HEART_RATE', '{}')"
        )
        connection.execute("UPDATE sink_cursor SET seq = 4")
        connection.close()  # closing without COMMIT rolls back, as a crash would
        return True

    def spec(self, path: Path) -> tuple[str, SinkOptions]:
        return f"sqlite:{path / 'out.db'}", SinkOptions()


class _FileOut:
    """A text stream appending to a file at every write, standing in for the terminal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, text: str) -> int:
        with open(self.path, "a", encoding="utf-8") as file:
            return file.write(text)

    def flush(self) -> None:
        pass


class TestStdoutSinkWithCursorDir(SinkContract):
    def make_sink(self, path: Path) -> StdoutSink:
        options = SinkOptions(format="jsonl", cursor_dir=str(path / "cursors"))
        return StdoutSink("", options, out=_FileOut(path / "out.txt"))  # type: ignore[arg-type]

    async def stored(self, path: Path) -> list[Stored]:
        return jsonl_records(path / "out.txt")


class TestStdoutSinkWithoutCursorDir(TestStdoutSinkWithCursorDir):
    durable = False

    def make_sink(self, path: Path) -> StdoutSink:
        options = SinkOptions(format="jsonl")
        return StdoutSink("", options, out=_FileOut(path / "out.txt"))  # type: ignore[arg-type]


class TestWebhookSink(SinkContract):
    at_least_once = True
    receiver: Receiver

    @pytest.fixture
    async def medium(self, request: pytest.FixtureRequest, receiver: Receiver) -> None:
        request.instance.receiver = receiver  # pytest-trio binds async fixtures to another self

    @staticmethod
    def key(path: Path) -> str:
        return hashlib.sha256(str(path).encode()).hexdigest()[:16]

    def options(self, path: Path) -> SinkOptions:
        return SinkOptions(webhook_secret=SECRET, cursor_dir=str(path / "cursors"))

    def make_sink(self, path: Path) -> WebhookSink:
        url = self.receiver.url(self.key(path))
        return WebhookSink(
            url, self.options(path), backoff=Backoff(0.01, 0.05), max_batch=3, max_attempts=20
        )

    async def stored(self, path: Path) -> list[Stored]:
        return [(p["seq"], p["uid"], p["t"], p["d"]) for p in self.receiver.payloads(self.key(path))]

    def spec(self, path: Path) -> tuple[str, SinkOptions]:
        return f"webhook:{self.receiver.url(self.key(path))}", self.options(path)
