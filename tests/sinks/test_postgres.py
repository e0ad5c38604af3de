"""The ``postgres:`` sink on a real PostgreSQL server passes the SampleSink contract, and its table
is what the docs promise (timestamptz, double precision[], jsonb)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import pytest

from wearstream.adapters.sinks.postgres import PostgresSink, parse_target
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.contracts.sinks import SinkContract, Stored, reading
from wearstream.testing.postgres_server import PostgresDatabase, postgres_admin_url

psycopg = pytest.importorskip("psycopg", reason="the postgres sink's tests need psycopg (the test extra has it)")


@pytest.fixture(scope="module")
def database() -> Iterator[PostgresDatabase]:
    admin = postgres_admin_url()
    database = PostgresDatabase(next(admin)).create()
    try:
        yield database
    finally:
        database.drop()
        admin.close()


def table_of(path: Path) -> str:
    """One table per test directory, so the tests of a module share a database, not data."""
    return "t_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]


class TestPostgresSink(SinkContract):
    db: PostgresDatabase

    @pytest.fixture
    async def medium(self, request: pytest.FixtureRequest, database: PostgresDatabase) -> None:
        request.instance.db = database

    def target(self, path: Path) -> str:
        return f"{self.db.url}?table={table_of(path)}"

    def make_sink(self, path: Path) -> PostgresSink:
        return PostgresSink(self.target(path), SinkOptions())

    async def stored(self, path: Path) -> list[Stored]:
        table = table_of(path)
        if not self.db.query("SELECT to_regclass(%s)", (table,))[0][0]:
            return []
        return [tuple(row) for row in self.db.query(f"SELECT seq, uid, t, d FROM {table} ORDER BY seq")]

    async def tear(self, path: Path) -> bool:
        """A transaction that wrote rows and moved the cursor but never committed."""
        with psycopg.connect(self.db.url) as connection:
            connection.execute(
                f"INSERT INTO {table_of(path)} (seq, developer, uid, t, ts, d)"
                " VALUES (4, 'dev_1', 'user-1', 'HEART_RATE', now(), '{}')"
            )
            connection.execute("UPDATE wearstream_sink_cursor SET seq = 4 WHERE sink = %s", (table_of(path),))
            connection.rollback()  # what a connection lost before COMMIT amounts to
        return True

    def spec(self, path: Path) -> tuple[str, SinkOptions]:
        return f"postgres:{self.target(path)}", SinkOptions()


async def test_rows_have_typed_columns(database: PostgresDatabase, tmp_path: Path) -> None:
    sink = PostgresSink(f"{database.url}?table=lab.typed", SinkOptions())
    await sink.open()
    try:
        await sink.write(
            [
                reading(1, val=72),
                reading(2, t="ACCELERATION", d=[0.5, 9.81, -0.25]),
            ],
            2,
        )
    finally:
        await sink.aclose()
    rows = database.query(
        "SELECT seq, developer, t, ts AT TIME ZONE 'UTC', value, vector, synthetic FROM lab.typed ORDER BY seq"
    )
    assert [(seq, dev, t, str(ts), value, vector, synthetic) for seq, dev, t, ts, value, vector, synthetic in rows] == [
        (1, "dev_1", "HEART_RATE", "2025-01-01 10:00:01.250000", 72.0, None, False),
        (2, "dev_1", "ACCELERATION", "2025-01-01 10:00:02.250000", None, [0.5, 9.81, -0.25], False),
    ]


def test_the_target_names_a_url_and_a_table() -> None:
    conninfo, table = parse_target("postgres://me@db.example/health?sslmode=require&table=hr")
    assert conninfo == "postgres://me@db.example/health?sslmode=require"
    assert table.parts == ["hr"]
    assert parse_target("postgresql://me@h/db")[1].text == "samples"


@pytest.mark.parametrize("target", ["", "/tmp/x.db", "postgres://h/db?table=a;drop", "postgres://h/db?table=a.b.c"])
def test_a_bad_target_is_one_clear_error(target: str) -> None:
    with pytest.raises(ValueError, match="postgres"):
        parse_target(target)


async def test_an_unreachable_server_is_one_clear_error() -> None:
    sink = PostgresSink("postgres://nobody@127.0.0.1:1/none?table=x", SinkOptions())
    with pytest.raises(ConnectionError, match="cannot connect to postgres://nobody@127.0.0.1:1/none"):
        await sink.open()
