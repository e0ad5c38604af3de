"""SQLite storage: the broker's stream log, developers and tokens in one file per data dir.

``open_sqlite_stores(data_dir)`` opens ``<data-dir>/wearstream.db`` (created with its schema if
absent) and yields the three stores. Each store class can also be opened alone on a file with its
``open`` classmethod, which the contract tests and the bench do.

Threads. Every call runs in a worker thread, one at a time per connection (``sqlite_database.py``
says why): the event loop never waits on SQLite, and a cancelled ``append`` still finishes (or
rolls back) its transaction, so the connection is never left mid-transaction.
``open_sqlite_stores`` gives the log two connections of its own (appends, and reads) and lets
developers and tokens share a third, so a token take does not queue behind a large append or a
long replay read, and a replay does not queue behind an append.

Trouble. A full disk, a write lock held by another process beyond ``busy_timeout``, a read-only
file or an I/O error raise the port's StorageUnavailable (naming the file), with nothing of the
call stored: the broker then refuses new submissions and retries, instead of exiting.

Durability. The file is in WAL mode. With ``synchronous="NORMAL"`` (the default) a commit is
written to the WAL but not fsynced: a payload acknowledged by ``append`` survives the broker being
killed (the OS still has the write), but a power loss or kernel crash may lose the last commits
(never corrupt the file). ``synchronous="FULL"`` fsyncs the WAL on every commit and survives power
loss too, at the cost of one fsync per batch. Either way, batching is what makes the log fast:
``append`` writes a whole batch in one transaction with ``executemany``.

Several processes may share the file (two brokers, or ``wearstream developers`` beside a running
broker). Writes take SQLite's write lock with ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout``
for it; ``TokenStore.take`` is one ``DELETE … RETURNING`` statement, so a token is handed out at
most once even across processes (this needs SQLite 3.35 or newer, checked on open).

Schema. ``PRAGMA user_version`` holds the schema version. A new file gets the current schema; a
file from a newer wearstream is refused with a clear error instead of being misread.
"""

from __future__ import annotations

import contextlib
import sqlite3
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Collection, Sequence

import orjson

from ...domain.identity import Developer, Role, Token
from ...domain.stream import Payload, ReplayRange, SubmitKey
from ...ports.clock import Clock
from ...ports.storage import Retention, StorageUnavailable
from ..clock import SystemClock
from .checks import check_appendable, check_limit
from .memory import PURGE_EVERY, PURGE_GRACE
from .sqlite_database import DEFAULT_BUSY_TIMEOUT, SqliteDatabase, Synchronous, write_transaction

DB_FILENAME = "wearstream.db"
SCHEMA_VERSION = 2
MIN_SQLITE_VERSION = (3, 35, 0)  # DELETE … RETURNING
_INT64_MAX = 2**63 - 1
COMMIT_WINDOW = 0.005  # seconds the hub may gather readings into one transaction

