"""The LinkCodeStore port on SQLite: producer links in the broker's database file.

A table of its own (``producer_links``), created on open if missing, on a connection of its own:
links are minted and redeemed a few times a day, so they never queue behind the log's appends,
and the broker's schema version (sqlite.py) stays the log's and tokens' business: the table is
new, not a change to anything a previous version stored. ``redeem`` is one ``DELETE … RETURNING``
statement, so a link is spent at most once even across processes.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from ...domain.producer_links import LinkCode
from ...ports.clock import Clock
from ..clock import SystemClock
from .memory import PURGE_EVERY, PURGE_GRACE
from .sqlite import open_database
from .sqlite_database import SqliteDatabase

_TABLE = (
    # expires_at keeps the exact datetime (ISO 8601); expires_ts is for the purge's comparison.
    """CREATE TABLE IF NOT EXISTS producer_links (
        code TEXT PRIMARY KEY,
        developer_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        expires_ts REAL NOT NULL
    )"""
)


class SqliteLinkCodeStore:
    def __init__(self, db: SqliteDatabase, *, clock: Clock | None = None, purge_every: int = PURGE_EVERY) -> None:
        self.db = db
        self._clock: Clock = clock or SystemClock()
        self._purge_every = purge_every
        self._puts = 0

    @classmethod
    async def open(
        cls, path: str | Path, *, clock: Clock | None = None, purge_every: int = PURGE_EVERY, **options: Any
    ) -> "SqliteLinkCodeStore":
        """A store on its own connection to the database file at ``path`` (``options`` go to
        ``sqlite.open_database``: ``synchronous``, ``busy_timeout``); closed by ``aclose``."""
        db = await open_database(path, **options)
        try:
            await db.run(lambda connection: connection.execute(_TABLE))
        except BaseException:
            await db.aclose()
            raise
        return cls(db, clock=clock, purge_every=purge_every)

    async def put(self, link: LinkCode) -> None:
        """Store a new link; raises KeyError when the code is taken (never overwrite a grant)."""
        row = (link.code, link.developer_id, link.user_id, link.expires_at.isoformat(), link.expires_at.timestamp())

        def insert(connection: sqlite3.Connection) -> None:
            try:
                connection.execute(
                    "INSERT INTO producer_links (code, developer_id, user_id, expires_at, expires_ts)"
                    " VALUES (?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.IntegrityError:
                raise KeyError("a producer link with this code already exists") from None

        await self.db.run(insert)
        self._puts += 1
        if self._puts % self._purge_every == 0:
            await self.purge_expired()

    async def redeem(self, code: str) -> LinkCode | None:
        def delete(connection: sqlite3.Connection) -> LinkCode | None:
            # fetchall steps the statement to its end, which commits the implicit transaction.
            rows = connection.execute(
                "DELETE FROM producer_links WHERE code = ? RETURNING developer_id, user_id, expires_at",
                (code,),
            ).fetchall()
            if not rows:
                return None
            developer_id, user_id, expires_at = rows[0]
            return LinkCode(code, developer_id, user_id, datetime.fromisoformat(expires_at))

        return await self.db.run(delete)

    async def purge_expired(self) -> int:
        """Drop links that expired more than PURGE_GRACE ago; returns how many went."""
        cutoff = (self._clock.now() - PURGE_GRACE).timestamp()

        def delete(connection: sqlite3.Connection) -> int:
            return connection.execute("DELETE FROM producer_links WHERE expires_ts < ?", (cutoff,)).rowcount

        return await self.db.run(delete)

    async def count(self) -> int:
        """How many links are stored (expired ones not yet purged included)."""
        return await self.db.run(lambda connection: connection.execute("SELECT count(*) FROM producer_links").fetchone()[0])

    async def aclose(self) -> None:
        await self.db.aclose()
