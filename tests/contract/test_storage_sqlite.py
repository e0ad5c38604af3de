"""The SQLite stores pass the storage contracts on a real file; plus what only they promise:
persistence of the whole data dir, schema versioning, durability settings, atomic takes across
connections, and refusing a payload that is not JSON."""

from __future__ import annotations

import json
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import trio

from wearstream.adapters.storage.memory import PURGE_GRACE
from wearstream.adapters.storage.sqlite import (
    DB_FILENAME,
    SCHEMA_VERSION,
    SchemaError,
    SqliteDeveloperStore,
    SqliteStreamLog,
    SqliteTokenStore,
    open_database,
    open_sqlite_stores,
)
from wearstream.domain.identity import Role, Token
from wearstream.domain.stream import ReplayRange, SubmitKey
from wearstream.ports.storage import Retention
from wearstream.testing.contracts import (
    DeveloperStoreContract,
    StreamLogContract,
    TokenStoreContract,
)
from wearstream.testing.contracts.developer_store import developer
from wearstream.testing.contracts.token_store import NOW, TTL, consumer_token, producer_token
from wearstream.testing.contracts.values import assert_same_payloads, payload


class TestSqliteStreamLog(StreamLogContract):
    persistent = True

    async def make_log(self, path: Path) -> SqliteStreamLog:
        return await SqliteStreamLog.open(path / DB_FILENAME)


class TestSqliteDeveloperStore(DeveloperStoreContract):
    persistent = True

    async def make_developers(self, path: Path) -> SqliteDeveloperStore:
        return await SqliteDeveloperStore.open(path / DB_FILENAME)


class TestSqliteTokenStore(TokenStoreContract):
    persistent = True

    async def make_tokens(self, path: Path) -> SqliteTokenStore:
        return await SqliteTokenStore.open(path / DB_FILENAME)


# The whole data dir ------------------------------------------------------------------------


async def test_a_data_dir_keeps_everything_across_a_restart(tmp_path: Path) -> None:
    written = [
        payload("dev_1", 1, key=SubmitKey("outbox", 1), d={"val": 61, "type": "HR"}),
        payload("dev_1", 2, key=SubmitKey("outbox", 2), synthetic=True),
        payload("dev_2", 1),
    ]
    async with open_sqlite_stores(tmp_path) as (log, developers, tokens):
        await developers.add(developer("dev_1", "One", key="secret-1"))
        await developers.add(developer("dev_2", "Two", key="secret-2"))
        await developers.revoke("dev_2")
        await log.append(written)
        kept = producer_token("tok-kept")
        await tokens.put(kept)
        await tokens.put(consumer_token("tok-used"))
        assert await tokens.take("tok-used") is not None
    assert (tmp_path / DB_FILENAME).is_file()

    async with open_sqlite_stores(tmp_path) as (log, developers, tokens):
        one, two = await developers.get("dev_1"), await developers.get("dev_2")
        assert one is not None and two is not None and two.revoked
        one.check_key("secret-1")
        assert one.key_hash != "secret-1"  # only the hash is stored
        assert_same_payloads(await log.read_range("dev_1", ReplayRange(0, 3), 10), written[:2])
        assert (await log.last_seq("dev_1"), await log.last_seq("dev_2")) == (2, 1)
        assert await log.last_keys("dev_1") == {("user-1", "outbox"): 2}
        assert await tokens.take("tok-used") is None
        assert await tokens.take("tok-kept") == kept


async def test_the_key_is_stored_only_as_its_hash(tmp_path: Path) -> None:
    async with open_sqlite_stores(tmp_path) as (_, developers, _tokens):
        await developers.add(developer("dev_1", key="the-plain-api-key"))
    assert b"the-plain-api-key" not in (tmp_path / DB_FILENAME).read_bytes()


# Schema and settings -----------------------------------------------------------------------


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]


async def test_a_new_file_gets_the_schema_version_and_wal(tmp_path: Path) -> None:
    log = await SqliteStreamLog.open(tmp_path / "w.db")
    await log.aclose()
    assert _pragma(tmp_path / "w.db", "user_version") == SCHEMA_VERSION
    assert _pragma(tmp_path / "w.db", "journal_mode") == "wal"


async def test_a_file_from_a_newer_wearstream_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaError, match="newer"):
        await open_database(path)


async def test_a_file_that_is_not_a_database_is_an_sqlite_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        await open_database(path)