_SCHEMA = (
    # One developer's log, clustered by (developer, seq) so a replay range is one index scan.
    """CREATE TABLE IF NOT EXISTS payloads (
        developer_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        uid TEXT NOT NULL,
        t TEXT NOT NULL,
        d TEXT NOT NULL,
        synthetic INTEGER NOT NULL DEFAULT 0,
        key_source TEXT,
        key_counter INTEGER,
        stored_at REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (developer_id, seq)
    ) WITHOUT ROWID""",
    # The highest seq ever stored per developer, kept beside the log so that it outlives
    # retention (seqs are never reused) and needs no scan; and the highest seq retention removed.
    """CREATE TABLE IF NOT EXISTS streams (
        developer_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        trimmed_upto INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    # The highest idempotency counter per (developer, user, key source), for resend dedupe.
    """CREATE TABLE IF NOT EXISTS submit_keys (
        developer_id TEXT NOT NULL,
        uid TEXT NOT NULL,
        source TEXT NOT NULL,
        counter INTEGER NOT NULL,
        PRIMARY KEY (developer_id, uid, source)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS developers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    )""",
    # expires_at keeps the exact datetime (ISO 8601); expires_ts is for the purge's comparison.
    """CREATE TABLE IF NOT EXISTS tokens (
        value TEXT PRIMARY KEY,
        role INTEGER NOT NULL,
        developer_id TEXT NOT NULL,
        user_id TEXT,
        expires_at TEXT NOT NULL,
        expires_ts REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS tokens_by_expiry ON tokens (expires_ts)",
)


class SchemaError(sqlite3.DatabaseError):
    """The database file has a schema this version of wearstream cannot use.

    A sqlite3.DatabaseError, so that callers reporting "cannot use this data dir" catch it too.
    """


def database_path(data_dir: str | Path) -> Path:
    """The database file of a broker data dir."""
    return Path(data_dir) / DB_FILENAME


# The connection ----------------------------------------------------------------------------


async def open_database(
    path: str | Path,
    *,
    synchronous: Synchronous = "NORMAL",
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
) -> SqliteDatabase:
    """Open (creating if absent) the broker's database file at ``path`` and bring its schema up."""
    check_sqlite_version()
    return await SqliteDatabase.open(
        Path(path),
        _migrate,
        synchronous=synchronous,
        busy_timeout=busy_timeout,
        name="broker database",
        unavailable_as=StorageUnavailable,
    )


def check_sqlite_version() -> None:
    if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
        need = ".".join(map(str, MIN_SQLITE_VERSION))
        raise RuntimeError(
            f"wearstream needs SQLite {need} or newer (for DELETE … RETURNING); "
            f"this Python has SQLite {sqlite3.sqlite_version}"
        )


def _migrate(connection: sqlite3.Connection) -> None:
    with write_transaction(connection):
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"database schema version {version} is newer than this wearstream knows "
                f"({SCHEMA_VERSION}); upgrade wearstream to use this data dir"
            )
        if version == SCHEMA_VERSION:
            return
        if version == 1:
            _migrate_1_to_2(connection)
        for statement in _SCHEMA:
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _migrate_1_to_2(connection: sqlite3.Connection) -> None:
    """Version 2 adds retention: when each payload was stored, and how far the log was trimmed.
    Payloads stored before the upgrade count as stored at the upgrade, so none is dropped early."""
    now = datetime.now().timestamp()
    connection.execute(f"ALTER TABLE payloads ADD COLUMN stored_at REAL NOT NULL DEFAULT {now!r}")
    connection.execute("ALTER TABLE streams ADD COLUMN trimmed_upto INTEGER NOT NULL DEFAULT 0")


# The stream log ----------------------------------------------------------------------------


class SqliteStreamLog:
    """The StreamLog port on the ``payloads``, ``streams`` and ``submit_keys`` tables.

    Reads may go through a connection of their own (``reader``): in WAL mode they then never
    wait for an append, not even one waiting out another process's write lock, so replays and
    catch-ups go on while storage cannot be written.

    Group commit: a commit costs about 40 times a row (~155 µs against 3–4 µs), so the hub
    gathers readings for up to ``commit_window`` and appends them in one transaction."""

    commit_window = COMMIT_WINDOW

    def __init__(
        self,
        db: SqliteDatabase,
        *,
        owns_db: bool = False,
        clock: Clock | None = None,
        reader: SqliteDatabase | None = None,
    ) -> None:
        self.db = db
        self.reader = reader or db
        self._owns_db = owns_db
        self._clock: Clock = clock or SystemClock()

    @classmethod
    async def open(cls, path: str | Path, *, clock: Clock | None = None, **options: Any) -> "SqliteStreamLog":
        """A log on its own connection to the file ``path``; ``aclose`` closes it."""
        return cls(await open_database(path, **options), owns_db=True, clock=clock)

    async def append(self, payloads: Sequence[Payload]) -> None:
        if payloads:
            batch, now = list(payloads), self._clock.now().timestamp()
            await self.db.run(lambda connection: _append(connection, batch, now))

    async def read_range(self, developer_id: str, rng: ReplayRange, limit: int) -> list[Payload]:
        check_limit(limit)
        first, last = max(rng.after + 1, 0), min(rng.before - 1, _INT64_MAX)
        if first > last or limit == 0:
            return []
        limit = min(limit, _INT64_MAX)
        return await self.reader.run(
            lambda connection: _read_range(connection, developer_id, first, last, limit)
        )

    async def last_seq(self, developer_id: str) -> int:
        def query(connection: sqlite3.Connection) -> int:
            return _stored_last_seq(connection, developer_id)

        return await self.reader.run(query)

    async def last_keys(self, developer_id: str) -> dict[tuple[str, str], int]:
        def query(connection: sqlite3.Connection) -> dict[tuple[str, str], int]:
            rows = connection.execute(
                "SELECT uid, source, counter FROM submit_keys WHERE developer_id = ?",
                (developer_id,),
            )
            return {(uid, source): counter for uid, source, counter in rows}

        return await self.reader.run(query)

    async def trim(self, retention: Retention, now: datetime) -> int:
        if retention.unlimited:
            return 0
        cutoff = None if retention.max_age is None else (now - retention.max_age).timestamp()
        return await self.db.run(lambda connection: _trim(connection, retention.max_length, cutoff))

    async def trimmed_upto(self, developer_id: str) -> int:
        def query(connection: sqlite3.Connection) -> int:
            row = connection.execute(
                "SELECT trimmed_upto FROM streams WHERE developer_id = ?", (developer_id,)
            ).fetchone()
            return 0 if row is None else row[0]

        return await self.reader.run(query)

    async def aclose(self) -> None:
        if self._owns_db:
            await self.db.aclose()


