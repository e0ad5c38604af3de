"""Redis storage: the shared stream log, developers, tokens and consumer leases of a broker cluster.

Several broker nodes share one Redis (``wearstream broker --backend redis://HOST:PORT/DB``). The
client is resp.py (a small RESP layer on hiredis' C parser, chosen over coredis by measurement:
it says why); ``open_redis_stores(url)`` opens one client (a connection pool) and yields every
store on it, closing it on exit.

Keys (under ``prefix``, default ``wearstream:``):

- ``log:<dev>``: the developer's log, a Redis Stream whose entry ids are ``<seq>-0``, so Redis
  itself refuses an id that does not rise. Fields: uid, t, d (JSON), at (ms, Redis clock),
  s (synthetic), ks/kc (idempotency key).
- ``meta:<dev>``: hash of ``last`` (highest seq ever, kept when retention trims) and ``trimmed``.
- ``keys:<dev>``: hash of the highest idempotency counter per JSON ``[uid, source]``.
- ``logs``: the set of developers that have a log (what retention walks).
- ``dev:<id>`` hash and ``devs`` set: developers (API keys only as their hashes).
- ``tok:<value>``: a token, as JSON, expiring ``PURGE_GRACE`` after the token does.
- ``lease:<dev>``: consumer leases, holder -> expiry (ms, Redis clock).
- ``batch:<uuid>``: the answer of an append, kept a few minutes so that a retried append (its
  reply lost with the connection) is not stored twice.
- ``appends`` (a pub/sub channel, not a key): every append publishes, per developer, the last
  seq it stored and the payloads themselves (up to PUBLISH_LIMIT bytes of them); ``follow``
  delivers from the message what follows on from its caller's position, and reads a log only
  when the message leaves a gap (or had no room for the payloads). The channel had another name
  (``appended``, seqs only) before the payloads rode along: during a rolling upgrade from such a
  version the old and new nodes see each other's appends only at the catch-up read, once a
  second (CATCH_UP_EVERY).

Batching. The hub gathers readings for up to ``commit_window`` before an append, so that at
1,000 producers × 1 Hz one script call stores about ten readings. A node dispatches what it
appended itself from the script's answer (when it follows on from what it dispatched), so it does
not read its own appends back; what other nodes append it takes from their notifications, so
following costs no round trip to Redis (measured: the XREAD per notification was a quarter of
the CPU of the node with the consumer, at 3 nodes).

Seqs are allocated by one Lua script per batch (redis_scripts.APPEND), so two nodes appending for
one developer never collide, and a resend of an idempotency key already stored is dropped there,
whichever node got it. Tokens are taken with GETDEL: once, on any node.

Redis down. Every call rides out a Redis that is unreachable or loading (a restart): it retries
with backoff until Redis answers, so the hub waits (producers feel backpressure) instead of
failing. A retried append is safe (see ``batch:``); a retried ``take`` may find its token gone
with the lost reply: the client is refused (4001) and mints another, it is never let in twice.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping, Sequence, TypeVar

import attrs
import orjson
import trio

from ...domain.backoff import Backoff
from ...domain.identity import Developer, Role, Token
from ...domain.stream import Payload, ReplayRange, SubmitKey
from ...ports.storage import Retention, StorageUnavailable, Submission
from . import redis_scripts
from .resp import RedisConnectionError, ReplyError, RespClient, Script
from .checks import check_appendable, check_limit
from .memory import PURGE_GRACE

log = logging.getLogger("wearstream.storage.redis")

DEFAULT_PREFIX = "wearstream:"
BATCH_RESULT_TTL_MS = 5 * 60 * 1000
FOLLOW_PAGE = 1000
PUBLISH_LIMIT = 65536  # bytes of payloads an append publishes; past it, followers read the log
FOLLOW_IDLE = 0.1  # seconds between looks at positions() while there is nothing to follow
CATCH_UP_EVERY = 1.0  # seconds: a read of every followed log, in case a notification was missed
COMMIT_WINDOW = 0.010  # seconds the hub may gather readings into one append (≥10 at 1,000/s)
TRIM_PAGE = 500
LEASE_TTL = timedelta(seconds=10)
_MAX_STREAM_ID = 2**64 - 1
_MAX_COUNT = 2**31
_UNREACHABLE = (RedisConnectionError, TimeoutError, OSError)
# How Redis's error replies start when it refuses writes for a while (see RedisConnection.call).
_REFUSING_WRITES = ("OOM", "MISCONF", "READONLY", "NOREPLICAS", "MASTERDOWN")
_LOADING = "LOADING"  # a restarted Redis reading its data back: wait, as for one that is down

T = TypeVar("T")


class RedisUnreachable(ConnectionError):
    """Redis did not answer when the stores were opened."""


@attrs.frozen
class RedisKeys:
    """Where each thing lives, under one prefix (so several deployments may share a Redis)."""

    prefix: str = DEFAULT_PREFIX

    def log(self, developer_id: str) -> str:
        return f"{self.prefix}log:{developer_id}"

    def meta(self, developer_id: str) -> str:
        return f"{self.prefix}meta:{developer_id}"

    def keys(self, developer_id: str) -> str:
        return f"{self.prefix}keys:{developer_id}"

    def developer(self, developer_id: str) -> str:
        return f"{self.prefix}dev:{developer_id}"

    def token(self, value: str) -> str:
        return f"{self.prefix}tok:{value}"

    def lease(self, developer_id: str) -> str:
        return f"{self.prefix}lease:{developer_id}"

    def batch(self) -> str:
        return f"{self.prefix}batch:{uuid.uuid4().hex}"

    @property
    def logs(self) -> str:
        return f"{self.prefix}logs"

    @property
    def appends(self) -> str:
        return f"{self.prefix}appends"

    @property
    def developers(self) -> str:
        return f"{self.prefix}devs"


class RedisConnection:
    """One client shared by the stores, and the retry loop every call goes through."""

    def __init__(self, client: RespClient, keys: RedisKeys) -> None:
        self.client = client
        self.keys = keys
        self._scripts: dict[str, Script] = {}

    @classmethod
    async def open(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> "RedisConnection":
        """A client of its own (for one store alone), checked with a PING; ``aclose`` it."""
        connection = cls(RespClient(url), RedisKeys(prefix))
        try:
            await connection.client.execute("PING")
        except BaseException:
            await connection.aclose()
            raise
        return connection

    async def aclose(self) -> None:
        """Close the client; closing twice is fine."""
        await self.client.aclose()

    async def execute(self, what: str, *args: Any) -> Any:
        """One command, through ``call``."""
        return await self.call(what, lambda: self.client.execute(*args))

    async def run_script(self, what: str, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """The script of ``source`` (sent whole only when Redis lacks it), through ``call``."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = Script(source)
        return await self.call(what, lambda: self.client.run_script(script, keys, args))

    async def call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` until Redis answers: a Redis that is down or restarting is waited for.

        A Redis that answers but refuses to write (out of memory under ``noeviction``, a failing
        snapshot with ``stop-writes-on-bgsave-error``, a read-only replica) raises the port's
        StorageUnavailable: that lasts until an operator acts, so the broker refuses new work
        and retries, rather than wait here with the caller's producers piling up."""
        backoff: Backoff | None = None  # made at the first failure: most calls never fail
        while True:
            try:
                return await operation()
            except ReplyError as error:
                if str(error).startswith(_REFUSING_WRITES):
                    raise StorageUnavailable(f"Redis refused {what}: {error}") from error
                if not str(error).startswith(_LOADING):
                    raise
                problem: Exception = error
            except _UNREACHABLE as error:
                problem = error
            if backoff is None:
                backoff = Backoff(initial=0.05, maximum=2.0)
            delay = backoff.next_delay()
            log_at = logging.WARNING if backoff.attempts in (1, 10) else logging.DEBUG
            log.log(log_at, "Redis unreachable during %s (%s); retrying in %.2f s", what, problem, delay)
            await trio.sleep(delay)


# The stream log ----------------------------------------------------------------------------


class RedisStreamLog:
    """The StreamLog and SharedStreamLog ports on Redis Streams."""

    commit_window = COMMIT_WINDOW

    def __init__(self, redis: RedisConnection, *, owns_connection: bool = False) -> None:
        self.redis = redis
        self._keys = redis.keys
        self._owns_connection = owns_connection

    @classmethod
    async def open(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> "RedisStreamLog":
        """A store on a connection of its own, closed by ``aclose``."""
        return cls(await RedisConnection.open(url, prefix=prefix), owns_connection=True)

    async def append(self, payloads: Sequence[Payload]) -> None:
        if not payloads:
            return
        developers = list(dict.fromkeys(p.developer_id for p in payloads))
        stored = {dev: await self.last_seq(dev) for dev in developers}
        check_appendable(payloads, stored.__getitem__)
        entries = [
            (p.developer_id, str(p.seq), p.uid, p.t, _dumps(index, p), p.synthetic, p.key)
            for index, p in enumerate(payloads)
        ]
        try:
            await self._run_append(developers, {}, entries)
        except ReplyError as error:
            if "WEARSTREAM" not in str(error):
                raise
            # Another node appended between the check above and the script: same refusal.
            raise ValueError(str(error).split("WEARSTREAM ", 1)[-1]) from None

    async def append_new(
        self, submissions: Sequence[Submission], floors: dict[str, int]
    ) -> list[Payload | None]:
        if not submissions:
            return []
        developers = list(dict.fromkeys(s.developer_id for s in submissions))
        entries = [
            (s.developer_id, "", s.uid, s.t, _dumps(index, s), s.synthetic, s.key)
            for index, s in enumerate(submissions)
        ]
        seqs = await self._run_append(developers, floors, entries)
        return [
            None if seq == 0 else Payload(s.developer_id, int(seq), s.uid, s.t, s.d, s.synthetic, s.key)
            for s, seq in zip(submissions, seqs)
        ]

    async def _run_append(
        self,
        developers: list[str],
        floors: Mapping[str, int],
        entries: list[tuple[str, str, str, str, bytes, bool, SubmitKey | None]],
    ) -> list[int]:
        index = {dev: i + 1 for i, dev in enumerate(developers)}
        keys = [self._keys.batch(), self._keys.logs]
        for dev in developers:
            keys += [self._keys.log(dev), self._keys.meta(dev), self._keys.keys(dev)]
        args: list[Any] = [BATCH_RESULT_TTL_MS, len(developers), *developers]
        args += [str(floors.get(dev, 0)) for dev in developers]
        args += [self._keys.appends, PUBLISH_LIMIT]
        for dev, seq, uid, t, d, synthetic, key in entries:
            field = b"" if key is None else orjson.dumps([uid, key.source])
            source, counter = (None, None) if key is None else (key.source, str(key.counter))
            published = orjson.dumps([uid, t, orjson.Fragment(d), synthetic, source, counter])[1:]
            args += [index[dev], seq, uid, t, d, "1" if synthetic else "0", field]
            args += ["", "", published] if key is None else [source, counter, published]
        result = await self.redis.run_script("append", redis_scripts.APPEND, keys, args)
        return [int(seq) for seq in result]

    async def read_range(self, developer_id: str, rng: ReplayRange, limit: int) -> list[Payload]:
        check_limit(limit)
        first, last = max(rng.after + 1, 1), min(rng.before - 1, _MAX_STREAM_ID)
        if first > last or limit == 0:
            return []
        key = self._keys.log(developer_id)
        entries = await self.redis.execute(
            "read_range", "XRANGE", key, f"{first}-0", f"{last}-0", "COUNT", min(limit, _MAX_COUNT)
        )
        return [_payload(developer_id, entry) for entry in entries]

    async def last_seq(self, developer_id: str) -> int:
        return await self._meta(developer_id, b"last")

    async def trimmed_upto(self, developer_id: str) -> int:
        return await self._meta(developer_id, b"trimmed")

    async def _meta(self, developer_id: str, field: bytes) -> int:
        key = self._keys.meta(developer_id)
        value = await self.redis.execute("meta", "HGET", key, field)
        return 0 if value is None else int(value)

    async def last_keys(self, developer_id: str) -> dict[tuple[str, str], int]:
        key = self._keys.keys(developer_id)
        stored = await self.redis.execute("last_keys", "HGETALL", key)
        result: dict[tuple[str, str], int] = {}
        for field, counter in _pairs(stored):
            uid, source = orjson.loads(field)
            result[(uid, source)] = int(counter)
        return result

    async def trim(self, retention: Retention, now: datetime) -> int:
        if retention.unlimited:
            return 0
        members = await self.redis.execute("trim", "SMEMBERS", self._keys.logs)
        removed = 0
        for member in sorted(members):
            developer_id = member.decode()
            if retention.max_length is not None:
                removed += await self._trim(developer_id, "MAXLEN", str(retention.max_length))
            if retention.max_age is not None:
                cutoff = int((now - retention.max_age).timestamp() * 1000)
                minid = await self._first_stored_since(developer_id, cutoff)
                removed += await self._trim(developer_id, "MINID", f"{minid}-0")
        return removed

    async def _trim(self, developer_id: str, strategy: str, threshold: str) -> int:
        keys = [self._keys.log(developer_id), self._keys.meta(developer_id)]
        return int(await self.redis.run_script("trim", redis_scripts.TRIM, keys, [strategy, threshold]))

    async def _first_stored_since(self, developer_id: str, cutoff_ms: int) -> int:
        """The seq of the first payload stored at or after ``cutoff_ms`` (or one past the last)."""
        key, start = self._keys.log(developer_id), "-"
        while True:
            page = await self.redis.execute("trim", "XRANGE", key, start, "+", "COUNT", TRIM_PAGE)
            for entry in page:
                if int(dict(_pairs(entry[1]))[b"at"]) >= cutoff_ms:
                    return _seq(entry)
            if len(page) < TRIM_PAGE:
                return (_seq(page[-1]) if page else 0) + 1
            start = f"({page[-1][0].decode()}"

    async def follow(
        self,
        positions: Callable[[], Mapping[str, int]],
        deliver: Callable[[list[Payload]], None],
    ) -> None:
        """Told of every append on the ``appends`` channel, with its payloads: deliver what
        follows on from ``positions()``; read a log only when the message leaves a gap after
        the position (or carried no payloads, past PUBLISH_LIMIT). Appends the caller dispatched
        itself cost it nothing but the message. After (re)subscribing, and every
        CATCH_UP_EVERY, every followed log is read anyway, so a notification missed while the
        subscription was down delays a payload, never loses it.
        Its own appends are delivered from their message too when it comes in before
        ``append_new`` has returned (the caller then skips them): no read of the log either way.
        """
        backoff = Backoff(initial=0.05, maximum=2.0)
        while True:
            try:
                async with self.redis.client.subscription(self._keys.appends) as subscription:
                    backoff.reset()
                    while True:
                        await self._catch_up(positions(), deliver)
                        with trio.move_on_after(CATCH_UP_EVERY):
                            while True:
                                told = orjson.loads(await subscription.message())
                                await self._catch_up(_delivered(told, positions(), deliver), deliver)
            except (*_UNREACHABLE, ReplyError) as error:  # ReplyError: LOADING, after a restart
                delay = backoff.next_delay()
                log.warning("Redis unreachable while following logs (%s); retrying in %.2f s", error, delay)
                await trio.sleep(delay)

    async def _catch_up(self, wanted: Mapping[str, int], deliver: Callable[[list[Payload]], None]) -> None:
        """Deliver what the logs of ``wanted`` hold after its positions, a page at a time."""
        while wanted:
            streams = {self._keys.log(dev): f"{seq}-0" for dev, seq in wanted.items()}
            developer_of = {key.encode(): dev for dev, key in zip(wanted, streams)}
            reply = await self.redis.client.execute(
                "XREAD", "COUNT", FOLLOW_PAGE, "STREAMS", *streams, *streams.values()
            )
            full: dict[str, int] = {}
            for key, entries in reply or ():
                developer_id = developer_of[key]
                payloads = [_payload(developer_id, entry) for entry in entries]
                deliver(payloads)
                if len(entries) == FOLLOW_PAGE:
                    full[developer_id] = payloads[-1].seq
            wanted = full

    async def aclose(self) -> None:
        if self._owns_connection:
            await self.redis.aclose()


def _dumps(index: int, item: Payload | Submission) -> bytes:
    try:
        return orjson.dumps(item.d)
    except TypeError as error:
        seq = getattr(item, "seq", None)
        raise ValueError(
            f"payload {index} of the batch (developer {item.developer_id}, seq {seq}): "
            f"d cannot be stored as JSON: {error}"
        ) from None


def _pairs(flat: list[Any]) -> Iterator[tuple[Any, Any]]:
    """A RESP2 map (HGETALL, stream entry fields): a flat list of field, value, field, value…"""
    items = iter(flat)
    return zip(items, items)


def _delivered(
    told: list[Any], wanted: Mapping[str, int], deliver: Callable[[list[Payload]], None]
) -> dict[str, int]:
    """Deliver from an ``appends`` notification (``[[developer id, last seq, payloads or
    null], …]``, redis_scripts.APPEND) what follows on from ``wanted``; return the positions
    whose logs must be read instead (a gap before the payloads, or none published)."""
    behind: dict[str, int] = {}
    for developer_id, last, items in told:
        at = wanted.get(developer_id)
        if at is None or last <= at:
            continue
        if items is None or items[0][0] > at + 1:
            behind[developer_id] = at
            continue
        deliver([
            Payload(developer_id, seq, uid, t, d, synthetic, _key(source, counter))
            for seq, uid, t, d, synthetic, source, counter in items
            if seq > at
        ])
    return behind


def _key(source: str | None, counter: str | None) -> SubmitKey | None:
    return None if source is None or counter is None else SubmitKey(source, int(counter))


def _seq(entry: Any) -> int:
    return int(entry[0].split(b"-", 1)[0])


def _payload(developer_id: str, entry: Any) -> Payload:
    fields = dict(_pairs(entry[1]))
    source = fields.get(b"ks")
    key = None if source is None else SubmitKey(source.decode(), int(fields[b"kc"]))
    return Payload(
        developer_id,
        _seq(entry),
        fields[b"uid"].decode(),
        fields[b"t"].decode(),
        orjson.loads(fields[b"d"]),
        fields.get(b"s") == b"1",
        key,
    )


# Developers --------------------------------------------------------------------------------


class RedisDeveloperStore:
    """The DeveloperStore port: one hash per developer and a set of their ids."""

    def __init__(self, redis: RedisConnection, *, owns_connection: bool = False) -> None:
        self.redis = redis
        self._keys = redis.keys
        self._owns_connection = owns_connection

    @classmethod
    async def open(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> "RedisDeveloperStore":
        """A store on a connection of its own, closed by ``aclose``."""
        return cls(await RedisConnection.open(url, prefix=prefix), owns_connection=True)

    async def add(self, developer: Developer) -> None:
        fields = {
            "id": developer.id,
            "name": developer.name,
            "key_hash": developer.key_hash,
            "created_at": developer.created_at.isoformat(),
            "revoked": "1" if developer.revoked else "0",
        }
        args = [developer.id, *(item for pair in fields.items() for item in pair)]
        keys = [self._keys.developer(developer.id), self._keys.developers]
        added = await self.redis.run_script("add developer", redis_scripts.ADD_DEVELOPER, keys, args)
        if not added and await self.get(developer.id) != developer:
            # (An equal developer already there is this same add, retried after a lost reply.)
            raise KeyError(f"developer {developer.id} already exists")

    async def get(self, developer_id: str) -> Developer | None:
        key = self._keys.developer(developer_id)
        fields = await self.redis.execute("get developer", "HGETALL", key)
        return _developer(dict(_pairs(fields))) if fields else None

    async def list(self) -> list[Developer]:
        """Every developer, oldest first (ties by id)."""
        ids = await self.redis.execute("list developers", "SMEMBERS", self._keys.developers)
        developers = [await self.get(member.decode()) for member in ids]
        return sorted((d for d in developers if d is not None), key=lambda d: (d.created_at, d.id))

    async def revoke(self, developer_id: str) -> bool:
        keys = [self._keys.developer(developer_id)]
        return bool(await self.redis.run_script("revoke", redis_scripts.REVOKE_DEVELOPER, keys, []))

    async def revoked_among(self, developer_ids: Collection[str]) -> set[str]:
        """One round trip (a script reading each developer's flag) however many ids."""
        ids = list(dict.fromkeys(developer_ids))
        if not ids:
            return set()
        keys = [self._keys.developer(developer_id) for developer_id in ids]
        flags = await self.redis.run_script("check revocations", redis_scripts.REVOKED_AMONG, keys, [])
        return {developer_id for developer_id, flag in zip(ids, flags) if int(flag)}

    async def aclose(self) -> None:
        if self._owns_connection:
            await self.redis.aclose()


def _developer(fields: Mapping[bytes, bytes]) -> Developer:
    text = {k.decode(): v.decode() for k, v in fields.items()}
    return Developer(
        text["id"],
        text["name"],
        text["key_hash"],
        datetime.fromisoformat(text["created_at"]),
        text["revoked"] == "1",
    )


# Tokens ------------------------------------------------------------------------------------


class RedisTokenStore:
    """The TokenStore port: one key per token, taken with GETDEL; Redis expires the stale ones."""

    def __init__(self, redis: RedisConnection, *, owns_connection: bool = False) -> None:
        self.redis = redis
        self._keys = redis.keys
        self._owns_connection = owns_connection

    @classmethod
    async def open(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> "RedisTokenStore":
        """A store on a connection of its own, closed by ``aclose``."""
        return cls(await RedisConnection.open(url, prefix=prefix), owns_connection=True)

    async def put(self, token: Token) -> None:
        """Store a new token; raises KeyError when the value is taken (never overwrite a grant)."""
        key, value = self._keys.token(token.value), _token_json(token)
        forget_at = token.expires_at + PURGE_GRACE
        forget_ms = int(forget_at.timestamp() * 1000)
        stored = await self.redis.execute("put token", "SET", key, value, "NX", "PXAT", forget_ms)
        if not stored:
            existing = await self.redis.execute("put token", "GET", key)
            if existing != value:  # the same token is this put, retried after a lost reply
                raise KeyError("a token with this value already exists")

    async def peek(self, value: str) -> Token | None:
        key = self._keys.token(value)
        stored = await self.redis.execute("peek token", "GET", key)
        return None if stored is None else _token(value, stored)

    async def take(self, value: str) -> Token | None:
        key = self._keys.token(value)
        stored = await self.redis.execute("take token", "GETDEL", key)
        return None if stored is None else _token(value, stored)

    async def aclose(self) -> None:
        if self._owns_connection:
            await self.redis.aclose()


def _token_json(token: Token) -> bytes:
    return orjson.dumps(
        [int(token.role), token.developer_id, token.user_id, token.expires_at.isoformat()]
    )


def _token(value: str, stored: bytes) -> Token:
    role, developer_id, user_id, expires_at = orjson.loads(stored)
    return Token(value, Role(role), developer_id, user_id, datetime.fromisoformat(expires_at))


# Consumer leases ---------------------------------------------------------------------------


class RedisConsumerLeases:
    """The ConsumerLeases port: a sorted set per developer, holder -> expiry on Redis's clock."""

    def __init__(
        self, redis: RedisConnection, ttl: timedelta = LEASE_TTL, *, owns_connection: bool = False
    ) -> None:
        self.redis = redis
        self.ttl = ttl
        self._keys = redis.keys
        self._owns_connection = owns_connection

    @classmethod
    async def open(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, ttl: timedelta = LEASE_TTL
    ) -> "RedisConsumerLeases":
        """Leases on a connection of their own, closed by ``aclose``."""
        return cls(await RedisConnection.open(url, prefix=prefix), ttl, owns_connection=True)

    async def aclose(self) -> None:
        if self._owns_connection:
            await self.redis.aclose()

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl.total_seconds() * 1000)

    async def acquire(self, developer_id: str, holder: str, cap: int) -> bool:
        keys, args = [self._keys.lease(developer_id)], [holder, cap, self.ttl_ms]
        return bool(await self.redis.run_script("acquire lease", redis_scripts.ACQUIRE_LEASE, keys, args))

    async def renew(self, leases: Sequence[tuple[str, str]]) -> None:
        if not leases:
            return
        keys = [self._keys.lease(dev) for dev, _ in leases]
        args = [self.ttl_ms, *(holder for _, holder in leases)]
        await self.redis.run_script("renew leases", redis_scripts.RENEW_LEASES, keys, args)

    async def release(self, developer_id: str, holder: str) -> None:
        key = self._keys.lease(developer_id)
        await self.redis.execute("release lease", "ZREM", key, holder)


# All of them -------------------------------------------------------------------------------


@attrs.frozen
class RedisStores:
    log: RedisStreamLog
    developers: RedisDeveloperStore
    tokens: RedisTokenStore
    leases: RedisConsumerLeases


@asynccontextmanager
async def open_redis_stores(
    url: str, *, prefix: str = DEFAULT_PREFIX, lease_ttl: timedelta = LEASE_TTL
) -> AsyncIterator[RedisStores]:
    """Every store on one client of the Redis at ``url`` (``redis://HOST:PORT/DB``)."""
    client = RespClient(url)
    try:
        try:  # fail fast at start (a wrong URL, Redis not up); later outages are waited out
            await client.execute("PING")
        except _UNREACHABLE as error:
            raise RedisUnreachable(f"cannot reach Redis at {url}: {error}") from error
        redis = RedisConnection(client, RedisKeys(prefix))
        yield RedisStores(
            RedisStreamLog(redis),
            RedisDeveloperStore(redis),
            RedisTokenStore(redis),
            RedisConsumerLeases(redis, lease_ttl),
        )
    finally:
        await client.aclose()
