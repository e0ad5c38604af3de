"""Producer outboxes: SQLite (durable, the default) and memory (tests, throwaway runs).

Both give ids the same way: consecutive, starting at 1, and never given twice by one outbox, not
even after every entry was acknowledged and deleted, nor (SQLite) after a restart. The id is the
SUBMIT idempotency counter, and the broker drops any SUBMIT whose id is not above the highest it
stored for this outbox's ``source``: an id given again would be taken for a resend and lost.
So the next id is kept in the file itself, not derived from the rows that are left.

SQLite. One file per outbox, in WAL mode with ``synchronous=FULL`` by default: the producer runs
on laptops and Raspberry Pis that lose power, and a sample is "in the outbox" only once its
commit is on disk. Batching keeps this cheap (one fsync per ``add`` of many samples). Calls run
in a worker thread behind a CapacityLimiter(1), as in ``sqlite.py``, so the event loop never
waits on the disk and the connection is used by one thread at a time. The file is marked with
``PRAGMA application_id``, so that pointing ``--outbox`` at some other database (a broker's, say)
is refused instead of quietly adding tables to it.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

import orjson
import trio

from ...domain.readings import format_timestamp
from ...domain.samples import Sample
from ...ports.producer import OutboxEntry
from .sqlite import SchemaError, Synchronous, check_sqlite_version

SCHEMA_VERSION = 1
APPLICATION_ID = 0x57534F42  # "WSOB": a wearstream outbox
BUSY_TIMEOUT = 10.0
T = TypeVar("T")

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

    def __init__(self, connection: sqlite3.Connection, path: Path, source: str) -> None:
        self._connection = connection
        self._limiter = trio.CapacityLimiter(1)
        self._closed = False
        self._source = source
        self.path = path

    @classmethod
    async def open(cls, path: str | Path, *, synchronous: Synchronous = "FULL") -> "SqliteOutbox":
        """Open (creating it and its parent folders if absent) the outbox file at ``path``.

        Raises SchemaError for a file that is not a wearstream outbox, or a newer one.
        """
        check_sqlite_version()
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        connection, source = await trio.to_thread.run_sync(_connect, path, synchronous)
        return cls(connection, path, source)

    @property
    def source(self) -> str:
        return self._source

    async def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise RuntimeError(f"outbox {self.path} is closed")
        return await trio.to_thread.run_sync(call, self._connection, limiter=self._limiter)

    async def add(self, samples: Sequence[Sample]) -> list[int]:
        if not samples:
            return []
        rows = [_row(sample) for sample in samples]
        return await self._run(lambda connection: _add(connection, rows))

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

        return await self._run(query)

    async def ack(self, upto: int) -> None:
        def delete(connection: sqlite3.Connection) -> None:
            with _write_transaction(connection):
                connection.execute("DELETE FROM entries WHERE id <= ?", (upto,))

        await self._run(delete)

    async def depth(self) -> int:
        return await self._run(lambda c: c.execute("SELECT count(*) FROM entries").fetchone()[0])

    async def aclose(self) -> None:
        """Close the file (after any call in flight); closing twice is fine."""
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):  # a cancelled close must still release the file
            await trio.to_thread.run_sync(self._connection.close, limiter=self._limiter)


@contextmanager
def _write_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE: take the write lock up front (another producer on the same file waits)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _connect(path: Path, synchronous: Synchronous) -> tuple[sqlite3.Connection, str]:
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        return connection, _prepare(connection, path)
    except BaseException:
        connection.close()
        raise


def _prepare(connection: sqlite3.Connection, path: Path) -> str:
    """Bring the schema up and return the outbox's source (made once, when the file is new)."""
    with _write_transaction(connection):
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
        row = connection.execute("SELECT source FROM outbox").fetchone()
        if row is None:
            source = new_source()
            connection.execute("INSERT INTO outbox (source, next_id) VALUES (?, 1)", (source,))
            return source
        return row[0]


def _row(sample: Sample) -> tuple[Any, ...]:
    value = list(sample.value) if isinstance(sample.value, tuple) else sample.value
    return (sample.t, format_timestamp(sample.ts), orjson.dumps(value).decode(),
            sample.user_id, sample.device_id)


def _add(connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    with _write_transaction(connection):
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