def _trim(connection: sqlite3.Connection, max_length: int | None, cutoff: float | None) -> int:
    """Delete, per developer, everything before the first payload retention keeps."""
    removed = 0
    with write_transaction(connection):
        streams = connection.execute("SELECT developer_id, last_seq FROM streams").fetchall()
        for developer_id, last_seq in streams:
            keep_from = [last_seq + 1]
            if max_length is not None:
                row = connection.execute(
                    "SELECT seq FROM payloads WHERE developer_id = ? ORDER BY seq DESC"
                    " LIMIT 1 OFFSET ?",
                    (developer_id, max_length - 1),
                ).fetchone()
                keep_from.append(1 if row is None else row[0])
            if cutoff is not None:
                # Store times rise with seqs, so this scans only what is about to go.
                row = connection.execute(
                    "SELECT seq FROM payloads WHERE developer_id = ? AND stored_at >= ?"
                    " ORDER BY seq LIMIT 1",
                    (developer_id, cutoff),
                ).fetchone()
                keep_from.append(last_seq + 1 if row is None else row[0])
            first_kept = max(keep_from[1:])
            count = connection.execute(
                "DELETE FROM payloads WHERE developer_id = ? AND seq < ?", (developer_id, first_kept)
            ).rowcount
            if count:
                connection.execute(
                    "UPDATE streams SET trimmed_upto = max(trimmed_upto, ?) WHERE developer_id = ?",
                    (first_kept - 1, developer_id),
                )
            removed += count
    return removed


def _stored_last_seq(connection: sqlite3.Connection, developer_id: str) -> int:
    row = connection.execute(
        "SELECT last_seq FROM streams WHERE developer_id = ?", (developer_id,)
    ).fetchone()
    return 0 if row is None else row[0]


def _payload_row(index: int, payload: Payload) -> tuple[Any, ...]:
    try:
        d = orjson.dumps(payload.d).decode()
    except TypeError as error:  # orjson.JSONEncodeError
        raise ValueError(
            f"payload {index} of the batch (developer {payload.developer_id}, seq {payload.seq}): "
            f"d cannot be stored as JSON: {error}"
        ) from None
    key = payload.key
    return (
        payload.developer_id,
        payload.seq,
        payload.uid,
        payload.t,
        d,
        int(payload.synthetic),
        None if key is None else key.source,
        None if key is None else key.counter,
    )


