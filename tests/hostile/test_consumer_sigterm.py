"""Issue 12.11: `wearstream consumer` stops on SIGTERM within --stop-timeout while its webhook is
down, and its cursor stays where it was: the next start delivers everything, nothing skipped.

Before: the webhook sink retried the batch for ever and the consumer only checked for a stop
between batches, so SIGTERM was ignored until the webhook came back.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import trio

from wearstream.testing.consumer_process import ConsumerProcess

from .conftest import send

READINGS = 5
STOP_TIMEOUT = 2.0


class Webhook(http.server.ThreadingHTTPServer):
    """A receiver that answers ``status`` and records the seqs of what it took (2xx only)."""

    status = 503
    attempts = 0
    taken: list[int]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.attempts += 1
        status = self.server.status
        if status < 300:
            self.server.taken += [p["seq"] for p in json.loads(body)["payloads"]]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook(("127.0.0.1", 0), Handler)
    server.taken = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


async def test_sigterm_stops_a_consumer_whose_webhook_is_down_and_keeps_its_cursor(
    tmp_path: Path, webhook: Webhook, start_broker: Any
) -> None:
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    broker, tenant, _ = start_broker()
    consumer = ConsumerProcess.create(
        broker, tenant.credentials, tmp_path / "consumer", "--sink", f"webhook:{url}",
        "--cursor-dir", str(tmp_path / "cursors"), "--stop-timeout", f"{STOP_TIMEOUT:g}",
    ).start()
    try:
        await trio.sleep(1.0)  # connected (a consumer resumes from its cursor anyway)
        async with tenant.producer("alice") as producer:
            for n in range(READINGS):
                await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": 60 + n}})
            await consumer.until(lambda: webhook.attempts >= 2, "the webhook retried")
        started = time.monotonic()
        code = consumer.stop(timeout=STOP_TIMEOUT + 8)
        took = time.monotonic() - started
        assert took < STOP_TIMEOUT + 5, f"SIGTERM took {took:.1f} s\n{consumer.stderr()}"
        assert code == 0, consumer.stderr()
        assert "not committed" in consumer.stderr() and webhook.taken == []

        webhook.status = 200  # back up: the next start delivers every reading, once
        consumer.start()
        await consumer.until(lambda: len(webhook.taken) >= READINGS, "the delivery", timeout=30)
        assert webhook.taken == list(range(1, READINGS + 1))
    finally:
        consumer.stop()
