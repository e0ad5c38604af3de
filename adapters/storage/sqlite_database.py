"""One SQLite database file used from trio: the set-up every wearstream SQLite file shares.

The broker's storage, the producer's outbox and the ``sqlite:`` sink each keep one file in WAL
mode, and each must never block the event loop. sqlite3 calls block (a commit may wait for the
disk, or up to ``busy_timeout`` for another process's write lock), so every call runs in a worker
thread through ``trio.to_thread.run_sync`` with one ``trio.CapacityLimiter(1)`` per connection: a
connection is never used by two threads at once, which is why it is safe to create it with
``check_same_thread=False``. A worker thread is not abandoned on cancellation: a cancelled call
still finishes (or rolls back) its transaction before the cancel takes effect.

What differs between the files (schema, version checks, markers) is the ``prepare`` step each
passes to ``open``; it runs on the new connection before anyone else can use it.

Permissions. Every one of these files holds something private (the broker's: live tokens and key
hashes; the outbox's and the sink's: people's health readings), so a new file is created 0600,
whatever the umask, before SQLite opens it; SQLite then gives the ``-wal`` and ``-shm`` files the
mode of the database file. An existing file keeps the mode its owner gave it; one that others
can read is reported once, with the command that fixes it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Literal, TypeVar

import trio

log = logging.getLogger("wearstream.storage")

DEFAULT_BUSY_TIMEOUT = 10.0  # seconds to wait for another connection's write lock
PRIVATE_FILE = 0o600

Synchronous = Literal["NORMAL", "FULL"]
T = TypeVar("T")


# Result codes (the primary code, ``sqlite_errorcode & 0xFF``) that say the file cannot be written
# *now* for a reason outside the call: it may work later, so the caller should retry, not crash.
_UNAVAILABLE = {
    5: "SQLITE_BUSY",  # another process holds the write lock beyond the busy timeout
    6: "SQLITE_LOCKED",
    8: "SQLITE_READONLY",  # the file or its folder was made read-only
    10: "SQLITE_IOERR",
    13: "SQLITE_FULL",  # the disk (or the file system's quota) is full
    14: "SQLITE_CANTOPEN",  # e.g. no room or no permission for the -wal/-shm files
}


def is_unavailable(error: sqlite3.Error) -> bool:
    """Whether ``error`` means the file cannot be used now but may be later."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, sqlite3.OperationalError) and code is not None and code & 0xFF in _UNAVAILABLE


class SqliteDatabase:
    """One sqlite3 connection, used from worker threads one call at a time.

    With ``unavailable_as`` (an exception class), errors for which ``is_unavailable()`` holds are
    raised as that class, naming the file: the broker's stores raise the port's
    StorageUnavailable, so the broker needs to know nothing of SQLite."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        name: str = "SQLite database",
        unavailable_as: type[Exception] | None = None,
    ) -> None:
        self._connection = connection
        self._limiter = trio.CapacityLimiter(1)
        self._closed = False
        self._name = name
        self._unavailable_as = unavailable_as
        self.path = path

    @classmethod
    async def open(
        cls,
        path: Path,
        prepare: Callable[[sqlite3.Connection], object],
        *,
        synchronous: Synchronous,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        name: str = "SQLite database",
        unavailable_as: type[Exception] | None = None,
    ) -> "SqliteDatabase":
        """Open (creating if absent) the file at ``path`` in WAL mode and ``prepare`` it.

        ``name`` says what the file is in errors (``outbox``: "outbox PATH is closed").
        """
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        connection = await trio.to_thread.run_sync(_connect, path, synchronous, busy_timeout, prepare)
        return cls(connection, path, name, unavailable_as)

    async def run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``call(connection)`` in a worker thread, after any call already running."""
        if self._closed:
            raise RuntimeError(f"{self._name} {self.path} is closed")
        try:
            return await trio.to_thread.run_sync(call, self._connection, limiter=self._limiter)
        except sqlite3.OperationalError as error:
            if self._unavailable_as is None or not is_unavailable(error):
                raise
            raise self._unavailable_as(f"{self._name} {self.path}: {error}") from error

    async def aclose(self) -> None:
        """Close the connection (after any call in flight); closing twice is fine."""
        if self._closed:
            return
        self._closed = True
        with trio.CancelScope(shield=True):  # a cancelled close must still release the file
            await trio.to_thread.run_sync(self._connection.close, limiter=self._limiter)


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE takes the write lock up front (another writer of the file waits for it),
    so the transaction cannot deadlock later."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _connect(
    path: Path,
    synchronous: Synchronous,
    busy_timeout: float,
    prepare: Callable[[sqlite3.Connection], object],
) -> sqlite3.Connection:
    existed = not create_private(path)
    # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
    connection = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={synchronous}")
        prepare(connection)
    except BaseException:
        connection.close()
        raise
    if existed:  # only once it is known to be ours: a file that is no database is refused alone
        warn_if_shared(path)
    return connection


def create_private(path: Path) -> bool:
    """Create ``path`` empty and 0600 if it does not exist (an empty file is an empty SQLite
    database); whether it was created."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
    except FileExistsError:
        return False
    return True


def warn_if_shared(path: Path) -> None:
    """A database that holds private data but that other users can read: say so."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "%s is readable by other users (mode %o) and holds private data: chmod 600 %s",
            path, mode, path,
        )
