"""Issue 12.4: a consumer poison pill. ``"ts": "0001-01-01T00:00:00+23:59"`` is valid ISO-8601;
converting it to UTC underflows year 1, and `wearstream consumer` with the stdout or sqlite sink
stopped with OverflowError, then again on every restart (its cursor never moved).

Now the broker refuses a timestamp that has no UTC form (the producer stays connected), and a
sink is never stopped for good by one payload: such a payload, already in a log from before, is
written as far as the sink can (the sqlite sink leaves its UTC column empty) or skipped with a log
line, and the cursor moves past it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import trio

from wearstream.adapters.storage.sqlite import open_sqlite_stores
from wearstream.domain.stream import Payload
from wearstream.testing.broker_process import BrokerProcess, create_developer
from wearstream.testing.consumer_process import ConsumerProcess
from wearstream.testing.numbered_producer import identified_producer

pytestmark = pytest.mark.e2e

POISON = "0001-01-01T00:00:00+23:59"
TS = "2022-05-04T10:26:11.268507+01:00"


def rows(path: Path) -> list[tuple[int, str | None, str]]:
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=5) as db:
        try:
            return db.execute("SELECT seq, ts, d FROM samples ORDER BY seq").fetchall()
        except sqlite3.OperationalError:
            return []


async def test_a_timestamp_without_a_utc_form_stops_neither_broker_nor_sinks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dev = create_developer(data, "poison")
    # A payload an older broker accepted: already in the log when this broker starts.
    async with open_sqlite_stores(data) as (log, _, _):
        await log.append([Payload(dev.dev_id, 1, "alice", "HEART_RATE", {"ts": POISON, "val": 60})])
    db = tmp_path / "out.db"
    with BrokerProcess.create(data, log_dir=tmp_path / "logs") as process:
        consumer = ConsumerProcess.create(
            process, dev, tmp_path / "consumer", "--sink", "stdout", "--sink", f"sqlite:{db}",
            "--cursor-dir", str(tmp_path / "cursors"),
        )
        consumer.start()
        try:
            await consumer.until(lambda: "ready" in consumer.stderr(), "the consumer's READY")
            async with identified_producer(
                process.http_url, process.ws_url, dev.dev_id, dev.api_key, "alice", extensions=True
            ) as ws:
                await ws.send_message(json.dumps({"op": 6, "t": "HEART_RATE", "d": {"ts": POISON, "val": 61}}))
                with trio.fail_after(10):
                    warning = json.loads(await ws.get_message())
                assert warning["op"] == 11 and "UTC" in warning["d"]["reason"]
                await ws.send_message(json.dumps({"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": 62}}))
                await consumer.until(lambda: len(rows(db)) == 2, "both payloads in the sqlite sink")
            assert consumer.running, consumer.stderr()
            assert process.running, process.output()
            (seq1, ts1, d1), (seq2, ts2, _) = rows(db)
            assert (seq1, ts1, json.loads(d1)["ts"]) == (1, None, POISON)  # kept as it came
            assert (seq2, ts2) == (2, "2022-05-04T09:26:11.268507Z")
            await consumer.until(lambda: "62 bpm" in consumer.stdout(), "the stdout line of seq 2")
            assert POISON in consumer.stdout()
        finally:
            assert consumer.stop() == 0, consumer.stderr()
        consumer.start()  # the cursor moved past the poison: a restart replays nothing
        try:
            await trio.sleep(2)
            assert consumer.running, consumer.stderr()
            assert "bpm" not in consumer.stdout()
        finally:
            consumer.stop()
