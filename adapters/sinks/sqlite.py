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

Threads: sqlite3 calls block, so each runs in a worker thread, one at a time, as in the broker's
SQLite storage (``adapters/storage/sqlite_database.py``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import orjson

from ...domain.errors import SpecError
from ...domain.readings import format_timestamp, is_number, utc_time
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions, UnwritablePayload
from ..storage.sqlite_database import SqliteDatabase, write_transaction
from .cursor import new_payloads

SCHEMA_VERSION = 1
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


class SinkOpenError(OSError):
    """The sink's database cannot be opened or created where its spec says."""


class SqliteSink:
    """The ``sqlite`` SinkFactory: ``SqliteSink("/data/samples.db", options)``."""

    usage = "sqlite:PATH"  # what `wearstream sinks` shows

    def __init__(self, target: str, options: SinkOptions) -> None:
        if not target:
            raise SpecError("the sqlite sink needs a path: sqlite:PATH, e.g. sqlite:/var/lib/wearstream/samples.db")
        self.path = Path(target)
        self.options = options
        self._db: SqliteDatabase | None = None
        self._cursor = 0

    async def open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await SqliteDatabase.open(
                self.path, lambda connection: _prepare(connection, self.path), synchronous="FULL"
            )
        except (OSError, sqlite3.OperationalError) as error:  # sqlite's own text names no file
            raise SinkOpenError(
                f"sqlite sink {self.path}: cannot open it ({error}); check that its folder exists "
                "and this user may write there"
            ) from error
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
        db, self._db = self._db, None
        if db is not None:
            await db.aclose()

    async def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            raise RuntimeError(f"sqlite sink {self.path} is not open")
        return await self._db.run(call)


def _prepare(connection: sqlite3.Connection, path: Path) -> None:
    with write_transaction(connection):
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


def _read_cursor(connection: sqlite3.Connection) -> int:
    row = connection.execute("SELECT seq FROM sink_cursor WHERE id = 1").fetchone()
    return 0 if row is None else row[0]


def _store(connection: sqlite3.Connection, rows: list[tuple[Any, ...]], cursor: int) -> None:
    with write_transaction(connection):
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
        raise UnwritablePayload(payload.seq, f"d cannot be stored as JSON: {error}") from None
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
    """A scalar as REAL (``d`` keeps it exactly: integers up to 2**64 as they came); None
    when it is no number or too large for one."""
    try:
        return float(val) if is_number(val) else None  # type: ignore[arg-type]
    except OverflowError:
        return None


def _utc(ts: object) -> str | None:
    """The reading time in UTC, fixed width so that text order is time order; None if unreadable."""
    moment = utc_time(ts)
    return None if moment is None else format_timestamp(moment)