def _append(connection: sqlite3.Connection, payloads: list[Payload], now: float) -> None:
    rows = [(*_payload_row(index, payload), now) for index, payload in enumerate(payloads)]
    last: dict[str, int] = {}
    keys: dict[tuple[str, str, str], int] = {}
    for p in payloads:
        last[p.developer_id] = p.seq
        if p.key is not None:
            slot = (p.developer_id, p.uid, p.key.source)
            keys[slot] = max(p.key.counter, keys.get(slot, p.key.counter))
    with write_transaction(connection):
        check_appendable(payloads, lambda dev: _stored_last_seq(connection, dev))
        connection.executemany(
            "INSERT INTO payloads"
            " (developer_id, seq, uid, t, d, synthetic, key_source, key_counter, stored_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        connection.executemany(
            "INSERT INTO streams (developer_id, last_seq) VALUES (?, ?)"
            " ON CONFLICT (developer_id) DO UPDATE SET last_seq = excluded.last_seq",
            last.items(),
        )
        if keys:
            connection.executemany(
                "INSERT INTO submit_keys (developer_id, uid, source, counter) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (developer_id, uid, source)"
                " DO UPDATE SET counter = max(counter, excluded.counter)",
                [(*slot, counter) for slot, counter in keys.items()],
            )


def _read_range(
    connection: sqlite3.Connection, developer_id: str, first: int, last: int, limit: int
) -> list[Payload]:
    rows = connection.execute(
        "SELECT seq, uid, t, d, synthetic, key_source, key_counter FROM payloads"
        " WHERE developer_id = ? AND seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
        (developer_id, first, last, limit),
    )
    return [
        Payload(
            developer_id,
            seq,
            uid,
            t,
            orjson.loads(d),
            bool(synthetic),
            None if source is None else SubmitKey(source, counter),
        )
        for seq, uid, t, d, synthetic, source, counter in rows
    ]


# Developers --------------------------------------------------------------------------------