@pytest.mark.parametrize("synchronous, level", [("NORMAL", 1), ("FULL", 2)])
async def test_synchronous_is_an_option(tmp_path: Path, synchronous: str, level: int) -> None:
    db = await open_database(tmp_path / "s.db", synchronous=synchronous)  # type: ignore[arg-type]
    try:
        assert await db.run(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == level
    finally:
        await db.aclose()


async def test_an_unknown_synchronous_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        await open_database(tmp_path / "s.db", synchronous="OFF")  # type: ignore[arg-type]


async def test_a_closed_database_says_so(tmp_path: Path) -> None:
    log = await SqliteStreamLog.open(tmp_path / "c.db")
    await log.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await log.last_seq("dev_1")


# Bad payloads ------------------------------------------------------------------------------


async def test_a_d_that_is_not_json_is_refused_with_its_seq(tmp_path: Path) -> None:
    log = await SqliteStreamLog.open(tmp_path / "j.db")
    try:
        batch = [payload("dev_1", 1), payload("dev_1", 2, d={"when": object()})]
        with pytest.raises(ValueError, match="seq 2.*JSON"):
            await log.append(batch)
        assert await log.last_seq("dev_1") == 0
    finally:
        await log.aclose()


# Several connections (as several broker processes would have) -----------------------------


async def test_takes_from_two_connections_hand_each_token_out_once(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    first, second = await SqliteTokenStore.open(path), await SqliteTokenStore.open(path)
    try:
        values = [f"tok-{n}" for n in range(40)]
        for value in values:
            await first.put(producer_token(value))
        taken: list[str] = []

        async def take(store: SqliteTokenStore, value: str) -> None:
            token = await store.take(value)
            if token is not None:
                taken.append(token.value)

        async with trio.open_nursery() as nursery:
            for value in values:
                nursery.start_soon(take, first, value)
                nursery.start_soon(take, second, value)
        assert sorted(taken) == sorted(values)
    finally:
        await first.aclose()
        await second.aclose()


_TAKER = """
import json, sys, time
from pathlib import Path
import trio
from wearstream.adapters.storage.sqlite import SqliteTokenStore

async def main(path, go, values):
    store = await SqliteTokenStore.open(path)
    try:
        print("ready", flush=True)
        while not Path(go).exists():
            await trio.sleep(0.005)
        taken = [v for v in values if await store.take(v) is not None]
    finally:
        await store.aclose()
    print(json.dumps(taken), flush=True)

trio.run(main, sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
"""


async def test_two_processes_taking_the_same_tokens_never_share_one(tmp_path: Path) -> None:
    path, go = tmp_path / DB_FILENAME, tmp_path / "go"
    values = [f"tok-{n}" for n in range(300)]
    store = await SqliteTokenStore.open(path)
    try:
        for value in values:  # more than PURGE_EVERY puts: fresh tokens survive the purge
            await store.put(producer_token(value))
    finally:
        await store.aclose()
    results: list[list[str]] = []

    async def taker(order: list[str]) -> None:
        argv = [sys.executable, "-c", _TAKER, str(path), str(go), json.dumps(order)]
        done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
        assert done.returncode == 0, done.stderr.decode()
        results.append(json.loads(done.stdout.decode().splitlines()[-1]))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(taker, values)
            nursery.start_soon(taker, values[::-1])
            await trio.sleep(0)
            go.touch()  # the children poll for it, so they start taking at about the same time
    first, second = map(set, results)
    assert not first & second
    assert first | second == set(values)


async def test_a_second_connection_sees_appends_and_refuses_a_reused_seq(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    writer, other = await SqliteStreamLog.open(path), await SqliteStreamLog.open(path)
    try:
        await writer.append([payload("dev_1", 1), payload("dev_1", 2)])
        assert await other.last_seq("dev_1") == 2
        with pytest.raises(ValueError, match="seq 2"):
            await other.append([payload("dev_1", 2)])
    finally:
        await writer.aclose()
        await other.aclose()


# Token purge -------------------------------------------------------------------------------


class StoppedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


async def test_expired_tokens_are_purged_every_few_puts(tmp_path: Path) -> None:
    clock = StoppedClock(NOW)
    tokens = await SqliteTokenStore.open(tmp_path / "t.db", clock=clock, purge_every=4)
    try:
        for n in range(3):
            await tokens.put(Token.mint(f"old-{n}", Role.CONSUMER, "dev_1", None, NOW, TTL))
        clock.at = NOW + TTL + PURGE_GRACE + timedelta(seconds=1)
        await tokens.put(Token.mint("fresh", Role.CONSUMER, "dev_1", None, clock.at, TTL))
        assert await tokens.count() == 1
        assert await tokens.take("old-0") is None
        assert await tokens.take("fresh") is not None
    finally:
        await tokens.aclose()


async def test_tokens_within_the_grace_are_kept(tmp_path: Path) -> None:
    clock = StoppedClock(NOW + TTL + PURGE_GRACE - timedelta(seconds=1))
    tokens = await SqliteTokenStore.open(tmp_path / "t.db", clock=clock, purge_every=1)
    try:
        await tokens.put(Token.mint("late", Role.CONSUMER, "dev_1", None, NOW, TTL))
        assert await tokens.take("late") is not None
    finally:
        await tokens.aclose()


# Schema upgrade ----------------------------------------------------------------------------


async def test_a_version_1_file_is_upgraded_and_keeps_its_payloads(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    with sqlite3.connect(path) as connection:
        connection.executescript(
            """
            CREATE TABLE payloads (developer_id TEXT NOT NULL, seq INTEGER NOT NULL,
                uid TEXT NOT NULL, t TEXT NOT NULL, d TEXT NOT NULL,
                synthetic INTEGER NOT NULL DEFAULT 0, key_source TEXT, key_counter INTEGER,
                PRIMARY KEY (developer_id, seq)) WITHOUT ROWID;
            CREATE TABLE streams (developer_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)
                WITHOUT ROWID;
            INSERT INTO payloads VALUES ('dev_1', 1, 'u', 'HEART_RATE', '{"val":60}', 0, NULL, NULL);
            INSERT INTO streams VALUES ('dev_1', 1);
            PRAGMA user_version = 1;
            """
        )
    log = await SqliteStreamLog.open(path)
    try:
        hour = timedelta(hours=1)
        # Old payloads count as stored at the upgrade: an hour's retention keeps them.
        assert await log.trim(Retention(max_age=hour), datetime.now(timezone.utc)) == 0
        assert [p.seq for p in await log.read_range("dev_1", ReplayRange(0, 5), 5)] == [1]
        await log.append([payload("dev_1", 2)])
        assert await log.trimmed_upto("dev_1") == 0
    finally:
        await log.aclose()
    assert _pragma(path, "user_version") == SCHEMA_VERSION
