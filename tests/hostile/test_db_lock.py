"""Another process (here: the test, as `wearstream developers` or a second broker would) holds
the SQLite write lock of a running `wearstream broker`'s database longer than its busy timeout:
the broker stays up, refuses producers with 1013, reports itself degraded on /healthz, keeps
serving its consumers (live and REPLAY, which never wait for the lock), and recovers by itself
once the lock is released. Nothing acknowledged is lost, nothing is stored twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wearstream.adapters.storage.sqlite import database_path
from wearstream.testing.broker_process import BrokerProcess, create_developer

from .test_disk_full import storage_trouble_round

pytestmark = pytest.mark.e2e


async def test_a_write_lock_held_beyond_the_busy_timeout(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    dev = create_developer(data_dir, "acme")
    other = sqlite3.connect(database_path(data_dir), isolation_level=None)
    extra = ["--db-busy-timeout", "0.5", "--max-consumers", "2"]
    try:
        with BrokerProcess.create(data_dir, log_dir=tmp_path / "logs", extra=extra) as broker:
            await storage_trouble_round(
                broker, dev,
                make_trouble=lambda: other.execute("BEGIN IMMEDIATE"),
                end_trouble=lambda: other.execute("ROLLBACK"),
                error_text="database is locked",
            )
    finally:
        other.close()