class SqliteDeveloperStore:
    """The DeveloperStore port on the ``developers`` table (API keys only as their hashes)."""

    def __init__(self, db: SqliteDatabase, *, owns_db: bool = False) -> None:
        self.db = db
        self._owns_db = owns_db

    @classmethod
    async def open(cls, path: str | Path, **options: Any) -> "SqliteDeveloperStore":
        return cls(await open_database(path, **options), owns_db=True)

    async def add(self, developer: Developer) -> None:
        row = (
            developer.id,
            developer.name,
            developer.key_hash,
            developer.created_at.isoformat(),
            int(developer.revoked),
        )

        def insert(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(
                    "INSERT INTO developers (id, name, key_hash, created_at, revoked)"
                    " VALUES (?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:
                raise KeyError(f"developer {developer.id} already exists") from None

        await self.db.run(insert)

    async def get(self, developer_id: str) -> Developer | None:
        def query(connection: sqlite3.Connection) -> Developer | None:
            row = connection.execute(
                "SELECT id, name, key_hash, created_at, revoked FROM developers WHERE id = ?",
                (developer_id,),
            ).fetchone()
            return None if row is None else _developer(row)

        return await self.db.run(query)

    async def list(self) -> list[Developer]:
        """Every developer, oldest first (ties by id)."""

        def query(connection: sqlite3.Connection) -> list[Developer]:
            rows = connection.execute(
                "SELECT id, name, key_hash, created_at, revoked FROM developers"
            )
            return [_developer(row) for row in rows]

        developers = await self.db.run(query)
        return sorted(developers, key=lambda d: (d.created_at, d.id))

    async def revoke(self, developer_id: str) -> bool:
        def update(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE developers SET revoked = 1 WHERE id = ?", (developer_id,)
            )
            return cursor.rowcount > 0

        return await self.db.run(update)

    async def revoked_among(self, developer_ids: Collection[str]) -> set[str]:
        """One query however many ids: revoked developers are few, connected ones may be many."""
        wanted = set(developer_ids)
        if not wanted:
            return set()

        def query(connection: sqlite3.Connection) -> set[str]:
            rows = connection.execute("SELECT id FROM developers WHERE revoked = 1")
            return {id_ for (id_,) in rows if id_ in wanted}

        return await self.db.run(query)

    async def aclose(self) -> None:
        if self._owns_db:
            await self.db.aclose()


def _developer(row: tuple[Any, ...]) -> Developer:
    id_, name, key_hash, created_at, revoked = row
    return Developer(id_, name, key_hash, datetime.fromisoformat(created_at), bool(revoked))


# Tokens ------------------------------------------------------------------------------------


class SqliteTokenStore:
    """The TokenStore port on the ``tokens`` table; ``take`` is one atomic DELETE … RETURNING."""

    def __init__(
        self,
        db: SqliteDatabase,
        *,
        owns_db: bool = False,
        clock: Clock | None = None,
        purge_every: int = PURGE_EVERY,
    ) -> None:
        self.db = db
        self._owns_db = owns_db
        self._clock: Clock = clock or SystemClock()
        self._purge_every = purge_every
        self._puts = 0

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Clock | None = None,
        purge_every: int = PURGE_EVERY,
        **options: Any,
    ) -> "SqliteTokenStore":
        db = await open_database(path, **options)
        return cls(db, owns_db=True, clock=clock, purge_every=purge_every)

    async def put(self, token: Token) -> None:
        """Store a new token; raises KeyError when the value is taken (never overwrite a grant)."""
        row = (
            token.value,
            int(token.role),
            token.developer_id,
            token.user_id,
            token.expires_at.isoformat(),
            token.expires_at.timestamp(),
        )

        def insert(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(
                    "INSERT INTO tokens (value, role, developer_id, user_id, expires_at, expires_ts)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:
                raise KeyError("a token with this value already exists") from None

        await self.db.run(insert)
        self._puts += 1
        if self._puts % self._purge_every == 0:
            await self.purge_expired()

    async def peek(self, value: str) -> Token | None:
        def select(connection: sqlite3.Connection) -> Token | None:
            row = connection.execute(
                "SELECT role, developer_id, user_id, expires_at FROM tokens WHERE value = ?",
                (value,),
            ).fetchone()
            if row is None:
                return None
            role, developer_id, user_id, expires_at = row
            return Token(value, Role(role), developer_id, user_id, datetime.fromisoformat(expires_at))

        return await self.db.run(select)

    async def take(self, value: str) -> Token | None:
        def delete(connection: sqlite3.Connection) -> Token | None:
            # fetchall steps the statement to its end, which commits the implicit transaction.
            rows = connection.execute(
                "DELETE FROM tokens WHERE value = ?"
                " RETURNING role, developer_id, user_id, expires_at",
                (value,),
            ).fetchall()
            if not rows:
                return None
            role, developer_id, user_id, expires_at = rows[0]
            return Token(value, Role(role), developer_id, user_id, datetime.fromisoformat(expires_at))

        return await self.db.run(delete)

    async def purge_expired(self) -> int:
        """Drop tokens that expired more than PURGE_GRACE ago; returns how many went."""
        cutoff = (self._clock.now() - PURGE_GRACE).timestamp()

        def delete(connection: sqlite3.Connection) -> int:
            return connection.execute("DELETE FROM tokens WHERE expires_ts < ?", (cutoff,)).rowcount

        return await self.db.run(delete)

    async def count(self) -> int:
        """How many tokens are stored (expired ones not yet purged included)."""

        def query(connection: sqlite3.Connection) -> int:
            return connection.execute("SELECT count(*) FROM tokens").fetchone()[0]

        return await self.db.run(query)

    async def aclose(self) -> None:
        if self._owns_db:
            await self.db.aclose()


# All three ---------------------------------------------------------------------------------


@asynccontextmanager
async def open_sqlite_stores(
    data_dir: str | Path,
    *,
    clock: Clock | None = None,
    **options: Any,
) -> AsyncIterator[tuple[SqliteStreamLog, SqliteDeveloperStore, SqliteTokenStore]]:
    """The broker's three stores on ``<data_dir>/wearstream.db``, closed on exit.

    The log has two connections of its own, one for appends and one for reads; developers and
    tokens share a third. ``options`` go to open_database (``synchronous``, ``busy_timeout``).
    """
    path = database_path(data_dir)
    async with contextlib.AsyncExitStack() as stack:
        log_db, reader_db, identity_db = [
            await _closing(stack, await open_database(path, **options)) for _ in range(3)
        ]
        yield (
            SqliteStreamLog(log_db, clock=clock, reader=reader_db),
            SqliteDeveloperStore(identity_db),
            SqliteTokenStore(identity_db, clock=clock),
        )


async def _closing(stack: contextlib.AsyncExitStack, db: SqliteDatabase) -> SqliteDatabase:
    stack.push_async_callback(db.aclose)
    return db
