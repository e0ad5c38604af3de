"""``sqlite:PATH``: a ``samples`` table ready to query; its cursor commits in the same transaction.

Schema (``PRAGMA user_version`` 1)::

    samples(seq INTEGER PRIMARY KEY, uid TEXT, t TEXT, ts TEXT, value REAL, value_json TEXT,
            synthetic INTEGER, d TEXT)
    INDEX samples_by_user_type_time ON samples (uid, t, ts)
    sink_cursor(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER)

``ts`` is the reading's time in UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: it sorts as text and
SQLite's date functions read it. ``value`` holds a scalar reading, ``value_json`` the JSON array of
an array reading (ECG chunk, acceleration x/y/z, …); ``d`` is the reading exactly as received.
For example, one user's heart rate over an hour::

    SELECT ts, value FROM samples WHERE uid = 'u1' AND t = 'HEART_RATE'
      AND ts >= '2025-01-01T10:00:00' AND ts < '2025-01-01T11:00:00' ORDER BY ts;

Durability: WAL with ``synchronous=FULL``, so a committed batch survives power loss. The rows and
the new cursor are one transaction: after a crash both are there or neither is.

Threads: sqlite3 calls block, so each runs in a worker thread (``trio.to_thread.run_sync``) with
one ``CapacityLimiter(1)``, as the broker's SQLite storage does.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import orjson
import trio

from ...domain.errors import InvalidReading
from ...domain.readings import is_number, parse_timestamp
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions
from .cursor import new_payloads

SCHEMA_VERSION = 1
BUSY_TIMEOUT = 10.0
T = TypeVar("T")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS samples (
        seq INTEGER PRIMARY KEY,
        uid TEXT NOT NULL,
        t TEXT NOT NULL,
        ts TEXT,
        value REAL,
        value_json TEXT,
        synthetic INTEGER NOT NULL DEFAULT 0,
        d TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS samples_by_user_type_time ON samples (uid, t, ts)",
    """CREATE TABLE IF NOT EXISTS sink_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
    )""",
)


class SqliteSink:
    """The ``sqlite`` SinkFactory: ``SqliteSink("/data/samples.db", options)``."""

    def __init__(self, target: str, options: SinkOptions) -> None:
        if not target:
            raise ValueError("the sqlite sink needs a path, e.g. sqlite:/var/lib/samples.db")
        self.path = Path(target)
        self.options = options
        self._connection: sqlite3.Connection | None = None
        self._limiter = trio.CapacityLimiter(1)
        self._cursor = 0

    async def open(self) -> int:
        self._connection = await trio.to_thread.run_sync(_connect, self.path)
        self._cursor = await self._run(_read_cursor)
        return self._cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        fresh = new_payloads(payloads, self._cursor, cursor)
        rows = [_row(p) for p in fresh]
        cursor = max(cursor, self._cursor)
        if cursor == self._cursor:
            return
        await self._run(lambda connection: _store(connection, rows, cursor))
        self._cursor = cursor

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(connection.close, limiter=self._limiter)

    async def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connection
        if connection is None:
            raise RuntimeError(f"sqlite sink {self.path} is not open")
        return await trio.to_thread.run_sync(call, connection, limiter=self._limiter)


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        with _transaction(connection):
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"{path}: sink schema version {version} is newer than this wearstream knows "
                    f"({SCHEMA_VERSION}); upgrade wearstream to write to it"
                )
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        connection.close()
        raise
    return connection


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _read_cursor(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT seq FROM sink_cursor WHERE id = 1").fetchone()
    return 0 if row is None else row[0]


def _store(connection: sqlite3.Connection, rows: list[tuple[Any, ...]], cursor: int) -> None:
    with _transaction(connection):
        connection.executemany(
            "INSERT INTO samples (seq, uid, t, ts, value, value_json, synthetic, d)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.execute(
            "INSERT INTO sink_cursor (id, seq) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
            (cursor,),
        )


def _row(payload: Payload) -> tuple[Any, ...]:
    d = payload.d
    val, array = d.get("val"), d.get("d")
    try:
        reading = orjson.dumps(d).decode()
        value_json = None if array is None else orjson.dumps(array).decode()
    except TypeError as error:  # orjson.JSONEncodeError
        raise ValueError(
            f"payload seq {payload.seq}: d cannot be stored as JSON: {error}"
        ) from None
    return (
        payload.seq,
        payload.uid,
        payload.t,
        _utc(d.get("ts")),
        _real(val),
        value_json,
        int(payload.synthetic),
        reading,
    )


def _real(val: object) -> float | None:
    """A scalar as REAL (``d`` keeps it exactly: integers up to 2**64 as they came)."""
    return float(val) if is_number(val) else None  # type: ignore[arg-type]


def _utc(ts: object) -> str | None:
    """The reading time in UTC, fixed width so that text order is time order; None if unreadable."""
    try:
        moment = parse_timestamp(ts)
    except InvalidReading:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
