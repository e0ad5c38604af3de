"""A small Redis client: RESP requests written here, replies parsed by hiredis' C parser, over
trio sockets.

Why not a general client. The broker's Redis path sends a few kinds of command (scripts, reads of
streams and hashes, a subscription) and must cost little CPU per reading: measured side by side
(docs/benchmarks.md, "Issue 14: durable logs that batch"), coredis spent several times the CPU of
this module per command, most of it in its own layers (anyio streams, a connection pool with
its own tasks, response callbacks). Here a call takes an idle connection, writes its request in
one ``send_all``, parses the reply with ``hiredis.Reader`` (public API: ``feed`` and ``gets``)
and puts the connection back: no task of its own, no extra task switch.

Connections. A pool of at most ``max_connections`` opened on demand; each is used by one call at a
time. A call that fails or is cancelled part-way leaves its connection in an unknown state, so
that connection is closed, never reused. A lost connection raises ``RedisConnectionError``; the
caller decides whether to retry (the stores do: redis.py, ``RedisConnection.call``).

Subscriptions (``listen``) get a connection of their own, as RESP2 requires.
"""

from __future__ import annotations

import hashlib
import ssl
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
import trio

DEFAULT_PORT = 6379
DEFAULT_MAX_CONNECTIONS = 32
RECEIVE_SIZE = 65536
CONNECT_TIMEOUT = 5.0

Arg = bytes | str | int


class RedisError(Exception):
    """Anything this client reports."""


class ReplyError(RedisError):
    """Redis answered with an error reply (its text is the message: ``NOSCRIPT …``, ``OOM …``)."""


class RedisConnectionError(RedisError, ConnectionError):
    """Redis could not be reached, or the connection broke during a call."""


def encode(args: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class RespConnection:
    """One socket to Redis and the parser of its replies."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.parser = hiredis.Reader()

    @classmethod
    async def open(cls, address: "RedisAddress") -> "RespConnection":
        try:
            with trio.fail_after(CONNECT_TIMEOUT):
                stream = await address.connect()
        except (OSError, trio.TooSlowError, trio.BrokenResourceError) as error:
            raise RedisConnectionError(f"cannot connect to Redis at {address}: {error}") from error
        connection = cls(stream)
        try:
            setup: list[list[Arg]] = []
            if address.password is not None:
                user = [] if address.username is None else [address.username]
                setup.append(["AUTH", *user, address.password])
            if address.db:
                setup.append(["SELECT", address.db])
            if setup:
                for reply in await connection.pipeline(setup):
                    if isinstance(reply, ReplyError):
                        raise reply
        except BaseException:
            await connection.aclose()
            raise
        return connection

    async def send(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise RedisConnectionError(f"connection to Redis lost: {error}") from error

    async def reply(self) -> Any:
        """The next reply; an error reply is returned as a ReplyError, not raised."""
        while True:
            reply = self.parser.gets()
            if reply is not False:
                return ReplyError(str(reply)) if isinstance(reply, hiredis.ReplyError) else reply
            try:
                data = await self.stream.receive_some(RECEIVE_SIZE)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as error:
                raise RedisConnectionError(f"connection to Redis lost: {error}") from error
            if not data:
                raise RedisConnectionError("Redis closed the connection")
            self.parser.feed(data)

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        await self.send(b"".join(map(encode, commands)))
        return [await self.reply() for _ in commands]

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


class Script:
    """A Lua script, run by its SHA1 (EVALSHA) and sent whole only when Redis lacks it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class RedisAddress:
    """Where a Redis URL points: ``redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]``, ``rediss://…``
    (TLS, checked against the system's CAs) or ``unix:///PATH[?db=N]``."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a redis://, rediss:// or unix:// URL: {url}")
        self.scheme = parts.scheme
        self.path = parts.path
        db = parse_qs(parts.query).get("db", [""])[0] if parts.scheme == "unix" else parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError(f"the database of a Redis URL is a number, got {db!r} in {url}")
        self.db = int(db or 0)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or DEFAULT_PORT
        self.password = None if parts.password is None else unquote(parts.password)
        self.username = unquote(parts.username) if parts.username and parts.password is not None else None

    def __str__(self) -> str:
        return self.path if self.scheme == "unix" else f"{self.host}:{self.port}"

    async def connect(self) -> trio.abc.Stream:
        if self.scheme == "unix":
            return await trio.open_unix_socket(self.path)
        stream = await trio.open_tcp_stream(self.host, self.port)
        if self.scheme == "redis":
            return stream
        secure = trio.SSLStream(stream, ssl.create_default_context(), server_hostname=self.host)
        await secure.do_handshake()
        return secure


class RespClient:
    """A pool of connections to the Redis of one URL (RedisAddress says which URLs)."""

    def __init__(self, url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self.address = RedisAddress(url)
        self._idle: list[RespConnection] = []
        self._slots = trio.Semaphore(max_connections)
        self._closed = False

    async def _connect(self) -> RespConnection:
        return await RespConnection.open(self.address)

    async def _with_connection(self, use: Callable[[RespConnection], Awaitable[Any]]) -> Any:
        if self._closed:
            raise RedisConnectionError("the Redis client is closed")
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self._connect()
            try:
                result = await use(connection)
            except BaseException:
                await connection.aclose()  # mid-call: its next reply is unknown
                raise
            if self._closed:
                await connection.aclose()
            else:
                self._idle.append(connection)
            return result

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """The replies of ``commands``, sent in one write; error replies come back as ReplyError."""
        return await self._with_connection(lambda c: c.pipeline(commands))

    async def execute(self, *args: Arg) -> Any:
        """One command's reply; an error reply is raised as ReplyError."""
        (reply,) = await self.pipeline([args])
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def run_script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """EVALSHA, falling back to EVAL (which also caches it) when Redis does not know it yet."""
        tail = [len(keys), *keys, *args]
        try:
            return await self.execute("EVALSHA", script.sha, *tail)
        except ReplyError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        return await self.execute("EVAL", script.source, *tail)

    @asynccontextmanager
    async def subscription(self, channel: str) -> AsyncIterator["Subscription"]:
        """A connection subscribed to ``channel``; closed on exit."""
        connection = await self._connect()
        try:
            await connection.send(encode(["SUBSCRIBE", channel]))
            confirmed = await connection.reply()
            if isinstance(confirmed, ReplyError):
                raise confirmed
            yield Subscription(connection)
        finally:
            await connection.aclose()

    async def aclose(self) -> None:
        """Close idle connections now, busy ones when their call ends; closing twice is fine."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.aclose()


class Subscription:
    """The messages published on a subscribed channel, in order."""

    def __init__(self, connection: RespConnection) -> None:
        self._connection = connection

    async def message(self) -> bytes:
        while True:
            reply = await self._connection.reply()
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message":
                return reply[2]
