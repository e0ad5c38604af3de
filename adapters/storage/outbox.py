"""Producer outboxes: SQLite (durable, the default) and memory (tests, throwaway runs).

Both give ids the same way: consecutive, starting at 1, and never given twice by one outbox, not
even after every entry was acknowledged and deleted, nor (SQLite) after a restart. The id is the
SUBMIT idempotency counter, and the broker drops any SUBMIT whose id is not above the highest it
stored for this outbox's ``source``: an id given again would be taken for a resend and lost.
So the next id is kept in the file itself, not derived from the rows that are left.

SQLite. One file per outbox, in WAL mode with ``synchronous=FULL`` by default: the producer runs
on laptops and Raspberry Pis that lose power, and a sample is "in the outbox" only once its
commit is on disk. Batching keeps this cheap (one fsync per ``add`` of many samples). Calls run
in a worker thread, one at a time (``sqlite_database.py``), so the event loop never waits on the
disk. The file is marked with ``PRAGMA application_id``, so that pointing ``--outbox`` at some
other database (a broker's, say) is refused instead of quietly adding tables to it.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import orjson

from ...domain.readings import format_timestamp
from ...domain.samples import Sample
from ...ports.producer import OutboxEntry
from .sqlite import SchemaError, check_sqlite_version
from .sqlite_database import SqliteDatabase, Synchronous, write_transaction

SCHEMA_VERSION = 1
APPLICATION_ID = 0x57534F42  # "WSOB": a wearstream outbox

_SCHEMA = (
    # One row: the stable source name of this outbox and the next id to give.
    """CREATE TABLE IF NOT EXISTS outbox (
        source TEXT NOT NULL,
        next_id INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY,
        t TEXT NOT NULL,
        ts TEXT NOT NULL,
        value TEXT NOT NULL,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL
    )""",
)


def new_source() -> str:
    """A name no other outbox has: the broker keys its resend dedupe on it."""
    return "outbox-" + uuid.uuid4().hex


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be non-negative, got {limit}")


# Memory ------------------------------------------------------------------------------------


class MemoryOutbox:
    """The Outbox port in a list: not durable, so only for tests and runs where loss is fine."""

    def __init__(self, source: str | None = None) -> None:
        self._source = source or new_source()
        self._entries: list[OutboxEntry] = []
        self._next_id = 1

    @property
    def source(self) -> str:
        return self._source

    async def add(self, samples: Sequence[Sample]) -> list[int]:
        ids = list(range(self._next_id, self._next_id + len(samples)))
        self._entries.extend(OutboxEntry(i, s) for i, s in zip(ids, samples))
        self._next_id += len(samples)
        return ids

    async def peek(self, after: int, limit: int) -> list[OutboxEntry]:
        _check_limit(limit)
        return [e for e in self._entries if e.id > after][:limit]

    async def ack(self, upto: int) -> None:
        self._entries = [e for e in self._entries if e.id > upto]

    async def depth(self) -> int:
        return len(self._entries)

    async def aclose(self) -> None:
        pass


# SQLite ------------------------------------------------------------------------------------


class SqliteOutbox:
    """The Outbox port on one SQLite file."""

    def __init__(self, db: SqliteDatabase, source: str) -> None:
        self._db = db
        self._source = source
        self.path = db.path

    @classmethod
    async def open(cls, path: str | Path, *, synchronous: Synchronous = "FULL") -> "SqliteOutbox":
        """Open (creating it and its parent folders if absent) the outbox file at ``path``.

        Raises SchemaError for a file that is not a wearstream outbox, or a newer one.
        """
        check_sqlite_version()
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await SqliteDatabase.open(
            path, lambda connection: _prepare(connection, path), synchronous=synchronous, name="outbox"
        )
        try:
            return cls(db, await db.run(_source))
        except BaseException:
            await db.aclose()
            raise

    @property
    def source(self) -> str:
        return self._source

    async def add(self, samples: Sequence[Sample]) -> list[int]:
        if not samples:
            return []
        rows = [_row(sample) for sample in samples]
        return await self._db.run(lambda connection: _add(connection, rows))

    async def peek(self, after: int, limit: int) -> list[OutboxEntry]:
        _check_limit(limit)
        if limit == 0:
            return []

        def query(connection: sqlite3.Connection) -> list[OutboxEntry]:
            rows = connection.execute(
                "SELECT id, t, ts, value, user_id, device_id FROM entries"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            )
            return [OutboxEntry(row[0], _sample(row)) for row in rows]

        return await self._db.run(query)

    async def ack(self, upto: int) -> None:
        def delete(connection: sqlite3.Connection) -> None:
            with write_transaction(connection):
                connection.execute("DELETE FROM entries WHERE id <= ?", (upto,))

        await self._db.run(delete)

    async def depth(self) -> int:
        return await self._db.run(lambda c: c.execute("SELECT count(*) FROM entries").fetchone()[0])

    async def aclose(self) -> None:
        """Close the file (after any call in flight); closing twice is fine."""
        await self._db.aclose()


def _prepare(connection: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up and give the outbox its source (made once, when the file is new)."""
    with write_transaction(connection):
        (app_id,) = connection.execute("PRAGMA application_id").fetchone()
        (tables,) = connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            raise SchemaError(f"{path} is not a wearstream outbox; choose another --outbox file")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"outbox schema version {version} is newer than this wearstream "
                f"understands ({SCHEMA_VERSION}); upgrade wearstream or use another --outbox"
            )
        for statement in _SCHEMA:
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        if connection.execute("SELECT source FROM outbox").fetchone() is None:
            connection.execute("INSERT INTO outbox (source, next_id) VALUES (?, 1)", (new_source(),))


def _source(connection: sqlite3.Connection) -> str:
    return str(connection.execute("SELECT source FROM outbox").fetchone()[0])


def _row(sample: Sample) -> tuple[Any, ...]:
    value = list(sample.value) if isinstance(sample.value, tuple) else sample.value
    return (sample.t, format_timestamp(sample.ts), orjson.dumps(value).decode(),
            sample.user_id, sample.device_id)


def _add(connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    with write_transaction(connection):
        (first,) = connection.execute("SELECT next_id FROM outbox").fetchone()
        ids = list(range(first, first + len(rows)))
        connection.executemany(
            "INSERT INTO entries (id, t, ts, value, user_id, device_id) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, *row) for i, row in zip(ids, rows)],
        )
        connection.execute("UPDATE outbox SET next_id = ?", (first + len(rows),))
    return ids


def _sample(row: tuple[Any, ...]) -> Sample:
    _, t, ts, value, user_id, device_id = row
    return Sample(t, datetime.fromisoformat(ts), orjson.loads(value), user_id, device_id)
