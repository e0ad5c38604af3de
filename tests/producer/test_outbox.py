"""Both outboxes pass the Outbox contract; plus what only the SQLite file can get wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wearstream.adapters.storage.outbox import MemoryOutbox, SqliteOutbox
from wearstream.adapters.storage.sqlite import SchemaError
from wearstream.testing.contracts import OutboxContract
from wearstream.testing.contracts.outbox import hr


class TestMemoryOutbox(OutboxContract):
    async def make_outbox(self, path: Path) -> MemoryOutbox:
        return MemoryOutbox()


class TestSqliteOutbox(OutboxContract):
    persistent = True

    async def make_outbox(self, path: Path) -> SqliteOutbox:
        return await SqliteOutbox.open(path / "outbox.db")


async def test_the_file_is_in_wal_mode_and_folders_are_made(tmp_path: Path) -> None:
    outbox = await SqliteOutbox.open(tmp_path / "a" / "b" / "outbox.db")
    await outbox.aclose()
    with sqlite3.connect(tmp_path / "a" / "b" / "outbox.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_another_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE payloads (x)")
    with pytest.raises(SchemaError, match="not a wearstream outbox"):
        await SqliteOutbox.open(path)
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
    assert tables == {"payloads"}


async def test_a_newer_outbox_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    await (await SqliteOutbox.open(path)).aclose()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaError, match="newer"):
        await SqliteOutbox.open(path)


async def test_a_closed_outbox_says_so(tmp_path: Path) -> None:
    outbox = await SqliteOutbox.open(tmp_path / "outbox.db")
    await outbox.aclose()
    await outbox.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await outbox.add([hr(0)])
