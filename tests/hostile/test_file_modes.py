"""Files holding secrets or health data are the owner's alone, whatever the umask: the broker's
database (live tokens, key hashes) and its -wal/-shm files, its data dir, the producer's outbox
and the sqlite sink's file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from wearstream.adapters.sinks.sqlite import SqliteSink
from wearstream.adapters.storage.outbox import SqliteOutbox
from wearstream.adapters.storage.sqlite import DB_FILENAME
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.broker_process import BrokerProcess, create_developer

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask most systems give a user (022: files world-readable unless made otherwise)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_the_broker_database_and_its_wal_are_private(tmp_path: Path, permissive_umask: None) -> None:
    data_dir = tmp_path / "data"
    dev = create_developer(data_dir, "acme")
    assert mode(data_dir) == 0o700
    with BrokerProcess.create(data_dir, log_dir=tmp_path / "logs") as broker:
        with httpx.Client(base_url=broker.http_url, timeout=10) as http:
            assert http.post("/auth/developer", headers=dev.headers()).status_code == 200
        files = [data_dir / (DB_FILENAME + suffix) for suffix in ("", "-wal", "-shm")]
        assert all(f.exists() for f in files), list(data_dir.iterdir())
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


async def test_an_outbox_and_a_sqlite_sink_are_private(tmp_path: Path, permissive_umask: None) -> None:
    outbox = await SqliteOutbox.open(tmp_path / "outbox.db")
    try:
        assert mode(tmp_path / "outbox.db") == 0o600
    finally:
        await outbox.aclose()
    sink = SqliteSink(str(tmp_path / "samples.db"), SinkOptions())
    await sink.open()
    try:
        assert mode(tmp_path / "samples.db") == 0o600
    finally:
        await sink.aclose()


def test_an_existing_world_readable_database_is_reported(
    tmp_path: Path, permissive_umask: None
) -> None:
    data_dir = tmp_path / "data"
    create_developer(data_dir, "acme")
    (data_dir / DB_FILENAME).chmod(0o644)
    with BrokerProcess.create(data_dir, log_dir=tmp_path / "logs") as broker:
        pass
    assert f"chmod 600 {data_dir / DB_FILENAME}" in broker.stderr_path.read_text()
