"""``postgres:URL``: one row per reading in a PostgreSQL table; its cursor commits with the rows.

Spec: ``postgres://user@host:5432/db?table=samples`` (or ``postgresql://…``; every other query
parameter, e.g. ``sslmode=require``, goes to libpq unchanged). ``table`` may be schema-qualified
(``table=lab.hr``); the default is ``samples``. Schema, created on first use::

    <table>(seq bigint, developer text, uid text, t text, ts timestamptz, value double precision,
            vector double precision[], d jsonb, synthetic boolean, PRIMARY KEY (seq, ts))
    INDEX <table>_by_user_type_time ON <table> (uid, t, ts)
    wearstream_sink_cursor(sink text PRIMARY KEY, seq bigint)   -- one row per table

``value`` holds a scalar reading, ``vector`` an array reading (ECG chunk, acceleration x/y/z);
``d`` is the reading exactly as received (numbers kept exactly). The primary key includes ``ts`` so
that, when the database has the TimescaleDB extension (``CREATE EXTENSION timescaledb``), the
table is made a hypertable partitioned by ``ts`` on creation.

Exactly once: the rows of a batch and the new cursor are one transaction, so after a crash, a
SIGKILL or a lost connection both are there or neither is, and a restarted consumer resumes at
the cursor. One table holds one developer's stream (the cursor is kept per table).

Threads: psycopg's blocking API runs in a worker thread, one call at a time (its async API is
asyncio-only; the broker and the consumer run on trio).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import trio

from ...domain.errors import InvalidReading
from ...domain.readings import is_number, parse_timestamp
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions, UnwritablePayload
from .cursor import new_payloads

T = TypeVar("T")
DEFAULT_TABLE = "samples"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
INSTALL_HINT = "the postgres sink needs psycopg: pip install 'wearstream[postgres]'"


class PostgresSink:
    """The ``postgres`` SinkFactory: ``PostgresSink("postgres://u@h/db?table=hr", options)``."""

    usage = "postgres://USER@HOST:PORT/DB[?table=NAME]"  # what `wearstream sinks` shows

    def __init__(self, target: str, options: SinkOptions) -> None:
        self.conninfo, self.table = parse_target(target)
        self.options = options
        self._connection: Any = None
        self._limiter = trio.CapacityLimiter(1)
        self._cursor = 0

    async def open(self) -> int:
        psycopg = _psycopg()
        try:
            self._connection = await self._thread(lambda: psycopg.connect(self.conninfo, connect_timeout=10))
        except psycopg.OperationalError as error:
            raise ConnectionError(f"postgres sink: cannot connect to {_safe(self.conninfo)}: {_first_line(error)}") from None
        self._cursor = await self._run(lambda conn: _prepare(conn, self.table))
        return self._cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        fresh = new_payloads(payloads, self._cursor, cursor)
        rows = [_row(p) for p in fresh]
        cursor = max(cursor, self._cursor)
        if cursor == self._cursor:
            return
        await self._run(lambda conn: _store(conn, self.table, rows, cursor))
        self._cursor = cursor

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._thread(connection.close)

    async def _run(self, call: Callable[[Any], T]) -> T:
        connection = self._connection
        if connection is None:
            raise RuntimeError(f"postgres sink {self.table.text} is not open")
        return await self._thread(lambda: call(connection))

    async def _thread(self, call: Callable[[], T]) -> T:
        return await trio.to_thread.run_sync(call, limiter=self._limiter)


class TableName:
    """A validated, optionally schema-qualified table name (quoted with psycopg.sql on use)."""

    def __init__(self, text: str) -> None:
        parts = text.split(".")
        if len(parts) > 2 or not all(_NAME.fullmatch(part) for part in parts):
            raise ValueError(
                f"postgres sink: table {text!r} is not a table name (letters, digits, _; "
                "optionally schema.table)"
            )
        self.text = text
        self.parts = parts

    def identifier(self) -> Any:
        return _psycopg().sql.Identifier(*self.parts)

    def index(self) -> Any:
        return _psycopg().sql.Identifier(self.parts[-1] + "_by_user_type_time")


def parse_target(target: str) -> tuple[str, TableName]:
    """libpq's connection URL (without ``table``) and the table the sink writes to."""
    parts = urlsplit(target)
    if parts.scheme not in ("postgres", "postgresql") or not parts.netloc and not parts.path:
        raise ValueError(
            "the postgres sink needs a URL, e.g. postgres:postgres://user@localhost/mydb?table=samples"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    tables = [value for key, value in query if key == "table"]
    rest = [(key, value) for key, value in query if key != "table"]
    table = TableName(tables[-1] if tables else DEFAULT_TABLE)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), parts.fragment)), table


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg.sql  # noqa: F401  (the submodule, for Identifier and SQL)
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return psycopg


def _prepare(connection: Any, table: TableName) -> int:
    sql = _psycopg().sql
    name = table.identifier()
    with connection.transaction():
        exists = connection.execute("SELECT to_regclass(%s)", (table.text,)).fetchone()[0]
        if exists is None:
            if len(table.parts) == 2:
                connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table.parts[0])))
            connection.execute(
                sql.SQL(
                    """CREATE TABLE {} (
                        seq bigint NOT NULL,
                        developer text NOT NULL,
                        uid text NOT NULL,
                        t text NOT NULL,
                        ts timestamptz NOT NULL,
                        value double precision,
                        vector double precision[],
                        d jsonb NOT NULL,
                        synthetic boolean NOT NULL DEFAULT false,
                        PRIMARY KEY (seq, ts)
                    )"""
                ).format(name)
            )
            connection.execute(sql.SQL("CREATE INDEX {} ON {} (uid, t, ts)").format(table.index(), name))
            if _has_timescale(connection):
                connection.execute("SELECT create_hypertable(%s, 'ts', migrate_data => true)", (table.text,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS wearstream_sink_cursor (sink text PRIMARY KEY, seq bigint NOT NULL)"
        )
        row = connection.execute("SELECT seq FROM wearstream_sink_cursor WHERE sink = %s", (table.text,)).fetchone()
    return 0 if row is None else row[0]


def _has_timescale(connection: Any) -> bool:
    return connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone() is not None


def _store(connection: Any, table: TableName, rows: list[tuple[Any, ...]], cursor: int) -> None:
    sql = _psycopg().sql
    insert = sql.SQL(
        "INSERT INTO {} (seq, developer, uid, t, ts, value, vector, d, synthetic)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
    ).format(table.identifier())
    with connection.transaction():
        with connection.cursor() as cur:
            cur.executemany(insert, rows)
        connection.execute(
            "INSERT INTO wearstream_sink_cursor (sink, seq) VALUES (%s, %s)"
            " ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq",
            (table.text, cursor),
        )


def _row(payload: Payload) -> tuple[Any, ...]:
    d = payload.d
    array = d.get("d")
    return (
        payload.seq,
        payload.developer_id,
        payload.uid,
        payload.t,
        _utc(payload),
        _double(d.get("val")),
        [_double(x) for x in array] if isinstance(array, list) else None,
        _json(payload),
        payload.synthetic,
    )


def _json(payload: Payload) -> str:
    try:
        return orjson.dumps(payload.d).decode()
    except TypeError as error:  # orjson.JSONEncodeError
        raise UnwritablePayload(payload.seq, f"d cannot be stored as JSON: {error}") from None


def _double(val: object) -> float | None:
    """A number as double precision; None where it has none (``d`` keeps it exactly)."""
    if not is_number(val):
        return None
    try:
        number = float(val)  # type: ignore[arg-type]
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _utc(payload: Payload) -> datetime:
    try:
        return parse_timestamp(payload.d.get("ts")).astimezone(timezone.utc)
    except (InvalidReading, OverflowError) as error:
        raise UnwritablePayload(payload.seq, f"ts cannot be stored as timestamptz: {error}") from None


def _safe(conninfo: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(conninfo)
    if parts.password is None:
        return conninfo
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{parts.username}:***@{host}", parts.path, parts.query, parts.fragment))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
